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
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.contract import TABLE_NAMES, Tables
from churn.errors import ChurnError
from churn.model import ChurnModel

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


def gate(challenger_metric: float, champion_metric: float | None, tolerance: float = 0.0) -> bool:
    """Champion/challenger gate: promote if the challenger is no worse than the champion.

    Both metrics must be higher-is-better and measured on the SAME out-of-time test rows.

    Parameters
    ----------
    challenger_metric
        The new model's metric. NaN never passes.
    champion_metric
        The current champion's metric on the same rows; ``None`` (no champion, or it cannot be
        scored) passes any finite challenger.
    tolerance
        How much worse the challenger may be and still pass (noise allowance).
    """
    if challenger_metric is None or not math.isfinite(challenger_metric):
        return False
    if champion_metric is None or not math.isfinite(champion_metric):
        return True
    return challenger_metric >= champion_metric - tolerance


#: A model cannot rank better than the true probabilities. Beating the oracle's ROC AUC by more
#: than sampling noise (~1% on a few thousand test rows) means a feature knows the future.
ORACLE_LEAK_RATIO = 1.02


def decide_promotion(
    challenger_metric: float,
    champion_metric: float | None,
    *,
    has_champion: bool,
    incomparable: str = "",
    force: bool = False,
    tolerance: float = 0.0,
    oracle_ratio: float | None = None,
) -> tuple[bool, str]:
    """Whether the new model becomes champion, and the outcome in words (logged as a tag).

    Parameters
    ----------
    challenger_metric, champion_metric
        Test ROC AUC of the new model and of the champion re-scored on the same rows.
    has_champion
        Whether a champion exists at all.
    incomparable
        Why the champion could not be scored on the new test frame ("" if it could); then the
        gate cannot judge and only ``force`` promotes.
    force
        Promote whatever the gate says (the outcome still records what it said).
    tolerance
        Passed to :func:`gate`.
    oracle_ratio
        Model / oracle ROC AUC on simulated data. Above ``ORACLE_LEAK_RATIO`` the model beats
        the truth, which only leakage explains, so it is not promoted without ``force``.
    """
    verdict = "forced: " if force else "kept champion: "
    if oracle_ratio is not None and oracle_ratio > ORACLE_LEAK_RATIO:
        return force, (
            ("forced: " if force else "rejected: ")
            + f"model beats the oracle (ROC AUC ratio {oracle_ratio:.3f} > {ORACLE_LEAK_RATIO}):"
            " a feature leaks the future"
        )
    if not has_champion:
        passed = gate(challenger_metric, None, tolerance)
        return passed or force, "promoted: first model" if passed else verdict + "no valid AUC"
    if incomparable:
        return force, verdict + incomparable
    if gate(challenger_metric, champion_metric, tolerance):
        return True, (
            f"promoted: test ROC AUC {challenger_metric:.4f} >= champion "
            f"{champion_metric:.4f} - {tolerance}"
        )
    return force, verdict + (
        f"test ROC AUC {challenger_metric:.4f} < champion {champion_metric:.4f} - {tolerance}"
    )


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
