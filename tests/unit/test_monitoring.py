"""Monitoring's pure parts: CBPE estimates, realised figures, PSI drift, the retrain advice."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from churn.modeling import roc_auc
from churn.monitoring import (
    expected_precision_at_k,
    expected_roc_auc,
    expected_week,
    feature_drift,
    psi,
    realised_week,
    recommend,
    reference_dates,
    render_json,
    render_page,
    staleness,
    training_end,
    week_entry,
)
from churn.settings import MonitoringSettings, Settings, SettingsError, settings_from_dict

TIERS = (("high", 0.5), ("medium", 0.25), ("low", 0.0))


def _brute_expected_auc(p: np.ndarray) -> float:
    good = pairs = 0.0
    for i, j in itertools.permutations(range(len(p)), 2):
        weight = p[i] * (1 - p[j])
        pairs += weight
        good += weight * (1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0)
    return good / pairs


def test_expected_roc_auc_matches_the_pairwise_definition_with_ties():
    p = np.array([0.1, 0.4, 0.4, 0.9, 0.05, 0.4, 0.7])
    assert expected_roc_auc(p) == pytest.approx(_brute_expected_auc(p))


def test_expected_roc_auc_is_what_calibrated_outcomes_realise_on_average():
    rng = np.random.default_rng(1)
    p = rng.beta(0.5, 6, size=800)
    realised = [roc_auc((rng.random(len(p)) < p).astype(float), p) for _ in range(300)]
    assert expected_roc_auc(p) == pytest.approx(np.mean(realised), abs=0.01)


def test_expected_precision_at_k_is_the_mean_of_the_top_k():
    assert expected_precision_at_k([0.9, 0.1, 0.5, 0.3], 2) == pytest.approx(0.7)
    assert expected_precision_at_k([0.9, 0.1], 5) == pytest.approx(0.5)


def _scores(n=400, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.6, 5, size=n)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "churn_probability": p,
            "arr": rng.integers(1, 100, n) * 1000.0,
        }
    )
    frame["risk_tier"] = np.where(p >= 0.5, "high", np.where(p >= 0.25, "medium", "low"))
    frame["listed"] = frame["churn_probability"].rank(ascending=False) <= 50
    y = (rng.random(n) < p).astype(float)
    return frame, pd.Series(y)


def test_realised_week_counts_the_list_and_brackets_its_precision():
    scores, y = _scores()
    out = realised_week(scores, y, capacity_k=50, tiers=TIERS, n_resamples=200)
    listed = scores["listed"].to_numpy()
    precision = y[listed].mean()
    assert out["list_precision"]["estimate"] == pytest.approx(precision)
    assert out["list_precision"]["low"] < precision < out["list_precision"]["high"]
    assert out["list_recall"]["estimate"] == pytest.approx(y[listed].sum() / y.sum())
    # The list is the top 50 by probability, so precision@50 is the list's precision.
    assert out["precision_at_k"]["estimate"] == pytest.approx(precision)
    lost = (scores["arr"] * y).sum()
    assert out["arr_lost_listed"] + out["arr_lost_unlisted"] == pytest.approx(lost)
    assert [t["tier"] for t in out["tiers"]] == ["high", "medium", "low"]
    assert sum(t["n"] for t in out["tiers"]) == len(scores)


def test_realised_week_leaves_unknown_labels_out():
    scores, y = _scores(100)
    y.iloc[:30] = np.nan
    out = realised_week(scores, y, capacity_k=10, tiers=TIERS, n_resamples=0)
    assert out["n"] == 70
    assert np.isnan(out["churn_rate"]["low"])  # no resamples: no interval, still the estimate
    assert out["churn_rate"]["estimate"] == pytest.approx(np.nanmean(y))


def test_expected_week_uses_the_list_as_sent():
    scores, _ = _scores()
    e = expected_week(scores, 50)
    p = scores["churn_probability"]
    assert e["list_precision"] == pytest.approx(p[scores["listed"]].mean())
    assert e["list_recall"] == pytest.approx(p[scores["listed"]].sum() / p.sum())
    assert e["churn_rate"] == pytest.approx(p.mean())


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = pd.Series(rng.normal(size=5000))
    assert psi(ref, pd.Series(rng.normal(size=5000))) < 0.02
    assert psi(ref, pd.Series(rng.normal(0.8, 1, size=5000))) > 0.25


def test_psi_counts_missing_values_and_categories():
    ref = pd.Series(["a", "b"] * 500)
    assert psi(ref, pd.Series(["a", "b"] * 500)) == pytest.approx(0.0)
    assert psi(ref, pd.Series(["a", "c"] * 500)) > 1
    num = pd.Series(np.arange(1000.0))
    half_missing = num.where(num % 2 == 0)
    assert psi(num, half_missing) > 0.25


def test_feature_drift_flags_behaviour_in_plain_words_and_spares_context():
    rng = np.random.default_rng(0)
    n = 3000
    ref = pd.DataFrame({"logins": rng.poisson(20, n) * 1.0, "tenure": rng.uniform(0, 500, n)})
    cur = pd.DataFrame({"logins": rng.poisson(12, n) * 1.0, "tenure": rng.uniform(200, 700, n)})
    cur.loc[: n // 4, "logins"] = np.nan
    out = feature_drift(
        ref,
        cur,
        ["logins", "tenure"],
        descriptions={"logins": "Mean logins per week", "tenure": "Days since signup"},
        kinds={"tenure": "context"},
    ).set_index("feature")
    assert out.loc["logins", "flagged"]
    assert "PSI" in out.loc["logins", "why"] and "missing 0% -> 25%" in out.loc["logins", "why"]
    assert out.loc["logins", "description"] == "Mean logins per week"
    assert out.loc["tenure", "psi"] > 0.25 and not out.loc["tenure", "flagged"]
    both = feature_drift(ref, cur, ["tenure"], kinds={"tenure": "context"}, flag_context=True)
    assert both["flagged"].all()


def test_training_end_and_reference_dates_come_from_the_split():
    meta = {
        "fit_as_of": "2024-07-08..2025-02-17 (33 dates)",
        "valid_as_of": "2025-05-19..2025-06-09 (4 dates)",
    }
    assert training_end(meta) == pd.Timestamp("2025-06-09")
    # The drift reference is the latest labelled window, not the fit window.
    dates = reference_dates(meta, 4, "W-MON")
    assert dates == list(pd.date_range("2025-05-19", "2025-06-09", freq="W-MON"))
    tested = {**meta, "test_as_of": "2025-09-08..2025-09-29 (4 dates)"}
    assert reference_dates(tested, 2, "W-MON") == [
        pd.Timestamp("2025-09-08"),
        pd.Timestamp("2025-09-29"),
    ]
    refit = {**meta, "test_as_of": "none"}
    assert reference_dates(refit, 4, "W-MON")[-1] == pd.Timestamp("2025-06-09")
    assert training_end({}) is None and reference_dates({}, 4, "W-MON") == []


def test_a_stale_champion_is_a_reason_to_retrain():
    mon = MonitoringSettings(max_training_age_days=100)
    stale = staleness(pd.Timestamp("2025-01-06"), pd.Timestamp("2025-06-02"), mon)
    assert stale["age_days"] == 147 and stale["stale"]
    advice = recommend([], stale, None, mon)
    assert advice["retrain"] and "147 days" in advice["reasons"][0]
    fresh = staleness(pd.Timestamp("2025-05-05"), pd.Timestamp("2025-06-02"), mon)
    assert recommend([], fresh, None, mon) == {"retrain": False, "reasons": []}


def test_week_entry_and_report_render_to_json_and_html():
    scores, y = _scores()
    settings = Settings(monitoring=MonitoringSettings(retrain_drifted_features=1))
    drift = feature_drift(
        pd.DataFrame({"x": np.arange(100.0)}), pd.DataFrame({"x": np.arange(100.0) + 80}), ["x"]
    )
    manifest = {"model": {"version": "3", "run_id": "r"}}
    week = week_entry(pd.Timestamp("2025-06-02"), manifest, scores, y, drift, settings)
    assert week["matured"] and week["model_version"] == "3"
    assert week["drift"]["flagged"][0]["feature"] == "x"
    stale = staleness(None, None, settings.monitoring)
    report = {
        "weeks": [week],
        "champion": {"version": "3", "run_id": "r", "test_roc_auc": 0.8},
        "staleness": stale,
        "recommendation": recommend([week], stale, 0.8, settings.monitoring),
        "thresholds": settings.monitoring.model_dump(),
        "capacity_k": 100,
        "reference_dates": [],
    }
    assert b'"list_precision"' in render_json(report)
    page = render_page(report).decode()
    assert "2025-06-02" in page and "Retrain recommended" in page  # x drifted: one feature
    assert render_page(report) == render_page(report)


def test_monitoring_settings_are_checked_like_every_section():
    s = settings_from_dict({"monitoring": {"psi_threshold": 0.2}})
    assert s.monitoring.psi_threshold == 0.2
    with pytest.raises(SettingsError, match="psi_treshold"):
        settings_from_dict({"monitoring": {"psi_treshold": 0.2}})
    assert settings_from_dict({"monitoring": None}).monitoring == MonitoringSettings()
