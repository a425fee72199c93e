"""Reason sentences: each feature's value for one customer, said in plain English.

Every renderer has the signature ``(name, row, direction, groups) -> sentence``: ``row`` holds the
customer's feature values, ``direction`` is +1 when the feature raises this customer's risk and -1
when it lowers it, ``groups`` are the parts of a generated name (channel, category, usage metric,
window) in the order they appear in it. The registry (``churn.features.registry``) names the
renderer of each feature; ``churn.features.catalogue.render_reason`` calls it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd


def _num(row: Mapping[str, Any], key: str) -> float | None:
    """The row's value as a float, or None when absent or missing."""
    value = row.get(key)
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def _n(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"


def _plural(count: float, word: str) -> str:
    return f"{_n(count)} {word}{'' if round(count) == 1 else 's'}"


def human(slug_: str) -> str:
    """A slug as words (``"active_users"`` -> ``"active users"``)."""
    return slug_.replace("_", " ")


# ---- sentence builders: (name, row, direction, match groups) -> sentence ---------------------

Render = Callable[[str, Mapping[str, Any], int, tuple[str, ...]], str]


def tenure(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Signup date unknown"
    if v >= 365:
        return f"Customer for {v / 365.25:.1f} years"
    return f"Customer for {_plural(v, 'day')}"


def renewal(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Renewal date not on record"
    # Whole days: renewal dates from contract terms are day-accurate, not hour-accurate.
    days = round(v)
    if days >= 0:
        return f"Renewal in {_plural(days, 'day')}"
    return f"Contract term ended {_plural(-days, 'day')} ago"


def attribute(label: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _text(row, name)
        return f"{label}: {v}" if v else f"{label} not on record"

    return render


def arr(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    return f"Annual recurring revenue of {v:,.0f}" if v is not None else "ARR not on record"


def change(label: str) -> Render:
    """A relative change over the window in the name (``acct_seats_change_90d``: -0.25)."""

    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name)
        window = name.rsplit("_", 1)[-1].rstrip("d")
        if v is None:
            return f"No {label} on record {window} days ago to compare with"
        pct = round(v * 100)
        if pct < 0:
            return f"{label.capitalize()} cut by {-pct}% in the last {window} days"
        if pct > 0:
            return f"{label.capitalize()} up {pct}% in the last {window} days"
        return f"{label.capitalize()} unchanged over the last {window} days"

    return render


def plan_change(up: bool) -> Render:
    """A flag: the plan or the seats in force are lower (higher) than ``window`` days before."""

    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name) or 0.0
        window = name.rsplit("_", 1)[-1].rstrip("d")
        what = "Upgraded (plan or seats)" if up else "Downgraded (plan or seats)"
        if v > 0:
            return f"{what} in the last {window} days"
        return f"No {'upgrade' if up else 'downgrade'} in the last {window} days"

    return render


def count_in(what: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name) or 0.0
        label = what.format(*[human(x) for x in g[:-1]])
        window = g[-1]
        if v == 0:
            return f"No {label}s in the last {window} days"
        return f"{_plural(v, label)} in the last {window} days"

    return render


def open_tickets(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    return f"{_plural(v, 'ticket')} open" if v else "No open tickets"


def old_complaints(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    if not v:
        return f"No complaint open for more than {g[0]} days"
    return f"{_plural(v, 'complaint')} open for more than {g[0]} days"


def resolution(stat: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name)
        if v is None:
            return "No tickets resolved in the last 90 days"
        if stat == "mean":
            return f"Tickets took {v:.1f} days on average to resolve (last 90 days)"
        return f"Slowest ticket took {v:.1f} days to resolve (last 90 days)"

    return render


def since_contact(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No contact on record"
    days = math.floor(v)
    return (
        f"No contact for {_plural(days, 'day')}"
        if days >= 30
        else (f"Last contact {_plural(days, 'day')} ago" if days else "Contact today")
    )


def trend(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    recent = _num(row, "int_tickets_30d")
    tail = f": {_plural(recent, 'interaction')} in the last 30 days" if recent is not None else ""
    if v is None or 0.8 <= v <= 1.25:
        return "Contact rate steady over the last 30 days vs the 90 before"
    if v > 1.25:
        return f"More contact than in the 90 days before{tail}"
    return f"Less contact than in the 90 days before{tail}"


def csat(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No satisfaction ratings on tickets resolved in the last 90 days"
    return f"Average satisfaction {v:.1f} out of 5 on tickets resolved in the last 90 days"


def sentiment(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No sentiment on tickets resolved in the last 90 days"
    mood = "negative" if v < -0.1 else "positive" if v > 0.1 else "neutral"
    return f"Tickets resolved in the last 90 days were {mood} on average ({v:+.2f} on -1 to 1)"


def nps_last(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, "nps_last")
    if v is None:
        return "No NPS response on record"
    band = _text(row, "nps_last_category")
    return f"Last NPS response: {_n(v)}" + (f" ({band})" if band else "")


def nps_previous(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    return f"Previous NPS response: {_n(v)}" if v is not None else "Only one NPS response or none"


def nps_delta(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    last, prev = _num(row, "nps_last"), _num(row, "nps_previous")
    if last is None:
        return "No NPS response on record"
    if prev is None:
        return "No earlier NPS response to compare"
    if last < prev:
        return f"NPS fell from {_n(prev)} to {_n(last)}"
    if last > prev:
        return f"NPS rose from {_n(prev)} to {_n(last)}"
    return f"NPS unchanged at {_n(last)}"


def nps_min(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No NPS response in the last 180 days"
    return f"Lowest NPS in the last 180 days: {_n(v)}"


def nps_since(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No NPS response on record"
    return f"Last NPS response {_plural(math.floor(v), 'day')} ago"


def nps_count(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    return (
        f"{_plural(v, 'NPS response')} in the last year"
        if v
        else "No NPS response in the last year"
    )


def nps_rate(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No NPS survey sent in the last year"
    if v == 0:
        return "Answered none of the NPS surveys sent in the last year"
    return f"Answered {v:.0%} of the NPS surveys sent in the last year"


def util_level(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = human(g[0])
    if v is None:
        return f"No {metric} data for the last 30 days"
    return f"Average {metric} of {_n(v)} over the last 30 days"


def util_ratio(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = human(g[0]).capitalize()
    if v is None:
        return f"No earlier {human(g[0])} to compare with"
    change = round((v - 1.0) * 100)
    if change < 0:
        return f"{metric} fell {-change}% over the last 30 days vs the 90 before"
    if change > 0:
        return f"{metric} rose {change}% over the last 30 days vs the 90 before"
    return f"{metric} steady over the last 30 days vs the 90 before"


def util_slope(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = human(g[0]).capitalize()
    if v is None:
        return f"Not enough {human(g[0])} history for a 90-day trend"
    pct = round(v * 100)
    if pct < 0:
        return f"{metric} trending down about {-pct}% a month over the last 90 days"
    if pct > 0:
        return f"{metric} trending up about {pct}% a month over the last 90 days"
    return f"{metric} flat over the last 90 days"


def util_cv(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = human(g[0])
    if v is None:
        return f"Not enough {metric} history to judge its stability"
    return f"{metric.capitalize()} varied by {v:.0%} around its 90-day average"


def seats(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Seat utilisation unknown for the last 30 days"
    return f"{v:.0%} of licensed seats in use over the last 30 days"


def since_active(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No product activity on record"
    days = math.floor(v)
    if days >= 30:
        return f"No product activity for {_plural(days, 'day')}"
    return f"Product used within the last {_plural(max(days, 1), 'day')}"


def balance(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None or abs(v) < 0.05:
        return "No recent service experience events weigh either way"
    if v < 0:
        return (
            "Recent service experience is net negative: complaints, slow or open tickets and "
            "low NPS outweigh the good moments"
        )
    return "Recent service experience is net positive: fast resolutions and high NPS"


# ---- lifetime activity (purchase logs) ----------------------------------------------------


def act_count(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    span = f"in the last {g[0]} days" if g else "on record"
    if v == 0:
        return f"No active periods {span}"
    return f"{_plural(v, 'active period')} {span}"


def act_rate(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No activity on record"
    return f"Active in {v:.1f} periods a month on average since the first"


def act_since_first(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No activity on record"
    return f"First active {_plural(math.floor(v), 'day')} ago"


def act_gap(stat: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name)
        if v is None:
            return "Too few active periods to measure the gaps between them"
        if stat == "mean":
            return f"Usually {_plural(round(v), 'day')} between active periods"
        return f"Gaps between active periods vary by about {_plural(round(v), 'day')}"

    return render


def act_overdue(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Too few active periods to know their usual rhythm"
    if v >= 1.5:
        return f"Silent {v:.1f} times longer than their usual gap between active periods"
    if v >= 1:
        return "Silent a little longer than their usual gap between active periods"
    return "Still within their usual gap between active periods"


def act_pct(what: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name)
        if v is None:
            return "No activity on record"
        pct = min(round(v * 100), 99)  # the top rank ties at 100%: "longer than 99%" is true
        if what == "recency":
            return f"Silent for longer than {pct}% of customers at the same date"
        return f"Buying for longer than {pct}% of customers at the same date"

    return render


def act_total(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    return f"{_n(v)} {human(g[0])} in total over their whole history"


def act_mean(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return f"No {human(g[0])} on record"
    return f"{_n(v)} {human(g[0])} per active period on average"


def act_last_vs_mean(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = human(g[0])
    if v is None:
        return f"Too few active periods to compare the latest {metric}"
    change = round((v - 1.0) * 100)
    if change < 0:
        return f"Latest period's {metric} {-change}% below their earlier average"
    if change > 0:
        return f"Latest period's {metric} {change}% above their earlier average"
    return f"Latest period's {metric} in line with their earlier average"
