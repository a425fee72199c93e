"""A static-table run: what it stores in MLflow (params, metrics, tags, tables, the model) and
what it reports; and the leak probe's tags and table, in both modes (``log_leak_probe``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.pipelines import tracking

log = logging.getLogger(__name__)

#: Registered-model prefix of static-table models. Never ``churn``: that name (and its champion
#: alias) belongs to the time-based model that is scored every week.
STATIC_MODEL_PREFIX = "churn-static-"


@dataclass
class StaticTrainReport:
    """What ``run_train_static`` did, for the CLI summary and for tests."""

    run_id: str
    experiment: str
    tracking_uri: str
    dataset: str
    protocol: str
    metrics: dict[str, float]
    summary: pd.DataFrame
    rows: int
    features: int
    churn_rate: float
    trees: int
    registered_model: str | None
    model_version: str | None
    warnings: tuple[str, ...]
    seconds: float
    leak_probe: str = ""  # the probe's finding in one line (the run's leak_probe tag)


def log_leak_probe(probe: Any, name: str | None) -> str | None:
    """Log a ``churn.modeling.LeakProbe`` into the active run (its tags, and every feature's
    single AUC as ``evaluation/leak_probe.csv``); the model name to register: ``name``, or
    ``None`` when the probe refuses the run. ``probe`` ``None``: nothing logged."""
    import mlflow

    from churn.modeling import LEAK_PROBE_ARTIFACT

    if probe is None:
        return name
    log.info("leak probe: %s", probe.finding())
    mlflow.set_tags(probe.tags())
    mlflow.log_text(probe.table.to_csv(index=False), LEAK_PROBE_ARTIFACT)
    return None if probe.refused else name


def log_static_run(
    experiment_id: str,
    paths: tuple[Path, Path | None],
    dataset: Any,
    cv: Any,
    model: Any,
    metrics: dict[str, float],
    setup: dict[str, Any],
    name: str | None,
    probe: Any = None,
    tables: dict[str, pd.DataFrame] | None = None,
) -> tuple[str, Any]:
    """One MLflow run: params, metrics, lineage tags, fold table, importances, the model.

    ``paths``: the dataset YAML (or folder) and the settings file; ``setup``: the CV folds and
    repeats, seed, threads and final tree count; ``name``: the registered model, or ``None``;
    ``probe``: the leak probe (a refused run is logged, its model not registered);
    ``tables``: more CSV artefacts (the held-out metrics, the tuning trials).
    Returns ``(run_id, ModelInfo)``.
    """
    import mlflow

    from churn.modeling import feature_importance
    from churn.pipelines.lineage import static_fingerprint
    from churn.static_table import static_params

    data, config = paths
    trees = setup["trees"]
    where = {"data_path": str(Path(data).resolve()), "config_path": str(config or "(defaults)")}
    params = static_params(dataset, cv, mode="static", dataset=dataset.name, **where, **setup)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(tracking.finite(metrics))
        mlflow.set_tags(
            {
                "dataset": dataset.name,
                "mode": "static",
                "data_hash": static_fingerprint(dataset),
                "evaluation": cv.protocol + ("; held out: holdout_*" * ("holdout_rows" in metrics)),
                "deployed_model": f"fitted on the {len(dataset.label):,} training rows with "
                f"{trees} trees (the mean early-stopped count over the CV folds)",
            }
        )
        for path, table in (tables or {}).items():
            mlflow.log_text(table.to_csv(index=False), path)
        mlflow.log_text(cv.folds.to_csv(index=False), "evaluation/cv_folds.csv")
        mlflow.log_text(cv.summary.to_csv(), "evaluation/cv_summary.csv")
        importance = feature_importance(model.booster, model.features)
        mlflow.log_text(importance.to_csv(index=False), "features/importance.csv")
        if dataset.warnings:
            mlflow.log_text("\n".join(dataset.warnings) + "\n", "data/warnings.txt")
        if config is not None and Path(config).exists():
            mlflow.log_artifact(str(config), artifact_path="config")
        if Path(data).is_file():
            mlflow.log_artifact(str(data), artifact_path="dataset_config")
        name = log_leak_probe(probe, name)
        return run.info.run_id, _log_static_model(model, name)


def _log_static_model(model: Any, registered_model_name: str | None) -> Any:
    """Log a ``StaticModel``'s booster in LightGBM's native format, with its feature layout."""
    import lightgbm
    import mlflow.lightgbm

    return mlflow.lightgbm.log_model(
        model.booster,
        name="model",
        registered_model_name=registered_model_name,
        metadata={
            "mode": "static",
            "features": model.features,
            "categories": model.categories,
            "odds_factor": model.odds_factor,
        },
        # Explicit requirements spare MLflow a subprocess that infers them.
        pip_requirements=[
            f"lightgbm=={lightgbm.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
        ],
    )
