"""The files of a static customer table as they are: the customers file, the files joined to it
one to one on the id (``tables.customers.join``) and a held-out file (``static.holdout.file``).

Joining is strict, because a silent many-to-one join multiplies customers and a silent
conflict picks one of two values at random:

- an id that appears twice in a joined file is a problem naming the file and the ids;
- a column that two files both have (other than the id) must agree for every shared id, else a
  problem names the file, the column and the ids; when it agrees, one copy is kept;
- an id in only one of the files is a warning with the count and examples: its columns from the
  other file are missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn.data.config import DatasetConfig, JoinConfig, TableConfig
from churn.data.readers import read_table
from churn.data.validation import Findings, rows

#: Marks the rows read from ``static.holdout.file`` in the frame handed to ``prepare_static``.
HOLDOUT_MARKER = "__churn_holdout_file__"
_SHOWN = 5


def _ids(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype("str").str.strip()


def _shown(ids: pd.Series | np.ndarray) -> str:
    values = list(dict.fromkeys(map(str, ids)))
    more = f" and {len(values) - _SHOWN:,} more" if len(values) > _SHOWN else ""
    return ", ".join(values[:_SHOWN]) + more


def join_customers(
    base: pd.DataFrame,
    id_column: str,
    extra: pd.DataFrame,
    spec: JoinConfig,
    findings: Findings,
) -> pd.DataFrame:
    """``base`` with the columns of one more customers file, joined one to one on the id; pure.

    ``spec.columns`` renames the file's columns (name in the joined table -> the file's column);
    ``customer_id`` there names the file's id column (default: ``id_column``). Problems (an id
    twice in the file, a shared column that disagrees) go to ``findings`` and ``base`` comes
    back unchanged.
    """
    label = spec.file
    own_id = spec.columns.get("customer_id", id_column)
    renames = {src: dst for dst, src in spec.columns.items() if dst != "customer_id"}
    if own_id not in extra.columns:
        findings.add(
            "customers",
            own_id,
            f"{label} (tables.customers.join) has no id column {own_id!r}",
            f"Name it with columns: {{customer_id: ...}}; columns: {', '.join(extra.columns[:12])}.",
        )
        return base
    extra = extra.rename(columns=renames)
    key = "__churn_join_id__"
    right = extra.assign(**{key: _ids(extra, own_id)}).drop(columns=[own_id])
    twice = right[key].duplicated(keep=False)
    if twice.any():
        findings.add(
            "customers",
            own_id,
            f"{label} has {rows(int(twice.sum()))} sharing an id with another row (ids "
            f"{_shown(right.loc[twice, key])}): a join must be one to one",
            f"Keep one row per customer in {label}, or aggregate it before joining.",
        )
        return base
    left = base.assign(**{key: _ids(base, id_column)})
    shared = [c for c in right.columns if c in left.columns and c != key]
    merged = left.merge(right, on=key, how="left", suffixes=("", "__joined"), indicator=True)
    for c in shared:
        a, b = merged[c], merged[f"{c}__joined"]
        differ = (
            a.notna() & b.notna() & (a.astype("str").str.strip() != b.astype("str").str.strip())
        )
        if differ.any():
            findings.add(
                "customers",
                c,
                f"{label} and the customers file disagree on column {c!r} for "
                f"{rows(int(differ.sum()))} (ids {_shown(merged.loc[differ, key])})",
                f"Fix one of the files, or rename the column with tables.customers.join "
                f"columns: {{new_name: {c!r}}}.",
            )
        merged[c] = a.where(a.notna(), b)
    merged = merged.drop(columns=[f"{c}__joined" for c in shared])
    unmatched = (merged.pop("_merge") == "left_only").to_numpy()
    if unmatched.any():
        findings.warn(
            f"customers: {rows(int(unmatched.sum()))} have no row in {label} (ids "
            f"{_shown(merged.loc[unmatched, key])}); its columns are missing for them."
        )
    orphans = ~right[key].isin(left[key])
    if orphans.any():
        findings.warn(
            f"customers: {rows(int(orphans.sum()))} of {label} match no customer (ids "
            f"{_shown(right.loc[orphans, key])}) and are left out."
        )
    return merged.drop(columns=[key])


def _read(config: DatasetConfig, file: str, table: TableConfig, findings: Findings):
    """One customers-like file read with ``table``'s reader options; None when it cannot be."""
    path = Path(config.base_dir) / file
    if not path.is_file():
        findings.add(
            "customers",
            None,
            f"file {file} not found in {config.base_dir}",
            "Fix the file name or base_dir in the dataset config.",
        )
        return None
    tables = {**config.tables, "customers": table}
    return read_table("customers", path, config.model_copy(update={"tables": tables}), findings)


def read_static_files(
    config: DatasetConfig, frame: pd.DataFrame, findings: Findings
) -> pd.DataFrame:
    """The customers ``frame`` with every joined file and the held-out file's rows (marked with
    :data:`HOLDOUT_MARKER`); problems go to ``findings``."""
    customers = config.table("customers")
    id_column = customers.columns.get("customer_id")
    if customers.join and id_column is None:
        findings.add(
            "customers",
            None,
            "tables.customers.join needs the id to join on",
            "Name it with tables.customers.columns: {customer_id: YOUR_ID_COLUMN}.",
        )
        return frame
    for spec in customers.join:
        reader = TableConfig(
            read=spec.read,
            columns={"customer_id": spec.columns.get("customer_id", id_column or "customer_id")},
        )
        extra = _read(config, spec.file, reader, findings)
        if extra is not None:
            frame = join_customers(frame, str(id_column), extra, spec, findings)
    holdout = config.static.holdout
    if holdout is not None and holdout.file is not None:
        test = _read(config, holdout.file, customers, findings)
        if test is not None:
            missing = [c for c in frame.columns if c not in test.columns]
            if missing:
                findings.add(
                    "customers",
                    missing[0],
                    f"static.holdout.file {holdout.file} lacks {len(missing)} column(s) of the "
                    f"training rows: {', '.join(map(repr, missing[:8]))}",
                    "Give the held-out file the same columns as the customers file.",
                )
            else:
                frame = pd.concat(
                    [
                        frame.assign(**{HOLDOUT_MARKER: False}),
                        test[list(frame.columns)].assign(**{HOLDOUT_MARKER: True}),
                    ],
                    ignore_index=True,
                )
    return frame
