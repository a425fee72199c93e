"""The week's tables: the list's columns, CSV and Parquet bytes, and text made safe.

Text from the input tables (names, owners, reasons built from them) goes into files that account
teams open in spreadsheet software:

- CSV and Excel: a cell starting with ``= + - @``, tab or carriage return would be run as a
  formula by spreadsheet software (CSV/formula injection): it is prefixed with a single quote.
- File names: owner names are slugified (no path separators, no ``..``, no Windows reserved
  names, never empty), so no owner name can write outside the folder; a name in a script with
  no ASCII spelling, or two names that slugify alike, get a short hash of the exact name, so an
  owner's file has the same name every week, whoever else is on the list.
- Control characters and bidi overrides never get this far: validation strips them from every
  text column (``churn.data.strip_unsafe_text``).

Rendering is deterministic: the same frame gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from churn.data import strip_unsafe_text
from churn.scoring import shown_probability
from churn.voice import VOICE_COLUMNS  # the latest NPS answer and issue, as known at as_of

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
UNASSIGNED = "Unassigned"

#: Columns of at_risk.csv / at_risk.parquet, in order (reason columns are appended per k).
LIST_COLUMNS = [
    "as_of",  # so weeks stack after a CRM import
    "rank",
    "customer_id",
    "name",
    "account_owner",
    "segment",
    "plan",
    "arr",
    "churn_probability",
    "risk_tier",
    "revenue_at_risk",
    "days_to_renewal",
]
CHANGE_COLUMNS = ["change", "previous_rank", "previous_probability", "probability_change"]
SIZE_COLUMNS = ["other_factors_effect", "base_probability"]
#: What changed most since last week (a sentence) and the 8-week probability trend.
HISTORY_COLUMNS = ["what_changed", "probability_trend"]


#: A play recorded for the customer and still open at as_of (``churn.actions.mark_play_status``).
PLAY_COLUMNS = ["play_status", "play_started_at"]
#: ``rank_by: uplift`` only (empty otherwise): the play's estimated effect on churn and the
#: expected ARR saved it is ranked by (``churn.uplift.expected_arr_saved``).
UPLIFT_COLUMNS = ["uplift_effect", "expected_arr_saved"]


def list_columns(k: int) -> list[str]:
    """Every column of at_risk.csv / at_risk.parquet, in order (stable: docs/weekly-list.md)."""
    return (
        LIST_COLUMNS
        + reason_list_columns(k)
        + SIZE_COLUMNS
        + CHANGE_COLUMNS
        + HISTORY_COLUMNS
        + VOICE_COLUMNS
        + PLAY_COLUMNS
        + UPLIFT_COLUMNS
    )


def format_probability(p: Any) -> str:
    """A probability as every output shows it: whole percent, ">99%" and "<1%" at the ends.

    The ONE display of a probability (page, workbook notes, CLI); its rounding is
    ``churn.scoring.shown_probability``, the same one the tiers and the floor use, so a customer
    shown as "50%" is in the tier that starts at 50%. Empty for a missing value.
    """
    if p is None or p is pd.NA or (isinstance(p, float) and math.isnan(p)):
        return ""
    x = float(p)
    # Rounding must not turn 0.996 into a certainty an account manager would read as "100%".
    if x >= 0.995:
        return ">99%"
    # Nor may 0.0004 (or an isotonic step at exactly 0) read as "0%", a certainty of staying.
    if x < 0.005:
        return "<1%"
    return f"{100 * float(shown_probability(x)):.0f}%"


def reason_list_columns(k: int) -> list[str]:
    cols: list[str] = []
    for i in range(1, k + 1):
        cols += [f"reason_{i}", f"reason_{i}_direction", f"reason_{i}_family", f"reason_{i}_effect"]
    return cols + ["main_driver", "recommended_play"]


# --------------------------------------------------------------------------- text safety


def neutralise_formula(value: Any) -> Any:
    """Prefix a string that a spreadsheet would run as a formula with a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (numbers stay numbers, negative ones included)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_formula).astype(object)
    return out


#: Letters NFKD does not decompose into ASCII, spelt as an English reader would type them.
_ASCII_SPELLING = str.maketrans(
    dict(zip("øØłŁđĐðÐı", "oOlLdDdDi", strict=True))
    | {"ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th"}
)


def _ascii_text(name: Any) -> tuple[str, bool]:
    """The name spelt in ASCII (accents dropped), and whether letters or digits were lost.

    Lost means a script with no ASCII spelling (Cyrillic, Arabic, CJK): the spelling left over
    ("Иван Smith" -> " Smith") no longer tells such owners apart.
    """
    text = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_SPELLING))
    kept = text.encode("ascii", "ignore").decode("ascii")
    lost = any(ord(ch) > 127 and unicodedata.category(ch)[0] in "LN" for ch in text)
    return kept, lost


def slugify(name: Any) -> str:
    """A safe file-name stem for a name: ASCII letters, digits, ``-`` and ``_`` only.

    Accents are dropped ("Zoë" -> "zoe"); separators, ``..``, control characters and anything
    else collapse to ``-``; Windows reserved device names (CON, NUL, COM1, ...) get a ``_``
    suffix; empty becomes "unassigned". Owner files use ``owner_file_names``, which also tells
    apart names that slugify alike.
    """
    text, _ = _ascii_text(name)
    text = re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-_").lower()[:80].strip("-_")
    if not text:
        text = "unassigned"
    if text.upper() in WINDOWS_RESERVED:
        text += "_"
    return text


def _name_hash(label: str) -> str:
    """Eight hex digits of the exact (NFC) name: the same owner gets the same digits every week."""
    return hashlib.sha256(label.encode("utf-8")).hexdigest()[:8]


def owner_file_names(owners: Iterable[Any]) -> dict[str, str]:
    """Owner label -> ``<file>.xlsx``, unique and the same for an owner every week.

    The file is the slug of the name ("Zoë Müller" -> ``zoe-muller.xlsx``). A name whose
    script has no ASCII spelling gets a short hash of the exact name instead (``Иван Петров`` ->
    ``owner-2b8929ba.xlsx``; ``Иван Smith`` -> ``smith-f8c37fd9.xlsx``), so it never depends on
    which other owners are on the list that week; missing owners are ``unassigned.xlsx``. Names
    that still slugify alike in one week ("Ann" and "ann") each get the hash of their own name,
    not a counter that would move with the other owners.
    """
    labels = sorted({owner_label(o) for o in owners})
    stems: dict[str, str] = {}
    for label in labels:
        text, lost = _ascii_text(label)
        stem = slugify(text)
        if label == UNASSIGNED:
            stem = "unassigned"
        elif stem == "unassigned":
            stem = f"owner-{_name_hash(label)}"
        elif lost:
            stem = f"{stem}-{_name_hash(label)}"
        stems[label] = stem
    counts = Counter(stems.values())
    out: dict[str, str] = {}
    for label, stem in stems.items():
        if counts[stem] > 1 and label != UNASSIGNED and not stem.endswith(_name_hash(label)):
            stem = f"{stem}-{_name_hash(label)}"
        out[label] = f"{stem}.xlsx"
    return out


def owner_label(owner: Any) -> str:
    """The owner's display name, NFC-normalised, with control and bidi characters removed and
    runs of white space made one space; missing or blank owners are grouped as "Unassigned"."""
    if owner is None or (isinstance(owner, float) and math.isnan(owner)) or owner is pd.NA:
        return UNASSIGNED
    text = " ".join(strip_unsafe_text(unicodedata.normalize("NFC", str(owner))).split())
    return text or UNASSIGNED


# --------------------------------------------------------------------------- cell text


def _fmt_points(x: Any) -> str:
    if x is None or pd.isna(x) or abs(x) < 0.005:
        return ""
    return f"{100 * x:+.0f} pts"


def _text(x: Any) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA else str(x)


def reasons_of(row: Mapping[str, Any], k: int) -> list[dict[str, str]]:
    """The row's reasons as display dicts (text, family, effect), skipping empty slots."""
    out = []
    for i in range(1, k + 1):
        text = _text(row.get(f"reason_{i}"))
        if text:
            out.append(
                {
                    "text": text,
                    "family": _text(row.get(f"reason_{i}_family")),
                    "effect": _fmt_points(row.get(f"reason_{i}_effect")),
                }
            )
    return out


# --------------------------------------------------------------------------- tables


def list_frame(at_risk: pd.DataFrame, k: int) -> pd.DataFrame:
    """The list's columns in their documented order (:func:`list_columns`), always all of them.

    A column the week does not have (no previous week, no NPS table) is there and empty, so a
    CRM import sees the same columns every week.
    """
    # The reasons' points plus other factors add up to probability minus the base rate.
    return at_risk.reindex(columns=list_columns(k)).reset_index(drop=True)


def render_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV with formula injection neutralised; floats rounded so reruns are identical."""
    out = neutralise_frame(frame)
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(6)
    return out.to_csv(index=False, lineterminator="\n").encode("utf-8")


def render_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes (pyarrow, no index, no timestamps in the metadata: deterministic)."""
    buf = io.BytesIO()
    clean = frame.reset_index(drop=True)
    for col in clean.columns:
        if clean[col].dtype == object:
            clean[col] = clean[col].astype("str").where(clean[col].notna(), None)
    clean.to_parquet(buf, index=False, engine="pyarrow", compression="zstd")
    return buf.getvalue()
