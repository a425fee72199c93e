"""The dataset config: a YAML that maps a user's own files and columns onto the data contract.

Each section is a frozen pydantic model (``DatasetConfig``, ``TableConfig``, ``UsageConfig``,
``ChurnConfig``, ``StaticConfig``): a new key is a new field, and ``churn config-schema dataset``
publishes the JSON Schema so that editors can complete and check the YAML. ``parse_config``
turns every problem (an unknown key, with the nearest valid one suggested; a value of the wrong
type; a value that is not allowed) into one line of a single ``DatasetConfigError``.

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
        ignore: [churn_score]       # source columns never read (never features)
        join:                       # static tables: more files of the same customers, joined
          - {file: billing.csv, columns: {customer_id: Account}}   # one to one on the id
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
      account_history:              # optional: plan, arr, seats_licensed, segment, region,
        file: plan_changes.csv      # contract_months as they changed (one row per customer
        columns: {valid_from: ChangedOn}  # and valid_from); features then use the value in
                                    # force at each snapshot instead of today's extract
    usage: {period: week, metrics: [...]}  # the same two keys at the top level (the simulator's
                                    # format); an alternative to tables.usage.period/metrics
    churn:
      definition: date              # date: customers.churn_date says who left and when
                                    # inactivity: no activity for inactivity_days days
                                    # flag: a static table; label says who left (no time
                                    # axis; read with churn.static_table.load_static)
      inactivity_days: 90           # required with definition: inactivity
      label: Churn                  # required with definition: flag
      positive: "Yes"               # the label's value for "left"; default 1 / True
    static:                         # definition: flag only; source column names
      features: [tenure, Contract]  # default: every column but the id, label and ignored
      ignore: [FN, FP]              # identifiers and leaky columns, never features
      categorical: [Tariff Plan]    # numeric codes to treat as categories
      drop_duplicates: true         # exact duplicate rows dropped before any split (warned)
      holdout: {column: split, test_values: [test]}   # or {file: test.csv}, {date: Signed,
                                    # after: 2024-06-30} or {fraction: 0.2, seed: 0}: train on
                                    # the rest, report every metric on these rows
      sampling: {population_churn_rate: 0.02}   # or {churner_fraction: 1, stayer_fraction:
                                    # 0.1}: the training rows were sampled; probabilities are
                                    # corrected for it (odds correction)
    customers_from: usage           # a transaction log without a customers table: derive it
                                    # (signup_date = first event)
    evaluation:                     # churn train's fixed-as_of protocol (instead of the rolling
      as_of: 1997-10-01             # out-of-time split): learn from what was known before as_of,
      horizon_days: 273             # test "churned in [as_of, as_of + horizon_days)";
      train_horizon_days: 91        # training labels' horizon (default horizon_days): training
                                    # snapshots end train_horizon_days before as_of
      first_snapshot: 1997-04-02    # default: snapshots.warmup_days after the history begins
    # per table, also: values: {channel: web} (a contract column as one constant) and, for
    # usage, aggregate: sum | mean | max (rows sharing customer and period are combined)

``read`` accepts ``sep`` (``"\\t"``, or a regex such as ``"\\s+"``), ``encoding`` (default
``utf-8-sig``, which also reads plain UTF-8 and drops a byte-order mark), ``decimal``,
``thousands``, ``header`` (``null`` when the file has none), ``names`` (column names to use
then), ``skiprows``, ``na_values``, ``quotechar``, ``comment`` for delimited text, and
``sheet_name``, ``header``, ``names``, ``skiprows``, ``na_values`` for Excel. Parquet takes none.
"""

from __future__ import annotations

import codecs
import datetime as dt
import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from churn.contract import SPECS, TABLE_NAMES
from churn.errors import ChurnError

CONFIG_NAMES = ("dataset.yaml", "dataset.yml")
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
#: Keys of a table entry that only the usage table has.
USAGE_ONLY_KEYS = ("period", "metrics", "aggregate")

Text = Annotated[str, Strict()]
Names = tuple[Text, ...]
# Literal types spelled out (a type checker needs them literal); the contract's values, in order.
Period = Literal["day", "week", "month"]
Aggregate = Literal["sum", "mean", "max"]
Definition = Literal["date", "inactivity", "flag"]
EventTable = Literal["interactions", "nps", "usage"]


class DatasetConfigError(ChurnError):
    """The dataset config (or the path given) cannot be understood; lists every issue."""

    def __init__(self, issues: list[str], source: str) -> None:
        self.issues = tuple(issues)
        n = len(issues)
        head = f"{source}: {n} problem{'s' * (n != 1)} in the dataset config:"
        super().__init__("\n".join([head, *(f"  - {i}" for i in issues)]))


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


#: Written in a validator's message, replaced by the key path of the value (see _problem).
WHERE = "{where}"


def _date_format_shape(value: Any) -> Any:
    """A format, or a mapping {contract column: format}; each format must parse."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        lines = [
            f"{WHERE}.{column}: {why}"
            for column, fmt in value.items()
            if fmt is not None and (why := check_date_format(fmt))
        ]
        if lines:
            raise ValueError("\n".join(lines))
        return dict(value)
    if why := check_date_format(value):
        raise ValueError(f"{WHERE}: {why}")
    return value


def _defer(info: ValidationInfo, lines: list[str]) -> None:
    """Report problems that must not stop validating the rest (see ``parse_config``)."""
    if not lines:
        return
    if info.context is not None and "issues" in info.context:
        info.context["issues"].extend(lines)
    else:
        raise ValueError("\n".join(lines))


class _Section(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, use_attribute_docstrings=True
    )


class JoinConfig(_Section):
    """One more customers file joined one to one on the id (``tables.customers.join[i]``)."""

    file: Text
    """The file, relative to base_dir."""
    columns: dict[Text, Text] = Field(default_factory=dict)
    """Name in the joined table -> this file's column; customer_id names this file's id column
    (default: the customers table's id column name)."""
    read: dict[Text, Any] = Field(default_factory=dict)
    """Reader options, as for a table."""


class TableConfig(_Section):
    """Where one table is and how to read it (``tables.<name>`` in the config)."""

    file: Text | None = None
    """The file, relative to base_dir; default: found by the table's name."""
    columns: dict[Text, Text] = Field(default_factory=dict)
    """Contract column -> your column (unmapped: same name); for usage, also metric renames."""
    read: dict[Text, Any] = Field(default_factory=dict)
    """Reader options: sep, encoding, decimal, thousands, header, names, skiprows, na_values,
    quotechar, comment (delimited text); sheet_name, header, names, skiprows, na_values (Excel)."""
    date_format: Annotated[
        Text | dict[Text, Text | None] | None, BeforeValidator(_date_format_shape)
    ] = None
    """strftime format of every date column, or {contract column: format}; default ISO 8601."""
    period: Period | None = None
    """usage only: what one row covers, starting at date; default: inferred."""
    metrics: Names | None = None
    """usage only: the metric columns (after mapping); default: every other numeric column."""
    aggregate: Aggregate | None = None
    """usage only: combine rows that share customer and period (e.g. several purchases on one
    day of a transaction log) with sum, mean or max; default: such rows are a problem."""
    values: dict[Text, Any] = Field(default_factory=dict)
    """Contract columns the source does not have, as one value for every row (e.g. a purchase
    log used as interactions: {channel: web, category: purchase})."""
    ignore: Names = ()
    """Source columns never read, so never features: e.g. a usage metric or an optional
    contract column known only after the outcome (a vendor churn score, a satisfaction survey
    taken at exit). Static tables use static.ignore."""
    join: tuple[JoinConfig, ...] = ()
    """customers of a static table only: more files of the same customers, joined one to one
    on the id (an export in several files)."""

    def date_formats(self, table: str) -> dict[str, str]:
        """Contract datetime column -> format."""
        if isinstance(self.date_format, Mapping):
            return dict(self.date_format)
        if self.date_format is None:
            return {}
        return {c.name: self.date_format for c in SPECS[table].columns if c.kind == "datetime"}


class UsageConfig(_Section):
    """Top-level ``usage`` section: the simulator's spelling of tables.usage.period/metrics."""

    period: Period | None = None
    metrics: Names | None = None


class ChurnConfig(_Section):
    """How churn is defined (``churn`` in the config)."""

    definition: Definition = "date"
    """date: customers.churn_date; inactivity: no activity for inactivity_days days; flag: a
    static table whose label column says who left."""
    inactivity_days: Annotated[int, Strict(), Field(gt=0)] | None = None
    """Required with definition: inactivity."""
    label: Text | None = None
    """definition flag: the customers column that says who left."""
    positive: Any = None
    """definition flag: the label's value for "left"; default 1 / True."""

    @field_validator("positive")
    @classmethod
    def _positive_is_one_value(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | int | float | bool):
            raise ValueError(
                f"churn.positive must be a single value such as 'Yes' or 1, not {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _definition_has_what_it_needs(self) -> ChurnConfig:
        if self.definition == "inactivity" and self.inactivity_days is None:
            raise ValueError(
                "churn.inactivity_days must be a positive whole number of days with "
                f"definition: inactivity (got {self.inactivity_days!r})"
            )
        if self.definition == "flag" and self.label is None:
            raise ValueError(
                "churn.label must name the customers column that says who left, with "
                f"definition: flag (got {self.label!r}); e.g. label: Churn, positive: 'Yes'"
            )
        return self


Share = Annotated[float, Field(gt=0, lt=1)]


class HoldoutConfig(_Section):
    """Held-out rows of a static table (``static.holdout``): exactly one way of choosing them."""

    column: Text | None = None
    """A column whose test_values mark the held-out rows (the column is never a feature)."""
    test_values: tuple[Any, ...] | None = None
    """With column: the values of the held-out rows."""
    file: Text | None = None
    """A second file with the same columns, relative to base_dir: its rows are held out."""
    date: Text | None = None
    """A date column: rows dated after ``after`` are held out (out of time; never a feature)."""
    after: Annotated[
        pd.Timestamp | None,
        BeforeValidator(lambda v: _timestamp(v, "static.holdout.after")),
        WithJsonSchema({"type": ["string", "null"], "format": "date"}),
    ] = None
    """With date: rows dated strictly after this day are held out."""
    fraction: Share | None = None
    """A stratified random share of the rows, drawn with ``seed``."""
    seed: Annotated[int, Strict()] = 0

    @model_validator(mode="after")
    def _one_way(self) -> HoldoutConfig:
        ways = [k for k in ("column", "file", "date", "fraction") if getattr(self, k) is not None]
        if len(ways) != 1:
            raise ValueError(
                "static.holdout takes exactly one of column (with test_values), file, date (with "
                f"after) or fraction; got {', '.join(ways) or 'none'}"
            )
        if self.column is not None and not self.test_values:
            raise ValueError("static.holdout.column needs test_values: [the held-out values]")
        if self.date is not None and self.after is None:
            raise ValueError("static.holdout.date needs after: DATE (rows after it are held out)")
        return self


class SamplingConfig(_Section):
    """How a static table's training rows were sampled (``static.sampling``)."""

    population_churn_rate: Share | None = None
    """The churn rate of the population the model will score."""
    churner_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    """Share of the population's churners kept in the training rows."""
    stayer_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    """Share of the population's stayers kept in the training rows."""

    @model_validator(mode="after")
    def _one_way(self) -> SamplingConfig:
        fractions = (self.churner_fraction, self.stayer_fraction)
        by_rate = self.population_churn_rate is not None
        if by_rate == any(f is not None for f in fractions) or (not by_rate and None in fractions):
            raise ValueError(
                "static.sampling takes population_churn_rate, or both churner_fraction and "
                "stayer_fraction"
            )
        return self

    def odds_factor(self, training_rate: float) -> float:
        """Population odds / training odds: the factor that undoes the sampling."""
        if self.population_churn_rate is not None:
            pop = self.population_churn_rate
            return (pop / (1 - pop)) / (training_rate / (1 - training_rate))
        return float(self.stayer_fraction) / float(self.churner_fraction)  # type: ignore[arg-type]


class StaticConfig(_Section):
    """Static-table mode (``static`` in the config; used with ``churn.definition: flag``).

    Column names are the source's, as written in the file (double spaces and all).
    """

    features: Names | None = None
    """The feature columns; default: every column that is not the id, the label or ignored."""
    ignore: Names = ()
    """Columns never used: identifiers, and leaky columns derived from the outcome."""
    categorical: Names = ()
    """Feature columns to treat as categories even if numeric (codes); text is always one."""
    drop_duplicates: Annotated[bool, Strict()] = True
    """Drop exact duplicate rows before any split (warned with the count): a duplicate on both
    sides of a fold boundary is a test row the model has already seen."""
    holdout: HoldoutConfig | None = None
    """Rows to test on, never trained on: {column: NAME, test_values: [...]}, {file: PATH} (same
    columns), {date: COLUMN, after: DATE} (out of time) or {fraction: 0.2} (stratified, seeded);
    default: repeated stratified cross-validation only."""
    sampling: SamplingConfig | None = None
    """How the training rows were sampled, so that probabilities are corrected for the prior
    shift: {population_churn_rate: 0.02} or {churner_fraction: 1.0, stayer_fraction: 0.1}."""


class EvaluationConfig(_Section):
    """The fixed-as_of protocol of ``churn train`` (``evaluation`` in the config).

    Everything is learned from what was known before ``as_of``: training snapshots end
    ``train_horizon_days`` before it, so their labels are known then; the test ranks the
    customers active at ``as_of`` for churn in ``[as_of, as_of + horizon_days)``.
    """

    as_of: Annotated[
        pd.Timestamp,
        BeforeValidator(lambda v: _timestamp(v, "evaluation.as_of")),
        WithJsonSchema({"type": "string", "format": "date"}),
    ]
    """The test date: nothing at or after it is used to train or to choose anything."""
    horizon_days: Annotated[int, Strict(), Field(gt=0)]
    """The test label's window, in days from as_of (CDNOW: 273 = weeks 40-78)."""
    train_horizon_days: Annotated[int, Strict(), Field(gt=0)] | None = None
    """The training labels' window; default horizon_days. Shorter when the history before
    as_of is shorter than a horizon (CDNOW: 91 days of weeks 1-39)."""

    first_snapshot: Annotated[
        pd.Timestamp | None,
        BeforeValidator(lambda v: _timestamp(v, "evaluation.first_snapshot")),
        WithJsonSchema({"type": ["string", "null"], "format": "date"}),
    ] = None
    """The first training snapshot; default: snapshots.warmup_days after the history begins."""

    def train_horizon(self) -> int:
        return self.train_horizon_days or self.horizon_days


def _timestamp(value: Any, key: str = "extraction_date") -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(f"{key} {value!r} is not a date (write 2026-01-01)") from None
    if ts is pd.NaT:
        raise ValueError(f"{key} {value!r} is not a date (write 2026-01-01)")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _name(value: Any) -> Any:
    # `name: 2024` is a name too.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class DatasetConfig(_Section):
    """A parsed dataset config; ``tables`` holds an entry for every contract table."""

    name: Annotated[Text, BeforeValidator(_name)] = "dataset"
    """For messages and lineage; default: the YAML file's name (the folder's for dataset.yaml)."""
    base_dir: Path = Path(".")
    """Where the files are, relative to the YAML file; default: the YAML's folder."""
    extraction_date: Annotated[
        pd.Timestamp | None,
        BeforeValidator(_timestamp),
        WithJsonSchema({"type": ["string", "null"], "format": "date"}),
    ] = None
    """When the data was extracted: nothing at or after it is known; default: the day after
    the latest date in the tables (warned)."""
    tables: dict[str, TableConfig] = Field(default_factory=dict)
    """One entry per contract table (customers, interactions, nps, usage, account_history)."""
    usage: UsageConfig = Field(default_factory=UsageConfig)
    churn: ChurnConfig = Field(default_factory=ChurnConfig)
    static: StaticConfig = Field(default_factory=StaticConfig)
    customers_from: EventTable | None = None
    """Transaction logs have no customers table: derive it from this event table (one customer
    per id, signup_date = the first event's date)."""
    evaluation: EvaluationConfig | None = None
    """churn train's fixed-as_of protocol; default: the rolling out-of-time split."""
    source: SkipJsonSchema[Path | None] = None
    """The YAML file it came from (None: a folder without one); not a config key."""

    @model_validator(mode="before")
    @classmethod
    def _source_is_not_a_key(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context is None or not isinstance(data, Mapping) or "source" not in data:
            return data
        valid = ", ".join(sorted(k for k in cls.model_fields if k != "source"))
        _defer(info, [f"unknown key 'source' in the dataset config; valid keys: {valid}"])
        return {k: v for k, v in data.items() if k != "source"}

    @field_validator("usage", "churn", "static", mode="before")
    @classmethod
    def _empty_section_is_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("tables", mode="before")
    @classmethod
    def _known_tables_and_keys(cls, raw: Any, info: ValidationInfo) -> Any:
        """Unknown tables and usage-only keys elsewhere are reported; the rest is validated."""
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            return raw
        lines, kept = [], {}
        for name, entry in raw.items():
            if name not in TABLE_NAMES:
                lines.append(_unknown_key("tables", str(name), list(TABLE_NAMES)))
                continue
            if name != "usage" and isinstance(entry, Mapping):
                valid = sorted(k for k in TableConfig.model_fields if k not in USAGE_ONLY_KEYS)
                lines += [
                    _unknown_key(f"tables.{name}", key, valid)
                    for key in entry
                    if key in USAGE_ONLY_KEYS
                ]
                entry = {k: v for k, v in entry.items() if k not in USAGE_ONLY_KEYS}
            kept[name] = {} if entry is None else entry
        _defer(info, lines)
        return kept

    @field_validator("tables")
    @classmethod
    def _tables_fit_the_contract(cls, tables: dict[str, TableConfig]) -> dict[str, TableConfig]:
        lines = [line for name, t in tables.items() for line in _table_problems(name, t)]
        if lines:
            raise ValueError("\n".join(lines))
        return tables

    @model_validator(mode="after")
    def _sections_agree(self) -> DatasetConfig:
        lines = []
        inner = self.tables.get("usage") or TableConfig()
        for key in ("period", "metrics"):
            top, own = getattr(self.usage, key), getattr(inner, key)
            if top is not None and own is not None and top != own:
                lines.append(f"usage.{key} and tables.usage.{key} disagree; keep one of them")
        if "static" in self.model_fields_set and self.churn.definition != "flag":
            lines.append("the static section needs churn.definition: flag (and churn.label)")
        if self.evaluation is not None and self.churn.definition == "flag":
            lines.append("the evaluation section needs a time axis; a static table has none")
        if self.evaluation is not None and self.extraction_date is not None:
            end = self.evaluation.as_of + pd.Timedelta(days=self.evaluation.horizon_days)
            if end > self.extraction_date:
                lines.append(
                    f"evaluation: as_of {self.evaluation.as_of.date()} + horizon_days "
                    f"{self.evaluation.horizon_days} ends {end.date()}, after the extraction "
                    f"date {self.extraction_date.date()}: the test labels would be unknown; "
                    "use an earlier as_of or a shorter horizon"
                )
        if lines:
            raise ValueError("\n".join(lines))
        return self

    def table(self, name: str) -> TableConfig:
        return self.tables.get(name) or TableConfig()

    @property
    def where(self) -> str:
        """Where a user sets options, for hints."""
        if self.source is not None:
            return self.source.name
        return f"a dataset.yaml in {self.base_dir} (create it)"


def _table_problems(name: str, t: TableConfig) -> list[str]:
    """What in one table's entry does not fit that table of the contract."""
    where, spec = f"tables.{name}", SPECS[name]
    contract_cols = [c.name for c in spec.columns]
    valid = ", ".join(contract_cols)
    lines = [
        f"{where}.columns: {key!r} is not a contract column of {name}; valid: {valid}"
        for key in t.columns
        # In usage, a name outside the contract renames a metric.
        if key not in contract_cols and not spec.extra_numeric_columns
    ]
    lines += [
        f"{where}.values: {key!r} is not a contract column of {name}; valid: {valid}"
        for key in t.values
        if key not in contract_cols
    ]
    valid_read = sorted(CSV_READ_KEYS | EXCEL_READ_KEYS)
    lines += [
        f"unknown key {key!r} in {where}.read; valid keys: {', '.join(valid_read)}"
        for key in t.read
        if key not in valid_read
    ]
    lines += _read_problems(f"{where}.read", t.read)
    if t.join and name != "customers":
        lines.append(f"{where}.join: only tables.customers can join more files")
    for i, extra in enumerate(t.join):
        lines += [
            f"unknown key {key!r} in {where}.join[{i}].read; valid keys: {', '.join(valid_read)}"
            for key in extra.read
            if key not in valid_read
        ]
        lines += _read_problems(f"{where}.join[{i}].read", extra.read)
    if isinstance(t.read.get("encoding"), str):
        try:
            codecs.lookup(str(t.read["encoding"]))
        except LookupError:
            lines.append(
                f"{where}.read.encoding: {t.read['encoding']!r} is not an encoding Python knows "
                "(e.g. utf-8, latin-1, cp1252)"
            )
    if isinstance(t.date_format, Mapping):
        datetime_cols = [c.name for c in spec.columns if c.kind == "datetime"]
        lines += [
            f"{where}.date_format.{column}: {column!r} is not a date column of {name}; valid: "
            f"{', '.join(datetime_cols)}"
            for column in t.date_format
            if column not in datetime_cols
        ]
    return lines


def _is_char(v: Any) -> bool:
    return isinstance(v, str) and len(v) == 1


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_texts(v: Any) -> bool:
    return isinstance(v, list | tuple) and all(isinstance(x, str) for x in v)


def _is_na_value(v: Any) -> bool:
    return isinstance(v, str | int | float) and not isinstance(v, bool)


#: What each ``read`` option must be (the types pandas' readers accept), and how we say it.
READ_TYPES: dict[str, tuple[Any, str]] = {
    "sep": (lambda v: isinstance(v, str) and len(v) >= 1, "a delimiter such as ',' or ';'"),
    "encoding": (lambda v: isinstance(v, str), "an encoding name such as utf-8"),
    "decimal": (_is_char, "one character such as ',' or '.'"),
    "thousands": (lambda v: v is None or _is_char(v), "one character such as ',' or '.'"),
    "quotechar": (_is_char, "one character such as '\"'"),
    "comment": (lambda v: v is None or _is_char(v), "one character such as '#'"),
    "header": (
        lambda v: v is None or _is_count(v) or (isinstance(v, list) and all(map(_is_count, v))),
        "a row number (0 = the first line) or null when the file has none",
    ),
    "names": (
        lambda v: _is_texts(v) and len(set(v)) == len(v),
        "a list of distinct column names",
    ),
    "skiprows": (
        lambda v: _is_count(v) or (isinstance(v, list) and all(map(_is_count, v))),
        "a number of lines, or a list of line numbers (from 0)",
    ),
    "na_values": (
        lambda v: _is_na_value(v) or (isinstance(v, list) and all(map(_is_na_value, v))),
        "a value or a list of values read as missing, such as ['-', 'n/a']",
    ),
    "sheet_name": (lambda v: isinstance(v, str) or _is_count(v), "a sheet name or number"),
}


def _read_problems(where: str, read: Mapping[str, Any]) -> list[str]:
    """Read options of the wrong type, each naming its key (pandas' own errors do not)."""
    return [
        f"{where}.{key} must be {what}, not {_shown(read[key])}"
        for key, (ok, what) in READ_TYPES.items()
        if key in read and not ok(read[key])
    ]


# --- problems in our words ----------------------------------------------------------------------


def _unknown_key(where: str, key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1)
    maybe = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r} in {where}{maybe}; valid keys: {', '.join(valid)}"


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


#: The model whose keys are valid at a location (the parent of an unknown key).
def _section_keys(loc: tuple[Any, ...]) -> list[str]:
    if not loc:
        return sorted(k for k in DatasetConfig.model_fields if k != "source")
    if loc[0] == "tables" and len(loc) == 2:
        exclude = () if loc[1] == "usage" else USAGE_ONLY_KEYS
        exclude = (*exclude, *(() if loc[1] == "customers" else ("join",)))
        return sorted(k for k in TableConfig.model_fields if k not in exclude)
    if loc[0] == "tables" and len(loc) == 4 and loc[2] == "join":
        return sorted(JoinConfig.model_fields)
    if loc[0] == "static" and len(loc) == 2 and loc[1] in ("holdout", "sampling"):
        return sorted((HoldoutConfig if loc[1] == "holdout" else SamplingConfig).model_fields)
    model = {
        "usage": UsageConfig,
        "churn": ChurnConfig,
        "static": StaticConfig,
        "evaluation": EvaluationConfig,
    }.get(str(loc[0]))
    return sorted(model.model_fields) if model is not None and len(loc) == 1 else []


_MUST_BE = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_type": "true or false",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "tuple_type": "a list of column names",
    "list_type": "a list of column names",
    "path_type": "a folder path",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(error: Mapping[str, Any]) -> list[str]:
    """One pydantic error as our own line(s), naming the key path and the value."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    where = _path(loc) or "the dataset config"
    if kind == "extra_forbidden":
        parent = _path(loc[:-1]) or "the dataset config"
        return [_unknown_key(parent, str(loc[-1]), _section_keys(loc[:-1]))]
    if kind == "value_error":
        # Our validators write whole lines, one per problem; WHERE stands for the key path.
        return str(ctx.get("error", error["msg"])).replace(WHERE, where).splitlines()
    if kind == "literal_error":
        valid = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return [f"{where} is {_shown(value)}; valid: {valid}"]
    if kind in _MUST_BE:
        return [f"{where} must be {_MUST_BE[kind]}, not {_shown(value)}"]
    if "gt" in ctx:
        return [f"{where} must be > {ctx['gt']}, not {_shown(value)}"]
    return [f"{where}: {error['msg']} (got {_shown(value)})"]


def _validate(raw: Any) -> tuple[DatasetConfig | None, list[str]]:
    """The typed config (None when invalid) and every problem found."""
    issues: list[str] = []
    try:
        config = DatasetConfig.model_validate(raw, context={"issues": issues})
    except ValidationError as exc:
        lines = [line for e in exc.errors() for line in _problem(e)]
        return None, list(dict.fromkeys(issues + lines))
    return config, issues


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
        Listing every unknown key (with the nearest valid one) and invalid value.
    """
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        issue = f"the dataset config must be a mapping (key: value), not {_shown(raw)}"
        raise DatasetConfigError([issue], str(source or base_dir))
    config, issues = _validate(raw)
    if config is None or issues:
        raise DatasetConfigError(issues, str(source or base_dir))
    # A config of its own (acme.yaml) names the dataset; a folder's dataset.yaml, the folder.
    own = source is not None and source.name not in CONFIG_NAMES
    name = config.name if "name" in raw else (source.stem if own else None)
    usage = config.table("usage")
    tables = {t: config.table(t) for t in TABLE_NAMES}
    tables["usage"] = usage.model_copy(
        update={
            "period": usage.period or config.usage.period,
            "metrics": usage.metrics if usage.metrics is not None else config.usage.metrics,
        }
    )
    return config.model_copy(
        update={
            "name": name or base_dir.resolve().name or "dataset",
            "base_dir": base_dir / config.base_dir if "base_dir" in raw else base_dir,
            "tables": tables,
            "source": source,
        }
    )


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = getattr(exc, "problem", None) or str(exc)
    return f"not valid YAML{where}: {what}"


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
    except UnicodeDecodeError:
        raise DatasetConfigError(["the file is not UTF-8 text"], str(path)) from None
    except yaml.YAMLError as exc:
        raise DatasetConfigError([_yaml_problem(exc)], str(path)) from None
    return parse_config(raw, path.parent, source=path)


def dataset_schema() -> dict[str, Any]:
    """The JSON Schema of a dataset YAML, for editors (``churn config-schema dataset``)."""
    schema = DatasetConfig.model_json_schema()
    schema["title"] = "churn dataset config (dataset.yaml)"
    # Name the tables, so that an editor completes them and flags a misspelt one.
    ref = {"$ref": "#/$defs/TableConfig"}
    schema["properties"]["tables"] = {
        **schema["properties"]["tables"],
        "type": "object",
        "properties": {t: ref for t in TABLE_NAMES},
        "additionalProperties": False,
    }
    return schema
