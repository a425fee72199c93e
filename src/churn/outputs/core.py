"""The week's files for account teams: rendered deterministically, written atomically.

A week folder ``<root>/<as_of>/`` holds:

- ``at_risk.csv`` / ``at_risk.parquet``: the list, in priority order;
- ``scores.parquet``: every scored customer (score, tier, reasons), for analysts;
- ``excluded.csv``: active customers not scored, each with the reason;
- ``owners/<owner>.xlsx``: one workbook per account owner with their customers on the list;
- ``report.html``: one self-contained page (inline CSS/JS, plot as base64 PNG);
- ``manifest.json``: as_of, model, data hash, counts and each file's sha256.

Rendering (``render_*``, ``build_week_files``) is pure: frames in, ``{relative path: bytes}``
out, with no timestamps inside any file (fixed Excel created/modified times and zip entry times,
no PNG software/date chunks, sorted JSON), so the same week rendered twice is byte-identical.

Writing (``write_week_atomically``) puts the whole week into a hidden temporary folder next to
the target and swaps it into place at the very end (an atomic directory exchange on Linux, two
renames elsewhere), so a process killed mid-write leaves the previous complete folder and never a
half-written list that someone might send to an account team.

Safety of text from the input tables (names, owners, reasons built from them):

- CSV and Excel: a cell starting with ``= + - @``, tab or carriage return would be run as a
  formula by spreadsheet software (CSV/formula injection): it is prefixed with a single quote.
- HTML: jinja2 autoescaping, plus a Content-Security-Policy that forbids any external request.
- File names: owner names are slugified (no path separators, no ``..``, no Windows reserved
  names, never empty) and de-duplicated, so no owner name can write outside the folder.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Sleep this many seconds between files while writing a week (tests kill a slowed write).
WRITE_DELAY_ENV = "CHURN_WRITE_DELAY_S"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}
UNASSIGNED = "Unassigned"
_TMP_MARK = ".tmp-"
_OLD_MARK = ".old-"
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

#: Columns of at_risk.csv / at_risk.parquet, in order (reason columns are appended per k).
LIST_COLUMNS = [
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


def slugify(name: Any) -> str:
    """A safe file-name stem for an owner name: ASCII letters, digits, ``-`` and ``_`` only.

    Separators, ``..``, control characters and anything else collapse to ``-``; Windows
    reserved device names (CON, NUL, COM1, ...) get a ``_`` suffix; empty becomes "unassigned".
    """
    text = "" if name is None or (isinstance(name, float) and math.isnan(name)) else str(name)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-_").lower()[:80].strip("-_")
    if not text:
        text = "unassigned"
    if text.upper() in WINDOWS_RESERVED:
        text += "_"
    return text


def owner_file_names(owners: Iterable[Any]) -> dict[str, str]:
    """Owner label -> unique ``<slug>.xlsx`` (case-insensitively unique, in sorted owner order)."""
    labels = sorted({owner_label(o) for o in owners})
    used: set[str] = set()
    out: dict[str, str] = {}
    for label in labels:
        stem = slugify(label)
        candidate, n = stem, 2
        while candidate.lower() in used:
            candidate, n = f"{stem}-{n}", n + 1
        used.add(candidate.lower())
        out[label] = f"{candidate}.xlsx"
    return out


def owner_label(owner: Any) -> str:
    """The owner's display name; missing or blank owners are grouped as "Unassigned"."""
    if owner is None or (isinstance(owner, float) and math.isnan(owner)) or owner is pd.NA:
        return UNASSIGNED
    text = str(owner).strip()
    return text or UNASSIGNED


# --------------------------------------------------------------------------- formatting


def _fmt_money(x: Any) -> str:
    return "" if x is None or pd.isna(x) else f"{x:,.0f}"


def _fmt_pct(x: Any) -> str:
    if x is None or pd.isna(x):
        return ""
    # Rounding must not turn 0.996 into a certainty an account manager would read as "100%".
    if x >= 0.995:
        return ">99%"
    if 0 < x < 0.005:
        return "<1%"
    return f"{100 * x:.0f}%"


def _fmt_points(x: Any) -> str:
    if x is None or pd.isna(x) or abs(x) < 0.005:
        return ""
    return f"{100 * x:+.0f} pts"


def _num(x: Any) -> str:
    """A sort key for the HTML table: empty for missing (sorted last by the page's script)."""
    return "" if x is None or pd.isna(x) else repr(float(x))


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
    """The list's columns in their documented order (those present)."""
    cols = LIST_COLUMNS + reason_list_columns(k) + CHANGE_COLUMNS
    return at_risk[[c for c in cols if c in at_risk.columns]].reset_index(drop=True)


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


# --------------------------------------------------------------------------- Excel

_EXCEL_COLUMNS: list[tuple[str, str, int, str | None]] = [
    # (column key, header, width, number format: "pct", "money", "int", "pts" or None)
    ("rank", "Rank", 6, "int"),
    ("customer_id", "Customer ID", 14, None),
    ("name", "Customer", 28, None),
    ("segment", "Segment", 13, None),
    ("plan", "Plan", 12, None),
    ("arr", "ARR", 12, "money"),
    ("churn_probability", "Churn probability", 11, "pct"),
    ("risk_tier", "Risk tier", 9, None),
    ("revenue_at_risk", "Revenue at risk", 13, "money"),
    ("days_to_renewal", "Days to renewal", 10, "int"),
    ("reasons", "Why at risk", 60, None),
    ("recommended_play", "Recommended play", 36, None),
    ("change", "Since last week", 10, None),
    ("probability_change", "Probability change (points)", 12, "pts"),
]


def _excel_text(value: Any) -> Any:
    if isinstance(value, str):
        # openpyxl refuses control characters; they carry no meaning for a reader anyway.
        return neutralise_formula(_ILLEGAL_XML.sub("", value))
    return value


def render_workbook(
    rows: pd.DataFrame, owner: str, as_of: pd.Timestamp, k: int, currency_format: str
) -> bytes:
    """One owner's workbook: frozen header, widths, formats, wrapped reasons; deterministic bytes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "At risk"
    formats = {
        # Same rule as the page: a rounded "100%" would read as a certainty.
        "pct": '[>=0.995]">99%";[<0.005]"<1%";0%',
        "money": currency_format,
        "int": "0",
        "pts": '+0" pts";-0" pts";0" pts"',
    }
    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    for j, (_, header, width, _) in enumerate(_EXCEL_COLUMNS, start=1):
        cell = ws.cell(row=1, column=j, value=header)
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.row_dimensions[1].height = 32
    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    reason_width = dict((c, w) for c, _, w, _ in _EXCEL_COLUMNS)["reasons"]
    for i, row in enumerate(rows.to_dict("records"), start=2):
        reasons = [
            f"• {r['text']}" + (f" ({r['effect']})" if r["effect"] else "")
            for r in reasons_of(row, k)
        ]
        values = {**row, "reasons": "\n".join(reasons)}
        # A change of probability is in percentage points, not a percentage of anything.
        change = row.get("probability_change")
        values["probability_change"] = None if change is None or pd.isna(change) else 100 * change
        for j, (key, _, _width, fmt) in enumerate(_EXCEL_COLUMNS, start=1):
            value = values.get(key)
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                value = None
            elif isinstance(value, np.generic):
                value = value.item()
            cell = ws.cell(row=i, column=j, value=_excel_text(value))
            if fmt:
                cell.number_format = formats[fmt]
            cell.alignment = wrap if key in ("reasons", "recommended_play", "name") else top
        # Excel does not grow rows for wrapped text written by a library: size each row so every
        # reason is readable without scrolling (about 1.1 characters per unit of column width).
        lines = sum(max(1, math.ceil(len(r) / (reason_width * 1.1))) for r in reasons) or 1
        ws.row_dimensions[i].height = max(15.0, 15.0 * lines + 3)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(_EXCEL_COLUMNS))}{max(1, len(rows) + 1)}"
    ws.sheet_view.zoomScale = 100

    about = wb.create_sheet("About")
    notes = [
        ("Owner", owner),
        ("Week (as_of)", as_of.date().isoformat()),
        ("Churn probability", "Calibrated probability of leaving within the model's horizon."),
        ("Revenue at risk", "Churn probability x ARR: the ARR expected to be lost."),
        (
            "Why at risk",
            "The features that raise this customer's risk most, stated from their own data; "
            "points = how much lower the probability would be without that one push.",
        ),
        (
            "Since last week",
            "new = not on last week's list; up/down = probability moved by 1 point or more.",
        ),
    ]
    for r, (key, text) in enumerate(notes, start=1):
        about.cell(row=r, column=1, value=key).font = Font(bold=True)
        about.cell(row=r, column=2, value=_excel_text(text)).alignment = Alignment(
            wrap_text=True, vertical="top"
        )
    about.column_dimensions["A"].width = 20
    about.column_dimensions["B"].width = 90

    # No clock inside files: created/modified are the week itself, the creator is the product.
    fixed = datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.creator = "churn"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue(), wb, fixed)


def _deterministic_zip(data: bytes, wb: Any, fixed: datetime) -> bytes:
    """Rewrite an .xlsx so reruns are byte-identical.

    openpyxl stamps docProps/core.xml with the save time and every zip entry with the clock;
    both are replaced by fixed values (the week date, and 1980-01-01 for the zip entries).
    """
    from openpyxl.xml.functions import tostring

    wb.properties.modified = fixed
    core = tostring(wb.properties.to_tree())
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = core if info.filename == "docProps/core.xml" else src.read(info.filename)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, payload)
    return out.getvalue()


# --------------------------------------------------------------------------- plot


def drivers_png(drivers: pd.Series, families: Mapping[str, str], top: int = 15) -> bytes:
    """Horizontal bar chart of the global drivers (mean |contribution|), as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    data = drivers.head(top)[::-1]
    palette = {
        "product adoption": "#2f6eba",
        "service experience": "#d9822b",
        "sentiment": "#8e44ad",
        "commercial": "#2e8b57",
    }
    colours = [palette.get(families.get(f, ""), "#7b8794") for f in data.index]
    fig = Figure(figsize=(8, max(2.5, 0.32 * len(data) + 1.2)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(list(range(len(data))), data.to_numpy(), color=colours)
    ax.set_yticks(list(range(len(data))), labels=list(data.index), fontsize=8)
    ax.set_xlabel("mean |TreeSHAP contribution| (log-odds)")
    ax.set_title("Global drivers of churn risk")
    used = [f for f in palette if any(families.get(x) == f for x in data.index)]
    if used:
        ax.legend(
            handles=[Patch(color=palette[f], label=f) for f in used], fontsize=8, loc="lower right"
        )
    fig.tight_layout()
    buf = io.BytesIO()
    # No Software/date metadata chunks: the same drivers give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML


@dataclass(frozen=True)
class WeekData:
    """Everything that goes into one week's folder (the output of scoring)."""

    as_of: pd.Timestamp
    horizon_days: int
    at_risk: pd.DataFrame
    scores: pd.DataFrame
    excluded: pd.DataFrame
    active: int
    drivers: pd.Series
    families: Mapping[str, str]
    model: Mapping[str, Any]
    data_hash: str
    reasons_per_customer: int = 3
    priority: str = "revenue_at_risk"
    currency_format: str = "#,##0"
    previous_as_of: str | None = None
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers_n: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)


def headline(week: WeekData) -> dict[str, Any]:
    """Headline numbers: customers and ARR at risk, and changes since last week."""
    lst = week.at_risk
    changes = lst["change"].value_counts().to_dict() if "change" in lst.columns and len(lst) else {}
    return {
        "listed": len(lst),
        "high_tier": int((lst["risk_tier"] == week_top_tier(week)).sum()) if len(lst) else 0,
        "arr_listed": float(lst["arr"].sum(min_count=1)) if len(lst) else 0.0,
        "revenue_at_risk": float(lst["revenue_at_risk"].sum()) if len(lst) else 0.0,
        "revenue_at_risk_all": float(week.scores["revenue_at_risk"].sum())
        if len(week.scores)
        else 0.0,
        "new": int(changes.get("new", 0)),
        "up": int(changes.get("up", 0)),
        "down": int(changes.get("down", 0)),
        "dropped_off": len(week.dropped),
        "scored": len(week.scores),
        "excluded": len(week.excluded),
        "active": week.active,
    }


def week_top_tier(week: WeekData) -> str | None:
    tiers = week.settings.get("tiers") if week.settings else None
    return tiers[0][0] if tiers else "high"


def render_report(week: WeekData, drivers_png_bytes: bytes | None) -> bytes:
    """The self-contained HTML page (jinja2 with autoescaping: names cannot inject markup)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("churn.outputs", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        keep_trailing_newline=True,
    )
    h = headline(week)
    since = f"since {week.previous_as_of}" if week.previous_as_of else "no earlier list"
    cards = [
        {
            "id": "h-listed",
            "value": f"{h['listed']:,}",
            "label": f"customers on the list (of {h['scored']:,} scored)",
        },
        {
            "id": "h-high",
            "value": f"{h['high_tier']:,}",
            "label": f"in the top risk tier ({week_top_tier(week)})",
        },
        {"id": "h-arr", "value": _fmt_money(h["arr_listed"]), "label": "ARR of listed customers"},
        {
            "id": "h-rar",
            "value": _fmt_money(h["revenue_at_risk"]),
            "label": "revenue at risk on the list (probability x ARR)",
        },
        {"id": "h-new", "value": f"{h['new']:,}", "label": f"new on the list ({since})"},
        {"id": "h-updown", "value": f"{h['up']:,} / {h['down']:,}", "label": "risk up / down"},
        {"id": "h-dropped", "value": f"{h['dropped_off']:,}", "label": "dropped off the list"},
    ]
    k = week.reasons_per_customer
    rows = []
    for r in week.at_risk.to_dict("records"):
        change = _text(r.get("change")) or "new"
        delta = r.get("probability_change")
        rows.append(
            {
                "rank": int(r["rank"]),
                "customer_id": _text(r.get("customer_id")),
                "name": _text(r.get("name")),
                "owner": owner_label(r.get("account_owner")),
                "segment": _text(r.get("segment")),
                "plan": _text(r.get("plan")),
                "arr": _fmt_money(r.get("arr")),
                "arr_sort": _num(r.get("arr")),
                "probability": _fmt_pct(r.get("churn_probability")),
                "probability_sort": _num(r.get("churn_probability")),
                "tier": _text(r.get("risk_tier")),
                "tier_class": slugify(r.get("risk_tier")),
                "revenue": _fmt_money(r.get("revenue_at_risk")),
                "revenue_sort": _num(r.get("revenue_at_risk")),
                "renewal": ""
                if pd.isna(r.get("days_to_renewal"))
                else f"{int(r['days_to_renewal'])} d",
                "renewal_sort": _num(r.get("days_to_renewal")),
                "reasons": reasons_of(r, k),
                "play": _text(r.get("recommended_play")),
                "change": change,
                "change_label": change
                + (f" {_fmt_points(delta)}" if change in ("up", "down") else ""),
                "change_sort": _num(delta),
            }
        )
    columns = [
        {"label": "#", "type": "num"},
        {"label": "Customer", "type": "text"},
        {"label": "Owner", "type": "text"},
        {"label": "Segment / plan", "type": "text"},
        {"label": "ARR", "type": "num"},
        {"label": "Churn prob.", "type": "num"},
        {"label": "Tier", "type": "num"},
        {"label": "Revenue at risk", "type": "num"},
        {"label": "Renewal in", "type": "num"},
        {"label": "Why at risk", "type": "text"},
        {"label": "Recommended play", "type": "text"},
        {"label": "Change", "type": "num"},
    ]
    excluded = sorted(week.excluded["reason"].value_counts().items()) if len(week.excluded) else []
    html = env.get_template("report.html.j2").render(
        as_of=week.as_of.date().isoformat(),
        horizon_days=week.horizon_days,
        model_label=_model_label(week.model),
        previous_as_of=week.previous_as_of,
        priority_label="revenue at risk (probability x ARR)"
        if week.priority == "revenue_at_risk"
        else "churn probability",
        cards=cards,
        columns=columns,
        rows=rows,
        drivers_png=base64.b64encode(drivers_png_bytes).decode("ascii")
        if drivers_png_bytes
        else "",
        drivers_n=week.drivers_n,
        excluded=[(str(reason), int(n)) for reason, n in excluded],
    )
    return html.encode("utf-8")


def _model_label(model: Mapping[str, Any]) -> str:
    name = model.get("name") or "churn"
    version = model.get("version")
    return f"{name} v{version}" if version not in (None, "") else str(name)


# --------------------------------------------------------------------------- the week


def build_week_files(week: WeekData) -> dict[str, bytes]:
    """Render every file of the week folder: ``{relative path: bytes}``, manifest last.

    Pure and deterministic: the same inputs give byte-identical files.
    """
    k = week.reasons_per_customer
    listed = list_frame(week.at_risk, k)
    files: dict[str, bytes] = {}
    files["at_risk.csv"] = render_csv(listed)
    files["at_risk.parquet"] = render_parquet(listed.assign(as_of=week.as_of))
    files["scores.parquet"] = render_parquet(week.scores)
    excluded = week.excluded.reindex(columns=["customer_id", "name", "account_owner", "reason"])
    files["excluded.csv"] = render_csv(excluded)

    names = owner_file_names(week.at_risk["account_owner"] if len(week.at_risk) else [])
    labels = (
        week.at_risk["account_owner"].map(owner_label)
        if len(week.at_risk)
        else pd.Series(dtype=object)
    )
    for label, file_name in names.items():
        rows = week.at_risk[labels == label]
        files[f"owners/{file_name}"] = render_workbook(
            rows, label, week.as_of, k, week.currency_format
        )

    png = drivers_png(week.drivers, week.families) if len(week.drivers) and week.drivers_n else None
    files["report.html"] = render_report(week, png)
    files["manifest.json"] = render_manifest(week, files, names)
    return files


def render_manifest(
    week: WeekData, files: Mapping[str, bytes], owner_files: Mapping[str, str]
) -> bytes:
    """manifest.json: what the week is, where it came from, counts, and each file's sha256."""
    from churn.scoring import excluded_counts

    h = headline(week)
    manifest = {
        "as_of": week.as_of.date().isoformat(),
        "horizon_days": int(week.horizon_days),
        "model": {key: _jsonable(v) for key, v in week.model.items()},
        "data_hash": week.data_hash,
        "previous_as_of": week.previous_as_of,
        "priority": week.priority,
        "counts": {
            "active": int(week.active),
            "scored": len(week.scores),
            "listed": len(week.at_risk),
            "excluded": len(week.excluded),
            "excluded_by_reason": excluded_counts(week.excluded) if len(week.excluded) else {},
            "new": h["new"],
            "up": h["up"],
            "down": h["down"],
            "dropped_off": h["dropped_off"],
        },
        "headline": {
            "arr_listed": round(h["arr_listed"], 2),
            "revenue_at_risk_listed": round(h["revenue_at_risk"], 2),
            "revenue_at_risk_all": round(h["revenue_at_risk_all"], 2),
        },
        "owners": dict(sorted(owner_files.items())),
        "settings": {key: _jsonable(v) for key, v in week.settings.items()},
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())},
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --------------------------------------------------------------------------- atomic writing


def week_folder(root: Path, as_of: pd.Timestamp) -> Path:
    return Path(root) / pd.Timestamp(as_of).date().isoformat()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def recover_week_folders(root: Path) -> None:
    """Clean up after a killed write: drop temporary folders, restore a half-swapped week.

    Hidden ``.<week>.tmp-*`` folders are incomplete writes (deleted). A ``.<week>.old-*`` folder
    whose week folder is missing means a kill between the two renames of the non-Linux swap: it
    is the previous complete week and is put back.
    """
    root = Path(root)
    if not root.is_dir():
        return
    for entry in sorted(root.iterdir()):
        if not entry.name.startswith("."):
            continue
        if _TMP_MARK in entry.name:
            shutil.rmtree(entry, ignore_errors=True)
        elif _OLD_MARK in entry.name:
            week = root / entry.name[1:].split(_OLD_MARK)[0]
            if week.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                os.rename(entry, week)


def write_week_atomically(files: Mapping[str, bytes], target: Path) -> Path:
    """Write ``files`` as the folder ``target``, all or nothing.

    Everything is written into a hidden temporary folder next to ``target`` (same file system,
    so the final rename is atomic), flushed to disk, and only then swapped with the previous
    folder. A kill at any point leaves either the previous complete folder or the new complete
    one, and at most a hidden temporary folder that the next write removes.

    Set the environment variable ``CHURN_WRITE_DELAY_S`` to sleep between files (tests kill a
    deliberately slowed write).
    """
    target = Path(target)
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    recover_week_folders(root)
    delay = float(os.environ.get(WRITE_DELAY_ENV) or 0)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_MARK}", dir=root))
    os.chmod(tmp, 0o755)
    for rel, data in files.items():
        path = (tmp / rel).resolve()
        # Paths are built by this module, but a name must never escape the folder.
        if tmp.resolve() not in path.parents:
            raise ValueError(f"refusing to write {rel!r} outside the week folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if delay:
            time.sleep(delay)
    for sub in sorted({p.parent for p in tmp.rglob("*")} | {tmp}):
        _fsync_dir(sub)

    if not target.exists():
        os.rename(tmp, target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp)  # now holds the previous week
    else:
        old = root / f".{target.name}{_OLD_MARK}{os.getpid()}"
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(root)
    log.info("wrote %d files to %s", len(files), target)
    return target


def previous_week_folder(root: Path, as_of: pd.Timestamp) -> Path | None:
    """The latest complete week folder under ``root`` strictly before ``as_of`` (or None)."""
    root = Path(root)
    if not root.is_dir():
        return None
    best: tuple[pd.Timestamp, Path] | None = None
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            when = pd.Timestamp(entry.name)
        except ValueError:
            continue
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.name):
            continue
        if when < as_of and (entry / "manifest.json").exists() and (best is None or when > best[0]):
            best = (when, entry)
    return best[1] if best else None


def read_week(folder: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """A previous week's list and scores (either may be None if the file is absent)."""
    folder = Path(folder)
    lst = (
        pd.read_parquet(folder / "at_risk.parquet")
        if (folder / "at_risk.parquet").exists()
        else None
    )
    scores = (
        pd.read_parquet(folder / "scores.parquet") if (folder / "scores.parquet").exists() else None
    )
    return lst, scores


__all__ = [
    "WeekData",
    "build_week_files",
    "headline",
    "neutralise_formula",
    "owner_file_names",
    "previous_week_folder",
    "read_week",
    "recover_week_folders",
    "render_csv",
    "render_workbook",
    "slugify",
    "week_folder",
    "write_week_atomically",
]
