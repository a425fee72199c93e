"""Data lineage for runs and week folders: one fingerprint of the input, and a run's row counts.

Row order counts in every fingerprint: the same extract loaded twice gives the same hash; any
edited value, added row or renamed column changes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from churn.contract import TABLE_NAMES, Tables
from churn.features import as_extracted_features


def frames_fingerprint(
    parts: Iterable[tuple[str | None, Sequence[object], pd.DataFrame]], suffix: str = ""
) -> str:
    """SHA-256 over each part's name, column names and values, then ``suffix``.

    Parameters
    ----------
    parts
        ``(name or None, column names, frame)``; the values hashed are the frame's, without
        its index.
    suffix
        Hashed last (e.g. the extraction date).
    """
    h = hashlib.sha256()
    for name, columns, frame in parts:
        if name is not None:
            h.update(name.encode())
        h.update(json.dumps([str(c) for c in columns]).encode())
        if len(frame):
            h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    h.update(suffix.encode())
    return h.hexdigest()


def tables_fingerprint(tables: Tables) -> str:
    """Fingerprint of the input tables' contents and the extraction date."""
    parts = []
    for name in TABLE_NAMES:
        table = tables.table(name)
        parts.append((name, table.columns, table))
    return frames_fingerprint(parts, str(tables.extraction_date))


def static_fingerprint(data: Any) -> str:
    """Fingerprint of a prepared static table (``StaticDataset``: ids, features, label)."""
    frame = data.features.assign(_id=data.customer_id.to_numpy(), _label=data.label)
    return frames_fingerprint([(None, data.features.columns, frame)])


def training_lineage(
    data: Path, tables: Tables, frame: pd.DataFrame, result: Any, spec: Any = None
) -> dict:
    """Where a training run's rows came from: dataset, hash, dates, windows and row counts.

    ``spec`` (the ``FeatureSpec``) says which attributes an account history dates; they are
    not listed as as-extracted.
    """
    return {
        "data_path": str(Path(data).resolve()),
        "data_name": tables.name,
        "data_hash": tables_fingerprint(tables),
        "extraction_date": str(tables.extraction_date),
        "as_of_min": str(frame["as_of"].min().date()),
        "as_of_max": str(frame["as_of"].max().date()),
        **result.split.describe(),
        "rows_frame": len(frame),
        **{f"rows_{k}": v for k, v in result.row_counts.items()},
        **{f"rows_table_{t}": len(tables.table(t)) for t in TABLE_NAMES},
        "n_features": len(result.features),
        # Today's values for every past date (no account history dates them): say which.
        "as_extracted_features": ",".join(as_extracted_features(result.features, spec)) or "none",
    }


def model_metadata(run: Any) -> dict[str, Any]:
    """What the model carries about its training (``run``: a ``train_log.TrainingRun``): data
    hash and name, the feature spec, its test metrics and the settings, all JSON-safe."""
    from churn.modeling import MODEL
    from churn.pipelines import tracking

    return {
        "data_hash": run.lineage["data_hash"],
        "data_name": run.tables.name,
        "feature_spec": run.spec.to_dict() if run.spec is not None else None,
        "test_metrics": tracking.finite(run.comparison.results[MODEL]),
        "settings": tracking.json_safe(run.settings.to_dict()),
    }
