"""How the page and the workbooks say things: one formatter per kind of value, shared by both.

A probability, a size in points, a date, the tier bands, the voice of the customer and the
probability trend are written by these functions only, so the page and an owner's workbook can
never disagree about the same number ("50%" in one and "49%" in the other, ">99%" and "100%").
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.outputs.tables import _text, format_probability, owner_label, reasons_of

if TYPE_CHECKING:
    from churn.outputs.week import WeekData

#: How many weeks the probability trend covers (this week last).
TREND_WEEKS = 8


def missing(x: Any) -> bool:
    """True for None, NaN, NaT and pd.NA (and the empty string)."""
    if x is None or x is pd.NA or (isinstance(x, str) and not x.strip()):
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def fmt_money(x: Any) -> str:
    return "" if missing(x) else f"{float(x):,.0f}"


def fmt_pct(x: Any) -> str:
    """A probability as the page, the workbooks and the CLI show it: ``format_probability``."""
    return format_probability(x)


def fmt_points(x: Any) -> str:
    """A size in probability points, signed ("+12 pts"); empty when it rounds to 0.

    Rounding first and testing the rounded value means neither "+0 pts" nor "-0 pts" is ever
    written (-0.005 rounds to -0 with Python's half-even rounding).
    """
    if missing(x):
        return ""
    points = round(100 * float(x))
    return "" if points == 0 else f"{points:+d} pts"


def fmt_date(x: Any) -> str:
    if missing(x):
        return ""
    try:
        return pd.Timestamp(x).date().isoformat()
    except (TypeError, ValueError):
        return _text(x)


def reasons(row: Mapping[str, Any], k: int) -> list[dict[str, str]]:
    """The row's reasons (text, family, effect), the effect written by :func:`fmt_points`."""
    out = []
    shown = [i for i in range(1, k + 1) if _text(row.get(f"reason_{i}"))]
    for i, reason in zip(shown, reasons_of(row, k), strict=True):
        out.append({**reason, "effect": fmt_points(row.get(f"reason_{i}_effect"))})
    return out


# --------------------------------------------------------------------------- tiers and rule


def tier_bands(week: WeekData) -> list[tuple[str, float]]:
    """(tier, lower bound) pairs, highest first: ``week.tier_bands``, else the settings' tiers."""
    bands = getattr(week, "tier_bands", None) or (week.settings or {}).get("tiers") or ()
    return [(str(name), float(bound)) for name, bound in bands]


def tier_band_texts(bands: Sequence[tuple[str, float]]) -> list[str]:
    """Each band in words: "high: 50% and above", "medium: 25% to under 50%", "low: under 25%"."""
    out = []
    upper: float | None = None
    for name, lower in bands:
        if upper is None:
            out.append(f"{name}: {fmt_pct(lower)} and above" if lower > 0 else f"{name}: any")
        elif lower <= 0:
            out.append(f"{name}: under {fmt_pct(upper)}")
        else:
            out.append(f"{name}: {fmt_pct(lower)} to under {fmt_pct(upper)}")
        upper = lower
    return out


def list_rule(week: WeekData) -> str:
    """The sentence saying who is on the list (from scoring); empty when scoring gives none."""
    return _text(getattr(week, "list_rule", ""))


# --------------------------------------------------------------------------- voice, trend


def nps_parts(row: Mapping[str, Any]) -> dict[str, str] | None:
    """The latest NPS answer's score, date and verbatim comment (``None`` without one)."""
    score = row.get("last_nps_score")
    if missing(score):
        return None
    return {
        "score": f"{float(score):.0f}",
        "date": fmt_date(row.get("last_nps_at")),
        "comment": _text(row.get("last_nps_comment")).strip(),
    }


def nps_voice(row: Mapping[str, Any]) -> str:
    """The latest NPS answer: 'NPS 3 on 2025-11-02: "too slow"' (empty without one)."""
    parts = nps_parts(row)
    if parts is None:
        return ""
    text = f"NPS {parts['score']}" + (f" on {parts['date']}" if parts["date"] else "")
    comment = parts["comment"]
    return text + (f": \u201c{comment}\u201d" if comment else " (no comment)")


def issue_voice(row: Mapping[str, Any]) -> str:
    """The latest complaint or open incident: "Complaint, open for 12 days" (empty without)."""
    category = _text(row.get("last_issue_category")).strip()
    if not category:
        return ""
    status = _text(row.get("last_issue_status")).strip().lower()
    age = row.get("last_issue_age_days")
    n = None if missing(age) else max(0, round(float(age)))
    days = "" if n is None else f"{n} day" + ("" if n == 1 else "s")
    text = category[:1].upper() + category[1:]
    if status == "open":
        if n == 0:
            return text + ", open, raised today"
        return text + (f", open for {days}" if days else ", open")
    if status:
        ago = "" if n is None else (" (raised today)" if n == 0 else f" (raised {days} ago)")
        return text + f", {status}" + ago
    return text + ("" if n is None else (", today" if n == 0 else f", {days} ago"))


def trend_values(x: Any) -> list[float | None]:
    """The probability trend, oldest first: "0.312 - 0.401" -> [0.312, None, 0.401]."""
    if isinstance(x, str):
        parts: Iterable[Any] = x.split()
    elif isinstance(x, Sequence | pd.Series) or hasattr(x, "tolist"):
        parts = list(x)
    else:
        return []
    out: list[float | None] = []
    for part in parts:
        try:
            value = float(part)
        except (TypeError, ValueError):
            value = math.nan
        out.append(None if math.isnan(value) else value)
    return out[-TREND_WEEKS:] if any(v is not None for v in out) else []


def trend_text(values: Sequence[float | None]) -> str:
    """The trend as the workbook shows it: "31% 34% \u2013 40%" (oldest first, a dash: no score).

    An en dash, not "-": a cell starting with "-" would be neutralised as a formula.
    """
    return " ".join("\u2013" if v is None else fmt_pct(v) for v in values)


def sparkline(
    values: Sequence[float | None], width: int = 96, height: int = 24
) -> dict[str, Any] | None:
    """Coordinates of an inline SVG sparkline of probabilities on a fixed 0-100% scale.

    A fixed scale keeps one customer's small wobble from looking like another's jump. Missing
    weeks break the line. Only numbers come out, so the template can write them as they are.
    """
    if not values or all(v is None for v in values):
        return None
    pad = 3.0
    step = (width - 2 * pad) / max(1, TREND_WEEKS - 1)
    # Right-aligned: this week is always at the right edge, a short history starts later.
    x0 = width - pad - step * (len(values) - 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return round(x0 + i * step, 1), round(height - pad - v * (height - 2 * pad), 1)

    segments, run = [], []
    for i, v in enumerate(values):
        if v is None:
            if run:
                segments.append(run)
            run = []
        else:
            run.append(point(i, min(1.0, max(0.0, v))))
    if run:
        segments.append(run)
    last = values[-1]
    return {
        "width": width,
        "height": height,
        "lines": [" ".join(f"{x},{y}" for x, y in seg) for seg in segments if len(seg) > 1],
        "dots": [seg[0] for seg in segments if len(seg) == 1],
        "end": point(len(values) - 1, min(1.0, max(0.0, last))) if last is not None else None,
        "title": "Churn probability, oldest week first: " + trend_text(values),
    }


# --------------------------------------------------------------------------- owners


def owner_summaries(at_risk: pd.DataFrame, top_tier: str | None) -> list[dict[str, Any]]:
    """Per owner (sorted): customers, ARR and revenue at risk, top-tier count and plays."""
    if not len(at_risk):
        return []
    labels = at_risk["account_owner"].map(owner_label) if "account_owner" in at_risk else None
    out = []
    for label in sorted(set(labels)) if labels is not None else []:
        rows = at_risk[labels == label]
        plays = Counter(_text(p) for p in rows.get("recommended_play", pd.Series(dtype=object)))
        plays.pop("", None)
        out.append(
            {
                "owner": label,
                "customers": len(rows),
                "arr": float(rows["arr"].sum(min_count=1)) if "arr" in rows else math.nan,
                "revenue_at_risk": float(rows["revenue_at_risk"].sum())
                if "revenue_at_risk" in rows
                else math.nan,
                "top_tier": int((rows["risk_tier"] == top_tier).sum())
                if "risk_tier" in rows
                else 0,
                "plays": sorted(plays.items(), key=lambda kv: (-kv[1], kv[0])),
                "names": [_text(n) for n in rows.get("name", pd.Series(dtype=object))],
            }
        )
    return out


def play_marker(row: Mapping[str, Any]) -> str:
    """ "in progress since 2024-05-06" for a customer with an open play, else ""."""
    status = row.get("play_status")
    if missing(status) or not str(status).strip():
        return ""
    started = row.get("play_started_at")
    since = "" if missing(started) else f" since {pd.Timestamp(started).date().isoformat()}"
    return f"{status}{since}"
