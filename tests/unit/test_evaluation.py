"""Metrics against hand-computed values on tiny arrays, calibration, and the baselines."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from churn.modeling import Calibrator, LogisticBaseline, health_rules_used, health_score
from churn.modeling import evaluation as ev

# Four customers: two stay (0), two churn (1). Sorted by score: 0.8(1) 0.4(0) 0.35(1) 0.1(0).
Y = np.array([0.0, 0.0, 1.0, 1.0])
P = np.array([0.1, 0.4, 0.35, 0.8])
ARR = np.array([10.0, 20.0, 30.0, 40.0])


def test_roc_auc_counts_correctly_ordered_pairs():
    # Pairs (churner, stayer): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, *) ok twice: 3 of 4.
    assert ev.roc_auc(Y, P) == pytest.approx(0.75)


def test_pr_auc_is_average_precision_at_each_churner():
    # Churners found at ranks 1 (precision 1) and 3 (precision 2/3), each half the recall.
    assert ev.pr_auc(Y, P) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_brier_is_mean_squared_error():
    assert ev.brier(Y, P) == pytest.approx((0.01 + 0.16 + 0.65**2 + 0.04) / 4)


def test_log_loss_is_mean_negative_log_likelihood():
    expected = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert ev.logloss(Y, P) == pytest.approx(expected)


def test_ece_uses_equal_mass_bins():
    # 2 bins of 2 rows by score: {0.1 (0), 0.35 (1)} and {0.4 (0), 0.8 (1)}.
    # |0.5 - 0.225| / 2 + |0.5 - 0.6| / 2 = 0.1375 + 0.05
    assert ev.expected_calibration_error(Y, P, n_bins=2) == pytest.approx(0.1875)


def test_reliability_curve_bins_hold_equal_counts():
    curve = ev.reliability_curve(np.zeros(10), np.linspace(0, 1, 10), n_bins=5)
    assert curve["n"].tolist() == [2, 2, 2, 2, 2]
    assert curve["mean_predicted"].is_monotonic_increasing


def test_perfectly_calibrated_scores_have_zero_ece():
    y = np.array([0, 0, 0, 1, 1, 0, 1, 1], dtype=float)
    p = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75])
    assert ev.expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.0)


def test_top_decile_lift_compares_the_top_tenth_with_the_base_rate():
    # n=4: the top ceil(0.4)=1 row is a churner (rate 1) vs base rate 0.5.
    assert ev.top_decile_lift(Y, P) == pytest.approx(2.0)


def test_precision_and_recall_at_k_take_the_k_highest_scores():
    assert ev.precision_at_k(Y, P, 2) == pytest.approx(0.5)
    assert ev.recall_at_k(Y, P, 2) == pytest.approx(0.5)
    assert ev.recall_at_k(Y, P, 3) == pytest.approx(1.0)


def test_k_larger_than_the_list_takes_everyone():
    assert ev.precision_at_k(Y, P, 100) == pytest.approx(0.5)


def test_arr_captured_is_churned_arr_in_top_k_over_all_churned_arr():
    # Churners hold 30 + 40; the top 2 contain the one with 40.
    assert ev.arr_captured_at_k(Y, P, ARR, 2) == pytest.approx(40 / 70)


def test_missing_arr_counts_as_zero():
    arr = np.array([10.0, 20.0, np.nan, 40.0])
    assert ev.arr_captured_at_k(Y, P, arr, 1) == pytest.approx(1.0)


def test_at_k_metrics_are_averaged_over_snapshot_dates():
    y = np.array([1, 0, 0, 1], dtype=float)
    p = np.array([0.9, 0.1, 0.8, 0.2])
    as_of = np.array(["2024-01-01", "2024-01-01", "2024-01-08", "2024-01-08"])
    m = ev.evaluate(y, p, as_of=as_of, capacity_k=1)
    # Week 1: top row churns (precision 1); week 2: top row stays (precision 0).
    assert m["precision_at_k"] == pytest.approx(0.5)
    pooled = ev.evaluate(y, p, capacity_k=1)
    assert pooled["precision_at_k"] == pytest.approx(1.0)


def test_evaluate_returns_every_named_metric():
    m = ev.evaluate(Y, P, arr=ARR, capacity_k=2)
    assert set(m) == set(ev.METRIC_NAMES)
    assert m["roc_auc"] == pytest.approx(0.75)


def test_arr_captured_follows_the_list_order_of_expected_arr_lost():
    # score x ARR = 1, 8, 10.5, 32: the top 2 by revenue at risk are both churners, while
    # the top 2 by probability alone hold only the churner with 40.
    m = ev.evaluate(Y, P, arr=ARR, capacity_k=2)
    assert m["arr_captured_at_k"] == pytest.approx(1.0)
    assert ev.arr_captured_at_k(Y, P, ARR, 2) == pytest.approx(40 / 70)


def test_metrics_are_nan_not_errors_without_churners():
    m = ev.evaluate(np.zeros(4), P, capacity_k=2)
    assert math.isnan(m["roc_auc"]) and math.isnan(m["recall_at_k"])


def test_gains_curve_runs_from_nothing_to_everyone():
    g = ev.gains_curve(Y, P, points=5)
    assert g["share_captured"].iloc[0] == 0.0
    assert g["share_captured"].iloc[-1] == pytest.approx(1.0)
    assert g["share_captured"].is_monotonic_increasing
    # Contacting the top half (2 of 4) catches one of the two churners.
    assert g.loc[g["share_contacted"] == 0.5, "share_captured"].item() == pytest.approx(0.5)


def test_comparison_table_puts_scorers_side_by_side():
    t = ev.comparison_table({"a": ev.evaluate(Y, P), "b": ev.evaluate(Y, 1 - P)})
    assert list(t.columns) == ["a", "b"]
    assert t.loc["roc_auc", "a"] == pytest.approx(0.75)
    assert t.loc["roc_auc", "b"] == pytest.approx(0.25)


# --- calibration --------------------------------------------------------------------------


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from true probabilities, and an overconfident score of the same order."""
    rng = np.random.default_rng(seed)
    true = rng.beta(1, 6, n)
    y = (rng.random(n) < true).astype(float)
    logit = np.log(true / (1 - true))
    overconfident = 1 / (1 + np.exp(-(2.5 * logit + 1.5)))
    return y, overconfident


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_lowers_ece_on_a_held_out_set(method):
    y_fit, p_fit = _miscalibrated(20_000, seed=1)
    y_new, p_new = _miscalibrated(20_000, seed=2)
    cal = Calibrator(method).fit(p_fit, y_fit)
    before = ev.expected_calibration_error(y_new, p_new)
    after = ev.expected_calibration_error(y_new, cal.transform(p_new))
    assert before > 0.05
    assert after < before / 3


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrator_survives_a_json_round_trip(method):
    y, p = _miscalibrated(2_000, seed=3)
    cal = Calibrator(method).fit(p, y)
    again = Calibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    grid = np.linspace(0, 1, 101)
    np.testing.assert_allclose(again.transform(grid), cal.transform(grid))


def test_isotonic_calibration_keeps_the_model_ranking():
    y, p = _miscalibrated(2_000, seed=4)
    cal = Calibrator("isotonic").fit(p, y)
    grid = np.linspace(0.001, 0.999, 500)
    # Strictly increasing: no ties on flat isotonic steps, so the list order is the model's.
    assert np.all(np.diff(cal.transform(grid)) > 0)


def test_calibrated_probabilities_never_claim_certainty():
    cal = Calibrator("isotonic").fit(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1.0]))
    out = cal.transform(np.array([0.0, 0.1, 0.9, 1.0]))
    assert out.min() > 0 and out.max() < 1


def test_calibrating_on_one_class_is_a_user_error():
    from churn.errors import ChurnError

    with pytest.raises(ChurnError, match="only one class"):
        Calibrator().fit(np.array([0.1, 0.2]), np.array([0.0, 0.0]))


def test_unknown_calibration_method_is_refused():
    from churn.errors import ChurnError

    with pytest.raises(ChurnError, match="isotonic"):
        Calibrator("beta")


# --- baselines ----------------------------------------------------------------------------


def _customers() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "nps_last": [2.0, 9.0, np.nan, 9.0],
            "util_active_users_ratio_30d_90d": [0.5, 1.1, 0.6, 1.0],
            "int_open_complaints_14d": [1.0, 0.0, 0.0, 0.0],
            "acct_segment": pd.Categorical(["SMB", "SMB", "Ent", "Ent"]),
        },
        index=[10, 11, 12, 13],
    )


def test_health_score_adds_points_for_each_warning_sign():
    h = health_score(_customers())
    # Detractor 30 + usage decline 25 + open complaint 20; the second customer has none.
    assert h["risk_points"].tolist() == [75.0, 0.0, 25.0, 0.0]
    assert h["band"].tolist() == ["red", "green", "amber", "green"]
    assert h.index.tolist() == [10, 11, 12, 13]


def test_missing_signal_scores_no_points():
    h = health_score(_customers())
    assert h.loc[12, "risk_points"] == 25.0  # no NPS answer: only the usage decline counts


def test_health_rules_report_which_features_they_read():
    used = health_rules_used(list(_customers().columns))
    assert used["detractor NPS"] == "nps_last"
    assert used["open complaint"] == "int_open_complaints_14d"
    assert "poor support CSAT" not in used


def test_health_score_does_not_mutate_its_input():
    frame = _customers()
    before = frame.copy()
    health_score(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_logistic_baseline_learns_a_simple_signal_with_categories_and_gaps():
    rng = np.random.default_rng(0)
    n = 2_000
    x = rng.normal(size=n)
    seg = rng.choice(["SMB", "Ent"], n)
    y = (x + (seg == "SMB") + rng.normal(scale=0.5, size=n) > 0.5).astype(float)
    x_gappy = np.where(rng.random(n) < 0.1, np.nan, x)
    frame = pd.DataFrame({"x": x_gappy, "seg": pd.Categorical(seg), "all_nan": np.nan})
    model = LogisticBaseline(["x", "seg", "all_nan"]).fit(frame, y)
    p = model.predict_proba(frame)
    assert ev.roc_auc(y, p) > 0.85
    unseen = frame.head(3).assign(seg=pd.Categorical(["Mid", "Mid", "Mid"]))
    assert np.isfinite(model.predict_proba(unseen)).all()
