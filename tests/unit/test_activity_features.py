"""Lifetime-activity features (``act_*``) of a purchase log: values a buyer can check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn.contract import Tables, empty_table
from churn.features import CONTEXT, FeatureSpec, build_features, feature_names, lookup
from churn.modeling import bgnbd_p_no_purchase, bgnbd_rfm

DAY0 = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)


def day(n: float) -> pd.Timestamp:
    return DAY0 + n * DAY


def purchase_log(
    rows: list[tuple[str, float, float]],
    recorded: dict[int, float] | None = None,
    definition: str = "inactivity",
    extraction: float = 400,
) -> Tables:
    """Daily usage rows (customer, day, dollars); ``recorded``: row index -> day it arrived."""
    usage = pd.DataFrame(
        {
            "customer_id": [c for c, _, _ in rows],
            "date": pd.to_datetime([day(d) for _, d, _ in rows]),
            "dollars": [v for _, _, v in rows],
            "recorded_at": pd.to_datetime(
                [day((recorded or {}).get(i, d + 1)) for i, (_, d, _) in enumerate(rows)]
            ),
        }
    )
    ids = sorted({c for c, _, _ in rows})
    customers = pd.DataFrame({"customer_id": ids, "signup_date": [DAY0] * len(ids)})
    if definition == "date":
        customers["churn_date"] = pd.NaT
    return Tables(
        customers=customers,
        interactions=empty_table("interactions"),
        nps=empty_table("nps"),
        usage=usage,
        extraction_date=day(extraction),
        usage_period="day",
        usage_metrics=("dollars",),
        churn_definition=definition,
        inactivity_days=90 if definition == "inactivity" else None,
    )


def features_at(tables: Tables, at: float) -> pd.DataFrame:
    ids = tables.customers["customer_id"]
    spine = pd.DataFrame({"customer_id": ids, "as_of": day(at)})
    return build_features(spine, tables).set_index("customer_id")


LOG = [("c1", 0, 10.0), ("c1", 10, 20.0), ("c1", 30, 60.0), ("c2", 5, 40.0), ("c3", 0, 5.0)]


def test_a_buyer_over_their_whole_history():
    f = features_at(purchase_log(LOG), at=40).loc["c1"]
    # Purchases on days 0, 10 and 30 (each day's row ends at midnight after it).
    assert f["act_periods_total"] == 3
    assert f["act_days_since_first"] == pytest.approx(39)
    assert f["act_periods_per_30d"] == pytest.approx(3 * 30 / 39)
    assert f["act_gap_mean_days"] == pytest.approx(15)  # gaps of 10 and 20 days
    assert f["act_gap_std_days"] == pytest.approx(5)
    assert f["util_days_since_active"] == pytest.approx(9)
    assert f["act_recency_over_gap"] == pytest.approx(9 / 15)
    assert f["act_dollars_total"] == pytest.approx(90)
    assert f["act_dollars_mean"] == pytest.approx(30)
    assert f["act_dollars_last_vs_mean"] == pytest.approx(60 / 15)  # 60 vs (10 + 20) / 2


def test_a_one_time_buyer_has_no_gaps_and_no_trend():
    f = features_at(purchase_log(LOG), at=40).loc["c2"]
    assert f["act_periods_total"] == 1 and f["act_dollars_total"] == 40
    assert math.isnan(f["act_gap_mean_days"]) and math.isnan(f["act_recency_over_gap"])
    assert math.isnan(f["act_dollars_last_vs_mean"])
    # The exposure floor: a buyer of 34 days is not "one purchase every 34 days" yet.
    assert f["act_periods_per_30d"] == pytest.approx(30 / 34)


def test_recency_and_age_percentiles_rank_within_each_as_of():
    tables = purchase_log(LOG)
    spine = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c1", "c2", "c3"],
            "as_of": [day(12)] * 3 + [day(40)] * 3,
        }
    )
    f = build_features(spine, tables)
    early, late = f.iloc[:3].set_index("customer_id"), f.iloc[3:].set_index("customer_id")
    # Day 12: c1 bought on day 10, c2 on day 5, c3 on day 0 (silent 1, 6 and 11 days).
    assert early["act_recency_pct"].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    # Day 40: c1 bought on day 30, c2 on 5, c3 on 0; the same silence order, other days.
    assert late["act_recency_pct"].tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert late["act_age_pct"].tolist() == pytest.approx([5 / 6, 1 / 3, 5 / 6])  # c1, c3 tie
    # The same row ranked among a later, longer-silent cohort keeps its place in [0, 1].
    assert late["util_days_since_active"].max() > early["util_days_since_active"].max()


def test_a_purchase_recorded_at_or_after_as_of_is_not_counted():
    # c1's day-30 purchase reached the data on day 40: unknown at day 40, known at day 41.
    late = purchase_log(LOG, recorded={2: 40})
    at40, at41 = features_at(late, 40).loc["c1"], features_at(late, 41).loc["c1"]
    assert at40["act_periods_total"] == 2 and at40["act_dollars_total"] == 30
    assert at40["act_gap_mean_days"] == pytest.approx(10)
    assert at41["act_periods_total"] == 3


def test_window_counts_only_on_logs_longer_than_the_window():
    short, long_ = purchase_log(LOG), purchase_log([*LOG, ("c3", 500, 5.0)], extraction=600)
    assert FeatureSpec.from_tables(short).activity_windows == ()  # a 31-day log
    assert FeatureSpec.from_tables(long_).activity_windows == (90, 180, 365)
    f = features_at(long_, 520).loc["c3"]
    assert f["act_periods_90d"] == 1 and f["act_periods_365d"] == 1
    assert f["act_periods_total"] == 2


def test_the_family_is_on_for_churn_by_inactivity_only():
    on = feature_names(FeatureSpec.from_tables(purchase_log(LOG)))
    off = feature_names(FeatureSpec.from_tables(purchase_log(LOG, definition="date")))
    assert "act_recency_over_gap" in on and "act_dollars_total" in on
    assert not [c for c in off if c.startswith("act_")]


def test_every_activity_column_is_declared_once_with_kind_and_direction():
    names = [
        c
        for c in feature_names(
            FeatureSpec.from_tables(purchase_log([*LOG, ("c3", 500, 5.0)], extraction=600))
        )
        if c.startswith("act_")
    ]
    assert len(names) == len(set(names)) == 14  # 11 per buyer, 3 windows
    directions = {n: lookup(n).feature.risk_direction for n in names}
    assert directions["act_recency_over_gap"] == +1 and directions["act_periods_total"] == -1
    assert lookup("act_days_since_first").kind == CONTEXT  # tenure, never a reason
    assert lookup("act_age_pct").kind == CONTEXT and directions["act_recency_pct"] == +1
    assert lookup("act_dollars_last_vs_mean").feature.family == "product adoption"


def test_bgnbd_summary_comes_from_the_features():
    f = features_at(purchase_log(LOG), at=40)
    rfm = bgnbd_rfm(f)
    assert rfm.loc["c1"].tolist() == pytest.approx([2, 30 / 7, 39 / 7])  # x, t_x, T in weeks
    assert rfm.loc["c2"].tolist() == pytest.approx([0, 0, 34 / 7])


def test_bgnbd_closed_form_of_fader_hardie_lee():
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    rfm = pd.DataFrame({"frequency": [0.0, 2.0], "recency": [0.0, 30.0], "T": [38.0, 38.0]})
    alive, none = bgnbd_p_no_purchase(params, rfm, t=39)
    # Nobody drops out before a repeat purchase: a one-time buyer is alive, and quiet for 39
    # weeks with the posterior Gamma(r, alpha + T) rate.
    assert alive[0] == 1.0
    assert none[0] == pytest.approx(((4.414 + 38) / (4.414 + 38 + 39)) ** 0.243)
    odds = 0.793 / (2.426 + 1) * ((4.414 + 38) / (4.414 + 30)) ** 2.243
    assert alive[1] == pytest.approx(1 / (1 + odds))
    quiet = ((4.414 + 38) / (4.414 + 77)) ** 2.243
    assert none[1] == pytest.approx(1 - alive[1] + alive[1] * quiet)
    assert np.all((none >= 0) & (none <= 1))


@pytest.mark.slow
def test_pymc_marketing_agrees_with_the_closed_form_for_repeat_buyers_only():
    pytest.importorskip("pymc_marketing")
    from churn.modeling.baselines import bgnbd_pymc

    rng = np.random.default_rng(0)
    n = 300
    x = rng.poisson(1.0, n).astype(float)
    T = rng.uniform(20, 39, n)
    tx = np.where(x > 0, T * rng.uniform(0.1, 1.0, n), 0.0)
    rfm = pd.DataFrame({"frequency": x, "recency": tx, "T": T})
    p, params = bgnbd_pymc(rfm, 39.0)
    _, closed = bgnbd_p_no_purchase(params, rfm, 39.0)
    np.testing.assert_allclose(p[x > 0], closed[x > 0], atol=1e-9)
    # pymc-marketing 0.19 keeps a "dropped out at the first purchase" term for x = 0.
    assert np.abs(p[x == 0] - closed[x == 0]).max() > 1e-3
