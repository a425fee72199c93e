"""The registered model's ``python_function`` flavour: the calibrated churn probability.

``mlflow.lightgbm``'s own pyfunc could not score the project's feature frames: MLflow's schema
check refuses a pandas category column against the signature's ``string`` column, and LightGBM
refuses the strings it would have let through. It also returned the booster's raw score, not
the calibrated probability the lists are cut on. So a logged model keeps LightGBM's native file
and flavour (``churn.pipelines.champion`` loads that) and gets this module as its pyfunc loader:
``mlflow.pyfunc.load_model(uri).predict(frame)`` and ``mlflow.pyfunc.spark_udf`` return
``ChurnModel.predict_proba``, with category columns given as categories or as text. Nothing is
pickled: the loader rebuilds the model from the LightGBM file and the JSON metadata beside it,
and needs ``churn`` installed where the model is loaded (on Spark: on the executors too).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from churn.modeling import ChurnModel


def signature(model: ChurnModel, example: pd.DataFrame) -> Any:
    """The model signature: category features as ``Any`` (categories or text both pass MLflow's
    check; ``ChurnModel.prepare`` maps either to the training categories), the rest inferred."""
    from mlflow.models import infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    inferred = infer_signature(example, model.predict_proba(example))
    cats = set(model.categorical_features)
    cols = [ColSpec(AnyType(), c.name) if c.name in cats else c for c in inferred.inputs.inputs]
    return type(inferred)(inputs=Schema(cols), outputs=inferred.outputs)


def save_model(lgb_model: Any, path: str, mlflow_model: Any = None, **kwargs: Any) -> None:
    """``mlflow.lightgbm.save_model``, with this module as the pyfunc loader (for ``Model.log``)."""
    import mlflow.lightgbm
    from mlflow.models import Model

    mlflow_model = mlflow_model if mlflow_model is not None else Model()
    mlflow.lightgbm.save_model(lgb_model, path, mlflow_model=mlflow_model, **kwargs)
    mlflow_model.flavors["python_function"]["loader_module"] = __name__
    mlflow_model.save(str(Path(path) / "MLmodel"))


class ChurnPyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict`` is the calibrated probability."""

    def __init__(self, model: ChurnModel) -> None:
        self.model = model

    def predict(self, data: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.Series:
        return pd.Series(self.model.predict_proba(data), index=data.index, name="probability")

    def get_raw_model(self) -> ChurnModel:
        return self.model


def _load_pyfunc(path: str) -> ChurnPyfunc:
    """MLflow's loader hook: ``path`` is the LightGBM model file inside the model folder."""
    import lightgbm as lgb
    from mlflow.models import Model

    booster = lgb.Booster(model_file=path)
    stored = Model.load(str(Path(path).parent / "MLmodel")).metadata or {}
    return ChurnPyfunc(ChurnModel.from_parts(booster, stored))


#: ``Model.log(flavor=...)`` takes a module with ``save_model``.
FLAVOR = sys.modules[__name__]
