"""Inactivity churn without hindsight: who is at risk and what is known, decided at ``as_of``.

On a purchase log nobody announces they leave: churn is "no activity for N days". The spine at
``as_of`` may only use what was known before ``as_of`` (cutting the data there changes nothing),
and a label is known once its window has ended, for churners and stayers alike.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn.contract import USAGE_PERIODS, Tables
from churn.dataset import build_training_frame, scoring_spine
from churn.features import FeatureSpec
from churn.labels import attach_labels, churn_dates
from churn.settings import SnapshotSettings

DAY0 = pd.Timestamp("2024-01-01")  # a Monday
DAY = pd.Timedelta(days=1)
AS_OF = pd.Timestamp("2024-06-03")  # a Monday


def day(n: float) -> pd.Timestamp:
    return DAY0 + n * DAY


def empty_events() -> dict[str, pd.DataFrame]:
    return {
        "interactions": pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "timestamp": pd.Series([], dtype="datetime64[ns]"),
                "channel": pd.Series([], dtype="str"),
                "category": pd.Series([], dtype="str"),
                "recorded_at": pd.Series([], dtype="datetime64[ns]"),
            }
        ),
        "nps": pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "timestamp": pd.Series([], dtype="datetime64[ns]"),
                "score": pd.Series([], dtype="float64"),
            }
        ),
        "usage": pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "date": pd.Series([], dtype="datetime64[ns]"),
                "active_users": pd.Series([], dtype="float64"),
            }
        ),
    }


def purchase_log(
    purchases: dict[str, list[float]],
    extraction: float = 400,
    inactivity_days: int = 30,
    recorded: dict[str, list[float]] | None = None,
    **tables: pd.DataFrame,
) -> Tables:
    """Customers signed up at day 0 whose purchases (interactions) fall on the given days."""
    rows = [(c, d) for c, days in purchases.items() for d in days]
    rec = [r for c in purchases for r in (recorded or {}).get(c, purchases[c])]
    events = empty_events()
    events["interactions"] = pd.DataFrame(
        {
            "customer_id": [c for c, _ in rows],
            "timestamp": pd.to_datetime([day(d) for _, d in rows]),
            "channel": "web",
            "category": "purchase",
            "recorded_at": pd.to_datetime([day(r) for r in rec]),
        }
    )
    events.update(tables)
    customers = pd.DataFrame(
        {"customer_id": list(purchases), "signup_date": [DAY0] * len(purchases)}
    )
    return Tables(
        customers=customers,
        **events,
        extraction_date=day(extraction),
        usage_period="week",
        usage_metrics=("active_users",),
        churn_definition="inactivity",
        inactivity_days=inactivity_days,
    )


def on_spine(tables: Tables, at: float) -> list[str]:
    return scoring_spine(tables, day(at))["customer_id"].tolist()


def label(tables: Tables, customer: str, at: float, horizon: int = 30, lead: int = 0) -> float:
    spine = pd.DataFrame({"customer_id": [customer], "as_of": [day(at)]})
    return attach_labels(spine, tables, horizon, lead)["label"].iloc[0]


EVERY_10_DAYS = [float(d) for d in range(0, 101, 10)]


# ---- the spine: active at as_of, from data known before as_of ---------------------------------


def test_customer_buying_every_ten_days_is_active_five_days_after_the_last_purchase():
    assert on_spine(purchase_log({"c1": EVERY_10_DAYS}), at=105) == ["c1"]


def test_customer_silent_for_forty_days_is_not_on_the_spine_with_thirty_days_inactivity():
    log = purchase_log({"c1": EVERY_10_DAYS, "c2": [0.0, 65.0, 200.0]})
    # c2's last purchase before day 105 was on day 65; that they buy again on day 200 is the
    # future and must not bring them back onto today's spine.
    assert on_spine(log, at=105) == ["c1"]


def test_customer_who_never_buys_again_is_on_the_spine_while_still_within_the_inactivity_days():
    # The old rule (churn dated at the final purchase of the extract) dropped c1 at day 105
    # because their final purchase, on day 100, is before it: only returners were kept.
    log = purchase_log({"c1": EVERY_10_DAYS, "c2": [*EVERY_10_DAYS, 150.0]})
    assert on_spine(log, at=105) == ["c1", "c2"]


def test_silence_of_exactly_the_inactivity_days_is_churn():
    log = purchase_log({"c1": [0.0, 70.0]})
    assert on_spine(log, at=99) == ["c1"]
    assert on_spine(log, at=100) == []


def test_purchase_recorded_at_or_after_as_of_does_not_keep_a_customer_active():
    # The purchase on day 80 reached the data on day 105: unknown at day 105.
    log = purchase_log({"c1": [0.0, 60.0, 80.0]}, recorded={"c1": [0.0, 60.0, 105.0]})
    assert on_spine(log, at=105) == []
    assert on_spine(log, at=106) == ["c1"]


def test_usage_counts_at_the_end_of_its_period_and_only_with_a_positive_metric():
    usage = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "date": [day(64), day(64)],  # weeks [64, 71): ended 34 days before day 105
            "active_users": [3.0, 0.0],
        }
    )
    log = purchase_log({"c1": [0.0], "c2": [0.0]}, usage=usage, inactivity_days=35)
    assert on_spine(log, at=105) == ["c1"]


def test_an_answered_survey_is_activity_and_an_unanswered_send_is_not():
    nps = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "timestamp": [day(90), pd.NaT],
            "score": [8.0, np.nan],
            "sent_at": [day(89), day(90)],
        }
    )
    assert on_spine(purchase_log({"c1": [0.0], "c2": [0.0]}, nps=nps), at=105) == ["c1"]


def test_a_new_customer_without_any_purchase_yet_is_active():
    log = purchase_log({"c1": []})
    assert on_spine(log, at=20) == ["c1"]
    assert on_spine(log, at=30) == []


# ---- the labels: no activity in the window, known once it has ended ---------------------------


def test_no_purchase_in_the_window_is_churn_once_the_window_has_ended():
    log = {"c1": EVERY_10_DAYS}
    # Window [105, 135): no purchase in it.
    assert label(purchase_log(log, extraction=136), "c1", at=105) == 1.0
    assert label(purchase_log(log, extraction=135), "c1", at=105) == 1.0
    assert np.isnan(label(purchase_log(log, extraction=134), "c1", at=105))


def test_a_purchase_in_the_window_is_a_stay_known_only_once_the_window_has_ended():
    log = {"c1": [*EVERY_10_DAYS, 120.0]}
    assert label(purchase_log(log, extraction=135), "c1", at=105) == 0.0
    # Seen buying on day 120, but a churner's silence could not yet be known on day 134:
    # keeping this 0.0 would leave the latest weeks with stayers only.
    assert np.isnan(label(purchase_log(log, extraction=134), "c1", at=105))


def test_label_window_is_half_open_and_starts_after_the_lead_time():
    at_start = purchase_log({"c1": [0.0, 105.0]})
    at_end = purchase_log({"c1": [0.0, 135.0]})
    assert label(at_start, "c1", at=105) == 0.0
    assert label(at_end, "c1", at=105) == 1.0
    # A purchase during the lead time only: silent through the window [112, 142).
    in_lead = purchase_log({"c1": [0.0, 108.0]})
    assert label(in_lead, "c1", at=105, lead=7) == 1.0


def test_a_usage_week_counts_in_the_window_when_it_overlaps_it():
    def weekly(start: float) -> Tables:
        usage = pd.DataFrame({"customer_id": ["c1"], "date": [day(start)], "active_users": [2.0]})
        return purchase_log({"c1": [0.0, 90.0]}, usage=usage)

    # The week [98, 105) ended at as_of: wholly before the window [105, 135).
    assert label(weekly(98), "c1", at=105) == 1.0
    # [101, 108) and [130, 137) may have had their activity inside the window.
    assert label(weekly(101), "c1", at=105) == 0.0
    assert label(weekly(130), "c1", at=105) == 0.0
    assert label(weekly(135), "c1", at=105) == 1.0


def test_the_latest_labelled_weeks_keep_their_churners():
    log = purchase_log(
        {"buys": [float(d) for d in range(0, 364, 7)], "stops": [0.0, 320.0]},
        extraction=364,
    )
    frame = build_training_frame(log, SnapshotSettings(warmup_days=250, horizon_days=28))
    # The last labelled week, day 336: "stops" bought 16 days before it, then never again.
    labelled = frame.dropna(subset=["label"])
    latest = labelled[labelled["as_of"] == labelled["as_of"].max()].set_index("customer_id")
    assert latest["label"].to_dict() == {"buys": 0.0, "stops": 1.0}
    assert frame[frame["as_of"] > day(364 - 28)]["label"].isna().all()


def test_churn_dates_still_describe_who_left_in_hindsight():
    log = purchase_log({"c1": [0.0, 100.0], "c2": [0.0, 390.0]}, inactivity_days=60)
    dates = churn_dates(log)
    assert dates["c1"] == day(100)  # silent for 300 days before extraction: churned
    assert pd.isna(dates["c2"])  # silent for 10 days: not known to have churned


# ---- property: cutting the data at as_of changes neither the spine nor a feature --------------

hours = st.integers(min_value=-300 * 24, max_value=100 * 24).map(lambda h: pd.Timedelta(hours=h))
lags = st.one_of(
    st.just(pd.Timedelta(0)), st.integers(0, 40 * 24).map(lambda h: pd.Timedelta(hours=h))
)
CUSTOMERS = ["c0", "c1", "c2", "c3"]


@st.composite
def datasets(draw: st.DrawFn, definition: str) -> Tables:
    """A small dataset around AS_OF: events before and after it, some recorded late."""
    signup = [AS_OF + draw(hours) - 100 * DAY for _ in CUSTOMERS]
    customers = pd.DataFrame({"customer_id": CUSTOMERS, "signup_date": signup, "plan": "pro"})
    if definition == "date":
        churn = [
            s + draw(st.integers(1, 300)) * DAY if draw(st.booleans()) else pd.NaT for s in signup
        ]
        customers["churn_date"] = pd.to_datetime(churn)
    n = draw(st.integers(0, 12))
    who = [draw(st.sampled_from(CUSTOMERS)) for _ in range(n)]
    t = [AS_OF + draw(hours) for _ in range(n)]
    rec = [x + draw(lags) for x in t]
    inter = pd.DataFrame(
        {
            "customer_id": pd.Series(who, dtype="str"),
            "timestamp": pd.to_datetime(t),
            "channel": [draw(st.sampled_from(["web", "phone"])) for _ in range(n)],
            "category": [draw(st.sampled_from(["purchase", "complaint"])) for _ in range(n)],
            "resolved_at": pd.to_datetime([x + draw(lags) for x in rec]),
            "recorded_at": pd.to_datetime(rec),
        }
    )
    m = draw(st.integers(0, 6))
    answer = [AS_OF + draw(hours) if draw(st.booleans()) else pd.NaT for _ in range(m)]
    sent = [a if pd.notna(a) else AS_OF + draw(hours) for a in answer]
    nps = pd.DataFrame(
        {
            "customer_id": pd.Series(
                [draw(st.sampled_from(CUSTOMERS)) for _ in range(m)], dtype="str"
            ),
            "timestamp": pd.to_datetime(answer),
            "score": [float(draw(st.integers(0, 10))) if pd.notna(a) else np.nan for a in answer],
            "sent_at": pd.to_datetime(sent),
            "recorded_at": pd.to_datetime([s + draw(lags) for s in sent]),
        }
    )
    k = draw(st.integers(0, 10))
    start = [(AS_OF + draw(hours)).normalize() for _ in range(k)]
    usage = pd.DataFrame(
        {
            "customer_id": pd.Series(
                [draw(st.sampled_from(CUSTOMERS)) for _ in range(k)], dtype="str"
            ),
            "date": pd.to_datetime(start),
            "active_users": [float(draw(st.integers(0, 3))) for _ in range(k)],
            "recorded_at": pd.to_datetime([s + 7 * DAY + draw(lags) for s in start]),
        }
    )
    return Tables(
        customers=customers,
        interactions=inter,
        nps=nps,
        usage=usage,
        extraction_date=AS_OF + 150 * DAY,
        usage_period="week",
        usage_metrics=("active_users",),
        churn_definition=definition,
        inactivity_days=draw(st.sampled_from([14, 30, 60])) if definition == "inactivity" else None,
    )


def cut_at(tables: Tables, as_of: pd.Timestamp) -> Tables:
    """The dataset as it stood at ``as_of``: nothing that happened or arrived at or after it."""
    c = tables.customers
    customers = c.loc[c["signup_date"] < as_of].copy()
    if "churn_date" in customers:
        customers["churn_date"] = customers["churn_date"].where(customers["churn_date"] < as_of)
    inter = tables.interactions
    inter = inter.loc[(inter["timestamp"] < as_of) & (inter["recorded_at"] < as_of)].copy()
    inter["resolved_at"] = inter["resolved_at"].where(inter["resolved_at"] < as_of)
    nps = tables.nps.copy()
    # An answer that reached the data at/after as_of leaves a send still pending at as_of.
    late = nps["timestamp"].notna() & (nps["recorded_at"] >= as_of) & (nps["sent_at"] < as_of)
    nps.loc[late, ["timestamp", "score"]] = [pd.NaT, np.nan]
    nps.loc[late, "recorded_at"] = nps.loc[late, "sent_at"]
    happened = nps["timestamp"].fillna(nps["sent_at"])
    nps = nps.loc[(happened < as_of) & (nps["recorded_at"] < as_of)]
    usage = tables.usage
    end = usage["date"] + USAGE_PERIODS[tables.usage_period]
    usage = usage.loc[(end <= as_of) & (usage["recorded_at"] < as_of)]
    return dataclasses.replace(
        tables,
        customers=customers.reset_index(drop=True),
        interactions=inter.reset_index(drop=True),
        nps=nps.reset_index(drop=True),
        usage=usage.reset_index(drop=True),
        extraction_date=as_of,
    )


def assert_cut_changes_nothing(tables: Tables) -> None:
    spec = FeatureSpec.from_tables(tables)  # part of the model, fixed before scoring
    cut = cut_at(tables, AS_OF)
    # The scoring spine at as_of, and the training spine and features of the weekly snapshots
    # up to as_of (the last one is as_of itself).
    pd.testing.assert_frame_equal(scoring_spine(tables, AS_OF), scoring_spine(cut, AS_OF))
    snaps = SnapshotSettings(warmup_days=0, horizon_days=28)
    full, cut_frame = (
        build_training_frame(t, snaps, start=AS_OF - 21 * DAY, end=AS_OF, spec=spec).drop(
            columns=["label"]
        )
        for t in (tables, cut)
    )
    pd.testing.assert_frame_equal(full, cut_frame, check_exact=False, rtol=1e-9, atol=1e-12)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=datasets("inactivity"))
def test_cutting_the_data_at_as_of_changes_nothing_at_as_of_for_inactivity_churn(tables):
    assert_cut_changes_nothing(tables)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=datasets("date"))
def test_cutting_the_data_at_as_of_changes_nothing_at_as_of_for_churn_by_date(tables):
    assert_cut_changes_nothing(tables)


def test_the_spine_counts_the_usage_week_ending_at_as_of_as_the_features_do():
    """One freshness rule: a usage week ending exactly at a Monday as_of is activity known
    before it for the spine (active) exactly as it is visible to the features."""
    import pandas as pd

    from churn.features import usage_visible_from
    from churn.labels import activity_events

    as_of = pd.Timestamp("2024-03-04")
    end = pd.Series([as_of, as_of + pd.Timedelta(days=1)])
    visible = usage_visible_from(end, pd.Series([pd.NaT, pd.NaT])) < as_of
    assert visible.tolist() == [True, False]
    tables = _one_usage_week_tables("2024-02-26")  # the week [02-26, 03-04)
    known = activity_events(tables)["known"]
    assert (known < as_of).all()
    tables = _one_usage_week_tables("2024-02-27")  # ends a day after as_of
    assert not (activity_events(tables)["known"] < as_of).any()


def _one_usage_week_tables(week_start: str):
    import pandas as pd

    from churn.contract import Tables

    customers = pd.DataFrame(
        {
            "customer_id": ["a"],
            "signup_date": [pd.Timestamp("2024-01-01")],
            "churn_date": [pd.NaT],
        }
    )
    usage = pd.DataFrame(
        {
            "customer_id": ["a"],
            "date": [pd.Timestamp(week_start)],
            "logins": [3.0],
            "recorded_at": [pd.NaT],
        }
    )
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype=str)})
    return Tables(
        customers=customers,
        interactions=empty.assign(timestamp=pd.Series([], dtype="datetime64[ns]")),
        nps=empty.assign(
            timestamp=pd.Series([], dtype="datetime64[ns]"), score=pd.Series([], dtype=float)
        ),
        usage=usage,
        extraction_date=pd.Timestamp("2024-06-01"),
        usage_metrics=("logins",),
    )
