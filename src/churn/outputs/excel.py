"""One workbook per account owner: their customers on the list, readable and deterministic.

A front "Summary" sheet (customers, ARR and revenue at risk, plays, the list rule, the tier bands
and how to read the list), then "At risk": frozen header and name column, column widths, number
formats, wrapped reasons beside the voice of the customer, and a page setup that prints landscape,
one page wide, with the header row repeated on every page. Text cells are neutralised
(``churn.outputs.tables.neutralise_formula``) and stripped of the control characters Excel
refuses. No clock inside the file: fixed created/modified times and zip entry times, so the same
rows give byte-identical workbooks.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from churn.outputs.display import (
    issue_voice,
    missing,
    nps_voice,
    owner_summaries,
    play_marker,
    reasons,
    tier_band_texts,
    trend_text,
    trend_values,
)
from churn.outputs.tables import neutralise_formula

_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_EXCEL_COLUMNS: list[tuple[str, str, int, str | None]] = [
    # (column key, header, width, number format: "pct", "money", "int", "pts" or None)
    ("rank", "Rank", 5, "int"),
    ("customer_id", "Customer ID", 11, None),
    ("name", "Customer", 22, None),
    ("segment", "Segment", 11, None),
    ("plan", "Plan", 10, None),
    ("arr", "ARR", 11, "money"),
    ("churn_probability", "Churn probability", 10, "pct"),
    ("risk_tier", "Risk tier", 8, None),
    ("revenue_at_risk", "Revenue at risk", 11, "money"),
    ("days_to_renewal", "Days to renewal", 9, "int"),
    ("reasons", "Why at risk", 40, None),
    ("voice", "Customer voice (latest NPS answer; latest complaint or incident)", 32, None),
    ("what_changed", "What changed", 20, None),
    ("trend", "Probability, last 8 weeks (oldest first; \u2013 no score)", 16, None),
    ("recommended_play", "Recommended play", 24, None),
    ("change", "Since last week", 9, None),
    ("probability_change", "Probability change (points)", 10, "pts"),
    ("play_marker", "Play in progress", 14, None),
    # For the owner to fill in and return (``churn record`` reads these headers back): only
    # rows with a Status are recorded; Started defaults to the week, or the open play's start.
    ("status", "Status", 12, None),
    ("outcome", "Outcome", 12, None),
    ("started_at", "Started", 11, "date"),
    ("closed_at", "Closed", 11, "date"),
    ("note", "Note", 30, None),
]
#: Under ``rank_by: uplift`` (the list has ``expected_arr_saved``), right after revenue at risk.
_SAVED_COLUMN = ("expected_arr_saved", "Expected ARR saved", 11, "money")


def _columns(rows: pd.DataFrame) -> list[tuple[str, str, int, str | None]]:
    """The workbook's columns: with expected ARR saved when the list was ranked by it."""
    if "expected_arr_saved" not in rows.columns or not rows["expected_arr_saved"].notna().any():
        return _EXCEL_COLUMNS
    at = [c[0] for c in _EXCEL_COLUMNS].index("revenue_at_risk") + 1
    return [*_EXCEL_COLUMNS[:at], _SAVED_COLUMN, *_EXCEL_COLUMNS[at:]]


def _printed(columns: Sequence[tuple[str, str, int, str | None]]) -> int:
    """The printed columns: the list itself, up to the probability change."""
    return [c[0] for c in columns].index("probability_change") + 1


#: Columns whose text wraps (the others are short).
_WRAPPED = ("name", "reasons", "voice", "what_changed", "trend", "recommended_play", "note")
#: The columns frozen on screen: rank, customer ID and name stay while scrolling right.
_FREEZE = "D2"


def _excel_text(value: Any) -> Any:
    if isinstance(value, str):
        # openpyxl refuses control characters; they carry no meaning for a reader anyway.
        return neutralise_formula(_ILLEGAL_XML.sub("", value))
    return value


def render_workbook(
    rows: pd.DataFrame,
    owner: str,
    as_of: pd.Timestamp,
    k: int,
    currency_format: str,
    *,
    list_rule: str = "",
    tier_bands: Sequence[tuple[str, float]] = (),
    alerts: pd.DataFrame | None = None,
) -> bytes:
    """One owner's workbook: a summary front sheet, then the list; deterministic bytes.

    ``alerts`` (the owner's rows of ``churn.alerts.ALERT_COLUMNS``), when given, is an "Alerts"
    sheet right after the summary, before the list: what needs a follow-up within days.

    ``list_rule`` (a sentence) and ``tier_bands`` ((tier, lower bound), highest first) are stated
    on the front sheet, so each workbook says who is on the list and what "high" means.
    """
    from openpyxl import Workbook
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
        "date": "yyyy-mm-dd",
    }
    columns = _columns(rows)
    _write_header(ws, columns)
    for i, row in enumerate(rows.to_dict("records"), start=2):
        _write_row(ws, i, row, k, formats, columns)
    _add_dropdowns(ws, len(rows), columns)
    ws.freeze_panes = _FREEZE
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(rows) + 1)}"
    ws.sheet_view.zoomScale = 100
    _print_setup(ws, as_of, landscape=True)
    ws.print_title_rows = "1:1"  # the header row on every printed page
    # The list prints one page wide and readable; the columns to fill in stay on screen.
    ws.print_area = f"A1:{get_column_letter(_printed(columns))}{max(1, len(rows) + 1)}"

    if alerts is not None:
        _write_alerts(wb.create_sheet("Alerts", 0), alerts, as_of)
    summary = wb.create_sheet("Summary", 0)
    top = tier_bands[0][0] if tier_bands else "high"
    r = _write_summary(summary, rows, owner, as_of, top, formats["money"])
    r = _write_rule(summary, r + 1, list_rule, tier_bands)
    _write_how_to_read(summary, r + 1)
    _print_setup(summary, as_of, landscape=False)
    wb.active = 0  # the workbook opens on its front sheet

    # No clock inside files: created/modified are the week itself, the creator is the product.
    fixed = datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.creator = "churn"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue(), wb, fixed)


def _write_header(ws: Any, columns: Sequence[tuple[str, str, int, str | None]]) -> None:
    """The header row: bold white on blue, wrapped, with each column's width."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    for j, (_, header, width, _) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=j, value=header)
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.row_dimensions[1].height = 45


def _print_setup(ws: Any, as_of: pd.Timestamp, *, landscape: bool) -> None:
    """A4, one page wide (as many tall as needed), narrow margins, page numbers in the footer."""
    from openpyxl.worksheet.page import PageMargins

    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0: as many pages tall as the rows need
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins = PageMargins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    # Only fixed text in the footer: "&" codes in a customer or owner name would be run.
    ws.oddFooter.center.text = f"At-risk list, week of {as_of.date().isoformat()} - page &P of &N"


def _cell_value(value: Any) -> Any:
    if missing(value) and not isinstance(value, str):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return _excel_text(value)


def _write_row(
    ws: Any,
    i: int,
    row: Mapping[str, Any],
    k: int,
    formats: Mapping[str, str],
    columns: Sequence[tuple[str, str, int, str | None]] = _EXCEL_COLUMNS,
) -> None:
    """Sheet row ``i``: one customer's cells, formatted, and a height that shows every line."""
    from openpyxl.styles import Alignment

    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    lines = [
        f"\u2022 {r['text']}" + (f" ({r['effect']})" if r["effect"] else "")
        for r in reasons(row, k)
    ]
    voice = [t for t in (nps_voice(row), issue_voice(row)) if t]
    values = {
        **row,
        "reasons": "\n".join(lines),
        "voice": "\n".join(voice),
        "what_changed": str(row.get("what_changed") or "").strip(),
        "trend": trend_text(trend_values(row.get("probability_trend"))),
    }
    # A change of probability is in whole percentage points (never shown as "-0 pts").
    change = row.get("probability_change")
    values["probability_change"] = None if missing(change) else round(100 * float(change))
    values["play_marker"] = play_marker(row)
    # An open play's start, so that a Status filled in updates that play rather than a new one.
    values["started_at"] = None if missing(row.get("play_started_at")) else row["play_started_at"]
    for key in ("status", "outcome", "closed_at", "note"):
        values[key] = None
    for j, (key, _, _width, fmt) in enumerate(columns, start=1):
        value = _cell_value(values.get(key))
        cell = ws.cell(row=i, column=j, value=None if value == "" else value)
        if fmt:
            cell.number_format = formats[fmt]
        cell.alignment = wrap if key in _WRAPPED else top
    # Excel does not grow rows for wrapped text written by a library: size each row so every
    # line is readable without scrolling (about 1.1 characters per unit of column width).
    widths = {c: w for c, _, w, _ in columns}
    needed = max(
        sum(max(1, math.ceil(len(part) / (widths[key] * 1.1))) for part in text.split("\n"))
        for key, text in (
            ("trend", values["trend"]),
            ("reasons", values["reasons"]),
            ("voice", values["voice"]),
            ("what_changed", values["what_changed"]),
            ("recommended_play", str(values.get("recommended_play") or "")),
            ("name", str(values.get("name") or "")),
        )
    )
    ws.row_dimensions[i].height = max(15.0, 15.0 * needed + 3)


def _add_dropdowns(
    ws: Any, n: int, columns: Sequence[tuple[str, str, int, str | None]] = _EXCEL_COLUMNS
) -> None:
    """Status (one of the statuses) and Outcome (suggested outcomes, or free text) dropdowns."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    from churn.actions import ACTION_OUTCOMES
    from churn.contract import ACTION_STATUSES

    keys = [c[0] for c in columns]
    last = max(2, n + 1)
    for key, choices, strict in (
        ("status", ACTION_STATUSES, True),
        ("outcome", ACTION_OUTCOMES, False),
    ):
        dv = DataValidation(
            type="list",
            formula1='"' + ",".join(choices) + '"',
            allow_blank=True,
            showErrorMessage=strict,
            errorTitle="Unknown status" if strict else None,
            error=f"Use one of: {', '.join(choices)}" if strict else None,
        )
        col = get_column_letter(keys.index(key) + 1)
        dv.add(f"{col}2:{col}{last}")
        ws.add_data_validation(dv)


def _write_alerts(ws: Any, alerts: pd.DataFrame, as_of: pd.Timestamp) -> None:
    """The owner's alerts of the week: kind, customer, what happened, when, and the due date."""
    from openpyxl.styles import Alignment, Font

    ws.cell(row=1, column=1, value="Alerts: follow up by the due date").font = Font(
        bold=True, size=14
    )
    heads = [("Kind", 12), ("Customer ID", 11), ("Customer", 22), ("What happened", 60)]
    heads += [("Event date", 11), ("Due date", 11)]
    for j, (head, width) in enumerate(heads, start=1):
        ws.cell(row=3, column=j, value=head).font = Font(bold=True)
        ws.column_dimensions[chr(64 + j)].width = width
    if not len(alerts):
        ws.cell(row=4, column=1, value="No alerts for your customers this week.")
    keys = ["kind", "customer_id", "name", "detail", "event_date", "due_date"]
    for i, row in enumerate(alerts.to_dict("records"), start=4):
        for j, key in enumerate(keys, start=1):
            value = row.get(key)
            if key == "kind":
                value = str(value).replace("_", " ")
            cell = ws.cell(row=i, column=j, value=_cell_value(value))
            cell.alignment = Alignment(wrap_text=key == "detail", vertical="top")
            if key.endswith("_date"):
                cell.number_format = "yyyy-mm-dd"
        text = str(row.get("detail") or "")
        ws.row_dimensions[i].height = 15.0 * max(1, math.ceil(len(text) / 66)) + 3
    ws.freeze_panes = "A4"
    _print_setup(ws, as_of, landscape=True)


_HOW_TO_READ = [
    ("Churn probability", "Calibrated probability of leaving within the model's horizon."),
    ("Revenue at risk", "Churn probability x ARR: the ARR expected to be lost."),
    (
        "Why at risk",
        "Behaviours (never account attributes such as region, plan or ARR) that raise this "
        "customer's risk, each with its size in probability points. The points split the "
        "customer's probability minus the base rate (the model's probability with no feature "
        "information) in proportion to the TreeSHAP log-odds contributions: risk-raising "
        "features share the rise, risk-lowering ones the fall, so the reasons plus other factors "
        "add up to probability minus base rate. Sizes that round to 0 points are not shown.",
    ),
    (
        "Customer voice",
        "The latest NPS answer (score, date and comment as written) and the latest complaint or "
        "incident (category, open or resolved, and its age).",
    ),
    ("What changed", "For a customer new on the list or moved up: what changed most."),
    ("Probability, last 8 weeks", "This customer's probability each week, oldest first."),
    (
        "Since last week",
        "new = not on last week's list; up/down = probability moved by 1 point or more; "
        "in play = a play recorded for this customer is still open (see Play in progress).",
    ),
    (
        "Status, Outcome, Started, Closed, Note",
        "Fill these in for the customers you work on (Status: planned, in progress, done or not "
        "done; Outcome: pick one or type your own) and return the workbook: `churn record` reads "
        "every row with a Status. Started is the week unless you change it; Closed once done.",
    ),
]


def _put(ws: Any, r: int, key: str, value: Any, fmt: str | None = None) -> None:
    from openpyxl.styles import Alignment, Font

    ws.cell(row=r, column=1, value=key).font = Font(bold=True)
    cell = ws.cell(row=r, column=2, value=_cell_value(value))
    cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")
    if fmt:
        cell.number_format = fmt
    ws.cell(row=r, column=1).alignment = Alignment(vertical="top")


def _write_summary(
    ws: Any, rows: pd.DataFrame, owner: str, as_of: pd.Timestamp, top: str, money: str
) -> int:
    """The front sheet's numbers: whose list, which week, customers, ARR, plays. Next free row."""
    from openpyxl.styles import Font

    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 80
    title = ws.cell(row=1, column=1, value=_excel_text(f"At-risk customers: {owner}"))
    title.font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=f"Week of {as_of.date().isoformat()}")
    summary = (owner_summaries(rows, top) or [None])[0]
    arr = summary["arr"] if summary else math.nan
    rar = summary["revenue_at_risk"] if summary else math.nan
    _put(ws, 4, "Owner", owner)
    _put(ws, 5, "Week (as_of)", as_of.date().isoformat())
    _put(ws, 6, "Customers on the list", summary["customers"] if summary else 0, "0")
    _put(ws, 7, f"In the top risk tier ({top})", summary["top_tier"] if summary else 0, "0")
    _put(ws, 8, "ARR of these customers", None if missing(arr) else arr, money)
    _put(ws, 9, "Revenue at risk (probability x ARR)", None if missing(rar) else rar, money)
    plays = (summary["plays"] if summary else []) or [("none", 0)]
    for j, (play, count) in enumerate(plays):
        _put(ws, 10 + j, "Plays" if j == 0 else "", f"{play}: {count}" if count else play)
    return 10 + len(plays)


def _write_rule(ws: Any, r: int, list_rule: str, tier_bands: Sequence[tuple[str, float]]) -> int:
    """Who is on the list and the tier bands, from row ``r``. Next free row."""
    from openpyxl.styles import Font

    ws.cell(row=r, column=1, value="The list rule").font = Font(bold=True, size=12)
    r += 1
    if list_rule:
        _put(ws, r, "Who is on the list", list_rule)
        ws.row_dimensions[r].height = 15.0 * max(1, math.ceil(len(list_rule) / 85)) + 3
        r += 1
    for j, text in enumerate(tier_band_texts(tier_bands) or ["not stated"]):
        _put(ws, r, "Risk tiers (by probability)" if j == 0 else "", text)
        r += 1
    return r


def _write_how_to_read(ws: Any, r: int) -> None:
    from openpyxl.styles import Font

    ws.cell(row=r, column=1, value="How to read the list").font = Font(bold=True, size=12)
    for j, (key, text) in enumerate(_HOW_TO_READ, start=r + 1):
        _put(ws, j, key, text)
        ws.row_dimensions[j].height = 15.0 * max(1, math.ceil(len(text) / 85)) + 3


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
