"""Load a dataset: find and read its tables, map them onto the data contract, validate them.

A dataset is either

- a folder of tables named after the contract (``customers.csv``, ``interactions.parquet``, ...;
  also ``.csv.gz``, ``.tsv``, ``.txt``, ``.pq``, ``.xlsx``), optionally with a ``dataset.yaml``
  inside it; sub-folders (such as the simulator's ``ground_truth/``) are ignored; or
- the path of a YAML dataset config, which maps a user's own file and column names onto the
  contract, so that a CRM export works without renaming anything.

``load_dataset(path)`` returns ``contract.Tables``, or raises ``DataValidationError`` listing every
problem at once (see ``churn.validation``); a config that cannot be understood raises
``DatasetConfigError`` before any table is read.

Dataset config (every key is optional except where said)
--------------------------------------------------------
.. code-block:: yaml

    name: acme                      # for messages and lineage; default: the YAML file's name
                                    # (the folder's name for a folder's dataset.yaml)
    base_dir: ../exports            # where the files are, relative to this YAML file;
                                    # default: the YAML's folder
    extraction_date: 2026-01-01     # when the data was extracted: nothing at or after it is known.
                                    # default: the day after the latest date in the tables (warned)
    tables:                         # one entry per contract table; each key below is optional
      customers:                    # the one required table
        file: crm_accounts.csv      # relative to base_dir; default: found by the table's name
        columns:                    # contract column -> your column (unmapped: same name)
          customer_id: AccountId
          signup_date: Created
        read: {sep: ";", encoding: latin-1}   # passed to the reader, see below
        date_format: "%d/%m/%Y"     # strftime format of every date column of the table, or a
                                    # mapping {contract column: format}; default: ISO 8601, then
                                    # a format guessed from the first value (warned)
      interactions: {file: tickets.parquet, columns: {timestamp: OpenedAt}}
      nps: {file: survey.xlsx, read: {sheet_name: Responses}}
      usage:
        file: usage.csv
        period: week                # day | week | month: what one row covers, starting at date.
                                    # default: inferred from the gaps between a customer's rows
        metrics: [active_users, logins]   # the metric columns (after mapping; `columns` can
                                    # rename them too); default: every other numeric column
    usage: {period: week, metrics: [...]}  # the same two keys at the top level (the simulator's
                                    # format); an alternative to tables.usage.period/metrics
    churn:
      definition: date              # date: customers.churn_date says who left and when
                                    # inactivity: no activity for inactivity_days days
                                    # flag: a static table; label says who left (no time
                                    # axis; read with churn.static.load_static)
      inactivity_days: 90           # required with definition: inactivity
      label: Churn                  # required with definition: flag
      positive: "Yes"               # the label's value for "left"; default 1 / True
    static:                         # definition: flag only; source column names
      features: [tenure, Contract]  # default: every column but the id, label and ignored
      ignore: [FN, FP]              # identifiers and leaky columns, never features
      categorical: [Tariff Plan]    # numeric codes to treat as categories
      drop_duplicates: true         # exact duplicate rows dropped before any split (warned)
    customers_from: usage           # a transaction log without a customers table: derive it
                                    # (signup_date = first event)
    # per table, also: values: {channel: web} (a contract column as one constant) and, for
    # usage, aggregate: sum | mean | max (rows sharing customer and period are combined)

``read`` accepts ``sep`` (``"\\t"``, or a regex such as ``"\\s+"``), ``encoding`` (default
``utf-8-sig``, which also reads plain UTF-8 and drops a byte-order mark), ``decimal``,
``thousands``, ``header`` (``null`` when the file has none), ``names`` (column names to use
then), ``skiprows``, ``na_values``, ``quotechar``, ``comment`` for delimited text, and
``sheet_name``, ``header``, ``names``, ``skiprows``, ``na_values`` for Excel. Parquet takes none.

Unknown keys are refused with the list of valid ones. Each section is a dataclass
(``DatasetConfig``, ``TableConfig``, ``ChurnConfig``) parsed by its own function, so a new key
is a new field plus its check.

What loading decides
--------------------
- A missing event table becomes ``contract.empty_table`` (warned); a missing customers table is
  a problem. A file named in the config that does not exist is a problem.
- A delimited file read as a single column, or failing to parse, is checked against other
  delimiters (``;``, tab, ``|``, ``,``); a likely one is named in the message instead of being
  used silently, because a ``;``-separated export usually also has decimal commas that would
  then be misread.
- A file that is not UTF-8 is reported with the line of the first bad byte and the encoding to
  set (``cp1252`` when it has Windows punctuation bytes, else ``latin-1``).
- Columns the contract does not know are dropped (logged), except usage metrics.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import difflib
import gzip
import logging
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from churn.contract import SPECS, TABLE_NAMES, USAGE_PERIODS, Tables
from churn.data.validation import DataValidationError, Findings, validate_tables
from churn.errors import ChurnError

log = logging.getLogger(__name__)

CONFIG_NAMES = ("dataset.yaml", "dataset.yml")
SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".pq", ".xlsx")
CHURN_DEFINITIONS = ("date", "inactivity", "flag")
#: How rows that share a customer and period are combined (``tables.usage.aggregate``).
USAGE_AGGREGATES = ("sum", "mean", "max")
CSV_READ_KEYS = frozenset(
    {
        "sep",
        "encoding",
        "decimal",
        "thousands",
        "header",
        "names",
        "skiprows",
        "na_values",
        "quotechar",
        "comment",
    }
)
EXCEL_READ_KEYS = frozenset({"sheet_name", "header", "names", "skiprows", "na_values"})
DEFAULT_ENCODING = "utf-8-sig"


class DatasetConfigError(ChurnError):
    """The dataset config (or the path given) cannot be understood; lists every issue."""

    def __init__(self, issues: list[str], source: str) -> None:
        self.issues = tuple(issues)
        n = len(issues)
        head = f"{source}: {n} problem{'s' * (n != 1)} in the dataset config:"
        super().__init__("\n".join([head, *(f"  - {i}" for i in issues)]))


# --- config ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableConfig:
    """Where one table is and how to read it (``tables.<name>`` in the config)."""

    file: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    read: Mapping[str, Any] = field(default_factory=dict)
    date_format: str | Mapping[str, str] | None = None
    #: usage only
    period: str | None = None
    #: usage only
    metrics: tuple[str, ...] | None = None
    #: usage only: combine rows that share customer and period (e.g. several purchases on one
    #: day of a transaction log) with sum, mean or max; default: such rows are a problem.
    aggregate: str | None = None
    #: Contract columns the source does not have, as one value for every row (e.g. a purchase
    #: log used as interactions: {channel: web, category: purchase}).
    values: Mapping[str, Any] = field(default_factory=dict)

    def date_formats(self, table: str) -> dict[str, str]:
        """Contract datetime column -> format."""
        if isinstance(self.date_format, Mapping):
            return dict(self.date_format)
        if self.date_format is None:
            return {}
        return {c.name: self.date_format for c in SPECS[table].columns if c.kind == "datetime"}


@dataclass(frozen=True)
class UsageConfig:
    """Top-level ``usage`` section: the simulator's spelling of tables.usage.period/metrics."""

    period: str | None = None
    metrics: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ChurnConfig:
    """How churn is defined (``churn`` in the config)."""

    definition: str = "date"
    inactivity_days: int | None = None
    #: definition flag: the customers column that says who left, and its value for "left".
    label: str | None = None
    positive: Any = None


@dataclass(frozen=True)
class StaticConfig:
    """Static-table mode (``static`` in the config; used with ``churn.definition: flag``).

    Column names are the source's, as written in the file (double spaces and all).
    """

    #: The feature columns; default: every column that is not the id, the label or ignored.
    features: tuple[str, ...] | None = None
    #: Columns never used: identifiers, and leaky columns derived from the outcome.
    ignore: tuple[str, ...] = ()
    #: Feature columns to treat as categories even if numeric (codes); text is always one.
    categorical: tuple[str, ...] = ()
    #: Drop exact duplicate rows before any split (warned with the count): a duplicate on both
    #: sides of a fold boundary is a test row the model has already seen.
    drop_duplicates: bool = True


@dataclass(frozen=True)
class DatasetConfig:
    """A parsed dataset config; ``tables`` holds an entry for every contract table."""

    name: str = "dataset"
    base_dir: Path = Path(".")
    extraction_date: pd.Timestamp | None = None
    tables: Mapping[str, TableConfig] = field(default_factory=dict)
    usage: UsageConfig = field(default_factory=UsageConfig)
    churn: ChurnConfig = field(default_factory=ChurnConfig)
    static: StaticConfig = field(default_factory=StaticConfig)
    #: Transaction logs have no customers table: derive it from this event table (one customer
    #: per id, signup_date = the first event's date).
    customers_from: str | None = None
    #: The YAML file it came from (None: a folder without one); not a config key.
    source: Path | None = None

    def table(self, name: str) -> TableConfig:
        return self.tables.get(name) or TableConfig()

    @property
    def where(self) -> str:
        """Where a user sets options, for hints."""
        if self.source is not None:
            return self.source.name
        return f"a dataset.yaml in {self.base_dir} (create it)"


_FILE_KEYS = ("source",)  # dataclass fields that are not config keys


def _keys(cls: type, exclude: tuple[str, ...] = ()) -> list[str]:
    return sorted(f.name for f in dataclasses.fields(cls) if f.name not in exclude)


def _check_keys(where: str, raw: Any, valid: list[str], issues: list[str]) -> dict[str, Any]:
    """The section as a dict; unknown keys and non-mappings become issues."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        issues.append(f"{where} must be a mapping (key: value), not {raw!r}")
        return {}
    for key in raw:
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            maybe = f" (did you mean {close[0]!r}?)" if close else ""
            issues.append(f"unknown key {key!r} in {where}{maybe}; valid keys: {', '.join(valid)}")
    return {k: v for k, v in raw.items() if k in valid}


def check_date_format(fmt: Any) -> str | None:
    """Why ``fmt`` is not a usable strftime format, or None when it is."""
    if not isinstance(fmt, str) or "%" not in fmt:
        return f"{fmt!r} is not a strftime format (write e.g. '%d/%m/%Y' for 31/12/2025)"
    try:
        # A bad directive (%Q) survives strftime but not the round trip through strptime.
        dt.datetime.strptime(dt.datetime(2001, 2, 3, 4, 5, 6).strftime(fmt), fmt)
    except ValueError as exc:
        return f"{fmt!r} is not a valid strftime format ({exc})"
    return None


def _parse_names(where: str, raw: Any, issues: list[str]) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(m, str) for m in raw):
        issues.append(f"{where} must be a list of column names, not {raw!r}")
        return None
    return tuple(raw)


def _parse_period(where: str, raw: Any, issues: list[str]) -> str | None:
    if raw is not None and raw not in USAGE_PERIODS:
        issues.append(f"{where} is {raw!r}; valid: {', '.join(USAGE_PERIODS)}")
        return None
    return raw


def _parse_table(name: str, raw: Any, issues: list[str]) -> TableConfig:
    where = f"tables.{name}"
    exclude = () if name == "usage" else ("period", "metrics", "aggregate")
    values = _check_keys(where, raw, _keys(TableConfig, exclude), issues)
    spec = SPECS[name]
    contract_cols = [c.name for c in spec.columns]
    columns = values.get("columns") or {}
    if not isinstance(columns, Mapping) or not all(isinstance(v, str) for v in columns.values()):
        issues.append(f"{where}.columns must map contract columns to your column names")
        columns = {}
    for key in columns:
        # In usage, a name outside the contract renames a metric.
        if key not in contract_cols and not spec.extra_numeric_columns:
            issues.append(
                f"{where}.columns: {key!r} is not a contract column of {name}; "
                f"valid: {', '.join(contract_cols)}"
            )
    constants = values.get("values") or {}
    if not isinstance(constants, Mapping):
        issues.append(f"{where}.values must map contract columns to one value each")
        constants = {}
    for key in constants:
        if key not in contract_cols:
            issues.append(
                f"{where}.values: {key!r} is not a contract column of {name}; "
                f"valid: {', '.join(contract_cols)}"
            )
    read = values.get("read") or {}
    if not isinstance(read, Mapping):
        issues.append(f"{where}.read must be a mapping of reader options")
        read = {}
    valid_read = sorted(CSV_READ_KEYS | EXCEL_READ_KEYS)
    for key in read:
        if key not in valid_read:
            issues.append(
                f"unknown key {key!r} in {where}.read; valid keys: {', '.join(valid_read)}"
            )
    if "encoding" in read:
        try:
            codecs.lookup(str(read["encoding"]))
        except LookupError:
            issues.append(
                f"{where}.read.encoding: {read['encoding']!r} is not an encoding Python knows "
                "(e.g. utf-8, latin-1, cp1252)"
            )
    date_format = values.get("date_format")
    datetime_cols = [c.name for c in spec.columns if c.kind == "datetime"]
    formats = date_format if isinstance(date_format, Mapping) else {None: date_format}
    for column, fmt in formats.items():
        label = f"{where}.date_format" + (f".{column}" if column else "")
        if column is not None and column not in datetime_cols:
            issues.append(
                f"{label}: {column!r} is not a date column of {name}; valid: "
                f"{', '.join(datetime_cols)}"
            )
        if fmt is not None and (why := check_date_format(fmt)):
            issues.append(f"{label}: {why}")
    file = values.get("file")
    if file is not None and not isinstance(file, str):
        issues.append(f"{where}.file must be a file name, not {file!r}")
        file = None
    return TableConfig(
        file=file,
        columns=dict(columns),
        read=dict(read),
        date_format=dict(date_format) if isinstance(date_format, Mapping) else date_format,
        period=_parse_period(f"{where}.period", values.get("period"), issues),
        metrics=_parse_names(f"{where}.metrics", values.get("metrics"), issues),
        aggregate=_parse_aggregate(f"{where}.aggregate", values.get("aggregate"), issues),
        values=dict(constants),
    )


def _parse_aggregate(where: str, raw: Any, issues: list[str]) -> str | None:
    if raw is not None and raw not in USAGE_AGGREGATES:
        issues.append(f"{where} is {raw!r}; valid: {', '.join(USAGE_AGGREGATES)}")
        return None
    return raw


def _parse_static(raw: Any, issues: list[str]) -> StaticConfig:
    values = _check_keys("static", raw, _keys(StaticConfig), issues)
    drop = values.get("drop_duplicates", True)
    if not isinstance(drop, bool):
        issues.append(f"static.drop_duplicates must be true or false, not {drop!r}")
        drop = True
    return StaticConfig(
        features=_parse_names("static.features", values.get("features"), issues),
        ignore=_parse_names("static.ignore", values.get("ignore"), issues) or (),
        categorical=_parse_names("static.categorical", values.get("categorical"), issues) or (),
        drop_duplicates=drop,
    )


def _parse_churn(raw: Any, issues: list[str]) -> ChurnConfig:
    values = _check_keys("churn", raw, _keys(ChurnConfig), issues)
    definition = values.get("definition", "date")
    if definition not in CHURN_DEFINITIONS:
        issues.append(f"churn.definition is {definition!r}; valid: {', '.join(CHURN_DEFINITIONS)}")
    days = values.get("inactivity_days")
    if definition == "inactivity" and (
        not isinstance(days, int) or isinstance(days, bool) or days <= 0
    ):
        issues.append(
            "churn.inactivity_days must be a positive whole number of days with "
            f"definition: inactivity (got {days!r})"
        )
    label = values.get("label")
    if definition == "flag" and not isinstance(label, str):
        issues.append(
            "churn.label must name the customers column that says who left, with "
            f"definition: flag (got {label!r}); e.g. label: Churn, positive: 'Yes'"
        )
    positive = values.get("positive")
    if positive is not None and not isinstance(positive, str | int | float | bool):
        issues.append(f"churn.positive must be a single value such as 'Yes' or 1, not {positive!r}")
    return ChurnConfig(definition=definition, inactivity_days=days, label=label, positive=positive)


def parse_config(
    raw: Mapping[str, Any] | None, base_dir: Path, source: Path | None = None
) -> DatasetConfig:
    """Build a ``DatasetConfig`` from the YAML's content; pure.

    Parameters
    ----------
    raw
        The parsed YAML (None or empty: all defaults).
    base_dir
        The folder relative paths start from (the YAML's folder, or the dataset folder).
    source
        The YAML file, for messages.

    Raises
    ------
    DatasetConfigError
        Listing every unknown key and invalid value.
    """
    issues: list[str] = []
    values = _check_keys("the dataset config", raw, _keys(DatasetConfig, _FILE_KEYS), issues)
    # A config of its own (acme.yaml) names the dataset; a folder's dataset.yaml, the folder.
    own = source is not None and source.name not in CONFIG_NAMES
    name = values.get("name", source.stem if own else base_dir.resolve().name or "dataset")
    if "base_dir" in values:
        base_dir = base_dir / str(values["base_dir"])
    extraction_date = None
    if values.get("extraction_date") is not None:
        try:
            extraction_date = pd.Timestamp(values["extraction_date"])
            if extraction_date.tzinfo is not None:
                extraction_date = extraction_date.tz_convert("UTC").tz_localize(None)
        except (ValueError, TypeError):
            issues.append(
                f"extraction_date {values['extraction_date']!r} is not a date (write 2026-01-01)"
            )
    raw_tables = _check_keys("tables", values.get("tables"), list(TABLE_NAMES), issues)
    tables = {t: _parse_table(t, raw_tables.get(t), issues) for t in TABLE_NAMES}
    usage_values = _check_keys("usage", values.get("usage"), _keys(UsageConfig), issues)
    usage = UsageConfig(
        period=_parse_period("usage.period", usage_values.get("period"), issues),
        metrics=_parse_names("usage.metrics", usage_values.get("metrics"), issues),
    )
    for key in ("period", "metrics"):
        top, inner = getattr(usage, key), getattr(tables["usage"], key)
        if top is not None and inner is not None and top != inner:
            issues.append(f"usage.{key} and tables.usage.{key} disagree; keep one of them")
    churn = _parse_churn(values.get("churn"), issues)
    static = _parse_static(values.get("static"), issues)
    if "static" in values and churn.definition != "flag":
        issues.append("the static section needs churn.definition: flag (and churn.label)")
    customers_from = values.get("customers_from")
    if customers_from is not None and customers_from not in TABLE_NAMES[1:]:
        issues.append(
            f"customers_from is {customers_from!r}; valid: {', '.join(TABLE_NAMES[1:])} (the "
            "event table to derive the customers from)"
        )
    if issues:
        raise DatasetConfigError(issues, str(source or base_dir))
    tables["usage"] = dataclasses.replace(
        tables["usage"],
        period=tables["usage"].period or usage.period,
        metrics=tables["usage"].metrics if tables["usage"].metrics is not None else usage.metrics,
    )
    return DatasetConfig(
        name=str(name),
        base_dir=base_dir,
        extraction_date=extraction_date,
        tables=tables,
        usage=usage,
        churn=churn,
        static=static,
        customers_from=customers_from,
        source=source,
    )


def load_config(path: str | Path) -> DatasetConfig:
    """Read the dataset config for a folder (its dataset.yaml, if any) or a YAML file."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in CONFIG_NAMES if (path / n).is_file()]
        if not found:
            return parse_config(None, path)
        path = found[0]
    elif not path.exists():
        raise DatasetConfigError(
            ["no such folder or file; pass a dataset folder or a dataset YAML"], str(path)
        )
    elif path.suffix.lower() not in (".yaml", ".yml"):
        raise DatasetConfigError(
            [
                f"{path.name} is a single file; pass the folder that holds the tables, or a "
                "dataset YAML that names the files"
            ],
            str(path),
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DatasetConfigError([f"not valid YAML: {exc}"], str(path)) from None
    return parse_config(raw, path.parent, source=path)


# --- reading files -----------------------------------------------------------------------------


def _find_file(name: str, config: DatasetConfig, findings: Findings) -> Path | None:
    tcfg = config.table(name)
    if tcfg.file is not None:
        path = config.base_dir / tcfg.file
        if not path.is_file():
            findings.add(
                name,
                None,
                f"file {tcfg.file} (tables.{name}.file) not found in {config.base_dir}",
                "Fix the file name or base_dir in the dataset config.",
            )
            return None
        return path
    found = [config.base_dir / f"{name}{s}" for s in SUFFIXES]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        findings.add(
            name,
            None,
            f"several files could be the {name} table ({', '.join(p.name for p in found)})",
            f"Keep one, or name it in {config.where}: tables.{name}.file.",
        )
        return None
    if found:
        return found[0]
    looked = f"looked for {name} + {'|'.join(SUFFIXES)} in {config.base_dir}"
    if name == "customers":
        findings.add(
            name,
            None,
            f"no customers file found ({looked})",
            f"Add it, or name it in {config.where}: tables.customers.file.",
        )
    else:
        findings.warn(f"{name}: no file found ({looked}); continuing without {name}.")
    return None


def _open_text(path: Path, encoding: str):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, errors="replace", newline="")
    return path.open(encoding=encoding, errors="replace", newline="")


def _guess_sep(path: Path, encoding: str, used: str) -> str | None:
    """A delimiter that splits the file's first lines better than ``used``, if any."""
    with _open_text(path, encoding) as fh:
        sample = "".join(fh.readline() for _ in range(20))
    header = sample.splitlines()[0] if sample else ""
    candidates = "".join(c for c in ",;\t|" if c != used)
    try:
        sep = csv.Sniffer().sniff(sample, delimiters=candidates).delimiter
    except csv.Error:
        sep = max(candidates, key=header.count)
    # The header must split too: the sniffer can pick a character that only the data holds.
    return sep if header.count(sep) else None


def _sep_name(sep: str) -> str:
    return {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(sep, repr(sep))


def _encoding_problem(
    path: Path, name: str, encoding: str, config: DatasetConfig
) -> tuple[str, str]:
    """Which line breaks the encoding, and the hint naming the encoding to set instead."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read(64 * 2**20)  # the first bad byte is almost always early
    shown = (
        "UTF-8"
        if encoding.lower().replace("_", "-") in ("utf-8", "utf-8-sig", "utf8")
        else encoding
    )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        suggestion, where = "utf-16", "it starts with a UTF-16 byte-order mark"
    else:
        try:
            data.decode(encoding)
            where = f"it is not valid {shown}"
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            where = f"line {line} is not valid {shown} (byte 0x{data[exc.start]:02x})"
        windows_bytes = any(0x80 <= b <= 0x9F for b in data)
        try:
            data.decode("cp1252")
            cp1252_ok = True
        except UnicodeDecodeError:
            cp1252_ok = False
        suggestion = "cp1252" if windows_bytes and cp1252_ok else "latin-1"
    return (
        f"{path.name}: {where}",
        f"It looks like {suggestion}: set read: {{encoding: {suggestion}}} under tables.{name} "
        f"in {config.where}.",
    )


def read_table(
    name: str, path: Path, config: DatasetConfig, findings: Findings
) -> pd.DataFrame | None:
    """Read one table's file as it is (source column names); None when it cannot be read.

    Problems (encoding, delimiter, unparseable file) are added to ``findings``.
    """
    try:
        return _read_file(name, path, config, findings)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        # A corrupt Parquet or Excel file, a missing sheet, options that contradict the file:
        # the reader's own words, without its traceback.
        findings.add(
            name,
            None,
            f"{path.name} cannot be read ({type(exc).__name__}: {exc})",
            f"Check the file and tables.{name}.read in {config.where}.",
        )
        return None


def _read_file(
    name: str, path: Path, config: DatasetConfig, findings: Findings
) -> pd.DataFrame | None:
    tcfg = config.table(name)
    id_column = tcfg.columns.get("customer_id", "customer_id")
    suffix = (
        "".join(path.suffixes[-2:]).lower() if path.name.endswith(".gz") else path.suffix.lower()
    )
    read = dict(tcfg.read)
    if suffix in (".parquet", ".pq"):
        if read:
            findings.warn(f"{name}: read options are ignored for Parquet ({path.name}).")
        return pd.read_parquet(path)
    if suffix == ".xlsx":
        unknown = set(read) - EXCEL_READ_KEYS
        if unknown:
            findings.add(
                name,
                None,
                f"read options {sorted(unknown)} do not apply to Excel ({path.name})",
                f"Valid for Excel: {', '.join(sorted(EXCEL_READ_KEYS))}.",
            )
            return None
        read.setdefault("sheet_name", 0)
        return pd.read_excel(path, dtype={id_column: "str"}, **read)
    unknown = set(read) - CSV_READ_KEYS
    if unknown:
        findings.add(
            name,
            None,
            f"read options {sorted(unknown)} do not apply to delimited text ({path.name})",
            f"Valid: {', '.join(sorted(CSV_READ_KEYS))}.",
        )
        return None
    read.setdefault("sep", "\t" if suffix == ".tsv" else ",")
    read.setdefault("encoding", DEFAULT_ENCODING)
    sep_hint = f"Set read: {{sep: '<delimiter>'}} under tables.{name} in {config.where}."
    try:
        frame = pd.read_csv(path, dtype={id_column: "str"}, **read)
    except UnicodeDecodeError:
        findings.add(name, None, *_encoding_problem(path, name, read["encoding"], config))
        return None
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    except pd.errors.ParserError as exc:
        guess = _guess_sep(path, read["encoding"], read["sep"])
        if guess is not None:
            findings.add(
                name,
                None,
                f"{path.name} looks like {_sep_name(guess)}-separated (reading it with "
                f"{_sep_name(read['sep'])} failed)",
                f"Set read.sep: {guess!r} under tables.{name} in {config.where}.",
            )
        else:
            findings.add(name, None, f"{path.name} cannot be read: {exc}", sep_hint)
        return None
    if frame.shape[1] == 0:
        if name == "customers":
            findings.add(name, None, f"{path.name} is empty", "Export the customer accounts again.")
        else:
            findings.warn(f"{name}: {path.name} is empty; continuing without {name}.")
        return None
    if frame.shape[1] == 1:
        guess = _guess_sep(path, read["encoding"], read["sep"])
        if guess is not None:
            findings.add(
                name,
                None,
                f"{path.name} was read as one column {str(frame.columns[0])[:60]!r}; it looks "
                f"like {_sep_name(guess)}-separated",
                f"Set read.sep: {guess!r} under tables.{name} in {config.where}"
                + (
                    " (and read.decimal: ',' if numbers use decimal commas)."
                    if guess == ";"
                    else "."
                ),
            )
            return None
    return frame


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
    frame = frame.rename(columns=str)
    available = list(frame.columns)
    spec = SPECS[name]

    def report(column: str, what: str, wanted: str) -> None:
        close = difflib.get_close_matches(wanted, available, n=2, cutoff=0.6)
        close += [c for c in available if c.lower() == wanted.lower() and c not in close]
        maybe = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        shown = ", ".join(available[:15]) + (", ..." if len(available) > 15 else "")
        findings.add(name, column, what, f"Columns in {label}: {shown}.{maybe}")

    out: dict[str, pd.Series] = {}
    used: set[str] = set()
    for column in spec.columns:
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
    if spec.extra_numeric_columns:
        contract = {c.name for c in spec.columns}
        renamed = {k: v for k, v in tcfg.columns.items() if k not in contract}
        if tcfg.metrics is not None:
            for metric in tcfg.metrics:
                source = renamed.get(metric, metric)
                if source not in frame.columns:
                    report(metric, f"metric column {source!r} is not in {label}", source)
                    continue
                out[metric] = frame[source]
                used.add(source)
        else:
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
                if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                    out[source] = s
                    used.add(source)
                else:
                    findings.warn(
                        f"usage.{source}: not numeric, so not used as a metric (list it in "
                        "tables.usage.metrics to have its values checked)."
                    )
                    used.add(source)
    dropped = [c for c in frame.columns if c not in used and c not in out]
    if dropped:
        log.info("%s: columns not in the contract, not used: %s", name, ", ".join(dropped))
    return pd.DataFrame(out, index=frame.index)


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
    return _validate(mapped, config, findings)


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


def _validate(
    mapped: Mapping[str, pd.DataFrame | None], config: DatasetConfig, findings: Findings
) -> Tables:
    mapped = dict(mapped)
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
    )


def load_dataset(path: str | Path) -> Tables:
    """Read, map and validate a dataset folder or dataset YAML.

    Parameters
    ----------
    path
        A folder of tables (optionally with a dataset.yaml), or a dataset YAML file.

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
                "with churn.static.load_static (see docs/bring-your-own-data.md)"
            ],
            str(config.source or path),
        )
    findings = Findings()
    frames: dict[str, pd.DataFrame | None] = {}
    for name in TABLE_NAMES:
        if name == "customers" and config.customers_from and config.table(name).file is None:
            # Derived from the event table after it is read (see _validate).
            frames[name] = None
            continue
        file = _find_file(name, config, findings)
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
    return _validate(frames, config, findings)


def read_static_source(path: str | Path) -> tuple[DatasetConfig, pd.DataFrame, Findings]:
    """Read a static-table dataset's customers file as it is (source column names).

    For ``churn.definition: flag``: the table is checked and prepared by
    ``churn.static.prepare_static``, which knows the static section of the config.

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
    file = _find_file("customers", config, findings)
    frame = None if file is None else read_table("customers", file, config, findings)
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
    if tables.warnings:
        lines.append(f"warnings ({len(tables.warnings)}):")
        lines += [f"  - {w}" for w in tables.warnings]
    return "\n".join(lines)
