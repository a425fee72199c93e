"""Weekly scoring: everyone active is scored or excluded with a reason; tiers, priority, changes."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.modeling import Calibrator, ChurnModel
from churn.scoring import (
    EXCLUDED_NO_FEATURES,
    FeatureMismatchError,
    account_details,
    assign_tiers,
    at_risk_list,
    check_feature_set,
    check_scoring_settings,
    compare_with_previous,
    dropped_off,
    excluded_counts,
    renewal_days,
    score_customers,
    split_scorable,
)
from churn.settings import ScoringSettings
from churn.spine import latest_complete_week

AS_OF = pd.Timestamp("2025-06-02")
FEATURES = ["acct_tenure_days", "nps_last", "util_ratio"]
FAMILIES = {
    "acct_tenure_days": "commercial",
    "nps_last": "sentiment",
    "util_ratio": "product adoption",
}


def render(name, row, direction):
    return f"{name} = {row[name]:g}"


@pytest.fixture(scope="module")
def model():
    """A tiny booster where low NPS and falling usage raise risk (trained with one thread)."""
    rng = np.random.default_rng(3)
    n = 3000
    X = pd.DataFrame(
        {
            "acct_tenure_days": rng.integers(1, 900, n).astype(float),
            "nps_last": rng.integers(0, 11, n).astype(float),
            "util_ratio": rng.uniform(0.2, 1.5, n),
        }
    )
    logit = -2.5 + 2.0 * (X["nps_last"] <= 4) + 1.5 * (X["util_ratio"] < 0.6)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_threads": 1, "verbose": -1, "num_leaves": 7, "seed": 1},
        lgb.Dataset(X, y),
        num_boost_round=40,
    )
    calibrator = Calibrator.from_dict({"method": "sigmoid", "a": 1.0, "b": 0.0})
    return ChurnModel(booster, calibrator, FEATURES, 90, {"run_id": "r1", "model_version": "3"})


def _frame(rows):
    """A scoring frame from (customer_id, tenure, nps, util) tuples."""
    frame = pd.DataFrame(rows, columns=["customer_id", *FEATURES])
    frame.insert(1, "as_of", AS_OF)
    return frame


def _accounts(ids, arr):
    customers = pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"Acme {i}" for i in ids],
            "account_owner": ["Ann"] * len(ids),
            "segment": ["SMB"] * len(ids),
            "plan": ["Pro"] * len(ids),
            "arr": arr,
            "contract_end_date": [AS_OF + pd.Timedelta(days=30)] * len(ids),
        }
    )
    return account_details(customers)


def _score(model, frame, arr, **settings):
    s = ScoringSettings(**settings)
    return score_customers(
        model,
        frame,
        _accounts(frame["customer_id"].tolist(), arr),
        s,
        families=FAMILIES,
        render=render,
        calibrate=model.calibrator.transform,
    )


# ------------------------------------------------------------------ who is scored


def test_every_active_customer_is_scored_or_excluded_with_a_reason():
    active = pd.DataFrame({"customer_id": ["A", "B", "C", "D"], "as_of": AS_OF})
    frame = _frame([("A", 400, 9, 1.0), ("B", np.nan, 3, 0.5), ("D", 3, np.nan, np.nan)])
    scorable, excluded = split_scorable(active, frame, ["acct_tenure_days"])
    assert scorable["customer_id"].tolist() == ["A", "D"]
    assert excluded["customer_id"].tolist() == ["B", "C"]
    assert len(scorable) + len(excluded) == len(active)
    reasons = dict(zip(excluded["customer_id"], excluded["reason"], strict=True))
    assert reasons["B"] == "missing required data: acct_tenure_days"
    assert reasons["C"] == EXCLUDED_NO_FEATURES
    assert excluded_counts(excluded) == {"missing required data": 1, "no feature row": 1}


def test_a_brand_new_customer_with_no_events_is_scored_not_excluded():
    active = pd.DataFrame({"customer_id": ["NEW"], "as_of": AS_OF})
    frame = _frame([("NEW", 2, np.nan, np.nan)])
    scorable, excluded = split_scorable(active, frame, ["acct_tenure_days"])
    assert scorable["customer_id"].tolist() == ["NEW"]
    assert excluded.empty


def test_feature_rows_for_inactive_customers_are_ignored():
    active = pd.DataFrame({"customer_id": ["A"], "as_of": AS_OF})
    frame = _frame([("A", 400, 9, 1.0), ("GONE", 400, 1, 0.1)])
    scorable, excluded = split_scorable(active, frame, [])
    assert scorable["customer_id"].tolist() == ["A"]
    assert excluded.empty


def test_a_required_feature_the_code_does_not_build_is_a_clear_error():
    active = pd.DataFrame({"customer_id": ["A"], "as_of": AS_OF})
    with pytest.raises(ChurnError, match="required_features.*tenure_years"):
        split_scorable(active, _frame([("A", 1, 1, 1)]), ["tenure_years"])


def test_a_model_with_another_feature_set_is_refused_naming_the_features():
    with pytest.raises(FeatureMismatchError) as err:
        check_feature_set(["nps_last", "int_calls_30d"], ["customer_id", "as_of", "nps_last", "x"])
    assert "int_calls_30d" in str(err.value)
    assert "x" in str(err.value).split("not trained on:")[1]
    assert isinstance(err.value, ChurnError)


def test_the_same_feature_set_in_another_order_is_accepted():
    check_feature_set(["a", "b"], ["customer_id", "as_of", "b", "a"])


# ------------------------------------------------------------------ tiers and the list


def test_tier_bounds_are_inclusive_and_defined_once_in_settings():
    tiers = ScoringSettings().tiers
    p = pd.Series([0.5, 0.4999, 0.25, 0.0, 0.99])
    assert assign_tiers(p, tiers).tolist() == ["high", "medium", "medium", "low", "high"]


def test_bad_tiers_or_priority_are_refused_with_the_key_to_fix():
    with pytest.raises(ChurnError, match="scoring.priority"):
        check_scoring_settings(ScoringSettings(priority="arr"))
    with pytest.raises(ChurnError, match="scoring.tiers"):
        check_scoring_settings(ScoringSettings(tiers=(("low", 0.0), ("high", 0.5))))


def test_scores_are_the_models_calibrated_probabilities(model):
    frame = _frame([("A", 400, 2, 0.3), ("B", 400, 9, 1.2)])
    scores, _, _ = _score(model, frame, [1000.0, 1000.0])
    expected = dict(zip(frame["customer_id"], model.predict_proba(frame[FEATURES]), strict=True))
    for cid, p in zip(scores["customer_id"], scores["churn_probability"], strict=True):
        assert p == pytest.approx(expected[cid])


def test_priority_is_revenue_at_risk_so_a_big_account_comes_first(model):
    # B is riskier, but A's ARR puts far more revenue at risk.
    frame = _frame([("A", 400, 7, 0.9), ("B", 400, 1, 0.3)])
    scores, _, _ = _score(model, frame, [1_000_000.0, 1_000.0])
    assert scores["churn_probability"].iloc[1] > scores["churn_probability"].iloc[0]
    assert scores["customer_id"].tolist() == ["A", "B"]
    assert scores["revenue_at_risk"].iloc[0] == pytest.approx(
        scores["churn_probability"].iloc[0] * 1_000_000
    )
    by_p, _, _ = _score(model, frame, [1_000_000.0, 1_000.0], priority="probability")
    assert by_p["customer_id"].tolist() == ["B", "A"]


def test_list_is_the_top_n_plus_everyone_above_the_probability_floor(model):
    frame = _frame(
        [("A", 400, 1, 0.3), ("B", 400, 2, 0.3), ("C", 400, 9, 1.2), ("D", 400, 10, 1.3)]
    )
    # Tiny ARR for the risky ones: they are not the top 1 by revenue but pass the floor.
    scores, _, _ = _score(model, frame, [1.0, 1.0, 1e6, 1e6], list_size=1, min_probability=0.5)
    listed = at_risk_list(scores)
    assert (
        scores.loc[scores["churn_probability"] >= 0.5, "customer_id"]
        .isin(listed["customer_id"])
        .all()
    )
    assert listed["customer_id"].iloc[0] in {"C", "D"}
    assert listed["rank"].tolist() == list(range(1, len(listed) + 1))
    assert len(listed) == 3


def test_unknown_arr_still_scores_and_ranks_last_by_revenue(model):
    frame = _frame([("A", 400, 1, 0.3), ("B", 400, 9, 1.2)])
    scores, _, _ = _score(model, frame, [np.nan, 10.0])
    assert scores["customer_id"].tolist() == ["B", "A"]
    assert np.isnan(scores.loc[scores["customer_id"] == "A", "revenue_at_risk"]).all()


def test_reasons_only_for_listed_customers_when_scope_is_listed(model):
    frame = _frame([("A", 400, 1, 0.3), ("B", 400, 9, 1.2)])
    scores, contrib, _ = _score(
        model, frame, [100.0, 1.0], list_size=1, min_probability=1.0, reasons_scope="listed"
    )
    assert len(contrib) == 1
    assert scores.loc[0, "reason_1"] is not None
    assert scores.loc[1, "reason_1"] is None and scores.loc[1, "recommended_play"] is None


def test_a_detractor_with_falling_usage_gets_sentiment_as_main_driver_and_its_play(model):
    frame = _frame([("A", 400, 1, 0.3)])
    scores, _, _ = _score(model, frame, [100.0])
    row = scores.iloc[0]
    assert {row["reason_1_feature"], row["reason_2_feature"]} == {"nps_last", "util_ratio"}
    assert row["recommended_play"] == ScoringSettings().playbook[row["main_driver"]]
    assert row["reason_1_effect"] > 0


def test_days_to_renewal_is_the_point_in_time_feature_not_the_contract_end_date():
    frame = _frame([("A", 400, 1, 0.3), ("B", 400, 9, 1.0)])
    frame["acct_days_to_renewal"] = [23.0, np.nan]
    days = renewal_days(frame)
    assert days.tolist()[0] == 23
    assert np.isnan(days.iloc[1])
    # Without a contract term the feature is not built: the column is empty, not guessed.
    assert renewal_days(frame.drop(columns="acct_days_to_renewal")).isna().all()


def test_account_details_leave_optional_columns_empty():
    customers = pd.DataFrame({"customer_id": ["A", "B"], "arr": [1.0, 2.0]})
    details = account_details(customers)
    assert details["name"].isna().all()  # optional columns absent: empty, not an error
    assert "days_to_renewal" not in details.columns


def test_scoring_does_not_mutate_its_inputs(model):
    frame = _frame([("A", 400, 1, 0.3)])
    before = frame.copy()
    _score(model, frame, [100.0])
    pd.testing.assert_frame_equal(frame, before)


# ------------------------------------------------------------------ what changed


def test_changes_since_last_week_new_up_down_and_same():
    current = pd.DataFrame(
        {"customer_id": ["A", "B", "C", "D"], "churn_probability": [0.6, 0.3, 0.4, 0.7]}
    )
    previous_list = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "X"],
            "rank": [1, 2, 3, 4],
            "churn_probability": [0.4, 0.5, 0.405, 0.9],
        }
    )
    previous_scores = pd.DataFrame({"customer_id": ["D"], "churn_probability": [0.2]})
    out = compare_with_previous(current, previous_list, previous_scores, tolerance=0.01)
    assert out["change"].tolist() == ["up", "down", "same", "new"]
    # D was scored last week but not listed: "new" on the list, with its real probability change.
    assert out["probability_change"].tolist() == pytest.approx([0.2, -0.2, -0.005, 0.5])
    assert out["previous_rank"].iloc[:3].tolist() == [1, 2, 3]
    assert dropped_off(current, previous_list)["customer_id"].tolist() == ["X"]


def test_without_a_previous_week_everyone_is_new():
    current = pd.DataFrame({"customer_id": ["A"], "churn_probability": [0.6]})
    out = compare_with_previous(current, None, None)
    assert out["change"].tolist() == ["new"]
    assert np.isnan(out["probability_change"].iloc[0])
    assert dropped_off(current, None).empty


# ------------------------------------------------------------------ lineage and dates


def test_default_week_is_the_last_monday_not_after_extraction():
    assert latest_complete_week(pd.Timestamp("2026-01-01")) == pd.Timestamp("2025-12-29")
    assert latest_complete_week(pd.Timestamp("2025-12-29")) == pd.Timestamp("2025-12-29")
    assert latest_complete_week(pd.Timestamp("2025-12-29 06:00")) == pd.Timestamp("2025-12-29")


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def demo(tmp_path_factory, scoring_model_factory):
    """A small simulated dataset and a tiny model trained on its own features (one thread)."""
    return scoring_model_factory(tmp_path_factory.mktemp("demo"), seed=2, mess_rate=0.0)


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_scoring_a_week_writes_every_file_and_the_counts_add_up(demo, tmp_path):
    import json

    from churn import labels, spine
    from churn.pipelines.score import score_week
    from churn.settings import Settings

    tables, model, as_of, _ = demo
    settings = Settings(scoring=ScoringSettings(required_features=("acct_tenure_days", "nps_last")))
    result = score_week(tables, model, as_of, settings, tmp_path)
    manifest = json.loads((result.folder / "manifest.json").read_text())
    counts = manifest["counts"]
    active = spine.build_spine(tables.customers, [as_of], churn_date=labels.churn_dates(tables))
    assert counts["active"] == len(active) == counts["scored"] + counts["excluded"]
    # Customers who never answered a survey cannot be scored under this config: each is listed.
    excluded = pd.read_csv(result.folder / "excluded.csv")
    assert len(excluded) == counts["excluded"] > 0
    assert (excluded["reason"] == "missing required data: nps_last").all()
    assert counts["excluded_by_reason"] == {"missing required data": counts["excluded"]}
    assert manifest["model"]["version"] == "7" and manifest["model"]["run_id"] == "run-1"
    at_risk = pd.read_csv(result.folder / "at_risk.csv")
    assert len(at_risk) == counts["listed"] >= min(100, counts["scored"])
    assert at_risk["reason_1"].notna().any()
    assert set(manifest["files"]) == set(_files(result.folder)) - {"manifest.json"}


@pytest.mark.slow
def test_rerunning_the_same_week_gives_byte_identical_files(demo, tmp_path):
    from churn.pipelines.score import score_week
    from churn.settings import Settings

    tables, model, as_of, _ = demo
    first = _files(score_week(tables, model, as_of, Settings(), tmp_path).folder)
    second = _files(score_week(tables, model, as_of, Settings(), tmp_path).folder)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


@pytest.mark.slow
def test_the_next_week_reports_what_changed_since_the_previous_folder(demo, tmp_path):
    import json

    from churn.pipelines.score import score_week
    from churn.settings import Settings

    tables, model, as_of, _ = demo
    last_week = as_of - pd.Timedelta(weeks=1)
    score_week(tables, model, last_week, Settings(), tmp_path)
    result = score_week(tables, model, as_of, Settings(), tmp_path)
    manifest = json.loads((result.folder / "manifest.json").read_text())
    assert manifest["previous_as_of"] == last_week.date().isoformat()
    changes = result.at_risk["change"]
    assert changes.isin(["new", "up", "down", "same"]).all()
    assert (changes != "new").any()  # most customers were on last week's list too
    returning = result.at_risk[changes != "new"]
    assert returning["previous_probability"].notna().all()


@pytest.mark.slow
def test_a_model_trained_on_other_features_is_refused_by_name(demo, tmp_path):
    from churn.pipelines.score import score_week
    from churn.settings import Settings

    tables, model, as_of, _ = demo
    stale = ChurnModel(
        model.booster,
        model.calibrator,
        [*model.feature_names[:-1], "int_fax_30d"],
        90,
        model.metadata,
    )
    with pytest.raises(FeatureMismatchError, match="int_fax_30d") as err:
        score_week(tables, stale, as_of, Settings(), tmp_path)
    assert model.feature_names[-1] in str(err.value)
    assert not any(tmp_path.iterdir())  # nothing written


@pytest.mark.slow
def test_cli_without_a_champion_says_run_make_train_and_exits_2(demo, tmp_path):
    import os
    import subprocess
    import sys

    _, _, _, data = demo
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'empty' / 'mlflow.db'}"}
    out = subprocess.run(
        [sys.executable, "-m", "churn.cli", "score", "--data", str(data), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 2
    assert "no trained model: run make train first" in out.stderr
    assert "Traceback" not in out.stderr
