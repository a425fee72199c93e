"""The training frame as an MLflow dataset (``mlflow.log_input``), with its schema from a sample.

MLflow infers a pandas dataset's schema value by value over the whole frame: 27 CPU seconds for
200k rows of 70 features on this machine, minutes for a 100k-customer training frame. The schema
is the columns and their types, which the first rows already show, so it is inferred from those.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

#: Rows the schema is inferred from.
SCHEMA_SAMPLE_ROWS = 1000


def training_dataset(
    frame: pd.DataFrame, *, source: str, targets: str, name: str, digest: str
) -> Any:
    """``mlflow.data.from_pandas(frame, ...)`` with the schema of ``frame.head(1000)``.

    The profile (rows, elements) and the digest still describe the whole frame.
    """
    import mlflow
    from mlflow.types.utils import _infer_schema

    with warnings.catch_warnings():
        # MLflow registers its local-file dataset source twice and warns about it.
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            frame, source=source, targets=targets, name=name, digest=digest
        )
        try:
            schema = _infer_schema(frame.head(SCHEMA_SAMPLE_ROWS))
        except Exception as exc:  # MLflow logs no schema then, as it would itself
            log.debug("no schema for the training dataset: %s", exc)
            schema = None
    # ``schema`` is a cached property: setting it here spares the whole-frame inference.
    dataset.__dict__["schema"] = schema
    return dataset
