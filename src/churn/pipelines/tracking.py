"""MLflow: where runs are tracked, experiments, and what a run's params and metrics look like.

Part of the shell: this module talks to MLflow; the training and evaluation code it stores does
not. The registered model and its champion alias are in ``churn.pipelines.registry``.
Defaults, written down once:

- tracking URI: ``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/models/mlflow.db``;
- artefacts of a local sqlite store: ``models/mlartifacts`` beside the database (set as the
  experiment's artifact_location when the experiment is created);
- registered model ``churn``; the deployed version carries the alias ``champion``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "churn"


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or ``sqlite:///<absolute cwd>/models/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / 'models' / 'mlflow.db').resolve()}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; ``None`` for any other store."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///"))
    return None


def default_artifact_location(tracking_uri: str) -> str | None:
    """``models/mlartifacts`` beside a local sqlite store; ``None`` (the server decides) else."""
    db = sqlite_path(tracking_uri)
    if db is None:
        return None
    return (db.resolve().parent / "mlartifacts").as_uri()


@contextlib.contextmanager
def using_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow (tracking, and so the registry) at ``uri`` for the block, then restore."""
    import mlflow

    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    previous = mlflow.get_tracking_uri()
    env = os.environ.get("MLFLOW_TRACKING_URI")
    # The registry follows the tracking URI unless set explicitly; setting (and restoring) it
    # here would pin it and break a caller's later set_tracking_uri.
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)
        # MLflow 3 also writes MLFLOW_TRACKING_URI when the URI is set: put the caller's
        # environment back, or a later run in this process would go to this block's store.
        if env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = env


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold the store's write lock for the block (gate, registration, promotion).

    A local sqlite store gets a lock file beside the database (``fcntl.flock``: released even if
    the holder is killed); a second ``churn train`` waits for the first. A tracking server
    serialises nothing here: run one trainer at a time against it.
    """
    from churn._files import exclusive_lock

    db = sqlite_path(uri)
    if db is None:
        yield
        return
    wait = float(os.environ.get("CHURN_LOCK_WAIT_S") or 1800)
    with exclusive_lock(db.with_name(db.name + ".lock"), f"the MLflow store {db}", wait_s=wait):
        yield


def get_or_create_experiment(name: str, tracking_uri: str) -> str:
    """Id of experiment ``name``, created (with the default artifact location) if absent."""
    import mlflow

    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return mlflow.create_experiment(name, artifact_location=default_artifact_location(tracking_uri))


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


def flat_params(settings: Any, extra: dict[str, Any]) -> dict[str, str]:
    """Run parameters: every snapshot and training setting (``lgb.*`` for LightGBM's), then
    ``extra``; values as strings of at most 500 characters."""
    out: dict[str, str] = {}
    for section in ("snapshots", "training"):
        for key, value in getattr(settings, section).__dict__.items():
            if key == "lightgbm":
                out.update({f"lgb.{k}": str(v) for k, v in value.items()})
            else:
                out[f"{section}.{key}"] = str(value)
    out.update({k: str(v) for k, v in extra.items()})
    # MLflow caps parameter values at 6000 characters; ours are short, but stay safe.
    return {k: v[:500] for k, v in out.items()}


def finite(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics MLflow can store: finite floats (NaN and None left out)."""
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}
