"""A broken registry is a clear error naming what is broken, never a traceback."""

from __future__ import annotations

import shutil

import pytest
import yaml

from churn.pipelines import champion, registry, tracking
from churn.pipelines.champion import BrokenRegistryError


def test_a_store_that_is_not_a_database_is_named(tmp_path):
    db = tmp_path / "models" / "mlflow.db"
    db.parent.mkdir()
    db.write_bytes(b"this was overwritten by something else")
    with pytest.raises(BrokenRegistryError, match=r"mlflow\.db is not a sqlite database"):
        champion.champion_version(f"sqlite:///{db}")


def test_a_truncated_store_is_named(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"")
    with pytest.raises(BrokenRegistryError, match="not a sqlite database"):
        champion.load_champion(f"sqlite:///{db}")


def test_an_unknown_tracking_uri_scheme_is_a_clear_error():
    with pytest.raises(BrokenRegistryError, match="cannot be read"):
        champion.champion_version("nosuchscheme://somewhere/store")


@pytest.fixture
def registered(tmp_path, small_model):
    """A small model registered and promoted in a fresh sqlite store: ``(uri, artefact root)``."""
    import mlflow

    result, frame = small_model
    uri = f"sqlite:///{tmp_path}/models/mlflow.db"
    with tracking.using_tracking_uri(uri):
        exp = tracking.get_or_create_experiment("churn-test", uri)
        with mlflow.start_run(experiment_id=exp):
            info = registry.log_churn_model(result.model, frame)
    registry.promote(info.registered_model_version, uri)
    return uri, tmp_path / "models" / "mlartifacts"


def test_a_healthy_champion_loads(registered):
    uri, _ = registered
    assert champion.load_champion(uri).metadata["model_version"] == "1"


def test_deleted_artefacts_name_the_version(registered):
    uri, artefacts = registered
    shutil.rmtree(artefacts)
    with pytest.raises(BrokenRegistryError, match=r"churn version 1 \(champion\) cannot be loaded"):
        champion.load_champion(uri)


def test_a_deleted_model_file_names_the_version(registered):
    uri, artefacts = registered
    for model_file in artefacts.rglob("model.lgb"):
        model_file.unlink()
    with pytest.raises(BrokenRegistryError, match="version 1"):
        champion.load_champion(uri)


def test_a_tampered_calibrator_names_the_version(registered):
    uri, artefacts = registered
    for mlmodel in artefacts.rglob("MLmodel"):
        spec = yaml.safe_load(mlmodel.read_text())
        spec["metadata"]["calibrator"] = {"method": "isotonic"}  # its thresholds are gone
        mlmodel.write_text(yaml.safe_dump(spec))
    with pytest.raises(BrokenRegistryError, match="version 1 .*damaged metadata"):
        champion.load_champion(uri)


def test_churn_score_on_a_broken_store_exits_2_without_a_traceback(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "mlflow.db"
    db.write_bytes(b"garbage")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "churn.cli", "score", "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_train_replaces_a_champion_that_cannot_be_loaded(monkeypatch):
    from types import SimpleNamespace

    from churn.modeling import MODEL
    from churn.pipelines import deploy

    def broken(uri):
        raise BrokenRegistryError("model churn version 3 (champion) cannot be loaded")

    monkeypatch.setattr(champion, "champion_version", lambda uri: SimpleNamespace(version="3"))
    monkeypatch.setattr(champion, "load_champion", broken)
    cmp = SimpleNamespace(results={MODEL: {"roc_auc": 0.8}}, oracle_ratio=None)
    probe = SimpleNamespace(refused=False)
    tr = SimpleNamespace(gate_tolerance=0.002)
    validated = SimpleNamespace(metadata={"deployed_model": "validated"})
    before, promoted, outcome = deploy.gate("sqlite:///x", cmp, validated, tr, False, probe)
    assert before.version == "3"
    assert promoted, outcome


def test_a_run_left_running_by_a_killed_trainer_is_marked_failed(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/models/mlflow.db"
    with tracking.using_tracking_uri(uri):
        exp = tracking.get_or_create_experiment("churn", uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    orphan = client.create_run(exp)  # RUNNING, as a kill -9 leaves it
    assert registry.fail_orphaned_runs(exp, uri) == [orphan.info.run_id]
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    assert registry.fail_orphaned_runs(exp, uri) == []


def test_a_killed_promotion_leaves_no_version_claiming_it(registered, monkeypatch):
    from mlflow import MlflowClient

    uri, _ = registered

    def killed(version, tracking_uri):
        raise KeyboardInterrupt  # the process dies while moving the alias

    monkeypatch.setattr(registry, "promote", killed)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = client.get_model_version("churn", "1").run_id
    with pytest.raises(KeyboardInterrupt):
        registry.record_gate("1", {"gate_outcome": "promoted: x"}, True, run_id, uri)
    assert client.get_model_version("churn", "1").tags["promoted"] == "pending"


def test_the_gate_judges_the_deployed_refit_not_the_validated_model(monkeypatch):
    from types import SimpleNamespace

    import numpy as np
    import pandas as pd

    from churn.modeling import MODEL
    from churn.pipelines import deploy

    champ = SimpleNamespace(
        horizon_days=90, predict_proba=lambda rows: np.array([0.2, 0.3, 0.1, 0.4])
    )
    monkeypatch.setattr(champion, "champion_version", lambda uri: SimpleNamespace(version="3"))
    monkeypatch.setattr(champion, "load_champion", lambda uri: champ)
    y = np.array([0.0, 1.0, 0.0, 1.0])
    cmp = SimpleNamespace(
        results={MODEL: {"roc_auc": 0.99}},
        oracle_ratio=None,
        y=y,
        test=pd.DataFrame(index=range(4)),
    )

    def score(name, p):
        cmp.results[name] = {"roc_auc": 0.75}

    cmp.score = score
    # The validated model's 0.99 would pass; the refit that is deployed ranks worse (0.5).
    refit = SimpleNamespace(
        metadata={"deployed_model": "refit"},
        horizon_days=90,
        predict_proba=lambda rows: np.array([0.5, 0.5, 0.5, 0.5]),
    )
    probe, tr = SimpleNamespace(refused=False), SimpleNamespace(gate_tolerance=0.002)
    _, promoted, outcome = deploy.gate("sqlite:///x", cmp, refit, tr, False, probe)
    assert not promoted and "0.5000 < champion 0.7500" in outcome, outcome
