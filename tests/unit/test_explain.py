"""Reasons from TreeSHAP contributions: only risk-raising features, true sentences, honest sizes."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from churn.explain import (
    RAISES_RISK,
    ReasonRules,
    global_drivers,
    reason_columns,
    recommend_play,
    risk_points,
    top_contributors,
    top_reasons,
)
from churn.modeling import Calibrator, ChurnModel

FAMILIES = {
    "nps_last": "sentiment",
    "util_ratio": "product adoption",
    "tickets": "service experience",
}


def render(name, row, direction):
    # A stand-in for churn.features.catalogue.render_reason: a sentence built from the row's own value.
    return f"{name} is {row[name]:g}" + (" (raises risk)" if direction > 0 else "")


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.fixture
def contributions():
    return pd.DataFrame(
        {
            "nps_last": [0.9, -0.5, 0.0],
            "util_ratio": [0.3, 0.2, -0.1],
            "tickets": [-0.4, 0.7, -0.2],
            "bias": [-2.0, -2.0, -2.0],
        },
        index=[10, 11, 12],
    )


@pytest.fixture
def features():
    return pd.DataFrame(
        {"nps_last": [3.0, 9.0, 8.0], "util_ratio": [0.5, 0.6, 1.2], "tickets": [0.0, 4.0, 0.0]},
        index=[10, 11, 12],
    )


def test_only_features_that_raise_risk_become_reasons(contributions, features):
    reasons = top_reasons(contributions, features, FAMILIES, render, k=3)
    assert reasons.loc[10, "reason_1_feature"] == "nps_last"
    assert reasons.loc[10, "reason_2_feature"] == "util_ratio"
    # tickets lowers customer 10's risk: it is no reason to call them.
    assert reasons.loc[10, "reason_3"] is None
    assert reasons.loc[11, ["reason_1_feature", "reason_2_feature"]].tolist() == [
        "tickets",
        "util_ratio",
    ]


def test_customer_with_no_risk_raising_feature_has_no_reason_and_no_driver(contributions, features):
    reasons = top_reasons(contributions, features, FAMILIES, render, k=3)
    assert reasons.loc[12, "reason_1"] is None
    assert reasons.loc[12, "main_driver"] is None


def test_reasons_are_rendered_from_the_customers_own_values(contributions, features):
    reasons = top_reasons(contributions, features, FAMILIES, render, k=2)
    assert reasons.loc[10, "reason_1"] == "nps_last is 3 (raises risk)"
    assert reasons.loc[11, "reason_1"] == "tickets is 4 (raises risk)"


def test_each_reason_carries_direction_family_and_main_driver(contributions, features):
    reasons = top_reasons(contributions, features, FAMILIES, render, k=2)
    assert reasons.loc[10, "reason_1_direction"] == RAISES_RISK
    assert reasons.loc[10, "reason_2_family"] == "product adoption"
    assert reasons.loc[11, "main_driver"] == "service experience"
    assert list(reasons.columns) == reason_columns(2)


def test_effects_and_other_factors_add_up_to_probability_minus_base_rate(contributions, features):
    reasons = top_reasons(contributions, features, FAMILIES, render, k=3)
    total = contributions.sum(axis=1)
    base = _sigmoid(contributions["bias"])
    shown = reasons[[f"reason_{i}_effect" for i in (1, 2, 3)]].fillna(0.0).sum(axis=1)
    np.testing.assert_allclose(shown + reasons["other_factors_effect"], _sigmoid(total) - base)
    np.testing.assert_allclose(reasons["base_probability"], base)
    # Log-odds are not probability points: the raw contribution (0.9) is far from the effect.
    assert 0 < reasons.loc[10, "reason_1_effect"] < 0.2


def test_effect_goes_through_the_calibrator(contributions, features):
    halve = lambda p: p / 2  # noqa: E731 - a visible, monotone "calibration"
    raw = top_reasons(contributions, features, FAMILIES, render, k=1)
    calibrated = top_reasons(contributions, features, FAMILIES, render, k=1, calibrate=halve)
    assert calibrated.loc[10, "reason_1_effect"] == pytest.approx(
        raw.loc[10, "reason_1_effect"] / 2
    )


def test_points_sum_to_probability_minus_base_and_follow_the_log_odds():
    contrib = pd.DataFrame(
        {"a": [2.0, 0.1, 0.0], "b": [1.0, -3.0, 0.0], "c": [-0.5, 0.4, 0.0], "bias": [-1.0] * 3}
    )
    points, p, base = risk_points(contrib)
    np.testing.assert_allclose(points.sum(axis=1), p - base)
    np.testing.assert_allclose(p, _sigmoid(contrib.sum(axis=1)))
    # Each feature's points carry the sign of its contribution; a larger push never gets less.
    assert (np.sign(points.to_numpy()) == np.sign(contrib[["a", "b", "c"]].to_numpy())).all()
    assert points.loc[0, "a"] > points.loc[0, "b"] > 0 > points.loc[0, "c"]
    assert points.loc[1, "c"] > points.loc[1, "a"] > 0
    assert (points.loc[2] == 0).all()


def test_raising_one_push_never_lowers_its_points():
    grid = np.linspace(0.05, 4.0, 40)
    contrib = pd.DataFrame({"a": grid, "b": 0.5, "c": -0.7, "bias": -2.0})
    points, _, _ = risk_points(contrib)
    assert (np.diff(points["a"].to_numpy()) > 0).all()


def test_context_features_and_tiny_pushes_are_never_reasons(contributions, features):
    rules = ReasonRules(behaviour=frozenset({"util_ratio", "tickets"}), min_points=1.0)
    reasons = top_reasons(contributions, features, FAMILIES, render, k=3, rules=rules)
    listed = reasons[[f"reason_{i}_feature" for i in (1, 2, 3)]].to_numpy().ravel()
    assert "nps_last" not in listed
    shown = reasons[[f"reason_{i}_effect" for i in (1, 2, 3)]].to_numpy().ravel()
    assert (np.round(100 * shown[~np.isnan(shown)]) >= 1).all()


def test_a_value_on_the_safe_side_is_no_risk_reason_whatever_its_push(contributions, features):
    # tickets: more is riskier; customer 11 has 4 tickets (risky side), 10 and 12 none.
    # nps_last: higher is safer; customer 10's 3 is below the reference 5, so it stays.
    rules = ReasonRules(
        direction={"tickets": +1, "nps_last": -1},
        reference={"tickets": 1.0, "nps_last": 5.0},
        neutral=frozenset({"tickets"}),
    )
    safe = features.assign(nps_last=[6.0, 9.0, 8.0])
    assert (
        top_reasons(contributions, features, FAMILIES, render, rules=rules).loc[
            10, "reason_1_feature"
        ]
        == "nps_last"
    )
    moved = top_reasons(contributions, safe, FAMILIES, render, rules=rules)
    assert moved.loc[10, "reason_1_feature"] == "util_ratio"
    assert moved.loc[11, "reason_1_feature"] == "tickets"


def test_ties_break_by_feature_order_so_reruns_agree():
    contrib = pd.DataFrame({"a": [0.5], "b": [0.5], "c": [0.5], "bias": [0.0]})
    index, _, names = top_contributors(contrib, k=2)
    assert [names[i] for i in index[0]] == ["a", "b"]


def test_asking_for_more_reasons_than_features_pads_with_empty_slots():
    contrib = pd.DataFrame({"a": [0.5], "bias": [0.0]})
    index, value, _ = top_contributors(contrib, k=3)
    assert index[0].tolist() == [0, -1, -1]
    assert np.isnan(value[0, 1])


def test_global_drivers_rank_by_mean_absolute_contribution(contributions):
    drivers = global_drivers(contributions)
    assert drivers.index.tolist() == ["nps_last", "tickets", "util_ratio"]
    assert drivers["tickets"] == pytest.approx((0.4 + 0.7 + 0.2) / 3)
    assert "bias" not in drivers.index


def test_play_follows_the_main_driver_family_with_a_default():
    playbook = {"sentiment": "Executive call"}
    plays = recommend_play(pd.Series(["sentiment", "commercial", None]), playbook, "Check in")
    assert plays.tolist() == ["Executive call", "Check in", "Check in"]


def test_inputs_are_not_mutated(contributions, features):
    before_c, before_f = contributions.copy(), features.copy()
    top_reasons(contributions, features, FAMILIES, render, k=3)
    pd.testing.assert_frame_equal(contributions, before_c)
    pd.testing.assert_frame_equal(features, before_f)


def test_reasons_from_a_real_booster_add_up_and_name_the_true_driver():
    # A tiny model where only low NPS drives churn: its top reason must be NPS for detractors.
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"nps_last": rng.integers(0, 11, 2000).astype(float), "noise": rng.normal(size=2000)}
    )
    y = (rng.random(2000) < np.where(X["nps_last"] <= 4, 0.6, 0.05)).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_threads": 1, "verbose": -1, "num_leaves": 4, "seed": 1},
        lgb.Dataset(X, y),
        num_boost_round=30,
    )
    model = ChurnModel(
        booster,
        Calibrator.from_dict({"method": "sigmoid", "a": 1.0, "b": 0.0}),
        ["nps_last", "noise"],
        90,
    )
    contrib = model.contributions(X)
    # TreeSHAP contributions are exact: they add up to the raw log-odds.
    raw = model.predict_raw(X)
    np.testing.assert_allclose(_sigmoid(contrib.sum(axis=1)), raw, rtol=1e-6)
    reasons = top_reasons(contrib, X, {"nps_last": "sentiment"}, render, k=1)
    detractors = X["nps_last"] <= 2
    assert (reasons.loc[detractors, "reason_1_feature"] == "nps_last").all()
