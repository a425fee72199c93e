"""Static customer tables (``churn.definition: flag``) through the CLI: validate and train.

Runs on the real IBM Telco and Iranian telecom files in ../shared/datasets; MLflow writes to a
throwaway sqlite store in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn.cli import app
from churn.pipelines.train_static import is_static_dataset

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
DATASETS = ROOT.parent / "shared" / "datasets"

real = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"real datasets not found at {DATASETS} (clone beside shared/)"
)
pytestmark = [real, pytest.mark.real_data]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_flag_configs_are_static_and_the_purchase_log_is_not():
    assert is_static_dataset(CONFIGS / "ibm_telco.yaml")
    assert is_static_dataset(CONFIGS / "iranian_telecom.yaml")
    assert not is_static_dataset(CONFIGS / "cdnow.yaml")


def test_validate_summarises_telco_with_its_blank_total_charges():
    result = invoke("validate", "--data", str(CONFIGS / "ibm_telco.yaml"))
    assert result.exit_code == 0, result.output
    assert "customers: 7,043; left: 1,869 (churn rate 26.5%)" in result.output
    assert "features: 19" in result.output
    assert "customers.TotalCharges: 11 rows blank or not a number" in result.output
    assert "customerID" not in result.output.split("features:")[1].split("\n")[0]


def test_validate_reports_the_iranian_duplicates_dropped_before_any_split():
    result = invoke("validate", "--data", str(CONFIGS / "iranian_telecom.yaml"))
    assert result.exit_code == 0, result.output
    assert "customers: 2,850" in result.output
    assert "exact duplicates dropped before any split: 300" in result.output
    # 16 columns less the label and FN, FP (derived from the outcome's value: ignored).
    assert "features: 13 (11 numeric, 2 categorical)" in result.output


@pytest.mark.slow
def test_train_on_telco_logs_a_static_run_and_never_touches_the_churn_champion(
    tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    result = invoke("train", "--data", str(CONFIGS / "ibm_telco.yaml"), "--cv-repeats", "1")
    assert result.exit_code == 0, result.output
    assert "1x5-fold repeated stratified CV on 7,043 customers" in result.output

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("churn-static")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    m, tags, params = run.data.metrics, run.data.tags, run.data.params
    assert m["cv_roc_auc"] > 0.80 and m["baseline_logreg_roc_auc"] > 0.80
    assert 0 < m["cv_pr_auc"] < 1 and m["cv_top_decile_lift"] > 2
    assert tags["dataset"] == "ibm_telco" and tags["mode"] == "static"
    assert params["cv_n_repeats"] == "1" and params["num_threads"] == "1"
    names = {r.name for r in client.search_registered_models()}
    assert names == {"churn-static-ibm_telco"}, "the weekly `churn` model must stay untouched"


def telco_with_a_planted_leak(folder: Path, ignore: list[str]) -> Path:
    """IBM Telco with ``AccountFlag``: the churn label plus noise (alone, ROC AUC ~0.99)."""
    import numpy as np
    import pandas as pd
    import yaml

    frame = pd.read_csv(DATASETS / "ibm_telco" / "telco_customer_churn.csv")
    noise = np.random.default_rng(0).normal(scale=0.3, size=len(frame))
    frame["AccountFlag"] = (frame["Churn"] == "Yes") + noise
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "telco.csv", index=False)
    config = yaml.safe_load((CONFIGS / "ibm_telco.yaml").read_text(encoding="utf-8"))
    config.update(name="telco_leak", base_dir=str(folder))
    config["tables"]["customers"]["file"] = "telco.csv"
    config["static"]["ignore"] = ignore
    path = folder / "telco_leak.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def churn_main(monkeypatch, *args: str) -> int:
    """``churn ARGS`` through the console entry point: its exit code (0 when it returns)."""
    import sys

    from churn import cli

    monkeypatch.setattr(sys, "argv", ["churn", *args])
    try:
        cli.main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.mark.slow
def test_a_label_plus_noise_column_exits_3_registers_nothing_and_trains_once_ignored(
    tmp_path, monkeypatch, capsys
):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    cv = ("--cv-repeats", "1", "--cv-folds", "3")

    leaky = telco_with_a_planted_leak(tmp_path / "leaky", ignore=[])
    assert churn_main(monkeypatch, "train", "--data", str(leaky), *cv) == 3
    err = capsys.readouterr().err
    assert "AccountFlag (AUC 0.9" in err, err
    assert "NOT registered" in err and "static.ignore: [AccountFlag]" in err
    assert "--accept-leak-risk 'AccountFlag'" in err
    (run,) = client.search_runs([client.get_experiment_by_name("churn-static").experiment_id])
    assert "AccountFlag" in run.data.tags["leak_probe"]
    assert client.search_registered_models() == [], "a suspected leak must register nothing"

    fixed = telco_with_a_planted_leak(tmp_path / "fixed", ignore=["AccountFlag"])
    # mlflow.set_tracking_uri also writes $MLFLOW_TRACKING_URI, and a run restores the URI an
    # earlier test left behind: point the second run at this test's store again.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert churn_main(monkeypatch, "train", "--data", str(fixed), *cv) == 0
    out = capsys.readouterr().out
    assert "leak probe: clean: strongest single features tenure" in out, out
    (model,) = client.search_registered_models()
    assert model.name == "churn-static-telco_leak"
    assert [str(v.version) for v in client.search_model_versions(f"name='{model.name}'")] == ["1"]
