"""The registry (shell, MLflow): model ``churn``, its versions and the ``champion`` alias.

A model is stored as LightGBM's native text file with the calibrator, features and horizon as
JSON-safe ``metadata`` in its MLmodel file, so loading needs no pickled project code:
``churn.pipelines.champion.load_champion`` rebuilds a ``ChurnModel`` from the booster and that
metadata. This module writes: it logs, registers, tags and promotes versions.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from churn.modeling import ChurnModel
from churn.pipelines import tracking

log = logging.getLogger(__name__)

REGISTERED_MODEL = "churn"
CHAMPION_ALIAS = "champion"


def log_churn_model(
    model: ChurnModel,
    X_example: pd.DataFrame,
    *,
    registered_model_name: str | None = REGISTERED_MODEL,
) -> Any:
    """Log ``model`` into the active run as LightGBM's native format and register it; its pyfunc
    flavour (``mlflow.pyfunc.load_model``, ``spark_udf``) predicts the calibrated probability.

    Returns the ``ModelInfo``; ``info.registered_model_version`` is the new version (or None).
    """
    import lightgbm
    from mlflow.models import Model

    from churn.pipelines import pyfunc

    example = model.prepare(X_example.head(5))
    # MLflow checks the input example by replaying it as a JSON serving payload, and JSON cannot
    # carry pandas categories, so with categorical features that check always fails (the native
    # booster and load_champion remap categories correctly). Its warning would only alarm users.
    # Explicit requirements also spare MLflow a subprocess that replays the same example.
    quiet = logging.getLogger("mlflow.models.model")
    level = quiet.level
    if model.categorical_features:
        quiet.setLevel(logging.ERROR)
    try:
        # LightGBM's native file and flavour, with churn's pyfunc loader (churn.pipelines.pyfunc:
        # the calibrated probability, category columns as categories or text).
        return Model.log(
            artifact_path=None,
            name="model",
            flavor=pyfunc.FLAVOR,
            lgb_model=model.booster,
            signature=pyfunc.signature(model, example),
            input_example=example,
            registered_model_name=registered_model_name,
            metadata=tracking.json_safe(model.to_metadata()),
            pip_requirements=[
                f"lightgbm=={lightgbm.__version__}",
                f"pandas=={pd.__version__}",
                f"numpy=={np.__version__}",
            ],
        )
    finally:
        quiet.setLevel(level)


def promote(
    version: str, tracking_uri: str, name: str = REGISTERED_MODEL, alias: str = CHAMPION_ALIAS
) -> None:
    """Move ``alias`` to ``version`` of the registered model."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_registered_model_alias(name, alias, str(version))


def tag_version(
    version: str, tags: dict[str, str], tracking_uri: str, name: str = REGISTERED_MODEL
) -> None:
    """Set tags on one model version (gate outcome, metrics it was judged on)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(name, str(version), key, str(value))


def record_gate(version: str, tags: dict[str, str], promoted: bool, run_id: str, uri: str) -> None:
    """Tag the version with the gate's verdict, THEN move the alias, THEN mark the run promoted.

    In this order a run killed at any point leaves no version that claims a promotion it never
    got and no champion without its gate tags.
    """
    from mlflow import MlflowClient

    tag_version(version, {**tags, "promoted": "pending" if promoted else "False"}, uri)
    if promoted:
        promote(version, uri)
        tag_version(version, {"promoted": "True"}, uri)
        MlflowClient(tracking_uri=uri, registry_uri=uri).set_tag(run_id, "promoted", "True")


def fail_orphaned_runs(experiment_id: str, uri: str) -> list[str]:
    """Mark FAILED the runs a killed ``churn train`` left RUNNING in a local store.

    Called while holding the store's lock (``tracking.store_lock``), when no other trainer of
    this store can be alive; a tracking server may have live runs of others, so it is left alone.
    """
    from mlflow import MlflowClient

    if tracking.sqlite_path(uri) is None:
        return []
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    orphans = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'")
    for orphan in orphans:
        client.set_tag(orphan.info.run_id, "churn_orphaned", "killed before it finished")
        client.set_terminated(orphan.info.run_id, status="FAILED")
    if orphans:
        log.warning("marked %d run(s) left RUNNING by a killed churn train as FAILED", len(orphans))
    return [o.info.run_id for o in orphans]
