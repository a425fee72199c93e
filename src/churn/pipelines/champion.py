"""The champion (shell, MLflow): which version carries the alias, loaded as a ``ChurnModel``.

Reading the registry never fails with a traceback: a store that is not a database, an unknown
URI scheme, deleted artefacts, a damaged model file or tampered metadata each become a
``BrokenRegistryError`` naming the version and what is broken. ``churn train`` treats such a
champion as one that cannot be compared, so a new model can replace it.
"""

from __future__ import annotations

from typing import Any

from churn.errors import ChurnError
from churn.modeling import ChurnModel
from churn.pipelines import tracking
from churn.pipelines.registry import CHAMPION_ALIAS, REGISTERED_MODEL


class NoChampionError(ChurnError):
    """No model carries the champion alias yet."""


class BrokenRegistryError(ChurnError):
    """The store or a registered model cannot be read: says what is broken and how to recover."""


_SQLITE_MAGIC = b"SQLite format 3\x00"
_RECOVER = (
    "retrain with `make train` (a champion that cannot be loaded is replaced), or move the store "
    "away (`make clean-all` deletes models/mlflow.db) and train again"
)


def check_store(uri: str) -> None:
    """Refuse a local sqlite store that is not a database before MLflow tries to migrate it."""
    db = tracking.sqlite_path(uri)
    if db is None or not db.exists():
        return
    with db.open("rb") as fh:
        head = fh.read(len(_SQLITE_MAGIC))
    if head != _SQLITE_MAGIC:
        raise BrokenRegistryError(
            f"the MLflow store {db} is not a sqlite database (empty, truncated or overwritten); "
            + _RECOVER
        )


def champion_version(
    tracking_uri: str | None = None, name: str = REGISTERED_MODEL, alias: str = CHAMPION_ALIAS
) -> Any | None:
    """The ModelVersion carrying ``alias``, or ``None``."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    uri = tracking_uri or tracking.default_tracking_uri()
    db = tracking.sqlite_path(uri)
    if db is not None and not db.exists():
        # Do not create an empty store just to find that it holds nothing.
        return None
    check_store(uri)
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")) or (
            "not found" in str(exc).lower() or "does not exist" in str(exc).lower()
        ):
            return None
        raise BrokenRegistryError(f"the MLflow store {uri} cannot be read: {exc}") from None
    except Exception as exc:  # a corrupt database, an unknown URI scheme: never a traceback
        raise BrokenRegistryError(
            f"the MLflow store {uri} cannot be read ({type(exc).__name__}: {exc}); " + _RECOVER
        ) from None


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

    from churn.pipelines.static_models import what_is_registered

    uri = tracking_uri or tracking.default_tracking_uri()
    version = champion_version(uri, name, alias)
    if version is None:
        raise NoChampionError(
            f"no trained model: run make train first (no model {name!r} with alias {alias!r} "
            f"in {uri})" + what_is_registered(uri)
        )
    model_uri = f"models:/{name}@{alias}"
    what = f"model {name} version {version.version} ({alias})"
    try:
        with tracking.using_tracking_uri(uri):
            booster = mlflow.lightgbm.load_model(model_uri)
            stored = get_model_info(model_uri).metadata or {}
    except Exception as exc:  # deleted artefacts, a deleted or damaged model file
        raise BrokenRegistryError(
            f"{what} cannot be loaded: its files are missing or damaged "
            f"({type(exc).__name__}: {exc}); " + _RECOVER
        ) from None
    if "calibrator" not in stored:
        raise ChurnError(
            f"{what} has no churn metadata (calibrator, features): it was not logged by "
            "`churn train`; retrain with `make train`"
        )
    try:
        return ChurnModel.from_parts(
            booster,
            stored,
            run_id=version.run_id,
            model_version=str(version.version),
            model_name=name,
            alias=alias,
        )
    except (KeyError, TypeError, ValueError) as exc:  # a tampered calibrator or feature list
        raise BrokenRegistryError(
            f"{what} has damaged metadata ({type(exc).__name__}: {exc}); " + _RECOVER
        ) from None
