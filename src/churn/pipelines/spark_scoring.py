"""Scoring at scale on Spark: the champion through ``mlflow.pyfunc.spark_udf``, reasons through
a pandas UDF on LightGBM's ``pred_contrib`` (the recipe of docs/spark.md; ``pip install
'churn[spark]'``).

Both UDFs take the model's feature columns as one struct (``struct(*feature_names)``) so that the
batches reach the model with their names. Category features travel as text; the model maps them
to its training categories (``ChurnModel.prepare``). The workers must import ``churn`` (local
mode: the driver's Python; a cluster: install the wheel on the executors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn.explain import reason_rules, top_contributors
from churn.modeling import ChurnModel


def to_spark(session: Any, frame: pd.DataFrame) -> Any:
    """A feature frame as a Spark DataFrame: category columns as text, NaN as NULL (Arrow)."""
    import pyarrow as pa

    plain = frame.copy()
    for col in plain.columns:
        if isinstance(plain[col].dtype, pd.CategoricalDtype):
            plain[col] = plain[col].astype(object).where(plain[col].notna(), None)
    return session.createDataFrame(pa.Table.from_pandas(plain, preserve_index=False))


def probability_udf(session: Any, model_uri: str) -> Any:
    """The calibrated probability of churn (``ChurnModel.predict_proba``) as a Spark UDF."""
    import mlflow.pyfunc

    return mlflow.pyfunc.spark_udf(session, model_uri, result_type="double", env_manager="local")


def reason_schema(k: int) -> str:
    """The struct a reasons UDF returns: per reason the feature and its log-odds contribution."""
    fields = [f"reason_{i}_feature string, reason_{i}_logodds double" for i in range(1, k + 1)]
    return ", ".join(fields)


def top_reasons_frame(model: ChurnModel, batch: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` behaviour features that raise each row's risk most (TreeSHAP log-odds from
    ``pred_contrib``); context features (plan, region, tenure) are never a reason."""
    contributions = model.contributions(batch)
    names = [c for c in contributions.columns if c != "bias"]
    behaviour = reason_rules(names, batch).behaviour
    allowed = np.broadcast_to(np.isin(names, list(behaviour)), (len(batch), len(names)))
    index, value, _ = top_contributors(contributions, k, allowed=allowed)
    out = {}
    for i in range(k):
        pos = index[:, i]
        out[f"reason_{i + 1}_feature"] = np.where(pos >= 0, np.asarray(names, object)[pos], None)
        out[f"reason_{i + 1}_logodds"] = value[:, i]
    return pd.DataFrame(out, index=batch.index)


def reasons_udf(model_uri: str, k: int = 3) -> Any:
    """A pandas UDF: per row of ``struct(*feature_names)``, ``top_reasons_frame``. The model is
    loaded once per Python worker (``mlflow.pyfunc.load_model(uri).get_raw_model()``)."""
    from pyspark.sql.functions import pandas_udf

    loaded: dict[str, ChurnModel] = {}

    @pandas_udf(reason_schema(k))  # type: ignore[call-overload]
    def reasons(batch: pd.DataFrame) -> pd.DataFrame:
        if "model" not in loaded:
            import mlflow.pyfunc

            loaded["model"] = mlflow.pyfunc.load_model(model_uri).get_raw_model()
        return top_reasons_frame(loaded["model"], batch, k)

    return reasons
