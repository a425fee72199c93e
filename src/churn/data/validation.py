"""Check tables against the data contract and normalise them, reporting every problem at once.

``churn.loading`` reads files and maps a user's column names onto the contract; this module takes
the frames it produces (contract column names, source values) and returns ``contract.Tables``:
types coerced, exact duplicates dropped, ``recorded_at`` filled (for usage: left empty, known at
the end of its period). It is pure: no file I/O.

Why a small hand-written layer and not pandera
----------------------------------------------
pandera is not a dependency of the project, and what it would give us is the easy part: per-column
type and range checks, each of which is one vectorised boolean mask here. The checks that matter
most are cross-table (events of unknown customers, churn before signup, records after the
extraction date) or depend on other columns (answered NPS without a timestamp, usage rows that
repeat a period), which pandera only supports as custom checks; and every message must be in the
project's own shape (``table.column: count, example customer_ids, how to fix``), which would mean
post-processing pandera's failure-case frames anyway. One mask per check keeps 10M usage rows in
seconds, and keeps every problem collected before anything is raised.

Problems and warnings
---------------------
A *problem* is something the user must fix (``DataValidationError`` lists them all); a *warning*
is something handled automatically and reported with a count, once (``Tables.warnings``, logged
by ``load_dataset``; in ``DataValidationError`` with the problems):
exact duplicate rows dropped, a few events of unknown customers dropped, date placeholders such as
9999-12-31 read as missing, a guessed date format, a missing event table.

The rule between the two: a value that cannot be true is a problem (``inf`` or 1e308 in any
number column, ``contract_months`` of 0 or less, an NPS of 7.5, a signup on 1900-01-01, ids that
differ only in case, offsets mixed with naive timestamps, a declared usage period the rows
contradict, an extraction date five years after the last record); a value that is possible but
suspicious is a warning with its count and examples (an answer time without a score, a signup
before 1970, spaces around ids, which are stripped, an extraction date a year after the last
record).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from churn._memory import release_free_memory
from churn.contract import (
    EVENT_TABLES,
    SPECS,
    TABLE_NAMES,
    Tables,
    empty_table,
)
from churn.data.rowsets import Distinct, duplicated_rows
from churn.errors import ChurnError

log = logging.getLogger(__name__)

#: Events of unknown customers are dropped (with a warning) while they are at most this share of
#: their table: a few orphans are normal in CRM exports (deleted test accounts); more usually
#: means the customer_id columns of the two tables do not match (mapping, leading zeros).
UNKNOWN_CUSTOMER_TOLERANCE = 0.01

#: Dates outside what datetime64[ns] can hold are placeholders ("no end": 9999-12-31).
_MIN_DATE = pd.Timestamp("1678-01-01")
_MAX_DATE = pd.Timestamp("2262-04-11")

#: Value ranges from the contract: (table, column) -> (low, high), both inclusive.
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("nps", "score"): (0, 10),
    ("interactions", "csat"): (1, 5),
    ("interactions", "sentiment"): (-1, 1),
}

#: No number in a customer table is this large (in any currency or count): a larger one is an
#: overflow, a placeholder (1e308, 9.99e+99) or a unit mix-up, and ``inf`` is never a value.
MAX_ABS_NUMBER = 1e15

#: Signup dates before this are spreadsheet placeholders (Excel's day zero is 1899-12-30 or
#: 1900-01-01): a problem. Dates before ``SIGNUP_SUSPICIOUS_BEFORE`` are possible (a bank's
#: oldest accounts) but suspicious: a warning.
SIGNUP_PLACEHOLDER_BEFORE = pd.Timestamp("1901-01-01")
SIGNUP_SUSPICIOUS_BEFORE = pd.Timestamp("1970-01-01")

#: extraction_date this many days after the latest record in any table is warned about (no
#: record at all for a year: usually a mistyped date, and every customer looks inactive);
#: beyond ``EXTRACTION_GAP_MAX_DAYS`` it cannot be a real extraction and is a problem.
EXTRACTION_GAP_WARN_DAYS = 365
EXTRACTION_GAP_MAX_DAYS = 5 * 365

_N_EXAMPLES = 5
_SINGULAR = {"have": "has", "are": "is", "reference": "references", "share": "shares"}


@dataclass(frozen=True)
class Problem:
    """One way in which a dataset fails the contract.

    Parameters
    ----------
    table, column
        Where it is; ``column`` is None for a problem with the whole table or file.
    what
        What is wrong. With ``count``, a plural verb phrase ("have churn_date before
        signup_date"); the verb is made singular for one row.
    hint
        How to fix it.
    count
        Number of rows affected, or None for a table-level problem.
    examples
        Up to five customer_ids (or "row N", counted from 1 after the header).
    """

    table: str
    column: str | None
    what: str
    hint: str
    count: int | None = None
    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if self.count is None:
            body = self.what
        else:
            verb, _, rest = self.what.partition(" ")
            if self.count == 1:
                verb = _SINGULAR.get(verb, verb)
            body = f"{rows(self.count)} {verb} {rest}".rstrip()
        if self.examples:
            body += f" (e.g. {', '.join(self.examples)})"
        return f"{where}: {body}. {self.hint}"


class DataValidationError(ChurnError):
    """The dataset does not meet the data contract; ``problems`` lists every reason."""

    def __init__(
        self, problems: Iterable[Problem], warnings: Iterable[str] = (), dataset: str = "dataset"
    ) -> None:
        self.problems = tuple(problems)
        self.warnings = tuple(warnings)
        n = len(self.problems)
        lines = [
            f"dataset {dataset!r} does not meet the data contract ({n} problem{'s' * (n != 1)}):"
        ]
        lines += [f"  - {p}" for p in self.problems]
        if any(e.startswith("row ") for p in self.problems for e in p.examples):
            lines.append("Rows are counted from 1, after the header.")
        if self.warnings:
            lines.append("Also noted (handled automatically):")
            lines += [f"  - {w}" for w in self.warnings]
        super().__init__("\n".join(lines))


@dataclass
class Findings:
    """Collects problems and warnings while a dataset is read and checked."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(
        self,
        table: str,
        column: str | None,
        what: str,
        hint: str,
        *,
        frame: pd.DataFrame | None = None,
        mask: pd.Series | np.ndarray | None = None,
        values: bool = False,
    ) -> None:
        """Record a problem; with ``frame`` and ``mask``, only if the mask selects any row.

        With ``values``, each example shows the offending value too.
        """
        if mask is None:
            self.problems.append(Problem(table, column, what, hint))
            return
        count = int(np.count_nonzero(np.asarray(mask)))
        if count:
            shown = examples(frame, mask, column if values else None)
            self.problems.append(Problem(table, column, what, hint, count, shown))

    def warn(self, message: str) -> None:
        # Not logged as a warning here: each is shown once, by whoever reports the outcome (the
        # error's "also noted", ``churn validate``'s summary, or load_dataset's log lines).
        log.debug(message)
        self.warnings.append(message)

    def warn_rows(
        self, table: str, column: str, what: str, frame: pd.DataFrame, mask, values: bool = True
    ) -> None:
        """A warning ``table.column: N rows <what> (e.g. ...)`` when the mask selects any row."""
        count = int(np.count_nonzero(np.asarray(mask)))
        if count:
            shown = ", ".join(examples(frame, mask, column if values else None))
            self.warn(f"{table}.{column}: {rows(count)} {what} (e.g. {shown}).")

    def reported(self, table: str, column: str | None = None) -> bool:
        """Whether a problem was already recorded for this table (and column)."""
        return any(
            p.table == table and (column is None or p.column == column) for p in self.problems
        )


def rows(n: int) -> str:
    """ "1 row", "2,000 rows"."""
    return f"{n:,} row" + ("" if n == 1 else "s")


def examples(frame: pd.DataFrame, mask, value_column: str | None = None) -> tuple[str, ...]:
    """Up to five distinct customer_ids (or row numbers) of the rows selected by ``mask``.

    With ``value_column``, each example also shows the offending value, e.g. ``C003 '2024-13-01'``.
    """
    positions = np.flatnonzero(np.asarray(mask))[: 50 * _N_EXAMPLES]
    ids = frame["customer_id"] if "customer_id" in frame.columns else None
    out: list[str] = []
    seen: set[str] = set()
    for pos in positions:
        key = ids.iat[pos] if ids is not None else None
        label = str(key) if isinstance(key, str) and key else f"row {pos + 1}"
        if label in seen:
            continue
        seen.add(label)
        if value_column is not None:
            value = frame[value_column].iat[pos]
            label += f" {value:g}" if isinstance(value, int | float) else f" {str(value)!r}"
        out.append(label)
        if len(out) == _N_EXAMPLES:
            break
    return tuple(out)


# --- coercion to the normalised dtypes --------------------------------------------------------


#: Control characters (C0 but tab and newline, DEL, C1: NUL, ESC, BEL) and bidi overrides and
#: isolates (U+202A-202E, U+2066-2069). None belongs in a name or a category, and each would reach
#: CSV, HTML, workbooks and the terminal raw: an OSC sequence retitles the user's terminal, a
#: right-to-left override shows "exe.txt" for "txt.exe". A whole terminal sequence (OSC up to its
#: BEL or ST, CSI up to its final byte) goes, so no "]0;title" is left behind. Written with the
#: characters themselves, so Python's re and pyarrow's RE2 read the same pattern.
_ESC, _BEL, _CSI = chr(0x1B), chr(0x07), chr(0x9B)
UNSAFE_TEXT_PATTERN = (
    f"{_ESC}\\][^{_BEL}{_ESC}\n]*(?:{_BEL}|{_ESC}\\\\)?"  # OSC ... BEL or ESC \
    f"|(?:{_ESC}\\[|{_CSI})[0-?]*[ -/]*[@-~]"  # CSI ... final byte
    "|["
    + "".join(f"{chr(a)}-{chr(b)}" for a, b in ((0, 8), (11, 31), (127, 159)))
    + f"{chr(0x202A)}-{chr(0x202E)}{chr(0x2066)}-{chr(0x2069)}"
    + "]"
)
_UNSAFE_TEXT = re.compile(UNSAFE_TEXT_PATTERN)


def strip_unsafe_text(text: str) -> str:
    """``text`` without control characters (tab and newline kept) and bidi overrides/isolates."""
    return _UNSAFE_TEXT.sub("", text)


def text_columns(name: str, frame: pd.DataFrame) -> dict[str, Distinct]:
    """The distinct values of each id and free-text column held as text (``pd.StringDtype``).

    Validation works on these instead of every row (``churn.data.rowsets``): 7M usage rows have
    100k distinct ids.
    """
    kinds = {c.name: c.kind for c in SPECS[name].columns}
    out: dict[str, Distinct] = {}
    for column in frame.columns.unique():
        if kinds.get(column) in ("id", "string") and isinstance(frame[column], pd.Series):
            d = Distinct.of(frame[column])
            if d is not None:
                out[column] = d
    return out


def _strip_unsafe(
    name: str, frame: pd.DataFrame, findings: Findings, texts: dict[str, Distinct]
) -> tuple[pd.DataFrame, dict[str, Distinct]]:
    """Every id and text column without unsafe characters (``UNSAFE_TEXT_PATTERN``), warned once
    per column with the count and example rows; done once here, so no output has to.

    ``texts`` (``text_columns`` of the frame) are searched and cleaned once per distinct value;
    they are returned as they are after the cleaning.
    """
    kinds = {c.name: c.kind for c in SPECS[name].columns}
    masks: dict[str, pd.Series | np.ndarray] = {}
    texts = dict(texts)
    out = frame
    for column in frame.columns.unique():
        s = frame[column]
        if kinds.get(column) not in ("id", "string") or isinstance(s, pd.DataFrame):
            continue
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        d = texts.get(column)
        if d is None:
            text = (
                s.where(s.map(lambda v: isinstance(v, str))).astype("str")
                if s.dtype == object
                else s
            )
            hit = text.str.contains(UNSAFE_TEXT_PATTERN, regex=True, na=False).astype(bool)
            if not hit.any():
                continue
            fixed = s.mask(hit, text.str.replace(UNSAFE_TEXT_PATTERN, "", regex=True))
        else:
            hit_values = d.values.str.contains(UNSAFE_TEXT_PATTERN, regex=True, na=False)
            if not hit_values.any():
                continue
            hit = d.rows(hit_values)
            cleaned = d.values.str.replace(UNSAFE_TEXT_PATTERN, "", regex=True)
            texts[column] = d.map(d.values.mask(hit_values, cleaned))
            fixed = texts[column].expand(frame.index)
        if out is frame:
            out = frame.copy()
        out[column] = fixed
        masks[column] = hit
    for column, hit in masks.items():  # after ids are clean, so the examples are too
        findings.warn_rows(
            name,
            column,
            "with control or bidi-override characters, removed",
            out,
            hit,
            values=False,
        )
    return out, texts


def _blank_to_na(s: pd.Series) -> pd.Series:
    """Strings stripped, with empty strings as missing."""
    s = s.astype("str").str.strip()
    return s.mask(s == "")


def _text_blank_to_na(s: pd.Series, distinct: Distinct) -> tuple[pd.Series, Distinct]:
    """``_blank_to_na(s)`` done once per distinct value (``distinct`` is the column's), and the
    result's distinct values; a column that needs no change is returned as it is."""
    values = _blank_to_na(distinct.values)
    if values.equals(distinct.values):  # equal dtypes too
        return s, distinct
    out = distinct.map(values)
    return out.expand(s.index), out


def coerce_id(s: pd.Series) -> pd.Series:
    """Customer ids as strings; whole-number floats (ids read with NaN present) lose their ``.0``."""
    if pd.api.types.is_float_dtype(s) and (s.dropna() % 1 == 0).all():
        s = s.astype("Int64")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("str").mask(s.isna())
    return _blank_to_na(s)


#: A time of day followed by a UTC offset or Z: "2024-05-01 10:00:00+02:00", "...T10:00Z".
_OFFSET = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|UTC|[+-]\d\d(?::?\d\d)?)$"


def _check_time_zones(
    s: pd.Series, present: pd.Series, table: str, column: str, findings: Findings
) -> None:
    """Values with a UTC offset and values without one in the same column are a problem.

    Offsets are converted to UTC while naive values keep their wall time, so a mix shifts one
    kind by the offset (hours, enough to move an event across ``as_of``).
    """
    # "2024-05-01 10:00:00" is 19 characters; an offset makes it longer. Only long values
    # are searched, which keeps 10M plain dates fast.
    long = present & (s.str.len() > 19)
    if not long.any():
        return
    aware = pd.Series(False, index=s.index)
    aware[long] = s[long].str.contains(_OFFSET, regex=True, na=False)
    naive = present & ~aware
    if aware.any() and naive.any():
        frame = pd.DataFrame({column: s})
        shown = examples(frame, aware, column)[:2] + examples(frame, naive, column)[:2]
        findings.problems.append(
            Problem(
                table,
                column,
                f"have a UTC offset while the column's other values are naive (time-zone-aware "
                f"and naive timestamps mixed: {int(aware.sum()):,} with an offset, "
                f"{int(naive.sum()):,} without)",
                "Export every value in one time zone, all with an offset or all without.",
                int(aware.sum()),
                shown,
            )
        )


def _parse_dates(s: pd.Series, fmt: str | None) -> pd.Series:
    # utc=True: strings with offsets become UTC, naive strings keep their wall time.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        parsed = pd.to_datetime(s, format=fmt or "ISO8601", errors="coerce", utc=True)
    return parsed.dt.tz_localize(None)


def coerce_datetime(
    s: pd.Series, fmt: str | None, table: str, column: str, findings: Findings
) -> tuple[pd.Series, pd.Series]:
    """Parse a column to tz-naive ``datetime64[ns]``.

    Returns the parsed column and a mask of the values that could not be parsed. Without
    ``fmt``, ISO 8601 is tried first; if it fails, a format guessed from the first value (month
    first, then day first) is used when it parses more, with a warning to set ``date_format``.
    """
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = pd.Series(False, index=s.index)
    elif pd.api.types.is_datetime64_any_dtype(s):
        out, bad = s, pd.Series(False, index=s.index)
    else:
        # Dates stored as numbers (19970101) parse as text, with a format.
        s = coerce_id(s) if pd.api.types.is_numeric_dtype(s) else _blank_to_na(s)
        present = s.notna()
        _check_time_zones(s, present, table, column, findings)
        out = _parse_dates(s, fmt)
        bad = present & out.isna()
        first = s[present].iat[0] if present.any() else None
        # Guess only when the data itself is not ISO (its first value fails), never to rescue a
        # few bad values: a guess that fits them would re-read every other date.
        if fmt is None and first is not None and bool(bad[present].iat[0]):
            best = None
            for dayfirst in (False, True):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    guess = guess_datetime_format(first, dayfirst=dayfirst)
                if guess is None:
                    continue
                alt = _parse_dates(s, guess)
                alt_bad = present & alt.isna()
                if alt_bad.sum() < bad.sum():
                    best, out, bad = guess, alt, alt_bad
            if best is not None:
                findings.warn(
                    f"{table}.{column}: dates are not ISO 8601 (YYYY-MM-DD); read them with the "
                    f"guessed format {best!r}. Set date_format in the dataset config to be sure."
                )
    out_of_range = out.notna() & ((out < _MIN_DATE) | (out > _MAX_DATE))
    if out_of_range.any():
        findings.warn(
            f"{table}.{column}: {int(out_of_range.sum()):,} dates before 1678 or after 2262 "
            f"(placeholders such as 9999-12-31) read as missing."
        )
        out = out.mask(out_of_range)
    return out.astype("datetime64[ns]"), bad


def coerce_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A column as float64, and a mask of the values that are not numbers."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return s.astype("float64"), pd.Series(False, index=s.index)
    s = _blank_to_na(s)
    out = pd.to_numeric(s, errors="coerce").astype("float64")
    return out, s.notna() & out.isna()


def _number_hint(table: str, column: str, frame: pd.DataFrame, bad: pd.Series) -> str:
    sample = frame.loc[np.asarray(bad), column].astype("str").str.strip().head(20)
    where = f"under tables.{table}"
    # "1,234" and "12,345,678" are digit groups (thousands separators), not 1.234: a decimal
    # comma is only certain when the digits after it are not a group of three ("1,5"), or
    # when dots group the digits before it ("1.234,5").
    grouped = sample.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?")
    decimal = sample.str.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?|-?\d+,\d+") & ~grouped
    if decimal.any():
        return f"They look like decimal commas: set read: {{decimal: ',', thousands: '.'}} {where}."
    if grouped.any():
        return (
            f"They look like thousands separators (1,234 = 1234): set read: {{thousands: ','}} "
            f"{where} (read: {{decimal: ','}} only if the comma is a decimal point)."
        )
    return f"Fix or empty these values, or map {table}.{column} to another column."


def _check_finite(
    name: str, column: str, values: pd.Series, frame: pd.DataFrame, findings: Findings
) -> None:
    """``inf`` and absurdly large numbers (1e308) cannot be true, and poison every sum."""
    mask = (values > MAX_ABS_NUMBER) | (values < -MAX_ABS_NUMBER)  # NaN is neither
    if not mask.any():
        return
    findings.add(
        name,
        column,
        f"have an infinite or absurdly large value (beyond +/-{MAX_ABS_NUMBER:.0e})",
        "Fix these values or leave them empty: they are overflows or placeholders.",
        frame=frame.assign(**{column: values}),
        mask=mask,
        values=True,
    )


def _check_padded_ids(
    name: str, raw: pd.Series, ids: pd.Series, findings: Findings, distinct: Distinct | None
) -> None:
    """Spaces around an id are stripped (" C1" is C1), with a warning: a join would miss them."""
    if pd.api.types.is_numeric_dtype(raw):
        return
    if distinct is not None:
        values = distinct.values
        stripped = _blank_to_na(values)
        padded = distinct.rows(stripped.notna() & (values.astype("str") != stripped))
    else:
        padded = ids.notna() & (raw.astype("str") != ids)
    if padded.any():
        shown = ", ".join(repr(v) for v in raw[padded].drop_duplicates().head(_N_EXAMPLES))
        findings.warn(
            f"{name}.customer_id: {rows(int(padded.sum()))} with spaces around the id, "
            f"stripped (e.g. {shown})."
        )


def _coerce_text(
    name: str, kind: str, s: pd.Series, findings: Findings, distinct: Distinct | None
) -> tuple[pd.Series, Distinct | None]:
    """An id or free-text column stripped, blanks missing; with its distinct values after."""
    if kind == "id":
        out, after = _text_blank_to_na(s, distinct) if distinct else (coerce_id(s), None)
        _check_padded_ids(name, s, out, findings, distinct)
        return out, after
    return _text_blank_to_na(s, distinct) if distinct else (_blank_to_na(s), None)


def coerce_table(
    name: str,
    frame: pd.DataFrame,
    date_formats: Mapping[str, str],
    findings: Findings,
) -> tuple[pd.DataFrame, dict[str, pd.Series]]:
    """Coerce a frame with contract column names to the normalised dtypes.

    Every contract column is present in the result (all-missing when the source lacks it); for
    usage, every other column is a metric coerced to float64. Values that cannot be parsed are
    reported as problems and returned as masks, so later checks do not report them again as
    missing.
    """
    frame = frame.reset_index(drop=True)
    df, unparsed, _ = _coerce_table(name, frame, date_formats, findings, text_columns(name, frame))
    return df, unparsed


def _coerce_table(
    name: str,
    frame: pd.DataFrame,
    date_formats: Mapping[str, str],
    findings: Findings,
    texts: dict[str, Distinct],
) -> tuple[pd.DataFrame, dict[str, pd.Series], dict[str, Distinct]]:
    """``coerce_table`` of a frame with a RangeIndex and its ``text_columns``, which are
    returned as they are in the result."""
    spec = SPECS[name]
    n = len(frame)
    frame, texts = _strip_unsafe(name, frame, findings, texts)
    cols: dict[str, pd.Series] = {}
    unparsed: dict[str, pd.Series] = {}
    kinds = {c.name: c.kind for c in spec.columns}
    if spec.extra_numeric_columns:
        kinds |= {c: "number" for c in frame.columns if c not in kinds}
    for column, kind in kinds.items():
        if column not in frame.columns:
            cols[column] = empty_table(name)[column].reindex(range(n))
            continue
        s = frame[column]
        if kind in ("id", "string"):
            cols[column], after = _coerce_text(name, kind, s, findings, texts.get(column))
            if after is not None:
                texts[column] = after
        elif kind == "datetime":
            fmt = date_formats.get(column)
            cols[column], bad = coerce_datetime(s, fmt, name, column, findings)
            hint = (
                f"They do not match date_format {fmt!r}: fix the values or the format."
                if fmt
                else "Fix the values, or set date_format (e.g. '%d/%m/%Y') for this table."
            )
            findings.add(
                name, column, "have an unparseable date", hint, frame=frame, mask=bad, values=True
            )
            unparsed[column] = bad
        else:  # a number
            cols[column], bad = coerce_number(s)
            _check_finite(name, column, cols[column], frame, findings)
            if bad.any():
                hint = _number_hint(name, column, frame, bad)
                findings.add(
                    name,
                    column,
                    "have a non-numeric value",
                    hint,
                    frame=frame,
                    mask=bad,
                    values=True,
                )
            unparsed[column] = bad
    # copy=False: the columns as they are, not copied into one block per dtype.
    return pd.DataFrame(cols, index=pd.RangeIndex(n), copy=False), unparsed, texts


# --- checks ------------------------------------------------------------------------------------


def _drop_exact_duplicates(
    name: str, df: pd.DataFrame, texts: dict[str, Distinct], findings: Findings
) -> tuple[pd.DataFrame, dict[str, Distinct]]:
    """The frame without rows that repeat an earlier one exactly (warned), and its
    ``text_columns`` for the rows kept."""
    # By row hash: pandas compares only the rows whose hash repeats (churn.data.rowsets).
    dup = duplicated_rows(df, known=texts)
    if dup.any():
        findings.warn(
            f"{name}: dropped {rows(int(dup.sum()))} duplicating another row exactly "
            f"(e.g. {', '.join(examples(df, dup))})."
        )
        texts = {column: d.select(~dup) for column, d in texts.items()}
        df = _take_rows(df, ~dup)
    return df, texts


def _take_rows(df: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``df[keep]`` with a fresh RangeIndex, built one column at a time, each column of ``df``
    dropped from it once taken: the peak holds the table once and a column, not twice (usage at
    1M customers is ~4 GB). ``df`` is the caller's own frame (a copy of the source's)."""
    if not df.columns.is_unique:
        return df[keep].reset_index(drop=True)
    out: dict[str, pd.Series] = {}
    for column in list(df.columns):
        out[column] = df[column][keep].reset_index(drop=True)  # [mask]: 2x faster than .loc
        del df[column]
    return pd.DataFrame(out, copy=False)


def _check_range(name: str, column: str, df: pd.DataFrame, findings: Findings) -> None:
    low, high = RANGES[(name, column)]
    s = df[column]
    findings.add(
        name,
        column,
        f"are outside {low:g}-{high:g}",
        f"Fix the values, or rescale them to {low:g}-{high:g} before loading.",
        frame=df,
        mask=s.notna() & ((s < low) | (s > high)),
        values=True,
    )


def _check_required_present(name: str, df: pd.DataFrame, findings: Findings) -> None:
    """Report required contract columns the frame lacks (unless the loader already did)."""
    for column in SPECS[name].required_columns:
        if column not in df.columns and not findings.reported(name, column):
            findings.add(
                name,
                column,
                "required column is missing",
                f"Add it, or map it: tables.{name}.columns.{column}: <your column>.",
            )


def _missing(df: pd.DataFrame, unparsed: Mapping[str, pd.Series], column: str) -> pd.Series:
    """Empty values, not counting those already reported as unparseable."""
    bad = unparsed.get(column)
    return df[column].isna() if bad is None else df[column].isna() & ~bad


def _check_missing(
    name: str,
    df: pd.DataFrame,
    unparsed: Mapping[str, pd.Series],
    present: Iterable[str],
    findings: Findings,
) -> None:
    """Columns whose every row needs a value (a column absent altogether is reported once)."""
    needed = {
        "customers": ("customer_id", "signup_date"),
        "interactions": ("customer_id", "timestamp"),
        "nps": ("customer_id",),
        "usage": ("customer_id", "date"),
        "account_history": ("customer_id", "valid_from"),
    }[name]
    for column in needed:
        if column in present:
            findings.add(
                name,
                column,
                f"have no {column}",
                f"Fill in the {column} of each row or remove the rows.",
                frame=df,
                mask=_missing(df, unparsed, column),
            )


def _check_customers(df: pd.DataFrame, findings: Findings) -> None:
    t = "customers"
    if df.empty:
        findings.add(t, None, "the table has no rows", "Export the customer accounts again.")
        return
    dup = df["customer_id"].notna() & df["customer_id"].duplicated(keep=False)
    findings.add(
        t,
        "customer_id",
        "share their customer_id with another row",
        "Keep one row per customer (the current state of the account).",
        frame=df,
        mask=dup,
    )
    findings.add(
        t,
        "churn_date",
        "have churn_date before signup_date",
        "Fix the dates or leave churn_date empty for active customers.",
        frame=df,
        mask=df["churn_date"] < df["signup_date"],
    )
    findings.add(
        t,
        "arr",
        "have negative arr",
        "ARR is annual recurring revenue: fix the values or leave them empty.",
        frame=df,
        mask=df["arr"] < 0,
        values=True,
    )
    findings.add(
        t,
        "contract_months",
        "have contract_months of 0 or less",
        "A contract term is at least one month (1 = monthly, 12 = annual): fix the values or "
        "leave them empty.",
        frame=df,
        mask=df["contract_months"] <= 0,
        values=True,
    )
    _check_id_case(df, findings)
    _check_signup_placeholders(df, findings)


def _check_id_case(df: pd.DataFrame, findings: Findings) -> None:
    """Ids that differ only in case ("c1", "C1") are one customer split in two, or two
    customers that a case-insensitive system (Excel, many CRMs) will merge: a problem."""
    ids = df["customer_id"]
    folded = ids.str.casefold()
    exact = ids.notna() & ids.duplicated(keep=False)
    collide = ids.notna() & folded.duplicated(keep=False) & ~exact
    findings.add(
        "customers",
        "customer_id",
        "have a customer_id that differs from another only in upper/lower case",
        "Make the ids consistent (the same customer written the same way) or distinct.",
        frame=df,
        mask=collide,
    )


def _check_signup_placeholders(df: pd.DataFrame, findings: Findings) -> None:
    """1900-01-01 is a spreadsheet's day zero, not a signup; before 1970 is only suspicious."""
    signup = df["signup_date"]
    findings.add(
        "customers",
        "signup_date",
        f"have signup_date before {SIGNUP_PLACEHOLDER_BEFORE.year} (placeholders such as "
        "1900-01-01, a spreadsheet's day zero)",
        "Fill in the real signup dates; tenure features would count 125 years.",
        frame=df,
        mask=signup < SIGNUP_PLACEHOLDER_BEFORE,
        values=True,
    )
    early = (signup >= SIGNUP_PLACEHOLDER_BEFORE) & (signup < SIGNUP_SUSPICIOUS_BEFORE)
    findings.warn_rows(
        "customers",
        "signup_date",
        f"with signup_date before {SIGNUP_SUSPICIOUS_BEFORE.year}: kept, but check that they "
        "are not placeholders",
        df,
        early,
    )


def _check_event_table(
    name: str,
    df: pd.DataFrame,
    unparsed: Mapping[str, pd.Series],
    customer_ids: pd.Series | None,
    findings: Findings,
    ids: Distinct | None = None,
) -> pd.DataFrame:
    """Check one event table; returns it with handleable issues handled (see module doc).

    ``ids``: the distinct values of its customer_id column, when held as text."""
    time_col = "date" if name == "usage" else "timestamp"
    if name == "nps":
        _check_nps_times(df, unparsed, findings)
    findings.add(
        name,
        "recorded_at",
        f"have recorded_at before {time_col} (known before it happened)",
        "Check the recorded_at mapping, or leave recorded_at empty to default it.",
        frame=df,
        mask=df["recorded_at"] < df[time_col],
    )
    for table, column in RANGES:
        if table == name:
            _check_range(name, column, df, findings)
    if name == "interactions":
        df = _check_interactions(df, findings)
    if name == "usage":
        _check_usage_rows(df, findings, ids)
    if customer_ids is None:
        return df
    return _check_customer_ids(name, df, customer_ids, findings, ids)


def _check_history(
    df: pd.DataFrame,
    customers: pd.DataFrame,
    customer_ids: pd.Series | None,
    findings: Findings,
    ids: Distinct | None = None,
) -> pd.DataFrame:
    """Check ``account_history``: one row per customer and valid_from, plausible values, and
    how the history covers the customers (see ``contract.ACCOUNT_HISTORY``)."""
    t = "account_history"
    known = {"customer_id": ids} if ids is not None else None
    dup = df["customer_id"].notna() & duplicated_rows(
        df, ["customer_id", "valid_from"], keep=False, known=known
    )
    findings.add(
        t,
        "valid_from",
        "share customer_id and valid_from with another row but differ",
        "Keep one row per customer and valid_from (merge the changes of one instant into one "
        "row, or correct the dates).",
        frame=df,
        mask=dup & df["valid_from"].notna(),
    )
    for column, what in (("arr", "negative arr"), ("seats_licensed", "negative seats_licensed")):
        findings.add(
            t,
            column,
            f"have {what}",
            "Fix the values or leave them empty (empty: unchanged).",
            frame=df,
            mask=df[column] < 0,
            values=True,
        )
    findings.add(
        t,
        "contract_months",
        "have contract_months of 0 or less",
        "A contract term is at least one month: fix the values or leave them empty.",
        frame=df,
        mask=df["contract_months"] <= 0,
        values=True,
    )
    if customer_ids is None:
        return df
    df = _check_customer_ids(t, df, customer_ids, findings, ids)
    _warn_history_coverage(df, customers, findings)
    return df


def _warn_history_coverage(df: pd.DataFrame, customers: pd.DataFrame, findings: Findings) -> None:
    """History is read as the complete record: attributes are missing before a customer's
    first row, so customers whose history starts after signup (or is absent) are warned about."""
    if df.empty or "signup_date" not in customers:
        return
    first = df.groupby("customer_id")["valid_from"].min()
    signup = customers.set_index("customer_id")["signup_date"]
    signup = signup[~signup.index.duplicated()]
    start = first.reindex(signup.index)
    none = start.isna()
    late = start.notna() & (start > signup)
    if none.any() or late.any():
        shown = ", ".join(map(str, signup.index[none | late][:_N_EXAMPLES]))
        findings.warn(
            f"account_history: {int(none.sum()):,} customers have no row and {int(late.sum()):,} "
            f"start after signup_date (e.g. {shown}): their dated attributes are missing before "
            "their first row (the extract is never used for past dates). Add a row at signup "
            "for each customer to avoid this."
        )


def _check_nps_times(
    df: pd.DataFrame, unparsed: Mapping[str, pd.Series], findings: Findings
) -> None:
    """Every survey has a send or answer time, and is not answered before it was sent."""
    name = "nps"
    # An unanswered survey (no score) has no answer time, only a send time.
    findings.add(
        name,
        "timestamp",
        "have a score but no timestamp",
        "Fill in when each answer was given.",
        frame=df,
        mask=_missing(df, unparsed, "timestamp") & df["score"].notna(),
    )
    findings.add(
        name,
        "sent_at",
        "have neither timestamp nor sent_at",
        "Each survey needs a send or answer time: fill one or remove the rows.",
        frame=df,
        mask=_missing(df, unparsed, "timestamp")
        & _missing(df, unparsed, "sent_at")
        & df["score"].isna(),
    )
    score = df["score"]
    findings.add(
        name,
        "score",
        "have a score that is not a whole number",
        "NPS scores are whole numbers 0-10: fix the values (a 7.5 is an average, not an answer).",
        frame=df,
        mask=score.notna() & (score % 1 != 0),
        values=True,
    )
    # A partial response (a comment, no score) is possible; counting it as silence is a choice
    # the user should see.
    findings.warn_rows(
        name,
        "score",
        "with an answer time but no score ('N/A' or empty): read as unanswered",
        df,
        df["timestamp"].notna() & _missing(df, unparsed, "score"),
        values=False,
    )
    findings.add(
        name,
        "sent_at",
        "have sent_at after timestamp (answered before sent)",
        "Check that sent_at and timestamp are mapped to the right columns.",
        frame=df,
        mask=df["sent_at"] > df["timestamp"],
    )


def _check_interactions(df: pd.DataFrame, findings: Findings) -> pd.DataFrame:
    """Resolved after opened; an empty channel or category becomes 'unknown' (warned)."""
    name = "interactions"
    findings.add(
        name,
        "resolved_at",
        "have resolved_at before timestamp",
        "Check that resolved_at and timestamp are mapped to the right columns.",
        frame=df,
        mask=df["resolved_at"] < df["timestamp"],
    )
    for column in ("channel", "category"):
        empty = df[column].isna()
        if empty.any():
            findings.warn(
                f"{name}.{column}: {rows(int(empty.sum()))} without a value, read as 'unknown'."
            )
            df = df.assign(**{column: df[column].fillna("unknown")})
    return df


def _check_usage_rows(df: pd.DataFrame, findings: Findings, ids: Distinct | None = None) -> None:
    """At least one metric, none negative, one row per customer and period."""
    name = "usage"
    metrics = usage_metric_columns(df)
    if not metrics:
        findings.add(
            name,
            None,
            "has no numeric metric columns",
            "Add at least one metric (e.g. active_users, logins) or list them in "
            "tables.usage.metrics.",
        )
    for m in metrics:
        findings.add(
            name,
            m,
            f"have negative {m}",
            "Usage counts cannot be negative: fix the values or leave them empty.",
            frame=df,
            mask=df[m] < 0,
            values=True,
        )
    known = {"customer_id": ids} if ids is not None else None
    repeated = df["date"].notna() & duplicated_rows(
        df, ["customer_id", "date"], keep=False, known=known
    )
    findings.add(
        name,
        "date",
        "share customer_id and date with another row",
        "Keep one row per customer and period: sum or average them before loading.",
        frame=df,
        mask=repeated,
    )


def _check_customer_ids(
    name: str,
    df: pd.DataFrame,
    customer_ids: pd.Series,
    findings: Findings,
    ids: Distinct | None = None,
) -> pd.DataFrame:
    """Rows of unknown customers: dropped (warned) when few, else a problem.

    ``ids``: the distinct values of ``df.customer_id``, when held as text."""
    # Distinct ids first: 10M usage rows have only as many ids as there are customers.
    # As object arrays: pandas 3.1's isin on Arrow-backed strings loops in Python over the
    # values (0.6 s for 100k ids); the object hash table takes 0.1 s.
    known = customer_ids.astype(object)
    if ids is not None:
        stranger = ids.values.notna() & ~ids.values.astype(object).isin(known)
        if not stranger.any():
            return df
        unknown = ids.rows(stranger)
    else:
        seen = pd.Series(df["customer_id"].dropna().unique()).astype(object)
        strangers = seen[~seen.isin(known)]
        if strangers.empty:
            return df
        unknown = df["customer_id"].isin(strangers)
    n_unknown = int(unknown.sum())
    if n_unknown <= UNKNOWN_CUSTOMER_TOLERANCE * len(df):
        findings.warn(
            f"{name}.customer_id: dropped {rows(n_unknown)} of customers not in customers "
            f"(e.g. {', '.join(examples(df, unknown))})."
        )
        return df[~unknown].reset_index(drop=True)
    findings.add(
        name,
        "customer_id",
        "reference customers not in customers",
        "Add those customers to the customers table or remove the rows; if most rows "
        "fail, the two customer_id columns do not match (mapping, leading zeros).",
        frame=df,
        mask=unknown,
    )
    return df


def usage_metric_columns(usage: pd.DataFrame) -> tuple[str, ...]:
    """The metric columns of a usage frame: every column that is not a contract column."""
    contract = {c.name for c in SPECS["usage"].columns}
    return tuple(c for c in usage.columns if c not in contract)


#: Columns whose values must be before the extraction date (contract_end_date is in the future by
#: nature; churn_date may be a scheduled cancellation and is only warned about).
_DATED_COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("signup_date",),
    "interactions": ("timestamp", "resolved_at", "recorded_at"),
    "nps": ("timestamp", "sent_at", "recorded_at"),
    "usage": ("date", "recorded_at"),
    # valid_from may be a change scheduled after the extraction (warned, never a feature).
    "account_history": ("recorded_at",),
}


def latest_date(
    frames: Mapping[str, pd.DataFrame], before: pd.Timestamp | None = None
) -> tuple[pd.Timestamp | None, str | None]:
    """The latest date in the tables' dated columns (only those ``before`` it, if given), and
    where it is."""
    best: tuple[pd.Timestamp | None, str | None] = (None, None)
    for name, df in frames.items():
        for column in (*_DATED_COLUMNS[name], *(("churn_date",) if name == "customers" else ())):
            s = df[column]
            value = s.max()
            if before is not None and pd.notna(value) and value >= before:
                value = s[s < before].max()
            if pd.notna(value) and (best[0] is None or value > best[0]):
                best = (value, f"{name}.{column}")
    return best


def _check_after_extraction(
    frames: Mapping[str, pd.DataFrame], extraction_date: pd.Timestamp, findings: Findings
) -> None:
    hint = (
        f"Nothing can be known at or after the extraction date ({extraction_date.date()}): fix "
        "the dates or set extraction_date in the dataset config to when the data was extracted."
    )
    for name, df in frames.items():
        for column in _DATED_COLUMNS[name]:
            findings.add(
                name,
                column,
                f"are dated at or after the extraction date {extraction_date.date()}",
                hint,
                frame=df,
                mask=df[column] >= extraction_date,
            )
    if "account_history" in frames:
        ahead = frames["account_history"]["valid_from"] >= extraction_date
        if ahead.any():
            findings.warn(
                f"account_history.valid_from: {rows(int(ahead.sum()))} valid from the extraction "
                f"date {extraction_date.date()} or later, kept as scheduled changes (no feature "
                "sees them)."
            )
    if "customers" in frames:
        late = frames["customers"]["churn_date"] >= extraction_date
        if late.any():
            findings.warn(
                f"customers.churn_date: {int(late.sum()):,} churn dates at or after the "
                f"extraction date {extraction_date.date()}, kept as scheduled cancellations."
            )


def infer_usage_period(usage: pd.DataFrame, max_customers: int = 2000) -> str | None:
    """Guess "day", "week" or "month" from the typical gap between a customer's usage rows.

    Looks at up to ``max_customers`` customers, which is plenty and keeps 10M rows fast.
    Returns None when the gaps fit none of them (or there are none).
    """
    ids = usage["customer_id"]
    # The first ``max_customers`` distinct ids (in order of appearance) are those of the first
    # rows that hold that many: found without hashing every one of 10M ids.
    n = min(len(ids), 50 * max_customers)
    while True:
        first = ids.iloc[:n].dropna().drop_duplicates()
        if len(first) >= max_customers or n >= len(ids):
            break
        n = min(len(ids), 4 * n)
    sub = usage.loc[ids.isin(first.iloc[:max_customers]), ["customer_id", "date"]].dropna()
    sub = sub.drop_duplicates().sort_values(["customer_id", "date"])
    same = sub["customer_id"].eq(sub["customer_id"].shift())
    gaps = sub["date"].diff()[same].dt.days
    if gaps.empty:
        return None
    typical = int(gaps.mode().iat[0])
    if typical == 1:
        return "day"
    if typical == 7:
        return "week"
    if 28 <= typical <= 31:
        return "month"
    return None


def _fill_defaults(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Default the knowledge time of each record (see contract: recorded_at)."""
    if name == "interactions":
        return df.assign(recorded_at=df["recorded_at"].fillna(df["timestamp"]))
    if name == "nps":
        sent_at = df["sent_at"].fillna(df["timestamp"])
        # An unanswered survey becomes known (as silence) when it is sent.
        recorded = df["recorded_at"].fillna(df["timestamp"]).fillna(sent_at)
        return df.assign(sent_at=sent_at, recorded_at=recorded)
    if name == "usage":
        # Left empty where the source has none: such a row is known at the end of its period,
        # and visible at an as_of equal to that end, while a recorded_at in the data must be
        # strictly before as_of (churn.features.usage_visible_from). Filling in the end would
        # make the two indistinguishable and every Monday's latest week invisible.
        return df.assign(recorded_at=df["recorded_at"].astype("datetime64[ns]"))
    if name == "account_history":
        return df.assign(recorded_at=df["recorded_at"].fillna(df["valid_from"]))
    return df


def _check_tables(
    frames: Mapping[str, pd.DataFrame | None],
    date_formats: Mapping[str, Mapping[str, str]],
    churn_definition: str,
    findings: Findings,
    consume: bool = False,
) -> dict[str, pd.DataFrame]:
    """Coerce and check every table, customers first: the event tables are checked against
    its ids. A missing table becomes an empty one. ``consume``: each source frame is taken out
    of ``frames`` (a dict) when its turn comes, so it is freed once checked."""
    out: dict[str, pd.DataFrame] = {}
    known_ids: pd.Series | None = None
    for table in TABLE_NAMES:
        raw = frames.pop(table, None) if consume else frames.get(table)  # type: ignore[attr-defined]
        if raw is None:
            if table == "customers" and not findings.reported("customers"):
                findings.add("customers", None, "table is missing", "It is the one required table.")
            out[table] = empty_table(table)
            continue
        release_free_memory()  # what the last table freed, before this one is copied
        _check_required_present(table, raw, findings)
        if raw.empty:
            if table == "customers":
                findings.add(table, None, "the table has no rows", "Export the accounts again.")
            else:
                findings.warn(f"{table}: the table has no rows; features from it will be empty.")
            out[table] = coerce_table(table, raw, {}, findings)[0]
            continue
        # Exact duplicates are dropped on the source values, before any check counts them twice.
        raw = raw.reset_index(drop=True)
        raw, texts = _drop_exact_duplicates(table, raw, text_columns(table, raw), findings)
        df, unparsed, texts = _coerce_table(
            table, raw, date_formats.get(table, {}), findings, texts
        )
        ids = texts.get("customer_id")  # for the checks of id repeats and unknown ids
        _check_missing(table, df, unparsed, raw.columns, findings)
        if table == "customers":
            if churn_definition == "date" and "churn_date" not in raw.columns:
                findings.add(
                    table,
                    "churn_date",
                    "column is missing, and churn is defined by date",
                    "Map churn_date, or define churn by inactivity: "
                    "churn: {definition: inactivity, inactivity_days: 90}.",
                )
            _check_customers(df, findings)
            if "customer_id" in raw.columns:
                known_ids = df["customer_id"].dropna()
        elif table == "account_history":
            df = _check_history(df, out["customers"], known_ids, findings, ids)
        else:
            df = _check_event_table(table, df, unparsed, known_ids, findings, ids)
        out[table] = df
    return out


def _resolve_extraction_date(
    out: Mapping[str, pd.DataFrame], extraction_date: pd.Timestamp | None, findings: Findings
) -> pd.Timestamp | None:
    """The extraction date given (nothing may be at or after it), else the day after the
    latest date (warned); None when the tables have no dates at all."""
    if extraction_date is None:
        latest, where = latest_date(out)
        if latest is not None:
            extraction_date = latest.normalize() + pd.Timedelta(days=1)
            findings.warn(
                f"extraction_date is not set: using {extraction_date.date()}, the day after the "
                f"latest date in the tables ({where}). Set extraction_date in the dataset config."
            )
    else:
        _check_after_extraction(out, extraction_date, findings)
        _check_extraction_gap(out, extraction_date, findings)
    return extraction_date


def _check_extraction_gap(
    out: Mapping[str, pd.DataFrame], extraction_date: pd.Timestamp, findings: Findings
) -> None:
    """An extraction date long after the last record: every customer would look inactive."""
    # Only what is before it: a scheduled churn_date after it is no record of activity.
    latest, where = latest_date(out, before=extraction_date)
    if latest is None:
        return
    gap = (extraction_date - latest).days
    what = (
        f"extraction_date {extraction_date.date()} is {gap:,} days after the latest record in "
        f"the tables ({where}: {latest.date()})"
    )
    if gap > EXTRACTION_GAP_MAX_DAYS:
        findings.add(
            "dataset",
            "extraction_date",
            f"{what}: no data was extracted then",
            "Set extraction_date in the dataset config to when the data was extracted (or "
            "remove it: the day after the latest record is used).",
        )
    elif gap > EXTRACTION_GAP_WARN_DAYS:
        findings.warn(
            f"extraction_date: {what}. Nothing happened for {gap // 30} months? Every customer "
            "will look inactive at scoring; check extraction_date in the dataset config."
        )


_PERIOD_ORDER = ("day", "week", "month")


def _aligned(dates: pd.Series, period: str) -> bool:
    """Whether (nearly) every date starts a ``period``: the 1st of a month, or one weekday."""
    dates = dates.dropna()
    if dates.empty:
        return False
    if period == "month":
        share = float((dates.dt.day == 1).mean())
    else:
        share = float(dates.dt.dayofweek.value_counts(normalize=True).iat[0])
    return share >= 0.95


def _check_declared_period(usage: pd.DataFrame, declared: str, findings: Findings) -> None:
    """The declared period must fit the rows' spacing.

    Declared longer than the spacing: periods overlap. Declared shorter, on rows aligned to the
    longer period (monthly rows on the 1st declared ``week``): each row would count as known a
    week after its start, three weeks before its month is over, leaking the rest of the month
    into features. Declared shorter on unaligned rows is sparse activity (a purchase log read
    per day), which is fine.
    """
    if usage.empty or findings.reported("usage", "date"):
        return
    inferred = infer_usage_period(usage)
    if inferred is None or inferred == declared:
        return
    longer = _PERIOD_ORDER.index(declared) > _PERIOD_ORDER.index(inferred)
    if longer or _aligned(usage["date"], inferred):
        findings.add(
            "usage",
            "date",
            f"rows are spaced by a {inferred}, but tables.usage.period (or usage.period) "
            f"declares a {declared}",
            f"Set period: {inferred}, or check the usage export: a {declared} row counted as "
            f"known at the end of its {declared} "
            + ("overlaps the next rows." if longer else f"leaks the rest of its {inferred}."),
        )


def _resolve_usage_period(usage: pd.DataFrame, usage_period: str | None, findings: Findings) -> str:
    """The usage period given, else inferred from the rows' spacing (a problem if none fits)."""
    if usage_period is not None:
        _check_declared_period(usage, usage_period, findings)
    if usage_period is None:
        usage_period = "week"
        if not usage.empty and not findings.reported("usage", "date"):
            inferred = infer_usage_period(usage)
            if inferred is None:
                findings.add(
                    "usage",
                    "date",
                    "rows are not spaced by a day, a week or a month",
                    "Set tables.usage.period: day, week or month.",
                )
            else:
                usage_period = inferred
                log.info("usage period inferred: %s", inferred)
    return usage_period


def validate_tables(
    frames: Mapping[str, pd.DataFrame | None],
    *,
    extraction_date: pd.Timestamp | None = None,
    usage_period: str | None = None,
    date_formats: Mapping[str, Mapping[str, str]] | None = None,
    churn_definition: str = "date",
    inactivity_days: int | None = None,
    name: str = "dataset",
    findings: Findings | None = None,
    consume: bool = False,
) -> Tables:
    """Normalise and check tables that already use the contract's column names.

    Parameters
    ----------
    frames
        ``customers`` (required) and any of ``interactions``, ``nps``, ``usage``; a missing or
        None event table becomes ``contract.empty_table``. Usage columns that are not contract
        columns are metrics. Inputs are not modified.
    extraction_date
        When the data was extracted; None: the day after the latest date in the tables (warned).
    usage_period
        "day", "week" or "month"; None: inferred from the gaps between usage rows.
    date_formats
        table -> column -> strftime format, for dates that are not ISO 8601.
    churn_definition, inactivity_days
        How churn is defined (see ``contract.Tables``); "date" needs ``customers.churn_date``.
    name
        Dataset name, for messages and lineage.
    findings
        Problems and warnings found earlier (while reading files), reported together.
    consume
        ``frames`` is a dict handed over: each table is taken out of it when checked, so the
        source frames are freed as their checked copies are made and the caller never holds a
        table twice (at 1M customers that is ~6 GB). Otherwise inputs are not modified.

    Returns
    -------
    contract.Tables

    Raises
    ------
    DataValidationError
        Listing every problem found, with counts, example customer_ids and how to fix each.
    """
    findings = findings if findings is not None else Findings()
    out = _check_tables(frames, date_formats or {}, churn_definition, findings, consume)
    release_free_memory()
    extraction_date = _resolve_extraction_date(out, extraction_date, findings)
    usage_period = _resolve_usage_period(out["usage"], usage_period, findings)

    if findings.problems or extraction_date is None:
        if extraction_date is None and not findings.problems:
            findings.add("customers", "signup_date", "has no dates", "Fill in signup_date.")
        raise DataValidationError(findings.problems, findings.warnings, name)

    for table in (*EVENT_TABLES, "account_history"):
        out[table] = _fill_defaults(table, out[table])
    return Tables(
        customers=out["customers"],
        interactions=out["interactions"],
        nps=out["nps"],
        usage=out["usage"],
        account_history=out["account_history"],
        extraction_date=pd.Timestamp(extraction_date),
        usage_period=usage_period,
        usage_metrics=usage_metric_columns(out["usage"]),
        name=name,
        churn_definition=churn_definition,
        inactivity_days=inactivity_days,
        warnings=tuple(findings.warnings),
    )
