"""Static tables the way users bring them: held-out rows, sampled training sets, joined exports,
settings chosen on inner folds, and ``churn score`` on a static config.

Most tests use a small simulated static table written to tmp_path; the join test splits the real
IBM Telco file in two (skipped when ../shared/datasets is absent; CHURN_DATASETS overrides).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from churn.data import DataValidationError, Findings, JoinConfig, join_customers, parse_config
from churn.errors import ChurnError
from churn.static_table import (
    load_static,
    odds_correct,
    population_lift,
    prepare_static,
    rate_mismatch,
    tune_static,
)

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("CHURN_DATASETS", ROOT.parent / "shared" / "datasets"))
FLAG = {"definition": "flag", "label": "left", "positive": "yes"}


def static_table(n: int = 900, seed: int = 0) -> pd.DataFrame:
    """Customers with a numeric and a text driver of churn, ids and a signup date."""
    rng = np.random.default_rng(seed)
    usage = rng.normal(size=n)
    plan = rng.choice(["basic", "pro", "team"], size=n)
    logit = -1.0 - 1.2 * usage + np.where(plan == "basic", 1.0, 0.0)
    left = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "id": [f"C{i:04d}" for i in range(n)],
            "usage": usage.round(4),
            "plan": plan,
            "noise": rng.normal(size=n).round(4),
            "signed": pd.date_range("2023-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "left": np.where(left, "yes", "no"),
        }
    )


def config(static: dict, tmp_path: Path = Path("."), **tables) -> object:
    raw = {
        "name": "tiny",
        "tables": {"customers": {"columns": {"customer_id": "id"}, **tables}},
        "churn": FLAG,
        "static": static,
    }
    return parse_config(raw, tmp_path)


# --- config ---------------------------------------------------------------------------------


def test_a_holdout_takes_exactly_one_way_and_column_needs_values(tmp_path):
    with pytest.raises(ChurnError, match="exactly one of column"):
        config({"holdout": {"column": "split", "file": "t.csv", "test_values": ["t"]}})
    with pytest.raises(ChurnError, match="needs test_values"):
        config({"holdout": {"column": "split"}})
    with pytest.raises(ChurnError, match="unknown key 'colum' in static.holdout.*column"):
        config({"holdout": {"colum": "split"}})
    with pytest.raises(ChurnError, match="static.sampling takes population_churn_rate"):
        config({"sampling": {"churner_fraction": 1.0}})


# --- held-out rows ----------------------------------------------------------------------------


def test_holdout_column_marks_rows_and_is_never_a_feature():
    frame = static_table().assign(split=lambda f: np.where(f.index % 4 == 0, "test", "train"))
    data = prepare_static(frame, config({"holdout": {"column": "split", "test_values": ["test"]}}))
    assert data.holdout.sum() == 225
    assert "split" not in data.features.columns
    train, test = data.split()
    assert len(train.label) == 675 and set(test.customer_id) == set(frame.id[frame.split == "test"])


def test_a_duplicate_of_a_training_row_is_dropped_from_the_held_out_side():
    frame = static_table(100).assign(split="train")
    copy = frame.iloc[[3]].assign(split="test")  # the same customer, also held out
    frame = pd.concat([frame, copy, frame.iloc[[10]].assign(split="test", id="X")])
    cfg = config({"holdout": {"column": "split", "test_values": ["test"]}})
    data = prepare_static(frame, cfg)
    assert data.duplicates_dropped == 1
    assert list(data.customer_id[data.holdout]) == ["X"]


def test_out_of_time_holdout_takes_rows_after_the_date_and_unreadable_dates_are_named():
    frame = static_table()
    data = prepare_static(frame, config({"holdout": {"date": "signed", "after": "2025-01-31"}}))
    assert data.holdout.sum() == (pd.to_datetime(frame.signed) > "2025-01-31").sum() > 0
    assert "signed" not in data.features.columns
    frame.loc[5, "signed"] = "soon"
    with pytest.raises(DataValidationError, match="no readable date.*C0005"):
        prepare_static(frame, config({"holdout": {"date": "signed", "after": "2025-01-31"}}))


# --- sampled training sets ------------------------------------------------------------------


def test_odds_correction_brings_a_sampled_models_mean_back_to_the_population_rate():
    rng = np.random.default_rng(1)
    p_pop = rng.beta(1, 20, size=200_000)  # population churn rate ~4.8%
    y = rng.random(len(p_pop)) < p_pop
    keep = y | (rng.random(len(y)) < 0.1)  # every churner, one stayer in ten
    # What a model fitted on the sample would say: the sample's posterior.
    p_sample = odds_correct(p_pop[keep], 10.0)
    assert p_sample.mean() > 3 * y.mean()
    np.testing.assert_allclose(odds_correct(p_sample, 0.1), p_pop[keep], rtol=1e-9)
    # Lift on the sample, reweighted, is the population's lift.
    from churn.modeling import top_decile_lift

    population = top_decile_lift(y.astype(float), p_pop)
    sampled = population_lift(y[keep].astype(float), p_pop[keep], 0.1)
    assert sampled == pytest.approx(population, rel=0.05)
    assert top_decile_lift(y[keep].astype(float), p_pop[keep]) < 0.8 * population


def test_far_apart_churn_rates_warn_only_without_a_declared_sampling():
    assert "static.sampling: {population_churn_rate: 0.050}" in rate_mismatch(0.5, 0.05, None)
    assert rate_mismatch(0.5, 0.05, {"population_churn_rate": 0.05}) is None
    assert rate_mismatch(0.27, 0.26, None) is None


# --- joined exports ---------------------------------------------------------------------------


def test_a_join_is_one_to_one_and_names_the_file_and_the_ids_when_it_is_not():
    base = static_table(50)[["id", "usage", "left"]]
    extra = static_table(50)[["id", "plan", "usage"]].rename(columns={"id": "Account"})
    spec = JoinConfig(file="billing.csv", columns={"customer_id": "Account"})
    findings = Findings()
    joined = join_customers(base, "id", extra.sample(frac=1, random_state=0), spec, findings)
    assert not findings.problems
    pd.testing.assert_frame_equal(joined, static_table(50)[["id", "usage", "left", "plan"]])

    twice = pd.concat([extra, extra.iloc[[7]]])
    join_customers(base, "id", twice, spec, findings)
    assert "billing.csv has 2 rows sharing an id" in str(findings.problems[0])
    assert "C0007" in str(findings.problems[0])

    findings = Findings()
    clash = extra.assign(usage=lambda f: f.usage.where(f.index != 4, 99.0))
    join_customers(base, "id", clash, spec, findings)
    assert "disagree on column 'usage' for 1 row (ids C0004)" in str(findings.problems[0])


@pytest.mark.skipif(not DATASETS.is_dir(), reason=f"real datasets not found at {DATASETS}")
def test_telco_in_two_files_joins_to_the_same_table_as_the_single_file(tmp_path):
    frame = pd.read_csv(DATASETS / "ibm_telco" / "telco_customer_churn.csv")
    first = ["customerID", "gender", "SeniorCitizen", "tenure", "Contract", "Churn"]
    frame[first].to_csv(tmp_path / "crm.csv", index=False)
    other = frame.drop(columns=first[1:]).rename(columns={"customerID": "Account"})
    other.sample(frac=1, random_state=0).to_csv(tmp_path / "billing.csv", index=False)
    raw = yaml.safe_load((ROOT / "configs" / "ibm_telco.yaml").read_text())
    raw.update(name="telco_joined", base_dir=str(tmp_path))
    raw["tables"]["customers"] = {
        "file": "crm.csv",
        "columns": {"customer_id": "customerID"},
        "join": [{"file": "billing.csv", "columns": {"customer_id": "Account"}}],
    }
    (tmp_path / "joined.yaml").write_text(yaml.safe_dump(raw))
    joined = load_static(tmp_path / "joined.yaml")
    assert len(joined.label) == 7043 and int(joined.label.sum()) == 1869
    assert joined.features.shape[1] == 19
    assert joined.features["TotalCharges"].isna().sum() == 11


# --- settings chosen on inner folds -----------------------------------------------------------


def test_the_chosen_settings_are_at_least_as_good_as_both_fixed_candidates_inside():
    data = prepare_static(static_table(400), config({}))
    tuning = tune_static(data, trials=3, folds=3)
    fixed = tuning.trials.iloc[:2]["inner_roc_auc"]
    assert tuning.inner_roc_auc == pytest.approx(tuning.trials["inner_roc_auc"].max())
    assert tuning.inner_roc_auc >= fixed.max()
    assert tuning.trials.iloc[1]["num_leaves"] == 31  # the plain defaults were tried


# --- train with a holdout column, then churn score ------------------------------------------


def churn(monkeypatch, *args: str) -> int:
    import sys

    from churn import cli

    monkeypatch.setattr(sys, "argv", ["churn", *args])
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.slow
def test_a_holdout_config_trains_reports_held_out_metrics_and_scores_the_held_out_rows(
    tmp_path, monkeypatch, capsys
):
    from mlflow import MlflowClient

    frame = static_table(1200).assign(split=lambda f: np.where(f.index % 3 == 0, "test", "train"))
    # An oversampled training side: every churner, half of the stayers.
    drop = (frame.split == "train") & (frame.left == "no") & (frame.index % 2 == 0)
    frame[~drop].to_csv(tmp_path / "customers.csv", index=False)
    raw = {
        "name": "tiny",
        "tables": {"customers": {"file": "customers.csv", "columns": {"customer_id": "id"}}},
        "churn": FLAG,
        "static": {"ignore": ["signed"], "holdout": {"column": "split", "test_values": ["test"]}},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(raw))
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    fast = ("--cv-repeats", "1", "--cv-folds", "3", "--tune-trials", "2")
    assert churn(monkeypatch, "score", "--data", "tiny.yaml") == 2
    assert "registered: none" in capsys.readouterr().err

    assert churn(monkeypatch, "train", "--data", "tiny.yaml", *fast) == 0
    out = capsys.readouterr().out
    assert "held out: 400 customers never trained on" in out
    assert "warning: the training rows' churn rate" in out and "static.sampling" in out
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("churn-static").experiment_id])
    m = run.data.metrics
    assert m["holdout_roc_auc_low"] < m["holdout_roc_auc"] < m["holdout_roc_auc_high"]
    assert m["holdout_roc_auc"] > 0.7 and "cv_roc_auc" in m and m["holdout_rows"] == 400

    assert churn(monkeypatch, "score", "--data", "tiny.yaml", "--as-of", "2026-01-05") == 0
    listed = pd.read_csv(tmp_path / "data" / "at_risk" / "2026-01-05" / "at_risk.csv")
    held = set(frame.id[frame.split == "test"])
    assert len(listed) > 0 and set(listed["customer_id"]) <= held
    assert churn(monkeypatch, "score", "--data", "tiny.yaml", "--as-of", "2026-01-12") == 0
    manifest = (tmp_path / "data" / "at_risk" / "2026-01-12" / "manifest.json").read_text()
    assert '"previous_as_of": "2026-01-05"' in manifest

    # The weekly scorer, asked for its champion, names the static model and the command.
    (tmp_path / "events").mkdir()
    assert churn(monkeypatch, "score", "--data", "events") == 2
    err = capsys.readouterr().err
    assert "Registered: churn-static-tiny" in err and "churn score --data" in err
