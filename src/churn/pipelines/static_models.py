"""Registered static-table models (shell, MLflow): what the store holds, one loaded as a
``churn.scoring`` model (:class:`StaticScorer`), and the sentence of a static table's reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.pipelines import tracking
from churn.pipelines.static_log import STATIC_MODEL_PREFIX


def registered_names(uri: str) -> list[str]:
    """Names of the registered models in the store at ``uri`` (empty when it cannot be read)."""
    from mlflow import MlflowClient

    db = tracking.sqlite_path(uri)
    if db is not None and not db.exists():
        return []
    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return sorted(m.name for m in client.search_registered_models())
    except Exception:
        return []


def what_is_registered(uri: str) -> str:
    """What the store does hold, and the command that scores it (for the no-model message)."""
    names = registered_names(uri)
    if not names:
        return ""
    static = [n for n in names if n.startswith(STATIC_MODEL_PREFIX)]
    hint = (
        f"; static-table models are scored with `churn score --data <their dataset config>` "
        f"(e.g. --model {static[0]})"
        if static
        else ""
    )
    return f". Registered: {', '.join(names)}{hint}"


@dataclass
class StaticScorer:
    """A registered static model as ``churn.scoring`` wants it (features in, probabilities and
    TreeSHAP log-odds out); probabilities carry the sampling correction, contributions do not
    (``calibrate`` maps one onto the other)."""

    model: Any  # churn.static_table.StaticModel
    metadata: dict = field(default_factory=dict)
    horizon_days: int = 0

    @property
    def feature_names(self) -> list[str]:
        return list(self.model.features)

    def calibrate(self, p: np.ndarray) -> np.ndarray:
        from churn.static_table import odds_correct

        return odds_correct(p, self.model.odds_factor)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.model.booster.predict(self.model.encode(X)))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        values = self.model.booster.predict(self.model.encode(X), pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.feature_names, "bias"], index=X.index)


def render_static_reason(name: str, row: dict, direction: int) -> str:
    """A static table's reason: the column and the customer's value ("Contract is Month-to-month")."""
    value = row.get(name)
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return f"{name} is missing"
    return f"{name} is {value:g}" if isinstance(value, float) else f"{name} is {value}"


def load_static_model(dataset: str, ref: str | None, uri: str) -> StaticScorer:
    """The model ``ref`` (``NAME``, ``NAME@alias``, ``NAME/VERSION``; default
    ``churn-static-<dataset>``, latest version) from the registry at ``uri``."""
    import mlflow.lightgbm
    from mlflow import MlflowClient
    from mlflow.models import get_model_info

    from churn.pipelines.champion import check_store
    from churn.static_table import StaticModel

    name, _, alias = (ref or f"{STATIC_MODEL_PREFIX}{dataset}").partition("@")
    name, _, number = name.partition("/")
    check_store(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        if alias:
            version = client.get_model_version_by_alias(name, alias)
        else:
            found = client.search_model_versions(f"name='{name}'")
            version = max(found, key=lambda v: int(v.version)) if found else None
            if number:
                version = next((v for v in found if str(v.version) == number), None)
    except Exception:
        version = None
    if version is None:
        shown = ", ".join(registered_names(uri)) or "none"
        raise ChurnError(
            f"no static model {ref or name!r} in {uri} (registered: {shown}); train it with "
            f"`churn train --data <this dataset config>`, or name one with --model NAME[@alias]"
        )
    model_uri = f"models:/{name}/{version.version}"
    with tracking.using_tracking_uri(uri):
        booster = mlflow.lightgbm.load_model(model_uri)
        meta = get_model_info(model_uri).metadata or {}
    if meta.get("mode") != "static":
        raise ChurnError(f"model {name} version {version.version} is not a static-table model")
    model = StaticModel(
        booster, list(meta["features"]), dict(meta["categories"]), float(meta.get("odds_factor", 1))
    )
    info = {"model_name": name, "model_version": str(version.version), "run_id": version.run_id}
    return StaticScorer(model, info)
