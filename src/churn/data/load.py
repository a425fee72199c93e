"""Load a dataset: find and read its tables, map them onto the data contract, validate them.

A dataset is either

- a folder of tables named after the contract (``customers.csv``, ``interactions.parquet``, ...;
  also ``.csv.gz``, ``.tsv``, ``.txt``, ``.pq``, ``.xlsx``), optionally with a ``dataset.yaml``
  inside it; sub-folders (such as the simulator's ``ground_truth/``) are ignored; or
- the path of a YAML dataset config, which maps a user's own file and column names onto the
  contract, so that a CRM export works without renaming anything (``churn.data.config``
  documents every key).

``load_dataset(path)`` returns ``contract.Tables``, or raises ``DataValidationError`` listing every
problem at once (see ``churn.data.validation``); a config that cannot be understood raises
``DatasetConfigError`` before any table is read.

The stages live in their own modules: ``config`` (the YAML, typed), ``readers`` (files,
encodings, delimiters), ``mapping`` (source columns -> contract columns) and ``validation``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from churn._memory import release_free_memory
from churn.contract import TABLE_NAMES, Tables
from churn.data.config import DatasetConfig, DatasetConfigError, load_config
from churn.data.mapping import map_columns, validate_mapped
from churn.data.readers import find_file, read_table
from churn.data.static_source import read_static_files
from churn.data.validation import DataValidationError, Findings

log = logging.getLogger(__name__)


def load_dataset(path: str | Path, *, log_warnings: bool = True) -> Tables:
    """Read, map and validate a dataset folder or dataset YAML.

    Parameters
    ----------
    path
        A folder of tables (optionally with a dataset.yaml), or a dataset YAML file.
    log_warnings
        Log each of ``Tables.warnings`` once (False where the caller shows them itself, as
        ``churn validate``'s summary does). On an error they are in its message instead.

    Returns
    -------
    contract.Tables
        Normalised to the contract; ``warnings`` lists what was handled automatically.

    Raises
    ------
    DatasetConfigError
        The path or the config cannot be understood.
    DataValidationError
        Every problem found in the files and tables, each with table, column, count, examples
        and how to fix it.
    """
    config = load_config(path)
    if config.churn.definition == "flag":
        raise DatasetConfigError(
            [
                "churn.definition: flag is a static customer table with no time axis; load it "
                "with churn.static_table.load_static (see docs/bring-your-own-data.md)"
            ],
            str(config.source or path),
        )
    findings = Findings()
    frames: dict[str, pd.DataFrame | None] = {}
    for name in TABLE_NAMES:
        if name == "customers" and config.customers_from and config.table(name).file is None:
            # Derived from the event table after it is read (see validate_mapped).
            frames[name] = None
            continue
        file = find_file(name, config, findings)
        if file is None:
            frames[name] = None
            continue
        start = time.perf_counter()
        frame = read_table(name, file, config, findings)
        if frame is not None:
            log.debug(
                "read %s: %s rows in %.1fs",
                file.name,
                f"{len(frame):,}",
                time.perf_counter() - start,
            )
            frame = map_columns(name, frame, config.table(name), findings, label=file.name)
        frames[name] = frame
        del frame  # the dict holds it: validate_mapped frees each table once it is checked
        release_free_memory()  # the reader's buffers (churn._memory)
    tables = validate_mapped(frames, config, findings, consume=True)
    if log_warnings:
        for warning in tables.warnings:
            log.warning(warning)
    return tables


def read_static_source(path: str | Path) -> tuple[DatasetConfig, pd.DataFrame, Findings]:
    """Read a static-table dataset's customers file as it is (source column names).

    For ``churn.definition: flag``: the table is checked and prepared by
    ``churn.static_table.prepare_static``, which knows the static section of the config. The
    files in ``tables.customers.join`` are joined to it one to one on the id, and the rows of
    ``static.holdout.file`` appended, marked (``churn.data.static_source``).

    Raises
    ------
    DatasetConfigError
        The config cannot be understood or does not define churn by a flag.
    DataValidationError
        The file cannot be found or read.
    """
    config = load_config(path)
    if config.churn.definition != "flag":
        raise DatasetConfigError(
            [
                f"churn.definition is {config.churn.definition!r}; a static table needs "
                "definition: flag with label: <column> (and positive: <value>)"
            ],
            str(config.source or path),
        )
    findings = Findings()
    file = find_file("customers", config, findings)
    frame = None if file is None else read_table("customers", file, config, findings)
    if frame is not None and not findings.problems:
        # Joined files and the held-out file (churn.data.static_source).
        frame = read_static_files(config, frame, findings)
    if frame is None or findings.problems:
        if not findings.problems:
            findings.add("customers", None, "table is missing", "It is the one required table.")
        raise DataValidationError(findings.problems, findings.warnings, config.name)
    return config, frame, findings


def summarize(tables: Tables) -> str:
    """A short plain-text summary of a loaded dataset: rows, date ranges, warnings."""

    def span(s: pd.Series) -> str:
        s = s.dropna()
        return f"{s.min().date()} .. {s.max().date()}" if len(s) else "no dates"

    c = tables.customers
    churned = int(c["churn_date"].notna().sum())
    lines = [
        f"dataset {tables.name!r}: meets the data contract",
        f"  extraction date  {tables.extraction_date.date()}",
        f"  churn definition {tables.churn_definition}"
        + (f" ({tables.inactivity_days} days)" if tables.inactivity_days else ""),
        f"  customers    {len(c):>12,} rows  signup {span(c['signup_date'])}; "
        f"{churned:,} with churn_date",
        f"  interactions {len(tables.interactions):>12,} rows  {span(tables.interactions['timestamp'])}",
        f"  nps          {len(tables.nps):>12,} rows  {span(tables.nps['sent_at'])}; "
        f"{int(tables.nps['score'].notna().sum()):,} answered",
        f"  usage        {len(tables.usage):>12,} rows  {span(tables.usage['date'])}; "
        f"per {tables.usage_period}; metrics: {', '.join(tables.usage_metrics) or 'none'}",
    ]
    h = tables.account_history
    if len(h):
        lines.append(
            f"  account_history {len(h):>9,} rows  {span(h['valid_from'])}; dates "
            f"{', '.join(tables.history_attributes) or 'nothing'}"
        )
    if tables.warnings:
        lines.append(f"warnings ({len(tables.warnings)}):")
        lines += [f"  - {w}" for w in tables.warnings]
    return "\n".join(lines)
