"""Leakage tests: nothing at or after as_of may reach a feature, and labels use the right window.

These are the most important tests of the project: a leak makes a model look brilliant in
backtests and useless on Monday morning.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn.contract import Tables
from churn.dataset import build_scoring_frame, build_training_frame
from churn.features import FeatureSpec, build_features
from churn.labels import attach_labels
from churn.settings import SnapshotSettings

AS_OF = pd.Timestamp("2024-03-04")  # a Monday
US = pd.Timedelta(microseconds=1)
DAY = pd.Timedelta(days=1)
EXTRACTION = pd.Timestamp("2024-06-01")


def make_tables(
    interactions: pd.DataFrame | None = None,
    nps: pd.DataFrame | None = None,
    usage: pd.DataFrame | None = None,
    customers: pd.DataFrame | None = None,
    extraction: pd.Timestamp = EXTRACTION,
    **kw: object,
) -> Tables:
    """A tiny dataset: customer c1 (and c2), optional event rows."""
    if customers is None:
        customers = pd.DataFrame(
            {
                "customer_id": ["c1", "c2"],
                "signup_date": pd.to_datetime(["2023-01-01", "2023-01-01"]),
                "churn_date": pd.to_datetime([None, None]),
                "plan": ["pro", "basic"],
            }
        )
    if interactions is None:
        interactions = pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "timestamp": pd.Series([], dtype="datetime64[ns]"),
                "channel": pd.Series([], dtype="str"),
                "category": pd.Series([], dtype="str"),
            }
        )
    if "recorded_at" not in interactions:
        interactions = interactions.assign(recorded_at=interactions["timestamp"])
    if nps is None:
        nps = pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "timestamp": pd.Series([], dtype="datetime64[ns]"),
                "score": pd.Series([], dtype="float64"),
            }
        )
    if usage is None:
        usage = pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "date": pd.Series([], dtype="datetime64[ns]"),
                "active_users": pd.Series([], dtype="float64"),
            }
        )
    return Tables(
        customers=customers,
        interactions=interactions,
        nps=nps,
        usage=usage,
        extraction_date=extraction,
        usage_period=kw.pop("usage_period", "week"),  # type: ignore[arg-type]
        usage_metrics=("active_users",),
        **kw,  # type: ignore[arg-type]
    )


def interactions_at(*stamps: pd.Timestamp, **cols: list[object]) -> pd.DataFrame:
    n = len(stamps)
    frame = pd.DataFrame(
        {
            "customer_id": ["c1"] * n,
            "timestamp": pd.to_datetime(list(stamps)),
            "channel": cols.pop("channel", ["phone"] * n),
            "category": cols.pop("category", ["complaint"] * n),
        }
    )
    for k, v in cols.items():
        frame[k] = v
    return frame


def features_at(tables: Tables, as_of: pd.Timestamp = AS_OF, spec: FeatureSpec | None = None):
    spine = pd.DataFrame({"customer_id": ["c1"], "as_of": [as_of]})
    return build_features(spine, tables, spec=spec).iloc[0]


# ---- boundaries ------------------------------------------------------------------------------


def test_event_at_as_of_is_invisible():
    f = features_at(make_tables(interactions_at(AS_OF)))
    assert f["int_tickets_30d"] == 0
    assert np.isnan(f["int_days_since_contact"])


def test_event_a_microsecond_before_as_of_is_visible():
    f = features_at(make_tables(interactions_at(AS_OF - US)))
    assert f["int_tickets_30d"] == 1
    assert f["int_days_since_contact"] == pytest.approx(1e-6 / 86400, abs=1e-9)


def test_event_at_window_start_is_inside_the_window():
    f = features_at(make_tables(interactions_at(AS_OF - 30 * DAY)))
    assert f["int_tickets_30d"] == 1


def test_event_just_before_window_start_is_outside_the_window():
    f = features_at(make_tables(interactions_at(AS_OF - 30 * DAY - US)))
    assert f["int_tickets_30d"] == 0
    assert f["int_tickets_90d"] == 1


def test_record_arriving_at_as_of_is_invisible_even_if_the_event_was_earlier():
    inter = interactions_at(AS_OF - 5 * DAY, recorded_at=[AS_OF])
    f = features_at(make_tables(inter))
    assert f["int_tickets_30d"] == 0
    assert np.isnan(f["int_days_since_contact"])


def test_record_arriving_just_before_as_of_is_visible():
    inter = interactions_at(AS_OF - 5 * DAY, recorded_at=[AS_OF - US])
    assert features_at(make_tables(inter))["int_tickets_30d"] == 1


def test_ticket_resolved_after_as_of_counts_as_open():
    inter = interactions_at(
        AS_OF - 20 * DAY,
        AS_OF - 20 * DAY,
        resolved_at=[AS_OF + DAY, AS_OF - DAY],
    )
    f = features_at(make_tables(inter))
    assert f["int_open_tickets"] == 1
    assert f["int_open_complaints_14d"] == 1


def test_ticket_resolved_exactly_at_as_of_was_still_open():
    inter = interactions_at(AS_OF - 20 * DAY, resolved_at=[AS_OF])
    f = features_at(make_tables(inter))
    assert f["int_open_tickets"] == 1
    assert np.isnan(f["int_resolution_days_mean_90d"])


def test_resolution_after_as_of_does_not_count_as_a_resolution_time():
    inter = interactions_at(
        AS_OF - 20 * DAY, AS_OF - 10 * DAY, resolved_at=[AS_OF - 15 * DAY, AS_OF + DAY]
    )
    f = features_at(make_tables(inter))
    assert f["int_resolution_days_mean_90d"] == pytest.approx(5.0)
    assert f["int_resolution_days_max_90d"] == pytest.approx(5.0)


def test_complaint_open_for_exactly_14_days_is_not_yet_old():
    inter = interactions_at(
        AS_OF - 14 * DAY, AS_OF - 14 * DAY - US, resolved_at=[AS_OF + DAY, AS_OF + DAY]
    )
    assert features_at(make_tables(inter))["int_open_complaints_14d"] == 1


def weekly_usage(starts: list[pd.Timestamp], values: list[float], **cols) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": ["c1"] * len(starts),
            "date": pd.to_datetime(starts),
            "active_users": values,
        }
    )
    for k, v in cols.items():
        frame[k] = v
    return frame


def test_usage_period_not_ended_at_as_of_is_invisible():
    # The week [as_of - 3d, as_of + 4d) has not ended: its value would leak four future days.
    usage = weekly_usage([AS_OF - 3 * DAY], [50.0], recorded_at=[AS_OF - DAY])
    f = features_at(make_tables(usage=usage))
    assert np.isnan(f["util_active_users_30d"])
    assert np.isnan(f["util_days_since_active"])


def test_usage_period_ending_at_as_of_is_visible_when_recorded_before():
    usage = weekly_usage([AS_OF - 7 * DAY], [50.0], recorded_at=[AS_OF - US])
    f = features_at(make_tables(usage=usage))
    assert f["util_active_users_30d"] == 50.0
    assert f["util_days_since_active"] == 0.0


def test_usage_week_ending_exactly_at_as_of_is_visible_without_recorded_at():
    # The week [as_of - 7d, as_of) holds only events before as_of: known at its end, so a
    # Monday's score sees the week that just ended (it used to be a week stale).
    usage = weekly_usage([AS_OF - 7 * DAY], [50.0])
    f = features_at(make_tables(usage=usage))
    assert f["util_active_users_30d"] == 50.0
    assert f["util_days_since_active"] == 0.0


def test_usage_week_ending_one_day_after_as_of_is_invisible():
    # [as_of - 6d, as_of + 1d) holds a day after as_of: with or without a recorded_at before it.
    for recorded in (None, AS_OF - DAY):
        cols = {} if recorded is None else {"recorded_at": [recorded]}
        usage = weekly_usage([AS_OF - 6 * DAY], [50.0], **cols)
        f = features_at(make_tables(usage=usage))
        assert np.isnan(f["util_active_users_30d"]) and np.isnan(f["util_days_since_active"])
    usage = weekly_usage([AS_OF - 6 * DAY], [50.0])
    assert features_at(make_tables(usage=usage), AS_OF + DAY)["util_active_users_30d"] == 50.0


@pytest.mark.parametrize("end_before_as_of", [0 * DAY, 7 * DAY])
def test_usage_with_an_explicit_recorded_at_equal_to_as_of_is_invisible(end_before_as_of):
    # A recorded_at in the data is when the row arrived: strictly before as_of, like any record.
    start = AS_OF - end_before_as_of - 7 * DAY
    usage = weekly_usage([start], [50.0], recorded_at=[AS_OF])
    f = features_at(make_tables(usage=usage))
    assert np.isnan(f["util_active_users_30d"]) and np.isnan(f["util_days_since_active"])
    assert features_at(make_tables(usage=usage), AS_OF + US)["util_active_users_30d"] == 50.0


def test_usage_rule_is_the_same_after_validation(tiny_tables):
    """Through the real validation (no recorded_at column): the week ending at a Monday as_of is
    visible, the week ending the next day is not."""
    weeks = [AS_OF - 14 * DAY, AS_OF - 7 * DAY, AS_OF - 6 * DAY]
    tables = tiny_tables(
        usage=[
            {"customer_id": "c1", "date": str(d.date()), "active_users": v}
            for d, v in zip(weeks[:2], (10.0, 20.0), strict=True)
        ]
        + [{"customer_id": "c2", "date": str(weeks[2].date()), "active_users": 99.0}],
    )
    assert tables.usage["recorded_at"].isna().all()  # known at the period end, not filled in
    spine = pd.DataFrame({"customer_id": ["c1", "c2"], "as_of": [AS_OF, AS_OF]})
    f = build_features(spine, tables).set_index("customer_id")
    assert f.at["c1", "util_active_users_30d"] == 15.0  # both weeks, the last ending at as_of
    assert np.isnan(f.at["c2", "util_active_users_30d"])  # ends at as_of + 1 day


def test_monthly_usage_is_invisible_until_the_month_has_ended():
    usage = pd.DataFrame(
        {"customer_id": ["c1"], "date": [pd.Timestamp("2024-02-10")], "active_users": [9.0]}
    )
    tables = make_tables(usage=usage, usage_period="month")
    end = pd.Timestamp("2024-03-10")  # the month [2024-02-10, 2024-03-10) ends here
    assert np.isnan(features_at(tables, end - US)["util_active_users_30d"])
    assert np.isnan(features_at(tables, end - DAY)["util_active_users_30d"])
    assert features_at(tables, end)["util_active_users_30d"] == 9.0


def test_nps_response_at_as_of_is_invisible():
    nps = pd.DataFrame(
        {"customer_id": ["c1", "c1"], "timestamp": [AS_OF - 40 * DAY, AS_OF], "score": [9.0, 2.0]}
    )
    f = features_at(make_tables(nps=nps))
    assert f["nps_last"] == 9.0
    assert np.isnan(f["nps_previous"])


# ---- property: the future cannot change the present ------------------------------------------

stamp_offsets = st.integers(min_value=-200 * 24, max_value=-1).map(lambda h: pd.Timedelta(hours=h))
future_offsets = st.integers(min_value=0, max_value=400 * 24 * 60).map(
    lambda m: pd.Timedelta(minutes=m)
)


def base_tables() -> Tables:
    """One customer with a bit of everything, including values not yet known at AS_OF.

    Interactions: a ticket still open at AS_OF that already carries the CSAT and sentiment
    filled in at its resolution, a ticket never resolved, one recorded only after AS_OF.
    NPS: a survey pending at AS_OF (answered after it), one never answered, and one answered
    before AS_OF whose response reached the data after it. Usage: a period not ended at
    AS_OF, and a period corrected after AS_OF.
    """
    inter = interactions_at(
        AS_OF - 100 * DAY,
        AS_OF - 40 * DAY,
        AS_OF - 30 * DAY,
        AS_OF - 20 * DAY,
        AS_OF - 3 * DAY,
        channel=["phone", "email", "visit", "chat", "phone"],
        category=["complaint", "billing", "billing", "how-to", "complaint"],
        resolved_at=[AS_OF - 99 * DAY, AS_OF + 2 * DAY, AS_OF - 29 * DAY, pd.NaT, AS_OF - 2 * DAY],
        csat=[2.0, 4.0, 5.0, np.nan, 1.0],
        sentiment=[-0.4, 0.7, 0.9, 0.1, -0.8],
        recorded_at=[
            AS_OF - 100 * DAY,
            AS_OF - 40 * DAY,
            AS_OF + DAY,
            AS_OF - 20 * DAY,
            AS_OF - 3 * DAY,
        ],
    )
    nps = pd.DataFrame(
        {
            "customer_id": ["c1"] * 5,
            "timestamp": [
                AS_OF - 300 * DAY,
                AS_OF - 100 * DAY,
                pd.NaT,
                AS_OF + 2 * DAY,
                AS_OF - 60 * DAY,
            ],
            "score": [9.0, 3.0, np.nan, 10.0, 0.0],
            "sent_at": [
                AS_OF - 301 * DAY,
                AS_OF - 101 * DAY,
                AS_OF - 10 * DAY,
                AS_OF - 5 * DAY,
                AS_OF - 61 * DAY,
            ],
            "recorded_at": [pd.NaT, pd.NaT, pd.NaT, pd.NaT, AS_OF + 4 * DAY],
        }
    )
    starts = list(pd.date_range(AS_OF - 140 * DAY, AS_OF + 30 * DAY, freq="7D"))
    # A correction to the period ending three weeks before AS_OF lands after AS_OF.
    recorded = [AS_OF + 3 * DAY if d + 7 * DAY == starts[-8] else pd.NaT for d in starts]
    usage = weekly_usage(starts, list(np.linspace(20, 5, len(starts))), recorded_at=recorded)
    return make_tables(inter, nps, usage)


@st.composite
def future_records(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Records stamped at or after AS_OF: either the event or its recording is in the future."""
    n = draw(st.integers(1, 4))
    rows = []
    for _ in range(n):
        late_recording = draw(st.booleans())
        if late_recording:
            # Happened before as_of but reached the data at/after it.
            t = AS_OF + draw(stamp_offsets)
            rec = AS_OF + draw(future_offsets)
        else:
            t = AS_OF + draw(future_offsets)
            rec = t + draw(future_offsets)
        rows.append((t, rec, late_recording))
    ch = draw(st.sampled_from(["phone", "email", "chat", "visit"]))
    cat = draw(st.sampled_from(["complaint", "billing", "how-to"]))
    inter = pd.DataFrame(
        {
            "customer_id": "c1",
            "timestamp": [t for t, _, _ in rows],
            "channel": ch,
            "category": cat,
            "resolved_at": [rec + pd.Timedelta(hours=1) for _, rec, _ in rows],
            "csat": draw(st.floats(1, 5)),
            "sentiment": draw(st.floats(-1, 1)),
            "recorded_at": [rec for _, rec, _ in rows],
        }
    )
    # A survey row recorded late before as_of is a send that reached the data late (the
    # contract's recorded_at of an answered row is its response's: a send before as_of whose
    # response is late is a pending survey, see test_values_filled_in_...).
    score = float(draw(st.integers(0, 10)))
    nps = pd.DataFrame(
        {
            "customer_id": "c1",
            "timestamp": [pd.NaT if late else t for t, _, late in rows],
            "score": [np.nan if late else score for _, _, late in rows],
            "sent_at": [t for t, _, _ in rows],
            "recorded_at": [rec for _, rec, _ in rows],
        }
    )
    usage = pd.DataFrame(
        {
            "customer_id": "c1",
            # A period that ends after as_of, or one recorded at/after it.
            "date": [t - pd.Timedelta(days=6) for t, _, _ in rows],
            "active_users": draw(st.floats(0, 1000)),
            "recorded_at": [rec for _, rec, _ in rows],
        }
    )
    return {"interactions": inter, "nps": nps, "usage": usage}


@functools.cache
def base_features() -> pd.Series:
    """Features of the base dataset at AS_OF (computed once: the property tests compare to it)."""
    base = base_tables()
    return features_at(base, spec=FeatureSpec.from_tables(base))


def assert_same_features(a: pd.Series, b: pd.Series) -> None:
    for name in a.index:
        x, y = a[name], b[name]
        if isinstance(x, float) or isinstance(y, float):
            # Float tolerance only for summation order inside DuckDB; a leak moves values a lot.
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=name)
        else:
            assert (pd.isna(x) and pd.isna(y)) or x == y, name


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=future_records())
def test_appending_records_stamped_at_or_after_as_of_never_changes_features(extra):
    base = base_tables()
    spec = FeatureSpec.from_tables(base)  # the spec is part of the model, fixed before scoring
    before = base_features()
    grown = make_tables(
        pd.concat([base.interactions, extra["interactions"]], ignore_index=True),
        pd.concat([base.nps, extra["nps"]], ignore_index=True),
        pd.concat([base.usage, extra["usage"]], ignore_index=True),
    )
    assert_same_features(before, features_at(grown, spec=spec))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shift=future_offsets, score=st.integers(0, 10), csat=st.floats(1, 5))
def test_altering_records_stamped_at_or_after_as_of_never_changes_features(shift, score, csat):
    base = base_tables()
    spec = FeatureSpec.from_tables(base)
    before = base_features()
    inter = base.interactions.copy()
    # The ticket resolved after as_of: move its resolution anywhere at/after as_of.
    later = inter["resolved_at"] > AS_OF
    inter.loc[later, "resolved_at"] = AS_OF + shift
    usage = base.usage.copy()
    future = (usage["date"] + pd.Timedelta(days=7)) > AS_OF
    usage.loc[future, "active_users"] = float(score) * 100
    nps = pd.concat(
        [
            base.nps,
            pd.DataFrame(
                {
                    "customer_id": ["c1"],
                    "timestamp": [AS_OF + shift],
                    "score": [float(score)],
                    "sent_at": [AS_OF + shift],
                    "recorded_at": [AS_OF + shift],
                }
            ),
        ],
        ignore_index=True,
    )
    inter.loc[inter["timestamp"] >= AS_OF, "csat"] = csat
    assert_same_features(before, features_at(make_tables(inter, nps, usage), spec=spec))


# ---- property: values filled in later cannot change the present ------------------------------

late_instants = future_offsets.map(lambda d: AS_OF + d)
maybe_score = st.one_of(st.just(np.nan), st.integers(1, 5).map(float))
maybe_sentiment = st.one_of(st.just(np.nan), st.floats(-1, 1))


def unknown_resolution(inter: pd.DataFrame) -> pd.Series:
    """Tickets whose resolution was not known at AS_OF (none yet, or resolved/recorded later)."""
    known = inter["resolved_at"].notna() & (
        np.maximum(inter["resolved_at"], inter["recorded_at"]) < AS_OF
    )
    return ~known


def unknown_answer(nps: pd.DataFrame) -> pd.Series:
    """Surveys whose answer was not known at AS_OF (none yet, or given/recorded later)."""
    t = nps["timestamp"]
    known = t.notna() & nps["score"].notna() & (np.maximum(t, nps["recorded_at"].fillna(t)) < AS_OF)
    return ~known


@st.composite
def late_values(draw: st.DrawFn) -> Tables:
    """The base dataset with every value that became known at/after AS_OF redrawn or blanked.

    A ticket's resolution, CSAT and sentiment while its resolution is unknown; the answer to a
    survey (when, the score, when it was recorded) while it is unknown, or no answer at all; a
    usage period's values while the period has not ended or its row was recorded later; and
    anything about an interaction recorded only after AS_OF.
    """
    base = base_tables()
    inter = base.interactions.copy()
    for i in inter.index[unknown_resolution(inter)]:
        inter.loc[i, "resolved_at"] = draw(st.one_of(st.just(pd.NaT), late_instants))
        inter.loc[i, "csat"] = draw(maybe_score)
        inter.loc[i, "sentiment"] = draw(maybe_sentiment)
    for i in inter.index[inter["recorded_at"] >= AS_OF]:
        inter.loc[i, "channel"] = draw(st.sampled_from(["phone", "email", "chat"]))
        inter.loc[i, "category"] = draw(st.sampled_from(["complaint", "billing"]))
    nps = base.nps.copy()
    for i in nps.index[unknown_answer(nps) & (nps["sent_at"] < AS_OF)]:
        if draw(st.booleans()):  # answered, at any time after it was sent, known after AS_OF
            t = nps.loc[i, "sent_at"] + draw(future_offsets)
            rec = max(t, AS_OF) + draw(future_offsets)
            values = [t, float(draw(st.integers(0, 10))), rec]
        else:  # never answered; its recorded_at was the response's, so it goes too
            values = [pd.NaT, np.nan, pd.NaT]
        nps.loc[i, ["timestamp", "score", "recorded_at"]] = values
    usage = base.usage.copy()
    end = usage["date"] + 7 * DAY
    # Known at its end (end <= AS_OF); a recorded_at in the data must be before AS_OF.
    unseen = (end > AS_OF) | (usage["recorded_at"] >= AS_OF)
    usage.loc[unseen, "active_users"] = [
        draw(st.one_of(st.just(np.nan), st.floats(0, 1000))) for _ in range(int(unseen.sum()))
    ]
    return make_tables(inter, nps, usage)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=late_values())
def test_values_filled_in_at_or_after_as_of_never_change_features(tables):
    spec = FeatureSpec.from_tables(base_tables())
    assert_same_features(base_features(), features_at(tables, spec=spec))


def test_csat_and_sentiment_of_a_ticket_still_open_at_as_of_are_not_used():
    inter = interactions_at(
        AS_OF - 20 * DAY,
        AS_OF - 10 * DAY,
        resolved_at=[AS_OF - 19 * DAY, AS_OF + DAY],
        csat=[4.0, 1.0],
        sentiment=[0.5, -1.0],
    )
    f = features_at(make_tables(inter))
    assert f["int_csat_mean_90d"] == 4.0
    assert f["int_sentiment_mean_90d"] == 0.5


def test_survey_answered_after_as_of_counts_as_unanswered_at_as_of():
    nps = pd.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "timestamp": [AS_OF - 30 * DAY, AS_OF + 2 * DAY],
            "score": [8.0, 8.0],
            "sent_at": [AS_OF - 31 * DAY, AS_OF - 5 * DAY],
        }
    )
    f = features_at(make_tables(nps=nps))
    assert f["nps_response_rate_365d"] == 0.5
    assert f["nps_responses_365d"] == 1


def test_answer_recorded_after_as_of_counts_as_unanswered_at_as_of():
    nps = pd.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "timestamp": [AS_OF - 30 * DAY, AS_OF - 3 * DAY],
            "score": [8.0, 0.0],
            "sent_at": [AS_OF - 31 * DAY, AS_OF - 5 * DAY],
            "recorded_at": [AS_OF - 30 * DAY, AS_OF],
        }
    )
    f = features_at(make_tables(nps=nps))
    assert f["nps_response_rate_365d"] == 0.5
    assert f["nps_last"] == 8.0


# ---- training and scoring agree ----------------------------------------------------------------


def test_training_and_scoring_paths_give_identical_features():
    tables = base_tables()
    snaps = SnapshotSettings(warmup_days=30, horizon_days=30)
    train = build_training_frame(tables, snaps, end=AS_OF)
    score = build_scoring_frame(tables, AS_OF, spec=FeatureSpec.from_tables(tables))
    train_at = train[train["as_of"] == AS_OF].drop(columns=["label"]).reset_index(drop=True)
    assert len(train_at) == len(score) == 2
    pd.testing.assert_frame_equal(train_at, score.reset_index(drop=True))


# ---- labels ------------------------------------------------------------------------------------


def labels_for(churn: pd.Timestamp | None, horizon: int = 30, lead: int = 0, **kw) -> float:
    customers = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "signup_date": [pd.Timestamp("2023-01-01")],
            "churn_date": pd.to_datetime([churn]),
        }
    )
    tables = make_tables(customers=customers, **kw)
    spine = pd.DataFrame({"customer_id": ["c1"], "as_of": [AS_OF]})
    return attach_labels(spine, tables, horizon, lead)["label"].iloc[0]


def test_churn_at_as_of_is_inside_the_label_window():
    assert labels_for(AS_OF) == 1.0


def test_churn_at_as_of_plus_horizon_is_outside_the_label_window():
    assert labels_for(AS_OF + 30 * DAY) == 0.0
    assert labels_for(AS_OF + 30 * DAY - US) == 1.0


def test_label_window_starts_after_the_lead_time():
    assert labels_for(AS_OF + 7 * DAY, lead=7) == 1.0
    assert labels_for(AS_OF + 37 * DAY, lead=7) == 0.0
    # Churn during the lead time is neither a "stays" nor a target: unlabelled.
    assert np.isnan(labels_for(AS_OF + 3 * DAY, lead=7))


def test_window_running_past_extraction_is_censored():
    extraction = AS_OF + 20 * DAY
    assert np.isnan(labels_for(None, extraction=extraction))
    # Even a churn already visible inside it: keeping only censored positives biases rates.
    assert np.isnan(labels_for(AS_OF + 5 * DAY, extraction=extraction))


def test_window_ending_exactly_at_extraction_is_labelled():
    assert labels_for(None, extraction=AS_OF + 30 * DAY) == 0.0


# Inactivity churn (spine, labels, censoring): tests/leakage/test_inactivity.py.


def test_days_to_renewal_does_not_depend_on_how_the_contract_ended():
    # Two monthly customers who signed up on the same day and look identical at AS_OF: one
    # left at a renewal shortly after AS_OF, the other is still a customer. The extract's
    # contract_end_date differs (the renewal they left at vs the one after extraction), so a
    # feature derived from it would separate them by the label. Renewal timing must come from
    # the contract term, known at any as_of.
    customers = pd.DataFrame(
        {
            "customer_id": ["left", "stayed"],
            "signup_date": pd.to_datetime(["2023-01-10", "2023-01-10"]),
            "churn_date": pd.to_datetime(["2024-03-10", None]),
            "contract_months": [1.0, 1.0],
            "contract_end_date": pd.to_datetime(["2024-03-10", "2024-06-10"]),
        }
    )
    spine = pd.DataFrame({"customer_id": ["left", "stayed"], "as_of": [AS_OF, AS_OF]})
    f = build_features(spine, make_tables(customers=customers)).set_index("customer_id")
    assert f.loc["left", "acct_days_to_renewal"] == f.loc["stayed", "acct_days_to_renewal"]
    # And it is the next monthly anniversary: 2024-03-10 is 6 days after AS_OF.
    assert f.loc["left", "acct_days_to_renewal"] == pytest.approx(6, abs=1.5)


# ---- uplift rows (issue 14): each past listed customer at its own week ------------------------


def test_uplift_rows_see_only_what_was_known_before_their_own_week():
    from churn.dataset import build_outcome_frame

    week1, week2 = AS_OF, AS_OF + 7 * DAY
    units = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "as_of": [week1, week2],
            "arm": ["treated", "control"],
            "churned": [True, False],
        }
    )
    before = pd.concat(
        [
            interactions_at(week1 - 3 * DAY),
            interactions_at(week2 - 2 * DAY).assign(customer_id="c2"),
        ],
        ignore_index=True,
    )
    # c1's call at its own week and the week after (when c2 was listed); c2's at its week.
    after = pd.concat(
        [
            before,
            interactions_at(week1, week1 + 2 * DAY),
            interactions_at(week2).assign(customer_id="c2"),
        ],
        ignore_index=True,
    )
    spec = FeatureSpec.from_tables(make_tables(before))
    clean = build_outcome_frame(make_tables(before), units, spec=spec)
    leaky = build_outcome_frame(make_tables(after), units, spec=spec)
    pd.testing.assert_frame_equal(clean, leaky)
    assert clean["int_tickets_30d"].tolist() == [1, 1]
    assert clean["treated"].tolist() == [True, False]
    # The same code as scoring: c1's row is its scoring frame at week 1.
    scored = build_scoring_frame(make_tables(before), week1, spec=spec)
    row = scored[scored["customer_id"] == "c1"].iloc[0]
    assert row["int_tickets_30d"] == clean.loc[0, "int_tickets_30d"]
