"""Metrics against hand-computed values on tiny arrays, calibration, the customer bootstrap
and the baselines."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from churn.modeling import (
    Calibrator,
    LogisticBaseline,
    fit_health_rules,
    health_rules_used,
    health_score,
)
from churn.modeling import evaluation as ev
from churn.modeling import uncertainty as unc

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


# --- calibration beyond ECE ---------------------------------------------------------------


def _calibrated(n: int = 20_000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes drawn from their own probabilities (churn rate ~4%): calibrated by construction."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 25, n)
    return (rng.random(n) < p).astype(float), p


@pytest.mark.parametrize("scale", [0.3, 1.8])
def test_ece_catches_probabilities_scaled_too_low_or_too_high(scale):
    y, p = _calibrated()
    # An absolute bound such as ECE <= 0.03 lets p x 0.3 through at a 4% churn rate (ECE ~0.026):
    # the bound must be relative to the churn rate.
    bound = 0.25 * y.mean()
    assert ev.expected_calibration_error(y, p) < bound
    assert ev.expected_calibration_error(y, np.clip(p * scale, 0, 1)) > 2 * bound


@pytest.mark.parametrize(("scale", "sign"), [(0.3, 1), (1.8, -1)])
def test_calibration_intercept_says_which_way_probabilities_are_off(scale, sign):
    y, p = _calibrated()
    intercept, slope = ev.calibration_intercept_slope(y, p)
    assert abs(intercept) < 0.1 and abs(slope - 1) < 0.1
    scaled_intercept, _ = ev.calibration_intercept_slope(y, np.clip(p * scale, 0, 1))
    assert sign * scaled_intercept > 0.5


def test_calibration_slope_below_one_means_overconfident():
    y, p = _miscalibrated(20_000, seed=6)
    _, slope = ev.calibration_intercept_slope(y, p)
    # The score's logit is 2.5 x the true one: a slope of about 1 / 2.5.
    assert slope == pytest.approx(0.4, abs=0.05)


def test_a_constant_at_the_churn_rate_has_a_small_ece_and_no_slope():
    y, p = _calibrated()
    constant = np.full(len(y), p.mean())
    # Hardly worse than the calibrated scores: ECE alone says little at low churn rates.
    assert ev.expected_calibration_error(y, constant) < 0.25 * y.mean()
    assert math.isnan(ev.calibration_intercept_slope(y, constant)[1])


def test_calibration_is_undefined_with_one_class():
    assert all(math.isnan(v) for v in ev.calibration_intercept_slope(np.zeros(4), P))


# --- customer bootstrap -------------------------------------------------------------------


def _snapshots(customers: int, weeks: int, seed: int) -> pd.DataFrame:
    """``weeks`` weekly rows per customer; churners stay churners, scores carry signal + noise."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(1, 12, customers)
    churner = rng.random(customers) < risk
    rows = pd.DataFrame(
        {
            "customer_id": np.tile(np.arange(customers), weeks),
            "as_of": np.repeat(np.arange(weeks), customers),
            "label": np.tile(churner, weeks).astype(float),
        }
    )
    rows["p"] = np.tile(risk, weeks) + rng.normal(0, 0.05, len(rows))
    return rows


def _interval(rows: pd.DataFrame, ids: str = "customer_id", metric: str = "roc_auc", **kw):
    out = unc.bootstrap_intervals(
        rows["label"].to_numpy(),
        {"m": rows["p"].to_numpy()},
        rows[ids].to_numpy(),
        as_of=rows["as_of"].to_numpy(),
        capacity_k=20,
        n_resamples=kw.pop("n_resamples", 400),
        seed=kw.pop("seed", 0),
    )
    return out["m"][metric]


def _width(ci: unc.Interval) -> float:
    return ci.high - ci.low


@pytest.mark.parametrize("metric", unc.CI_METRICS)
def test_bootstrap_interval_covers_the_point_estimate_of_evaluate(metric):
    rows = _snapshots(600, 4, seed=1)
    ci = _interval(rows, metric=metric)
    m = ev.evaluate(rows["label"], rows["p"], as_of=rows["as_of"], capacity_k=20)
    assert ci.estimate == pytest.approx(m[metric])
    assert ci.low < ci.estimate < ci.high


def test_a_weighted_resample_equals_the_materialised_resample():
    # Weights stand for copies: metrics on a weighted resample are those of the copied rows,
    # precision@K included (cut per snapshot date, as evaluate does).
    rows = _snapshots(300, 3, seed=2)
    y, p, as_of = rows["label"].to_numpy(), rows["p"].to_numpy(), rows["as_of"].to_numpy()
    w = unc.customer_weights(rows["customer_id"], 1, seed=3)
    got = unc.resampled_metrics(y, {"m": p}, w, as_of=as_of, capacity_k=20)["m"]
    copies = np.repeat(np.arange(len(y)), w[0].astype(int))
    want = ev.evaluate(y[copies], p[copies], as_of=as_of[copies], capacity_k=20)
    for metric in unc.CI_METRICS:
        assert got[metric][0] == pytest.approx(want[metric]), metric


def test_all_rows_of_a_customer_are_drawn_together():
    ids = np.array(["a", "b", "a", "c", "b", "a"])
    w = unc.customer_weights(ids, 50, seed=0)
    assert (w[:, 0] == w[:, 2]).all() and (w[:, 0] == w[:, 5]).all() and (w[:, 1] == w[:, 4]).all()
    # Each resample draws as many customers as there are.
    assert (w[:, [0, 1, 3]].sum(axis=1) == 3).all()


def test_the_interval_widens_with_fewer_customers():
    many, few = _interval(_snapshots(1600, 2, seed=4)), _interval(_snapshots(200, 2, seed=4))
    assert _width(few) > 1.8 * _width(many)


def test_duplicate_rows_of_one_customer_do_not_narrow_the_interval():
    once = _snapshots(300, 1, seed=5)
    # Every customer seen 20 times with the same score and outcome: 20x the rows, no new facts.
    repeated = pd.concat([once] * 20, ignore_index=True).assign(as_of=0, row=lambda d: d.index)
    by_customer, by_row = _interval(repeated), _interval(repeated, ids="row")
    assert _width(by_customer) == pytest.approx(_width(_interval(once)), rel=0.15)
    # Resampling rows would pretend to know ~sqrt(20) = 4.5 times more.
    assert _width(by_row) < 0.4 * _width(by_customer)


def test_bootstrap_is_reproducible_with_its_seed():
    rows = _snapshots(300, 2, seed=6)
    assert _interval(rows, seed=7) == _interval(rows, seed=7)
    assert _interval(rows, seed=7) != _interval(rows, seed=8)


def test_paired_difference_sees_a_lead_that_separate_intervals_hide():
    rows = _snapshots(2000, 2, seed=1)
    y = rows["label"].to_numpy()
    rng = np.random.default_rng(101)
    better = rows["p"].to_numpy()
    worse = better + rng.normal(0, 0.04, len(rows))  # the same signal, a little more noise
    out = unc.bootstrap_intervals(
        y,
        {"model": better, "baseline": worse},
        rows["customer_id"].to_numpy(),
        n_resamples=400,
        seed=0,
        reference="model",
    )
    model, base, lead = out["model"]["roc_auc"], out["baseline"]["roc_auc"], out["model-baseline"]
    assert model.low < base.estimate < model.high  # separately: indistinguishable
    assert lead["roc_auc"].estimate == pytest.approx(model.estimate - base.estimate)
    assert lead["roc_auc"].low > 0  # paired: the lead is real


# --- health score fitted on validation rows -----------------------------------------------


def _renewal_driven(n: int = 4_000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "nps_last": rng.integers(0, 11, n).astype(float),
            "acct_days_to_renewal": rng.integers(0, 365, n).astype(float),
        }
    )
    y = (rng.random(n) < np.where(frame["acct_days_to_renewal"] <= 90, 0.2, 0.02)).astype(float)
    return frame, y


def test_fitted_health_points_follow_where_the_churn_is():
    frame, y = _renewal_driven()
    rules = fit_health_rules(frame, y)
    points = {r.name: r.points for r in rules}
    used = health_rules_used(list(frame.columns))
    assert sum(points[name] for name in used) == pytest.approx(100)
    assert points["renewal within 90 days"] > 80  # the default card gives it 5 of 100
    assert all(r.points >= 0 for r in rules)
    # Rules whose feature is absent never fire and keep their default points.
    assert points["open complaint"] == 20


def test_fitted_health_score_ranks_better_than_the_default_card_on_new_rows():
    frame, y = _renewal_driven(seed=1)
    new, y_new = _renewal_driven(seed=2)
    fitted = health_score(new, fit_health_rules(frame, y))["risk_points"]
    default = health_score(new)["risk_points"]
    assert ev.roc_auc(y_new, fitted) > ev.roc_auc(y_new, default) + 0.05


# --- intervals in the run's metrics and the summary ---------------------------------------


def _comparison():
    from churn.modeling import LOGREG, MODEL, RULE, Comparison

    rows = _snapshots(400, 3, seed=10)
    cmp = Comparison(rows, rows["label"].to_numpy(), None, capacity_k=20)
    rng = np.random.default_rng(0)
    cmp.score(MODEL, np.clip(rows["p"].to_numpy(), 0.001, 0.999))
    cmp.score(RULE, rng.random(len(rows)))
    cmp.score(LOGREG, np.clip(rows["p"].to_numpy() + rng.normal(0, 0.05, len(rows)), 0.001, 0.9))
    cmp.add_intervals(200, seed=0)
    return cmp


def test_run_metrics_carry_customer_level_intervals_and_paired_leads():
    m = _comparison().metrics()
    assert m["test_roc_auc_ci_low"] < m["test_roc_auc"] < m["test_roc_auc_ci_high"]
    assert {"baseline_rule_pr_auc_ci_low", "test_precision_at_k_ci_high"} <= set(m)
    lead = m["diff_roc_auc_vs_baseline_logreg"]
    assert lead == pytest.approx(m["test_roc_auc"] - m["baseline_logreg_roc_auc"])
    assert m["diff_roc_auc_vs_baseline_logreg_ci_low"] < lead
    assert m["bootstrap_resamples"] == 200


def test_no_resamples_means_no_intervals():
    from churn.modeling import MODEL, Comparison

    rows = _snapshots(50, 2, seed=11)
    cmp = Comparison(rows, rows["label"].to_numpy(), None, capacity_k=5)
    cmp.score(MODEL, rows["p"].to_numpy())
    cmp.add_intervals(0, seed=0)
    assert not [k for k in cmp.metrics() if "_ci_" in k]


def test_summary_shows_each_interval_beside_its_estimate():
    from churn.pipelines.summary import _cell

    m = {"test_roc_auc": 0.8201, "test_roc_auc_ci_low": 0.7691, "test_roc_auc_ci_high": 0.8649}
    assert _cell(m, "test_roc_auc", 0.8201) == "0.820 [0.769, 0.865]"
    assert _cell(m, "test_pr_auc", 0.3) == "0.300"
    lead = {"d": 0.014, "d_ci_low": -0.005, "d_ci_high": 0.031}
    assert _cell(lead, "d", 0.014, "+") == "+0.014 [-0.005, +0.031]"


def test_bootstrap_weights_in_blocks_are_the_same_draws():
    # Blocks keep memory to one block of resamples; they must be the very same resamples.
    import churn.modeling.uncertainty as unc

    ids = np.repeat([f"c{i}" for i in range(37)], 3)
    whole = unc.customer_weights(ids, 250, seed=5)
    blocks = list(unc.weight_batches(ids, 250, seed=5, batch=64))
    assert [len(b) for b in blocks] == [64, 64, 64, 58]
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    assert (whole.sum(axis=1) == len(ids)).all()  # each resample draws 37 customers x 3 rows


def test_bootstrap_resamples_customers_exactly_as_the_row_weights_say():
    # bootstrap_intervals works on per-customer counts; it must be the very same resamples
    # and metrics as the row weights of customer_weights.
    rows = _snapshots(500, 3, seed=12).sample(frac=0.9, random_state=0)  # some weeks missing
    y, p, as_of = rows["label"].to_numpy(), rows["p"].round(2).to_numpy(), rows["as_of"].to_numpy()
    ids = rows["customer_id"].to_numpy()
    got = unc.bootstrap_intervals(y, {"m": p}, ids, as_of=as_of, capacity_k=20, n_resamples=60)
    w = unc.customer_weights(ids, 60, seed=0)
    rowwise = unc.resampled_metrics(y, {"m": p}, w, as_of=as_of, capacity_k=20)["m"]
    for metric in unc.CI_METRICS:
        want = unc.percentile_interval(rowwise[metric], got["m"][metric].estimate)
        assert got["m"][metric].low == pytest.approx(want.low, abs=1e-12), metric
        assert got["m"][metric].high == pytest.approx(want.high, abs=1e-12), metric


def test_precision_at_k_looks_past_top_ranks_a_resample_left_out():
    # The weekly cut reads only the top ranks of each date; when the best-ranked customers
    # are not drawn, it must look further down, as the materialised resample does.
    rows = _snapshots(400, 2, seed=13)
    y, p, as_of = rows["label"].to_numpy(), rows["p"].to_numpy(), rows["as_of"].to_numpy()
    w = np.ones((1, len(y)))
    w[0, np.argsort(-p)[:300]] = 0  # the 150 best-ranked rows of each date, all absent
    got = unc.resampled_metrics(y, {"m": p}, w, as_of=as_of, capacity_k=5)["m"]
    keep = w[0] > 0
    want = ev.evaluate(y[keep], p[keep], as_of=as_of[keep], capacity_k=5)
    for metric in unc.CI_METRICS:
        assert got[metric][0] == pytest.approx(want[metric]), metric
