"""Finding and reading a dataset's files as they are: encodings, delimiters, Excel and Parquet.

What reading decides
--------------------
- A missing event table becomes ``contract.empty_table`` (warned, by validation); a missing
  customers table is a problem. A file named in the config that does not exist is a problem.
- A delimited file read as a single column, or failing to parse, is checked against other
  delimiters (``;``, tab, ``|``, ``,``); a likely one is named in the message instead of being
  used silently, because a ``;``-separated export usually also has decimal commas that would
  then be misread.
- A file that is not UTF-8 is reported with the line of the first bad byte and the encoding to
  set (``cp1252`` when it has Windows punctuation bytes, else ``latin-1``).
- A large UTF-8 CSV read with the default options is parsed by Arrow (multi-threaded, several
  times faster than pandas) into the frame pandas would have read: dates and times stay text,
  the same missing-value markers and booleans. Anything Arrow would read differently (a
  repeated column name, a blank header, ragged rows, a column empty at the top and filled
  below, bytes that are not UTF-8) falls back to pandas, so every message stays pandas'. The
  one known difference: an integer written ``+3`` reads as 3.0 rather than 3.
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from churn.contract import OPTIONAL_TABLES, SPECS
from churn.data.config import CSV_READ_KEYS, EXCEL_READ_KEYS, DatasetConfig
from churn.data.validation import Findings

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt", ".parquet", ".pq", ".xlsx")
DEFAULT_ENCODING = "utf-8-sig"
#: Delimited files at least this large are parsed by Arrow when their read options allow.
ARROW_MIN_BYTES = 4 * 2**20
_UTF8 = ("utf-8", "utf-8-sig", "utf8", "utf8-sig")
#: Where Arrow's parser allocates: the C library's malloc. Arrow's default pool (mimalloc) spent
#: twice the system time here (5 tables, 100k customers: 2.3-3.3 s against 1.3-1.5 s, on a
#: shared 2-core machine), returning and re-faulting pages between the blocks of a large file.
_POOL = pa.system_memory_pool()
#: Arrow types that convert to the dtype pandas' own parser gives the same text.
_ARROW_SAME_AS_PANDAS = (pa.int64(), pa.float64(), pa.string(), pa.bool_())


def find_file(name: str, config: DatasetConfig, findings: Findings) -> Path | None:
    """The file of table ``name``: the one the config names, else one named after the table.

    None when there is none (a problem for customers, a warning otherwise) or several.
    """
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
    elif name in OPTIONAL_TABLES:
        log.info("%s: no file found (%s); continuing without it", name, looked)
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
        frame = _read_file(name, path, config, findings)
    except (EOFError, zlib.error) as exc:
        # A truncated or damaged .gz: without this, the command line's own EOFError handler
        # ends in a bare "Aborted.".
        findings.add(
            name,
            None,
            f"{path.name} is truncated or damaged ({type(exc).__name__}: {exc})",
            "Copy or export the file again (gzip -t checks a .gz file).",
        )
        return None
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
    if frame is not None:
        _check_duplicate_columns(name, path, frame, config, findings)
    return frame


def _check_duplicate_columns(
    name: str, path: Path, frame: pd.DataFrame, config: DatasetConfig, findings: Findings
) -> None:
    """A column name twice in the header is a problem naming it.

    pandas renames the second ``arr`` to ``arr.1``, which mapping then drops as unknown, so the
    table would silently use whichever came first.
    """
    columns = [str(c) for c in frame.columns]
    present = set(columns)
    for column in columns:
        match = re.fullmatch(r"(.+)\.(\d+)", column)
        if match is None or match.group(1) not in present:
            continue
        original = match.group(1)
        findings.add(
            name,
            original,
            f"{path.name} has the column {original!r} more than once (the copy was read as "
            f"{column!r})",
            f"Rename or remove the copy in {path.name}, or name its columns with "
            f"tables.{name}.read.names in {config.where}.",
        )


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
        frame = _read_csv(name, path, config, id_column, read)
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


def _read_csv(
    name: str, path: Path, config: DatasetConfig, id_column: str, read: dict
) -> pd.DataFrame:
    """Arrow when it reads the file as pandas would (:func:`_read_csv_arrow`), else pandas."""
    frame = _read_csv_arrow(path, id_column, read, _arrow_date_columns(name, config))
    return pd.read_csv(path, dtype={id_column: "str"}, **read) if frame is None else frame


def _keep_type(name: str, type_: pa.DataType, dates: set[str]) -> bool:
    if name in dates and (pa.types.is_timestamp(type_) or pa.types.is_date(type_)):
        return True
    return type_ in _ARROW_SAME_AS_PANDAS


def _arrow_date_columns(name: str, config: DatasetConfig) -> set[str]:
    """Source columns of the table's contract dates that Arrow may parse: those without a
    date_format (Arrow reads ISO 8601 only, the validation's first choice too)."""
    tcfg = config.table(name)
    formats = tcfg.date_formats(name)
    return {
        tcfg.columns.get(c.name, c.name)
        for c in SPECS[name].columns
        if c.kind == "datetime" and c.name not in formats
    }


def _read_csv_arrow(path: Path, id_column: str, read: dict, dates: set[str]) -> pd.DataFrame | None:
    """The frame ``pd.read_csv`` would give, parsed by Arrow; None when pandas must read it.

    Only for large files with no read options but ``sep`` and a UTF-8 ``encoding``. The types
    are inferred from the first block (as both parsers do). A contract date column (``dates``)
    whose every value is ISO 8601 (all with a UTC offset or all without) arrives parsed, which
    is what the validation would make of it, only sooner; any other date or time column stays
    text, as pandas leaves it. Whatever Arrow refuses or would read differently returns None,
    and pandas reads the file (with its own messages).
    """
    sep, encoding = read.get("sep", ","), str(read.get("encoding", "")).lower().replace("_", "-")
    if set(read) - {"sep", "encoding"} or encoding not in _UTF8 or len(sep) != 1:
        return None
    if path.stat().st_size < ARROW_MIN_BYTES:
        return None
    na = sorted(pd._libs.parsers.STR_NA_VALUES)  # pandas' default missing-value markers
    parse = pacsv.ParseOptions(delimiter=sep)
    convert = pacsv.ConvertOptions(
        null_values=na,
        strings_can_be_null=True,
        true_values=["True", "TRUE", "true"],
        false_values=["False", "FALSE", "false"],
    )
    try:
        with pacsv.open_csv(path, parse_options=parse, convert_options=convert) as head:
            sniffed = head.schema
        names = sniffed.names
        if len(set(names)) != len(names) or any(not n.strip() for n in names) or len(names) < 2:
            return None  # pandas renames repeats and blanks; one column is a delimiter check
        types = {
            f.name: f.type if _keep_type(f.name, f.type, dates) else pa.string()
            for f in sniffed
            if not pa.types.is_null(f.type)
        }
        types[id_column] = pa.string()
        blank = [f.name for f in sniffed if pa.types.is_null(f.type) and f.name != id_column]
        convert.column_types = {**types, **dict.fromkeys(blank, pa.string())}
        table = pacsv.read_csv(
            path, parse_options=parse, convert_options=convert, memory_pool=_POOL
        )
    except (pa.ArrowException, OSError, ValueError):
        return None
    if any(pa.types.is_boolean(c.type) and c.null_count for c in table.columns):
        return None  # pandas holds missing booleans as NaN in an object column, Arrow as None
    for name in blank:
        # Empty at the top: pandas gives float NaN when it stays empty, and infers the type
        # of whatever fills it lower down, which only pandas can say.
        if table.column(name).null_count != len(table):
            return None
    for i, field in enumerate(table.schema):
        if pa.types.is_date(field.type):  # to_pandas would give Python date objects
            day = pc.cast(table.column(i), pa.timestamp("s"), memory_pool=_POOL)
            table = table.set_column(i, field.name, day)
    # One block per column (no copy into 2-D blocks), each column's Arrow buffers freed as it
    # is converted: the peak holds the file about once, not twice.
    frame = table.to_pandas(split_blocks=True, self_destruct=True, memory_pool=_POOL)
    del table
    for name in blank:
        frame[name] = frame[name].astype("float64")
    return frame
