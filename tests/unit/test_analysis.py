"""The notebooks' helpers: churn rates with honest intervals, metric cohorts, lift, driver mixes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from churn import analysis
from churn.contract import Tables, empty_table
from churn.errors import ChurnError

T = pd.Timestamp


def _snapshots(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "as_of", "label", "segment", "x"])


# --- Wilson intervals -------------------------------------------------------------------------


def test_wilson_interval_matches_published_values():
    # Reference values: Wilson (1927) / Newcombe (1998) table, 95% two-sided.
    low, high = analysis.wilson_interval([5, 0, 10], [10, 10, 10])
    assert low[0] == pytest.approx(0.2366, abs=1e-4)
    assert high[0] == pytest.approx(0.7634, abs=1e-4)
    assert (low[1], high[1]) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert (low[2], high[2]) == (pytest.approx(0.7225, abs=1e-4), 1.0)


def test_wilson_interval_contains_the_estimate_and_narrows_with_more_trials():
    low_small, high_small = analysis.wilson_interval(3, 100)
    low_big, high_big = analysis.wilson_interval(300, 10_000)
    assert low_small < 0.03 < high_small
    assert low_big < 0.03 < high_big
    assert (high_big - low_big) < (high_small - low_small) / 5


def test_wilson_interval_is_undefined_without_trials_and_refuses_impossible_counts():
    low, high = analysis.wilson_interval(0, 0)
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError):
        analysis.wilson_interval(5, 3)


# --- churn rates ------------------------------------------------------------------------------


def test_churn_rates_leave_out_censored_rows_and_keep_missing_groups():
    frame = _snapshots(
        [
            ("a", T("2024-01-01"), 1.0, "SMB", 0),
            ("b", T("2024-01-01"), 0.0, "SMB", 0),
            ("c", T("2024-01-01"), np.nan, "SMB", 0),  # censored: no outcome yet
            ("d", T("2024-01-01"), 1.0, None, 0),
        ]
    )
    before = frame.copy()
    table = analysis.churn_rates(frame, "segment").set_index("segment")
    assert table.loc["SMB", "n"] == 2
    assert table.loc["SMB", "churn_rate"] == 0.5
    assert table.loc["missing", "churners"] == 1
    assert table.loc["SMB", "ci_low"] < 0.5 < table.loc["SMB", "ci_high"]
    pd.testing.assert_frame_equal(frame, before)


def test_churn_rates_name_an_absent_column():
    with pytest.raises(ChurnError, match="plan"):
        analysis.churn_rates(_snapshots([]), "plan")


def test_spaced_snapshots_keep_dates_a_horizon_apart_counting_back_from_the_newest():
    dates = pd.date_range("2024-01-01", periods=20, freq="W-MON")
    frame = pd.DataFrame({"customer_id": "a", "as_of": dates, "label": 0.0})
    kept = analysis.spaced_snapshots(frame, 90)["as_of"].tolist()
    assert kept[-1] == dates[-1]
    assert all((b - a).days >= 90 for a, b in zip(kept, kept[1:], strict=False))
    assert len(kept) == 2  # 19 weeks span 133 days: the newest and one 13+ weeks earlier


# --- metric cohorts ---------------------------------------------------------------------------


def test_metric_cohorts_keep_tied_values_in_one_cohort():
    # 60% zeros: a naive quantile cut would spread the zeros over six cohorts.
    x = [0] * 60 + list(range(1, 41))
    y = [0.0] * 55 + [1.0] * 5 + [1.0] * 20 + [0.0] * 20
    frame = pd.DataFrame({"x": x, "label": y})
    table = analysis.metric_cohorts(frame, "x", n_bins=10)
    zeros = table.loc[table["metric_max"] == 0]
    assert len(zeros) == 1
    assert zeros["n"].iloc[0] == 60
    assert zeros["churn_rate"].iloc[0] == pytest.approx(5 / 60)
    assert table["metric_mean"].is_monotonic_increasing


def test_metric_cohorts_add_up_to_the_overall_churners():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "label": rng.integers(0, 2, 500) * 1.0})
    frame.loc[:19, "x"] = np.nan
    table = analysis.metric_cohorts(frame, "x", n_bins=5)
    assert table["n"].sum() == 500
    assert table["churners"].sum() == frame["label"].sum()
    assert table["cohort"].iloc[-1] == analysis.MISSING
    assert table.loc[table["cohort"] == analysis.MISSING, "n"].iloc[0] == 20


def test_metric_cohorts_of_a_category_have_one_cohort_per_value():
    frame = pd.DataFrame(
        {
            "band": ["detractor", "promoter", "promoter", None],
            "label": [1.0, 0.0, 0.0, 1.0],
        }
    )
    table = analysis.metric_cohorts(frame, "band").set_index("cohort")
    assert table.loc["detractor", "churn_rate"] == 1.0
    assert table.loc["promoter", "n"] == 2
    assert table.loc[analysis.MISSING, "churners"] == 1
    assert table["metric_mean"].isna().all()


# --- coverage ---------------------------------------------------------------------------------


def _tables() -> Tables:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "signup_date": pd.to_datetime(["2024-01-15", "2024-02-01", "2024-03-10"]),
            "churn_date": pd.to_datetime([None, "2024-03-01", None]),
        }
    )
    interactions = empty_table("interactions")
    interactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "c"],
            "timestamp": pd.to_datetime(["2024-01-20", "2024-02-02", "2024-03-15"]),
            "channel": "email",
            "category": "how-to",
        }
    ).reindex(columns=interactions.columns)
    nps = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2024-02-10", None]),
            "score": [9.0, np.nan],
            "sent_at": pd.to_datetime(["2024-02-09", "2024-02-20"]),
        }
    ).reindex(columns=empty_table("nps").columns)
    return Tables(
        customers=customers,
        interactions=interactions,
        nps=nps,
        usage=empty_table("usage"),
        extraction_date=T("2024-04-01"),
    )


def test_table_coverage_counts_rows_per_month_and_unanswered_surveys_apart():
    cov = analysis.table_coverage(_tables())
    assert cov.loc[T("2024-01-01"), "interactions"] == 1
    assert cov.loc[T("2024-02-01"), "interactions"] == 1
    assert cov.loc[T("2024-02-01"), "nps answers"] == 1
    assert cov.loc[T("2024-02-01"), "nps unanswered"] == 1
    assert cov.loc[T("2024-03-01"), "churns"] == 1
    assert cov["signups"].sum() == 3


def test_active_customers_follow_the_spine_rule():
    customers = _tables().customers
    active = analysis.active_customers(
        customers, [T("2024-02-01"), T("2024-03-01"), T("2024-03-02")]
    )
    # 2024-02-01: b signs up AT as_of, so is not active yet; a is.
    # 2024-03-01: b churns AT as_of, so is still active until then.
    assert active.tolist() == [1, 2, 1]


def test_signup_cohort_is_an_ordered_category():
    cohorts = analysis.signup_cohort(
        pd.Series(pd.to_datetime(["2023-05-01", "2021-01-01", None])), "Y"
    )
    assert list(cohorts.cat.categories) == ["2021", "2023"]
    assert cohorts.isna().tolist() == [False, False, True]


# --- evaluation -------------------------------------------------------------------------------


def test_window_bounds_read_what_the_split_describes():
    assert analysis.window_bounds("2025-03-10..2025-03-31 (4 dates)") == (
        T("2025-03-10"),
        T("2025-03-31"),
    )
    with pytest.raises(ChurnError, match="YYYY-MM-DD"):
        analysis.window_bounds("last month")


def test_lift_table_puts_the_churners_in_the_top_bin():
    p = np.linspace(1, 0, 100)
    y = np.r_[np.ones(10), np.zeros(90)]
    lift = analysis.lift_table(y, p, n_bins=10)
    assert lift.loc[0, "lift"] == pytest.approx(10.0)
    assert lift.loc[1:, "churners"].sum() == 0
    assert lift["cum_share_captured"].iloc[0] == 1.0
    assert lift["cum_share_contacted"].iloc[-1] == 1.0


def test_metrics_by_group_has_an_overall_row_and_drops_small_groups():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200).astype(float)
    p = np.clip(y * 0.6 + rng.uniform(0, 0.4, 200), 0, 1)
    groups = np.array(["big"] * 180 + ["tiny"] * 20)
    table = analysis.metrics_by_group(y, p, groups, min_rows=30)
    assert list(table.index) == ["all", "big"]
    assert table.loc["all", "n_rows"] == 200
    assert table.loc["big", "roc_auc"] > 0.9


def test_metrics_by_group_of_a_group_without_churners_is_nan_not_an_error():
    table = analysis.metrics_by_group(
        np.r_[np.zeros(40), np.ones(40)], np.r_[np.zeros(40), np.ones(40)], ["a"] * 40 + ["b"] * 40
    )
    assert math.isnan(table.loc["a", "roc_auc"])
    assert table.loc["all", "roc_auc"] == 1.0


# --- drivers ----------------------------------------------------------------------------------


def _contributions() -> tuple[pd.DataFrame, dict[str, str]]:
    contributions = pd.DataFrame(
        {"nps_last": [0.5, -0.2], "int_open_tickets": [0.1, 0.3], "x": [0.0, 1.0], "bias": -3.0},
        index=[10, 11],
    )
    families = {"nps_last": "sentiment", "int_open_tickets": "service experience"}
    return contributions, families


def test_family_contributions_add_up_to_the_feature_total():
    contributions, families = _contributions()
    fam = analysis.family_contributions(contributions, families)
    assert set(fam.columns) == {"sentiment", "service experience", "other"}
    assert fam.index.tolist() == [10, 11]
    np.testing.assert_allclose(
        fam.sum(axis=1), contributions.drop(columns="bias").sum(axis=1), rtol=0, atol=1e-12
    )


def test_family_importance_by_group_needs_rows_aligned_with_the_contributions():
    contributions, families = _contributions()
    table = analysis.family_importance_by(
        contributions, families, pd.Series(["SMB", "SMB"], index=[10, 11])
    )
    assert table.loc["SMB", "sentiment"] == pytest.approx(0.35)
    with pytest.raises(ValueError):
        analysis.family_importance_by(contributions, families, pd.Series(["SMB", "SMB"]))


def test_driver_mix_rows_sum_to_one_and_count_customers_without_a_driver():
    scores = pd.DataFrame(
        {
            "segment": ["SMB", "SMB", "SMB", "Enterprise"],
            "main_driver": ["sentiment", "sentiment", None, "commercial"],
        }
    )
    mix = analysis.driver_mix(scores, "segment")
    assert mix.index[0] == "SMB"  # largest group first
    assert mix.loc["SMB", "sentiment"] == pytest.approx(2 / 3)
    assert mix.loc["SMB", "none"] == pytest.approx(1 / 3)
    assert mix.loc["SMB", "n"] == 3
    np.testing.assert_allclose(mix.drop(columns="n").sum(axis=1), 1.0)


def test_shap_explanation_carries_the_log_odds_and_category_codes():
    contributions = pd.DataFrame(
        {"plan": [0.2, -0.1], "nps_last": [0.5, 0.0], "bias": [-2.0, -2.0]}
    )
    X = pd.DataFrame(
        {
            "plan": pd.Categorical(["Pro", None], categories=["Pro", "Starter"]),
            "nps_last": [3.0, 9.0],
        }
    )
    explanation = analysis.shap_explanation(contributions, X)
    assert explanation.feature_names == ["plan", "nps_last"]
    np.testing.assert_array_equal(explanation.values, [[0.2, 0.5], [-0.1, 0.0]])
    assert explanation.data[0, 0] == 0 and math.isnan(explanation.data[1, 0])


# --- rebuilding the test window ---------------------------------------------------------------


def test_test_window_rows_equal_the_training_frame_at_those_dates(tmp_path):
    from churn.data import load_dataset
    from churn.dataset import build_training_frame
    from churn.settings import SnapshotSettings
    from churn.simulate import simulate, write_dataset

    tables = load_dataset(write_dataset(simulate(80, seed=5, months=12, mess_rate=0.0), tmp_path))
    snapshots = SnapshotSettings(warmup_days=120)
    frame = build_training_frame(tables, snapshots)
    dates = sorted(frame.loc[frame["label"].notna(), "as_of"].unique())[-3:]
    window = f"{pd.Timestamp(dates[0]).date()}..{pd.Timestamp(dates[-1]).date()} (3 dates)"

    rebuilt = analysis.test_window_rows(tables, window, horizon_days=snapshots.horizon_days)

    expected = frame.loc[frame["as_of"].isin(dates) & frame["label"].notna()]
    expected = expected.sort_values(["as_of", "customer_id"]).reset_index(drop=True)
    got = rebuilt.sort_values(["as_of", "customer_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
