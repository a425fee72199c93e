"""What ``churn train`` stores: one MLflow run, the model version's tags, the champion alias."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn.contract import Tables
from churn.modeling import MODEL, ORACLE, Comparison
from churn.pipelines import registry, tracking
from churn.pipelines.deploy import deployed_params, describe_deployed, log_validated_model
from churn.pipelines.lineage import model_metadata
from churn.pipelines.run_dataset import training_dataset
from churn.pipelines.static_log import log_leak_probe
from churn.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class TrainingRun:
    """Everything a training run logs, computed before the MLflow run starts."""

    config: Path | None
    settings: Settings
    tables: Tables
    frame: pd.DataFrame
    result: Any
    comparison: Comparison
    metrics: dict[str, float]
    backtest: pd.DataFrame
    figures: dict[str, Any]
    lineage: dict[str, Any]
    #: ``(champion version before, promoted, outcome)`` from the gate.
    gate: tuple[Any, bool, str]
    force: bool
    spec: Any = None  # the FeatureSpec the frame was built with: it travels with the model
    probe: Any = None  # the LeakProbe: a refused run is logged with its finding, not registered
    deployed: Any = None  # the TrainResult registered (churn.pipelines.deploy); None: result
    model = property(lambda self: (self.deployed or self.result).model)  # the model registered


def log_training_run(run: TrainingRun, experiment: str, uri: str) -> tuple[str, str | None]:
    """Log ``run`` as one MLflow run, register, tag and (if earned) promote; ``(run_id, version)``."""
    import mlflow

    model, promoted, outcome = run.model, run.gate[1], run.gate[2]
    model.metadata.update(model_metadata(run))
    with tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        registry.fail_orphaned_runs(experiment_id, uri)
        with mlflow.start_run(experiment_id=experiment_id) as active:
            run_id = active.info.run_id
            model.metadata["run_id"] = run_id
            _log_params_and_tags(run)
            _log_artifacts(run)
            name = log_leak_probe(run.probe, registry.REGISTERED_MODEL)  # None: refused
            info = registry.log_churn_model(model, run.comparison.test, registered_model_name=name)
        version = None if (v := info.registered_model_version) is None else str(v)
        if version is not None:
            tags = {
                "gate_outcome": outcome,
                "test_roc_auc": f"{run.comparison.results[MODEL]['roc_auc']:.5f}",
                "test_window": run.result.split.describe()["test_as_of"],
                "data_hash": run.lineage["data_hash"],
            }
            registry.record_gate(version, tags, promoted, run_id, uri)
    return run_id, version


def _log_params_and_tags(run: TrainingRun) -> None:
    import mlflow

    model, lineage = run.model, run.lineage
    extra = {
        "best_iteration": run.result.best_iteration,
        **deployed_params(model.metadata),
        "config_path": str(run.config) if run.config else "(defaults)",
        **lineage,
    }
    mlflow.log_params(tracking.flat_params(run.settings, extra))
    before, promoted, outcome = run.gate
    mlflow.set_tags(
        {
            "deployed_model": describe_deployed(model.metadata),
            "data_hash": lineage["data_hash"],
            "as_extracted_features": lineage["as_extracted_features"],
            "gate_outcome": outcome,
            "promoted": "pending" if promoted else "False",  # True once the alias moved
            "forced": str(run.force),
            "champion_version_before": str(before.version if before else None),
            "has_oracle": str(ORACLE in run.comparison.results),
            "model_kind": str(model.metadata.get("model_kind", "lightgbm")),
        }
    )
    dataset = training_dataset(
        run.frame,
        source=lineage["data_path"],
        targets="label",
        name=run.tables.name,
        digest=lineage["data_hash"][:20],
    )
    mlflow.log_input(dataset, context="training")
    mlflow.log_metrics(tracking.finite(run.metrics))


def _log_artifacts(run: TrainingRun) -> None:
    import mlflow

    from churn.modeling import feature_importance, gains_curve, reliability_curve

    model, cmp = run.model, run.comparison
    mlflow.log_dict(tracking.json_safe(run.settings.to_dict()), "config/settings.json")
    if run.config is not None and Path(run.config).exists():
        mlflow.log_artifact(str(run.config), artifact_path="config")
    mlflow.log_dict(model.calibrator.to_dict(), "model_extra/calibrator.json")
    mlflow.log_dict(tracking.json_safe(model.to_metadata()), "model_extra/churn_model.json")
    log_validated_model(run)  # beside a refit: the model the test metrics describe
    mlflow.log_text(cmp.table().to_csv(), "evaluation/comparison.csv")
    if not run.backtest.empty:
        mlflow.log_text(run.backtest.to_csv(index=False), "evaluation/backtest.csv")
    p = cmp.scores[MODEL]
    mlflow.log_text(
        reliability_curve(cmp.y, p).to_csv(index=False), "evaluation/reliability_curve.csv"
    )
    mlflow.log_text(gains_curve(cmp.y, p).to_csv(index=False), "evaluation/gains_curve.csv")
    importance = feature_importance(model.booster, model.feature_names)
    mlflow.log_text(importance.to_csv(index=False), "features/importance.csv")
    _log_catalogue(model.feature_names)
    for path, fig in run.figures.items():
        mlflow.log_figure(fig, path)


def _log_catalogue(names: list[str]) -> None:
    """The feature catalogue (name, family, description, reason template) as CSV and JSON."""
    import mlflow

    from churn.features import catalogue_frame

    table = catalogue_frame(names)
    mlflow.log_text(table.to_csv(index=False), "features/catalogue.csv")
    mlflow.log_text(
        json.dumps(json.loads(table.to_json(orient="records")), indent=1),
        "features/catalogue.json",
    )
