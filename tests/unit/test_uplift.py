"""Uplift (issue 14, item 6): the two-model estimate, the evidence rule, Qini, rank_by: uplift."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from churn.scoring import assign_tiers, list_rule_text, listed_mask, order_for_list
from churn.settings import ScoringSettings, Settings, SettingsError, settings_from_dict
from churn.uplift import (
    TwoModelUplift,
    area_over_random,
    check_evidence,
    expected_arr_saved,
    gain_curve,
    qini_curve,
)


def _experiment(n: int = 4000, seed: int = 0, shuffle: bool = False):
    """A randomised play: it saves customers with x > 0.5 (-30 pts) and backfires (+10 pts)
    for the others; churn without the play rises with z."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.uniform(0, 1, n), "z": rng.uniform(0, 1, n)})
    tau = np.where(X["x"] > 0.5, -0.30, 0.10)
    base = 0.35 + 0.2 * X["z"].to_numpy()
    treated = rng.random(n) < 0.5
    churned = rng.random(n) < base + treated * tau
    if shuffle:
        treated = rng.permutation(treated)
    return X, treated, churned, tau


def test_the_two_model_estimate_recovers_a_known_heterogeneous_effect():
    X, treated, churned, tau = _experiment()
    effect = TwoModelUplift().fit(X, treated, churned).predict_effect(X)
    helped, hurt = effect[tau < 0].mean(), effect[tau > 0].mean()
    assert helped == pytest.approx(-0.30, abs=0.08)
    assert hurt == pytest.approx(0.10, abs=0.08)
    assert np.corrcoef(effect, tau)[0, 1] > 0.6


def test_with_the_treatment_labels_shuffled_no_effect_is_found():
    # The estimate comes from the arms, not from the outcome alone: shuffle who was treated and
    # the two groups can no longer be told apart (a model ignoring the arms would pass the test
    # above only by luck; one reading the outcome through a leak would "find" an effect here).
    X, treated, churned, tau = _experiment(shuffle=True)
    effect = TwoModelUplift().fit(X, treated, churned).predict_effect(X)
    assert abs(effect[tau < 0].mean() - effect[tau > 0].mean()) < 0.08


def test_the_evidence_rule_counts_each_arm():
    assert check_evidence([True] * 5 + [False] * 5, 5) is None
    why = check_evidence([True] * 250 + [False] * 12, 200)
    assert "250 treated and 12 control" in why and "scoring.uplift_min_per_arm" in why


def _brute_qini(score, treated, outcome):
    order = sorted(range(len(score)), key=lambda i: -score[i])  # stable: ties in input order
    out = [0.0]
    for k in range(1, len(score) + 1):
        top = order[:k]
        rt = sum(outcome[i] for i in top if treated[i])
        rc = sum(outcome[i] for i in top if not treated[i])
        nt = sum(1 for i in top if treated[i])
        nc = k - nt
        out.append(rt - rc * nt / nc if nc else float(rt))
    return out


def test_qini_matches_a_brute_force_count_on_a_small_example():
    score = [0.9, 0.1, 0.5, 0.5, 0.7, 0.3]
    treated = [True, False, True, False, False, True]
    outcome = [1, 1, 0, 1, 0, 1]
    got = qini_curve(np.array(score), np.array(treated), np.array(outcome))
    assert got == pytest.approx(_brute_qini(score, treated, outcome))
    # Worked by hand at k = 3 (0.9 T:1, 0.7 C:0, 0.5 T:0): 1 - 0 * 2/1 = 1.
    assert got[3] == pytest.approx(1.0)


def test_the_gain_curve_sums_the_true_value_of_the_customers_put_first():
    curve = gain_curve(np.array([0.2, 0.9, 0.5]), np.array([10.0, -5.0, 7.0]))
    assert curve.tolist() == [0.0, -5.0, 2.0, 12.0]
    assert area_over_random(np.array([0.0, 2.0, 2.0])) == pytest.approx((0 + 1 + 0) / 3)


def test_expected_arr_saved_is_minus_the_effect_times_arr():
    saved = expected_arr_saved(np.array([-0.2, 0.1, -0.5]), np.array([1000.0, 500.0, np.nan]))
    assert saved[:2].tolist() == pytest.approx([200.0, -50.0]) and np.isnan(saved[2])


def test_rank_by_refuses_other_values_naming_the_key():
    with pytest.raises(SettingsError) as err:
        settings_from_dict({"scoring": {"rank_by": "profit"}})
    text = str(err.value)
    assert "rank_by" in text and "risk" in text and "uplift" in text
    assert Settings().scoring.rank_by == "risk"  # the default: the figures do not move


def _listing(p, effect, arr, **settings):
    s = ScoringSettings(**settings)
    scores = pd.DataFrame(
        {
            "customer_id": [f"C{i:02d}" for i in range(len(p))],
            "churn_probability": p,
            "account_owner": "Ann",
            "arr": arr,
            "uplift_effect": effect,
        }
    )
    scores["risk_tier"] = assign_tiers(scores["churn_probability"], s.tiers)
    scores["revenue_at_risk"] = scores["churn_probability"] * scores["arr"]
    scores = order_for_list(scores, s)
    scores["listed"] = listed_mask(scores, s)
    return scores


def test_by_uplift_the_list_goes_by_expected_arr_saved_above_the_floor():
    scores = _listing(
        p=[0.90, 0.40, 0.60, 0.10, 0.70],
        effect=[0.00, -0.30, -0.10, -0.50, +0.05],
        arr=[1e5, 1e4, 1e4, 1e5, 1e5],
        rank_by="uplift",
        capacity_per_owner=None,
    )
    # C01 (medium tier, saves 3,000) before C02 (high tier, saves 1,000); C03 would save the
    # most but is below the floor; C00 (nothing to save) and C04 (backfires) are not listed.
    assert scores.loc[scores["listed"], "customer_id"].tolist() == ["C01", "C02"]
    same = _listing(
        p=[0.90, 0.40, 0.60, 0.10, 0.70],
        effect=[0.00, -0.30, -0.10, -0.50, +0.05],
        arr=[1e5, 1e4, 1e4, 1e5, 1e5],
        capacity_per_owner=None,
    )
    # By risk (the default), the same customers go by tier and revenue at risk, all listed.
    assert same.loc[same["listed"], "customer_id"].tolist() == ["C00", "C04", "C02", "C01"]
    assert "expected ARR saved" in list_rule_text(ScoringSettings(rank_by="uplift"))


def test_rank_by_uplift_falls_back_to_risk_with_a_warning_below_the_evidence(
    tmp_path, monkeypatch, caplog
):
    from churn.pipelines import uplift as pipe

    settings = Settings(scoring=ScoringSettings(rank_by="uplift", uplift_min_per_arm=50))
    caplog.set_level(logging.WARNING)
    scoring, effect = pipe.week_ranking(None, None, pd.Timestamp("2025-06-02"), settings, tmp_path)
    assert effect is None and scoring.rank_by == "risk"
    assert "no week in" in caplog.text and "ranked by risk" in caplog.text

    rows = pd.DataFrame({"treated": [True] * 80 + [False] * 9, "churned": False})
    monkeypatch.setattr(pipe, "outcome_rows", lambda *a: rows)
    caplog.clear()
    scoring, effect = pipe.week_ranking(None, None, pd.Timestamp("2025-06-02"), settings, tmp_path)
    assert effect is None and scoring.rank_by == "risk"
    assert "80 treated and 9 control" in caplog.text


def _fake_week(root, as_of, sent, control, horizon=90):
    """A week folder as churn score writes it, with only what uplift reads."""
    import json

    folder = root / as_of.date().isoformat()
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(
        json.dumps({"as_of": as_of.isoformat(), "horizon_days": horizon})
    )
    sent.to_csv(folder / "at_risk.csv", index=False)
    control.to_csv(folder / "control.csv", index=False)


def test_churn_score_ranks_by_uplift_once_the_past_weeks_have_enough_outcomes(
    tmp_path, scoring_model_factory
):
    from churn import dataset
    from churn.pipelines.score import score_week

    tables, model, as_of, _ = scoring_model_factory(tmp_path / "sim", seed=4, mess_rate=0.0)
    root = tmp_path / "weeks"
    # Two past weeks whose horizon ended before as_of: every active customer listed, half held
    # out (by customer number), the play the list recommended on each row.
    for weeks_back in (20, 16):
        past = as_of - pd.Timedelta(weeks=weeks_back)
        active = dataset.scoring_spine(tables, past)[["customer_id"]].copy()
        active["recommended_play"] = "Regular check-in: no single driver stands out"
        active["arr"] = 1000.0
        odd = active["customer_id"].str[-1].astype(int) % 2 == 1
        _fake_week(root, past, active[~odd], active[odd])
    settings = Settings(
        scoring=ScoringSettings(
            rank_by="uplift", uplift_min_per_arm=20, capacity_per_owner=None, min_probability=0.0
        )
    )
    result = score_week(tables, model, as_of, settings, root)
    listed = result.at_risk
    assert len(listed) and listed["expected_arr_saved"].gt(0).all()
    # Ordered by expected ARR saved (the rank keeps the held-out customers' places).
    assert listed["expected_arr_saved"].is_monotonic_decreasing
    csv = pd.read_csv(result.folder / "at_risk.csv")
    assert {"uplift_effect", "expected_arr_saved"} <= set(csv.columns)
    assert "expected ARR saved" in (result.folder / "manifest.json").read_text()
    page = (result.folder / "report.html").read_text()
    assert "expected saved" in page and "Sorted by expected ARR saved" in page
    from openpyxl import load_workbook

    book = next((result.folder / "owners").glob("*.xlsx"))
    assert "Expected ARR saved" in [c.value for c in load_workbook(book)["At risk"][1]]
