"""Weekly scoring: everyone active is scored or excluded with a reason; tiers, priority, changes."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.modeling import Calibrator, ChurnModel
from churn.outputs.tables import format_probability, list_columns
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
    list_rule_text,
    listed_mask,
    order_for_list,
    play_mix,
    renewal_days,
    score_customers,
    split_scorable,
    tier_bands,
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
    p = pd.Series([0.5, 0.4949, 0.25, 0.0, 0.99])
    assert assign_tiers(p, tiers).tolist() == ["high", "medium", "medium", "low", "high"]


def test_a_probability_shown_as_50_percent_is_in_the_tier_that_starts_at_50():
    tiers = ScoringSettings().tiers
    grid = pd.Series(np.linspace(0.0, 1.0, 20001))
    tier = assign_tiers(grid, tiers)
    bounds = dict(tiers)
    upper = {name: tiers[i - 1][1] if i else 2.0 for i, (name, _) in enumerate(tiers)}
    for p, t in zip(grid, tier, strict=True):
        text = format_probability(p)
        if text in (">99%", "<1%"):
            continue
        shown = int(text.rstrip("%")) / 100
        # The tier is the one the DISPLAYED percentage falls in: "50%" is never "medium".
        assert bounds[t] <= shown < upper[t], (p, text, t)
    assert format_probability(0.4999) == "50%" and assign_tiers(pd.Series([0.4999]), tiers)[0] == (
        "high"
    )
    assert format_probability(0.996) == ">99%" and format_probability(0.001) == "<1%"
    assert format_probability(np.nan) == "" and format_probability(None) == ""


def test_tier_bounds_and_the_floor_must_be_whole_percents():
    with pytest.raises(ChurnError, match="whole percent"):
        check_scoring_settings(ScoringSettings(tiers=(("high", 0.555), ("low", 0.0))))
    with pytest.raises(ChurnError, match="scoring.min_probability"):
        check_scoring_settings(ScoringSettings(min_probability=0.125))


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
    # B is riskier, but A's ARR puts far more revenue at risk: within one tier A comes first.
    frame = _frame([("A", 400, 7, 0.9), ("B", 400, 1, 0.3)])
    one_tier = {"tiers": (("all", 0.0),)}
    scores, _, _ = _score(model, frame, [1_000_000.0, 1_000.0], **one_tier)
    assert scores["churn_probability"].iloc[1] > scores["churn_probability"].iloc[0]
    assert scores["customer_id"].tolist() == ["A", "B"]
    assert scores["revenue_at_risk"].iloc[0] == pytest.approx(
        scores["churn_probability"].iloc[0] * 1_000_000
    )
    by_p, _, _ = _score(model, frame, [1_000_000.0, 1_000.0], priority="probability", **one_tier)
    assert by_p["customer_id"].tolist() == ["B", "A"]
    # With the default tiers B is "high" and A "low": the tier comes first.
    tiered, _, _ = _score(model, frame, [1_000_000.0, 1_000.0])
    assert tiered["risk_tier"].tolist() == ["high", "low"]
    assert tiered["customer_id"].tolist() == ["B", "A"]


def _listing(p, owner, arr, **settings):
    """Scores as score_customers builds them (tiered, in list order, listed), from literals."""
    s = ScoringSettings(**settings)
    scores = pd.DataFrame(
        {
            "customer_id": [f"C{i:02d}" for i in range(len(p))],
            "churn_probability": p,
            "account_owner": owner,
            "arr": arr,
        }
    )
    scores["risk_tier"] = assign_tiers(scores["churn_probability"], s.tiers)
    scores["revenue_at_risk"] = scores["churn_probability"] * scores["arr"]
    scores = order_for_list(scores, s)
    scores["listed"] = listed_mask(scores, s)
    return scores


def test_no_lower_tier_customer_takes_a_place_while_a_higher_tier_one_of_the_owner_waits():
    # Ann: a medium-tier whale and two high-tier small accounts; capacity 2.
    scores = _listing(
        [0.30, 0.60, 0.55, 0.80, 0.10],
        ["Ann", "Ann", "Ann", "Bob", "Bob"],
        [5e6, 1e3, 2e3, 1e3, 1e6],
        capacity_per_owner=2,
        list_size=None,
    )
    listed = scores[scores["listed"]]
    assert sorted(listed["customer_id"]) == ["C01", "C02", "C03"]
    # Bob's low-tier account is below the floor, whatever its ARR.
    assert not scores.loc[scores["customer_id"] == "C04", "listed"].any()
    rank = {name: i for i, (name, _) in enumerate(ScoringSettings().tiers)}
    for _, owned in scores.groupby("account_owner"):
        worst_listed = owned.loc[owned["listed"], "risk_tier"].map(rank).max()
        best_waiting = owned.loc[~owned["listed"], "risk_tier"].map(rank).min()
        assert not (worst_listed > best_waiting)


def test_the_list_size_cuts_in_tier_order_across_owners():
    scores = _listing(
        [0.30, 0.90, 0.60, 0.26], ["A", "B", "C", "D"], [1e6, 1e3, 1e3, 1e7], list_size=2
    )
    assert scores.loc[scores["listed"], "customer_id"].tolist() == ["C01", "C02"]
    assert at_risk_list(scores)["rank"].tolist() == [1, 2]


def test_customers_without_an_owner_share_one_capacity():
    scores = _listing(
        [0.9, 0.8, 0.7], [None, " ", "Ann"], [1.0, 1.0, 1.0], capacity_per_owner=1, list_size=None
    )
    assert scores.loc[scores["listed"], "customer_id"].tolist() == ["C00", "C02"]


def test_high_probability_with_unknown_arr_is_listed_as_a_median_account():
    # Without ARR a 95% customer is ordered as if at the median ARR, not as 0: it gets the place.
    scores = _listing(
        [0.95, 0.60, 0.55, 0.52],
        ["Ann"] * 4,
        [np.nan, 1e3, 2e3, 3e3],
        capacity_per_owner=2,
    )
    assert scores.loc[scores["listed"], "customer_id"].tolist() == ["C00", "C03"]
    assert np.isnan(scores.loc[0, "revenue_at_risk"])


def test_the_rule_and_the_bands_are_stated_from_the_settings():
    s = ScoringSettings(capacity_per_owner=7, list_size=80, min_probability=0.3)
    text = list_rule_text(s)
    assert "30% or more" in text and "at most 7 per account owner" in text and "80 in all" in text
    assert "high 50% and above; medium 25% to 49%; low below 25%" in text
    assert tier_bands(s) == (("high", 0.5), ("medium", 0.25), ("low", 0.0))


def test_every_driver_family_has_a_play_in_the_default_playbook():
    from churn.features import FAMILIES

    playbook = ScoringSettings().playbook
    assert set(FAMILIES) <= set(playbook)
    assert len({playbook[f] for f in FAMILIES}) == len(FAMILIES)
    listed = pd.DataFrame({"recommended_play": ["b", "a", "b", None]})
    assert play_mix(listed) == {"b": 2, "a": 1}


def test_reasons_only_for_listed_customers_when_scope_is_listed(model):
    frame = _frame([("A", 400, 1, 0.3), ("B", 400, 9, 1.2)])
    scores, contrib, _ = _score(
        model, frame, [100.0, 1.0], list_size=1, min_probability=0.0, reasons_scope="listed"
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
    assert len(at_risk) == counts["listed"] > 0
    assert list(at_risk.columns) == list_columns(3)  # the documented columns, all of them
    assert manifest["list_rule"] == list_rule_text(settings.scoring)
    assert sum(manifest["play_mix"].values()) == counts["listed"]
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
