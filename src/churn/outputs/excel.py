"""One workbook per account owner: their customers on the list, readable and deterministic.

Frozen header, column widths, number formats and wrapped reasons; text cells are neutralised
(``churn.outputs.tables.neutralise_formula``) and stripped of the control characters Excel
refuses. No clock inside the file: fixed created/modified times and zip entry times, so the same
rows give byte-identical workbooks.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from churn.outputs.tables import neutralise_formula, reasons_of

_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

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
    _write_header(ws)
    for i, row in enumerate(rows.to_dict("records"), start=2):
        _write_row(ws, i, row, k, formats)
    ws.freeze_panes = "C2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(_EXCEL_COLUMNS))}{max(1, len(rows) + 1)}"
    ws.sheet_view.zoomScale = 100
    _write_about(wb.create_sheet("About"), owner, as_of)

    # No clock inside files: created/modified are the week itself, the creator is the product.
    fixed = datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.creator = "churn"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_zip(buf.getvalue(), wb, fixed)


def _write_header(ws: Any) -> None:
    """The header row: bold white on blue, wrapped, with each column's width."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    header_font = Font(bold=True, color="FFFFFF")
    header_fill = PatternFill("solid", fgColor="1F4E79")
    for j, (_, header, width, _) in enumerate(_EXCEL_COLUMNS, start=1):
        cell = ws.cell(row=1, column=j, value=header)
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(j)].width = width
    ws.row_dimensions[1].height = 32


def _write_row(ws: Any, i: int, row: Mapping[str, Any], k: int, formats: Mapping[str, str]) -> None:
    """Sheet row ``i``: one customer's cells, formatted, and a height that shows every reason."""
    from openpyxl.styles import Alignment

    wrap = Alignment(wrap_text=True, vertical="top")
    top = Alignment(vertical="top")
    reason_width = dict((c, w) for c, _, w, _ in _EXCEL_COLUMNS)["reasons"]
    reasons = [
        f"• {r['text']}" + (f" ({r['effect']})" if r["effect"] else "") for r in reasons_of(row, k)
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


def _write_about(about: Any, owner: str, as_of: pd.Timestamp) -> None:
    """The "About" sheet: whose list and which week, and what each column means."""
    from openpyxl.styles import Alignment, Font

    notes = [
        ("Owner", owner),
        ("Week (as_of)", as_of.date().isoformat()),
        ("Churn probability", "Calibrated probability of leaving within the model's horizon."),
        ("Revenue at risk", "Churn probability x ARR: the ARR expected to be lost."),
        (
            "Why at risk",
            "The behaviours (never account attributes) that raise this customer's risk most, "
            "stated from their own data and only where the value points to more risk. Points: "
            "probability minus the base rate, split between the features in proportion to their "
            "TreeSHAP log-odds contributions (risk-raising ones share the rise, risk-lowering ones "
            "the fall); reasons plus other factors add up to probability minus base rate.",
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
