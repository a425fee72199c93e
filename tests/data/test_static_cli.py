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
