"""From source frames to contract tables: select and rename columns, then validate; pure.

``map_columns`` turns one source frame (the user's column names) into the contract's columns
as the dataset config says; ``tables_from_frames`` maps and validates a whole dataset held in
memory. Columns the contract does not know are dropped (logged), except usage metrics.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping

import pandas as pd

from churn.contract import SPECS, TABLE_NAMES, Tables
from churn.data.config import DatasetConfig, TableConfig
from churn.data.validation import Findings, validate_tables

log = logging.getLogger(__name__)


def map_columns(
    name: str, frame: pd.DataFrame, tcfg: TableConfig, findings: Findings, label: str | None = None
) -> pd.DataFrame:
    """Select and rename a source frame's columns to the contract's; pure.

    A contract column comes from the column the config maps it to, else from a column of the
    same name. Usage metrics come from ``tcfg.metrics`` or, by default, every other numeric
    column. Problems (a mapped column that is not there, a required column missing) are added
    to ``findings`` with the source's columns and close matches.
    """
    label = label or name
    # tables.<name>.ignore: never read, as if the file did not have them.
    frame = frame.rename(columns=str).drop(columns=list(tcfg.ignore), errors="ignore")
    report = _reporter(name, label, list(frame.columns), findings)
    out: dict[str, pd.Series] = {}
    used: set[str] = set()
    _map_contract_columns(name, frame, tcfg, label, report, out, used)
    if SPECS[name].extra_numeric_columns:
        _map_usage_metrics(frame, tcfg, label, findings, report, out, used)
    dropped = [c for c in frame.columns if c not in used and c not in out]
    if dropped:
        log.info("%s: columns not in the contract, not used: %s", name, ", ".join(dropped))
    # copy=False: the source columns as they are, not copied into one block per dtype.
    return pd.DataFrame(out, index=frame.index, copy=False)


def _reporter(
    name: str, label: str, available: list[str], findings: Findings
) -> Callable[[str, str, str], None]:
    """``report(column, what, wanted)``: a problem listing the source's columns, close matches."""

    def report(column: str, what: str, wanted: str) -> None:
        close = difflib.get_close_matches(wanted, available, n=2, cutoff=0.6)
        close += [c for c in available if c.lower() == wanted.lower() and c not in close]
        maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(available[:15]) + (", ..." if len(available) > 15 else "")
        findings.add(name, column, what, f"Columns in {label}: {shown}.{maybe}")

    return report


def _map_contract_columns(
    name: str,
    frame: pd.DataFrame,
    tcfg: TableConfig,
    label: str,
    report: Callable[[str, str, str], None],
    out: dict[str, pd.Series],
    used: set[str],
) -> None:
    """Fill ``out`` with the contract's columns (constants, mapped or same-named columns)."""
    for column in SPECS[name].columns:
        if column.name in tcfg.values:
            out[column.name] = pd.Series(tcfg.values[column.name], index=frame.index)
            continue
        source = tcfg.columns.get(column.name)
        if source is not None:
            if source not in frame.columns:
                report(
                    column.name,
                    f"tables.{name}.columns maps {column.name} to {source!r}, which {label} "
                    "does not have",
                    source,
                )
                continue
        elif column.name in frame.columns:
            source = column.name
        else:
            if column.required:
                report(
                    column.name,
                    f"required column is missing from {label} (map it with "
                    f"tables.{name}.columns.{column.name}: <your column>)",
                    column.name,
                )
            continue
        out[column.name] = frame[source]
        used.add(source)


def _map_usage_metrics(
    frame: pd.DataFrame,
    tcfg: TableConfig,
    label: str,
    findings: Findings,
    report: Callable[[str, str, str], None],
    out: dict[str, pd.Series],
    used: set[str],
) -> None:
    """Add the usage metrics to ``out``: listed ones, renamed ones, else every numeric column."""
    contract = {c.name for c in SPECS["usage"].columns}
    renamed = {k: v for k, v in tcfg.columns.items() if k not in contract}
    if tcfg.metrics is not None:
        for metric in tcfg.metrics:
            source = renamed.get(metric, metric)
            if source not in frame.columns:
                report(metric, f"metric column {source!r} is not in {label}", source)
                continue
            out[metric] = frame[source]
            used.add(source)
        return
    for metric, source in renamed.items():
        if source not in frame.columns:
            report(metric, f"metric column {source!r} is not in {label}", source)
            continue
        out[metric] = frame[source]
        used.add(source)
    for source in frame.columns:
        if source in used or source in contract or source in out:
            continue
        s = frame[source]
        if (
            pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        ) or _mostly_numeric(s):
            # A metric with a few bad values ("1,234" among plain numbers) is still a metric:
            # validation reports the values instead of the whole metric vanishing.
            out[source] = s
            used.add(source)
        else:
            findings.warn(
                f"usage.{source}: not numeric, so not used as a metric (list it in "
                "tables.usage.metrics to have its values checked)."
            )
            used.add(source)


#: A text column whose values are numbers at least this often is a metric with bad values.
MOSTLY_NUMERIC = 0.9


def _mostly_numeric(s: pd.Series) -> bool:
    """Whether most non-empty values of a text column read as numbers."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return False
    text = s.dropna().astype("str").str.strip()
    text = text[text != ""]
    if text.empty:
        return False
    return float(pd.to_numeric(text, errors="coerce").notna().mean()) >= MOSTLY_NUMERIC


def tables_from_frames(
    frames: Mapping[str, pd.DataFrame | None],
    config: DatasetConfig | None = None,
    findings: Findings | None = None,
) -> Tables:
    """Map and validate in-memory source frames as if they had been read from files; pure.

    Parameters
    ----------
    frames
        Table name -> frame with the source's column names (as the config maps them); a
        missing or None event table becomes an empty table.
    config
        Column mapping, date formats, usage period, churn definition; default: all defaults.
    findings
        Problems and warnings already found (by ``load_dataset`` while reading).

    Raises
    ------
    DataValidationError
        Listing every problem.
    """
    config = config or DatasetConfig()
    findings = findings if findings is not None else Findings()
    mapped: dict[str, pd.DataFrame | None] = {}
    for name in TABLE_NAMES:
        frame = frames.get(name)
        mapped[name] = (
            None if frame is None else map_columns(name, frame, config.table(name), findings)
        )
    return validate_mapped(mapped, config, findings)


def aggregate_usage(frame: pd.DataFrame, how: str, findings: Findings) -> pd.DataFrame:
    """Combine mapped usage rows that share customer_id and date (``tables.usage.aggregate``).

    A transaction log has several purchases on some days; the contract wants one row per
    customer and period. Metrics are combined with ``how``, ``recorded_at`` takes the latest
    (the period is only fully known once its last row arrived). Non-numeric metrics are left
    alone so that validation reports them.
    """
    keys = [c for c in ("customer_id", "date") if c in frame.columns]
    if len(keys) < 2 or frame.empty:
        return frame
    metrics = [c for c in frame.columns if c not in ("customer_id", "date", "recorded_at")]
    if not all(pd.api.types.is_numeric_dtype(frame[m]) for m in metrics):
        return frame
    agg: dict[str, str] = dict.fromkeys(metrics, how)
    if "recorded_at" in frame.columns:
        agg["recorded_at"] = "max"
    out = frame.groupby(keys, sort=False, dropna=False, as_index=False).agg(agg)
    combined = len(frame) - len(out)
    if combined:
        findings.warn(
            f"usage: combined {combined:,} rows sharing customer_id and date with another "
            f"({how}, tables.usage.aggregate)."
        )
    return out


def customers_from_events(name: str, frame: pd.DataFrame, date_format: str | None) -> pd.DataFrame:
    """A customers table derived from a mapped event table (``customers_from``); pure.

    One row per customer_id; ``signup_date`` is the first event's date (the customer is known
    to exist from then on). Unparseable dates are left for validation of the event table to
    report.
    """
    time_col = "date" if name == "usage" else "timestamp"
    if "customer_id" not in frame.columns or time_col not in frame.columns:
        return pd.DataFrame({"customer_id": pd.Series(dtype="str")})
    raw = frame[time_col]
    if not pd.api.types.is_datetime64_any_dtype(raw):
        raw = raw.astype("str").str.strip()
    when = pd.to_datetime(raw, format=date_format or "ISO8601", errors="coerce")
    first = (
        pd.DataFrame({"customer_id": frame["customer_id"].astype("str"), "signup_date": when})
        .groupby("customer_id", sort=True)["signup_date"]
        .min()
    )
    return first.reset_index()


def validate_mapped(
    mapped: Mapping[str, pd.DataFrame | None],
    config: DatasetConfig,
    findings: Findings,
    consume: bool = False,
) -> Tables:
    """Validate mapped frames as the config says: aggregate usage, derive customers, check.

    ``consume``: ``mapped`` is a dict handed over, emptied as each table is checked (see
    ``validate_tables``), so loading holds each table once."""
    mapped = mapped if consume and isinstance(mapped, dict) else dict(mapped)
    usage_cfg = config.table("usage")
    if usage_cfg.aggregate and mapped.get("usage") is not None:
        mapped["usage"] = aggregate_usage(mapped["usage"], usage_cfg.aggregate, findings)
    source = config.customers_from
    if source is not None and mapped.get("customers") is None and mapped.get(source) is not None:
        time_col = "date" if source == "usage" else "timestamp"
        fmt = config.table(source).date_formats(source).get(time_col)
        mapped["customers"] = customers_from_events(source, mapped[source], fmt)
        findings.warn(
            f"customers: derived from {source} (customers_from): "
            f"{len(mapped['customers']):,} customers, signup_date = first {source} date."
        )
    return validate_tables(
        mapped,
        extraction_date=config.extraction_date,
        usage_period=config.table("usage").period,
        date_formats={t: config.table(t).date_formats(t) for t in TABLE_NAMES},
        churn_definition=config.churn.definition,
        inactivity_days=config.churn.inactivity_days,
        name=config.name,
        findings=findings,
        consume=True,  # ``mapped`` is ours here, or handed over
    )
