"""The week's page: one self-contained HTML file (inline CSS/JS/SVG, plot as base64 PNG).

The page is rendered with jinja2 from ``templates/report.html.j2`` with autoescaping (names
cannot inject markup), under a Content-Security-Policy that forbids any external request. No
PNG software/date chunks, so the same week gives the same bytes. Below 760 px the list becomes
stacked cards (no sideways scrolling); printing drops the controls and keeps rows whole.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.outputs.display import (
    fmt_money,
    fmt_pct,
    fmt_points,
    issue_voice,
    list_rule,
    missing,
    nps_parts,
    nps_voice,
    owner_summaries,
    play_marker,
    reasons,
    sparkline,
    tier_band_texts,
    tier_bands,
    trend_values,
)
from churn.outputs.tables import _text, owner_label, slugify

if TYPE_CHECKING:
    from churn.outputs.week import WeekData

#: Kept under its old name: tests and callers import the probability formatter from here.
_fmt_pct = fmt_pct
_fmt_money = fmt_money


def _num(x: Any) -> str:
    """A sort key for the HTML table: empty for missing (sorted last by the page's script)."""
    return "" if missing(x) else repr(float(x))


# --------------------------------------------------------------------------- plot

_PALETTE = {
    "product adoption": "#2f6eba",
    "service experience": "#d9822b",
    "sentiment": "#8e44ad",
    "commercial": "#2e8b57",
    "account context (never a reason)": "#b8c2cc",
}


def driver_label(name: str, width: int = 44) -> tuple[str, str | None]:
    """A feature's plain name from the registry ("Sales region"), on at most two lines, and kind.

    A name the registry does not know keeps its column name with spaces for underscores.
    """
    import textwrap

    from churn.features import lookup

    try:
        column = lookup(name)
    except KeyError:
        return name.replace("_", " "), None
    text = column.description.split(" (")[0].rstrip(".")
    return textwrap.fill(text, width=width, max_lines=2, placeholder=" \u2026"), column.kind


def drivers_png(drivers: pd.Series, families: Mapping[str, str], top: int = 15) -> bytes:
    """Horizontal bar chart of the global drivers (mean |contribution|), as PNG bytes.

    Bars are labelled with each feature's plain name; account attributes (context, never a
    reason) are grey, so a reader sees they move the score without being "why at risk".
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    data = drivers.head(top)[::-1]
    labels, groups = [], []
    for name in data.index:
        label, kind = driver_label(str(name))
        labels.append(label)
        groups.append(
            "account context (never a reason)" if kind == "context" else families.get(name, "")
        )
    colours = [_PALETTE.get(g, "#7b8794") for g in groups]
    fig = Figure(figsize=(9, max(2.5, 0.4 * len(data) + 1.2)), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(list(range(len(data))), data.to_numpy(), color=colours)
    ax.set_yticks(list(range(len(data))), labels=labels, fontsize=8)
    ax.set_xlabel("mean |TreeSHAP contribution| (log-odds)")
    ax.set_title("Global drivers of churn risk")
    used = [g for g in _PALETTE if g in groups]
    if used:
        ax.legend(handles=[Patch(color=_PALETTE[g], label=g) for g in used], fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    # No Software/date metadata chunks: the same drivers give the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML


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
    bands = tier_bands(week)
    return bands[0][0] if bands else "high"


def render_report(week: WeekData, drivers_png_bytes: bytes | None) -> bytes:
    """The self-contained HTML page (jinja2 with autoescaping: names cannot inject markup)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("churn.outputs", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        keep_trailing_newline=True,
    )
    k = week.reasons_per_customer
    top = week_top_tier(week)
    rows = [_table_row(r, k, top) for r in week.at_risk.to_dict("records")]
    excluded = sorted(week.excluded["reason"].value_counts().items()) if len(week.excluded) else []
    owners = owner_summaries(week.at_risk, top)
    html = env.get_template("report.html.j2").render(
        as_of=week.as_of.date().isoformat(),
        horizon_days=week.horizon_days,
        model_label=_model_label(week.model),
        previous_as_of=week.previous_as_of,
        priority_label=_priority_label(week),
        cards=_headline_cards(week),
        columns=_TABLE_COLUMNS,
        rows=rows,
        owners=[
            {**o, "arr": fmt_money(o["arr"]), "rar": fmt_money(o["revenue_at_risk"])}
            for o in owners
        ],
        dropped=_dropped_rows(week.dropped),
        list_rule=list_rule(week),
        tier_bands=tier_band_texts(tier_bands(week)),
        top_tier=top,
        drivers_png=base64.b64encode(drivers_png_bytes).decode("ascii")
        if drivers_png_bytes
        else "",
        drivers_n=week.drivers_n,
        excluded=[(str(reason), int(n)) for reason, n in excluded],
        alerts=_alert_rows(week.alerts) if len(week.alerts.columns) else None,
        alert_kinds=_ALERT_KINDS_TEXT,
        control_text=_control_text(week),
    )
    return html.encode("utf-8")


def _priority_label(week: WeekData) -> str:
    """What the list is sorted by, in words (``rank_by: uplift``: expected ARR saved)."""
    if (week.settings or {}).get("rank_by") == "uplift":
        return "expected ARR saved (the play's estimated effect on churn x ARR)"
    if week.priority == "revenue_at_risk":
        return "revenue at risk (probability x ARR)"
    return "churn probability"


_ALERT_KINDS_TEXT = (
    "a detractor NPS answer, a complaint or incident left open, a sharp usage drop, "
    "a renewal soon for a customer at high risk"
)


def _alert_rows(alerts: pd.DataFrame) -> list[dict[str, str]]:
    """The week's alerts as the page shows them (``churn.alerts.ALERT_COLUMNS``), due first."""
    out = []
    for r in alerts.to_dict("records"):
        out.append(
            {
                "kind": _text(r.get("kind")).replace("_", " "),
                "customer_id": _text(r.get("customer_id")),
                "name": _text(r.get("name")),
                "owner": owner_label(r.get("account_owner")),
                "detail": _text(r.get("detail")),
                "event_date": _date(r.get("event_date")),
                "due_date": _date(r.get("due_date")),
            }
        )
    return out


def _date(x: Any) -> str:
    return "" if missing(x) else pd.Timestamp(x).date().isoformat()


def _control_text(week: WeekData) -> str:
    """How many listed customers were held out as the control group, and why (or "")."""
    from churn.control import control_summary

    if week.control_share is None and not len(week.control.columns):
        return ""
    listed = len(week.at_risk) + len(week.control)
    return control_summary(listed, week.control, float(week.control_share or 0.0))


#: The page's table columns: header label and how the page's script sorts them.
_TABLE_COLUMNS = [
    {"label": "#", "type": "num"},
    {"label": "Customer", "type": "text"},
    {"label": "Owner", "type": "text"},
    {"label": "ARR", "type": "num"},
    {"label": "Churn prob.", "type": "num"},
    {"label": "Tier", "type": "num"},
    {"label": "Revenue at risk", "type": "num"},
    {"label": "Renewal in", "type": "num"},
    {"label": "Why at risk", "type": "text"},
    {"label": "Customer voice", "type": "text"},
    {"label": "Recommended play", "type": "text"},
    {"label": "Change", "type": "num"},
]


def _headline_cards(week: WeekData) -> list[dict[str, str]]:
    """The headline cards at the top of the page: id, value and label of each.

    The page's owner filter recomputes each value from the rows (``data-*`` attributes), so the
    cards of one owner's view are that owner's numbers.
    """
    h = headline(week)
    since = f"since {week.previous_as_of}" if week.previous_as_of else "no earlier list"
    return [
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
        {"id": "h-arr", "value": fmt_money(h["arr_listed"]), "label": "ARR of listed customers"},
        {
            "id": "h-rar",
            "value": fmt_money(h["revenue_at_risk"]),
            "label": "revenue at risk on the list (probability x ARR)",
        },
        {"id": "h-new", "value": f"{h['new']:,}", "label": f"new on the list ({since})"},
        {"id": "h-updown", "value": f"{h['up']:,} / {h['down']:,}", "label": "risk up / down"},
        {"id": "h-dropped", "value": f"{h['dropped_off']:,}", "label": "dropped off the list"},
    ]


def _table_row(r: Mapping[str, Any], k: int, top_tier: str | None) -> dict[str, Any]:
    """One listed customer as the page's table shows it: display text and sort keys."""
    change = _text(r.get("change")) or "new"
    delta = r.get("probability_change")
    moved = fmt_points(delta) if change in ("up", "down") else ""
    trend = trend_values(r.get("probability_trend"))
    return {
        "rank": int(r["rank"]),
        "customer_id": _text(r.get("customer_id")),
        "name": _text(r.get("name")),
        "owner": owner_label(r.get("account_owner")),
        "segment": _text(r.get("segment")),
        "plan": _text(r.get("plan")),
        "arr": fmt_money(r.get("arr")),
        "arr_sort": _num(r.get("arr")),
        "probability": fmt_pct(r.get("churn_probability")),
        "probability_sort": _num(r.get("churn_probability")),
        "tier": _text(r.get("risk_tier")),
        "tier_class": slugify(r.get("risk_tier")),
        "top": int(_text(r.get("risk_tier")) == (top_tier or "")),
        "revenue": fmt_money(r.get("revenue_at_risk")),
        "revenue_sort": _num(r.get("revenue_at_risk")),
        # rank_by: uplift: what the list is ordered by, shown under the revenue at risk.
        "saved": fmt_money(r.get("expected_arr_saved")),
        "renewal": "" if missing(r.get("days_to_renewal")) else f"{int(r['days_to_renewal'])} d",
        "renewal_sort": _num(r.get("days_to_renewal")),
        "reasons": reasons(r, k),
        "what_changed": _text(r.get("what_changed")).strip(),
        "nps": nps_parts(r),
        "nps_text": nps_voice(r),
        "issue": issue_voice(r),
        "trend": sparkline(trend),
        "play": _text(r.get("recommended_play")),
        "change": change,
        "change_label": change + (f" {moved}" if moved else ""),
        "play_marker": play_marker(r),
        "change_sort": _num(delta),
    }


def _dropped_rows(dropped: pd.DataFrame) -> list[dict[str, str]]:
    """Customers on last week's list and not on this one, with why (what the frame carries)."""
    out = []
    for r in dropped.to_dict("records") if len(dropped) else []:
        prev = r.get("previous_rank")
        out.append(
            {
                "customer_id": _text(r.get("customer_id")),
                "name": _text(r.get("name")),
                "owner": owner_label(r.get("account_owner")),
                "arr": fmt_money(r.get("arr")),
                "previous_rank": "" if missing(prev) else f"{int(prev)}",
                "previous_probability": fmt_pct(r.get("previous_probability")),
                "probability": fmt_pct(r.get("churn_probability")),
                "why": _text(r.get("why")),
            }
        )
    return out


def _model_label(model: Mapping[str, Any]) -> str:
    name = model.get("name") or "churn"
    version = model.get("version")
    return f"{name} v{version}" if version not in (None, "") else str(name)
