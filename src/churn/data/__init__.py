"""Raw tables in, validated tables out: dataset configs, readers, column mapping, validation.

Modules: ``config`` (the dataset YAML as typed models), ``readers`` (finding and reading files),
``mapping`` (source columns onto the contract), ``validation`` (types, ranges, every problem at
once) and ``load`` (the three together: ``load_dataset``).
"""

from __future__ import annotations

from churn.data.config import (
    ChurnConfig,
    DatasetConfig,
    DatasetConfigError,
    EvaluationConfig,
    HoldoutConfig,
    JoinConfig,
    SamplingConfig,
    StaticConfig,
    TableConfig,
    UsageConfig,
    dataset_schema,
    load_config,
    parse_config,
)
from churn.data.load import load_dataset, read_static_source, summarize
from churn.data.mapping import map_columns, tables_from_frames
from churn.data.static_source import HOLDOUT_MARKER, join_customers
from churn.data.validation import (
    DataValidationError,
    Findings,
    coerce_number,
    infer_usage_period,
    rows,
    strip_unsafe_text,
)

__all__ = [
    "HOLDOUT_MARKER",
    "ChurnConfig",
    "DataValidationError",
    "DatasetConfig",
    "DatasetConfigError",
    "EvaluationConfig",
    "Findings",
    "HoldoutConfig",
    "JoinConfig",
    "SamplingConfig",
    "StaticConfig",
    "TableConfig",
    "UsageConfig",
    "coerce_number",
    "dataset_schema",
    "infer_usage_period",
    "join_customers",
    "load_config",
    "load_dataset",
    "map_columns",
    "parse_config",
    "read_static_source",
    "rows",
    "strip_unsafe_text",
    "summarize",
    "tables_from_frames",
]
