"""Raw tables in, validated tables out: dataset configs, readers, column mapping, validation."""

from __future__ import annotations

from churn.data.load import (
    DatasetConfig,
    DatasetConfigError,
    StaticConfig,
    TableConfig,
    load_config,
    load_dataset,
    parse_config,
    read_static_source,
    summarize,
    tables_from_frames,
)
from churn.data.validation import (
    DataValidationError,
    Findings,
    coerce_number,
    infer_usage_period,
    rows,
)

__all__ = [
    "DataValidationError",
    "DatasetConfig",
    "DatasetConfigError",
    "Findings",
    "StaticConfig",
    "TableConfig",
    "coerce_number",
    "infer_usage_period",
    "load_config",
    "load_dataset",
    "parse_config",
    "read_static_source",
    "rows",
    "summarize",
    "tables_from_frames",
]
