"""MLflow: where runs are tracked, how a model is stored, and which one is the champion.

Part of the shell: this module talks to MLflow; the training and evaluation code it stores does
not. Defaults, written down once:

- tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/models/mlflow.db``;
- artefacts of a local sqlite store: ``models/mlartifacts`` beside the database (set as the
  experiment's artifact_location when the experiment is created);
- registered model ``churn``; the deployed version carries the alias ``champion``.

A model is stored as LightGBM's native text file (``mlflow.lightgbm.log_model`` with a Booster),
with the calibrator, the feature list and the horizon as JSON-safe ``metadata`` in its MLmodel
file. Loading therefore needs no pickled project code: ``load_champion`` rebuilds a
``ChurnModel`` from the booster and that metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.contract import TABLE_NAMES, Tables
from churn.errors import ChurnError
from churn.modeling import ChurnModel

log = logging.getLogger(__name__)

REGISTERED_MODEL = "churn"
CHAMPION_ALIAS = "champion"
DEFAULT_EXPERIMENT = "churn"


class NoChampionError(ChurnError):
    """No model carries the champion alias yet."""


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or ``sqlite:///<absolute cwd>/models/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / 'models' / 'mlflow.db').resolve()}"


def _sqlite_path(uri: str) -> Path | None:
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    return None


def default_artifact_location(tracking_uri: str) -> str | None:
    """``models/mlartifacts`` beside a local sqlite store; ``None`` (the server decides) else."""
    db = _sqlite_path(tracking_uri)
    if db is None:
        return None
    return (db.resolve().parent / "mlartifacts").as_uri()


@contextlib.contextmanager
def using_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow (tracking, and so the registry) at ``uri`` for the block, then restore."""
    import mlflow

    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    previous = mlflow.get_tracking_uri()
    # The registry follows the tracking URI unless set explicitly; setting (and restoring) it
    # here would pin it and break a caller's later set_tracking_uri.
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def get_or_create_experiment(name: str, tracking_uri: str) -> str:
    """Id of experiment ``name``, created (with the default artifact location) if absent."""
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(name, artifact_location=default_artifact_location(tracking_uri))


def tables_fingerprint(tables: Tables) -> str:
    """SHA-256 of the input tables' contents (column names and values), for data lineage.

    Row order counts: the same extract loaded twice gives the same hash; any edited value,
    added row or renamed column changes it.
    """
    h = hashlib.sha256()
    for name in TABLE_NAMES:
        table = tables.table(name)
        h.update(name.encode())
        h.update(json.dumps([str(c) for c in table.columns]).encode())
        if len(table):
            h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    h.update(str(tables.extraction_date).encode())
    return h.hexdigest()


def json_safe(value: Any) -> Any:
    """Nested dicts/lists of plain JSON types (timestamps and numpy scalars become str/float)."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, tuple | set):
        return list(v)
    return str(v)


def log_churn_model(
    model: ChurnModel,
    X_example: pd.DataFrame,
    *,
    registered_model_name: str | None = REGISTERED_MODEL,
) -> Any:
    """Log ``model`` into the active run as LightGBM's native format and register it.

    Returns the ``ModelInfo``; ``info.registered_model_version`` is the new version (or None).
    """
    import lightgbm
    import mlflow
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    example = model.prepare(X_example.head(5))
    signature = infer_signature(example, model.predict_raw(example))
    # MLflow checks the input example by replaying it as a JSON serving payload, and JSON cannot
    # carry pandas categories, so with categorical features that check always fails (the native
    # booster and load_champion remap categories correctly). Its warning would only alarm users.
    # Explicit requirements also spare MLflow a subprocess that replays the same example.
    quiet = logging.getLogger("mlflow.models.model")
    level = quiet.level
    if model.categorical_features:
        quiet.setLevel(logging.ERROR)
    try:
        return mlflow.lightgbm.log_model(
            model.booster,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=registered_model_name,
            metadata=json_safe(model.to_metadata()),
            pip_requirements=[
                f"lightgbm=={lightgbm.__version__}",
                f"pandas=={pd.__version__}",
                f"numpy=={np.__version__}",
            ],
        )
    finally:
        quiet.setLevel(level)


def champion_version(
    tracking_uri: str | None = None, name: str = REGISTERED_MODEL, alias: str = CHAMPION_ALIAS
) -> Any | None:
    """The ModelVersion carrying ``alias``, or ``None``."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or default_tracking_uri()
    db = _sqlite_path(uri)
    if db is not None and not db.exists():
        # Do not create an empty store just to find that it holds nothing.
        return None
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_champion(
    tracking_uri: str | None = None, name: str = REGISTERED_MODEL, alias: str = CHAMPION_ALIAS
) -> ChurnModel:
    """Load the model version that carries ``alias`` as a ``ChurnModel``.

    Raises
    ------
    NoChampionError
        When the registry has no such model or alias.
    """
    import mlflow.lightgbm
    from mlflow.models import get_model_info

    uri = tracking_uri or default_tracking_uri()
    version = champion_version(uri, name, alias)
    if version is None:
        raise NoChampionError(
            f"no trained model: run make train first (no model {name!r} with alias {alias!r} "
            f"in {uri})"
        )
    model_uri = f"models:/{name}@{alias}"
    with using_tracking_uri(uri):
        booster = mlflow.lightgbm.load_model(model_uri)
        stored = get_model_info(model_uri).metadata or {}
    if "calibrator" not in stored:
        raise ChurnError(
            f"model {name} version {version.version} has no churn metadata (calibrator, "
            "features): it was not logged by `churn train`; retrain with `make train`"
        )
    return ChurnModel.from_parts(
        booster,
        stored,
        run_id=version.run_id,
        model_version=str(version.version),
        model_name=name,
        alias=alias,
    )


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
