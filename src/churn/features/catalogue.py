"""The feature catalogue: what every feature means, its driver family, and how to say it.

Account teams read reasons, not column names. ``render_reason`` turns a customer's own feature
values into a true plain-English sentence ("NPS fell from 9 to 4", "Renewal in 23 days"). When
a value is missing the sentence says so plainly ("No NPS response on record") rather than
inventing a statement. Generated names (per channel, category, usage metric) are resolved by
pattern, so the catalogue works on any dataset.

The family names are fixed: the scoring playbook maps exactly these four to a play.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

FAMILIES: tuple[str, ...] = ("product adoption", "service experience", "sentiment", "commercial")


@dataclass(frozen=True)
class FeatureInfo:
    """One catalogue entry.

    Parameters
    ----------
    name
        Feature column name.
    family
        One of ``FAMILIES``.
    description
        Plain-English meaning of the value.
    reason_template
        The shape of the sentence ``render_reason`` writes, for documentation.
    """

    name: str
    family: str
    description: str
    reason_template: str


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


def _human(slug_: str) -> str:
    return slug_.replace("_", " ")


# ---- sentence builders: (name, row, direction, match groups) -> sentence ---------------------

Render = Callable[[str, Mapping[str, Any], int, tuple[str, ...]], str]


def _tenure(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Signup date unknown"
    if v >= 365:
        return f"Customer for {v / 365.25:.1f} years"
    return f"Customer for {_plural(v, 'day')}"


def _renewal(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Renewal date not on record"
    # Whole days: renewal dates from contract terms are day-accurate, not hour-accurate.
    days = round(v)
    if days >= 0:
        return f"Renewal in {_plural(days, 'day')}"
    return f"Contract term ended {_plural(-days, 'day')} ago"


def _attribute(label: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _text(row, name)
        return f"{label}: {v}" if v else f"{label} not on record"

    return render


def _arr(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    return f"Annual recurring revenue of {v:,.0f}" if v is not None else "ARR not on record"


def _count_in(what: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name) or 0.0
        label = what.format(*[_human(x) for x in g[:-1]])
        window = g[-1]
        if v == 0:
            return f"No {label}s in the last {window} days"
        return f"{_plural(v, label)} in the last {window} days"

    return render


def _open_tickets(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    return f"{_plural(v, 'ticket')} open" if v else "No open tickets"


def _old_complaints(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    if not v:
        return f"No complaint open for more than {g[0]} days"
    return f"{_plural(v, 'complaint')} open for more than {g[0]} days"


def _resolution(stat: str) -> Render:
    def render(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
        v = _num(row, name)
        if v is None:
            return "No tickets resolved in the last 90 days"
        if stat == "mean":
            return f"Tickets took {v:.1f} days on average to resolve (last 90 days)"
        return f"Slowest ticket took {v:.1f} days to resolve (last 90 days)"

    return render


def _since_contact(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No contact on record"
    days = math.floor(v)
    return (
        f"No contact for {_plural(days, 'day')}"
        if days >= 30
        else (f"Last contact {_plural(days, 'day')} ago" if days else "Contact today")
    )


def _trend(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    recent = _num(row, "int_tickets_30d")
    tail = f": {_plural(recent, 'interaction')} in the last 30 days" if recent is not None else ""
    if v is None or 0.8 <= v <= 1.25:
        return "Contact rate steady over the last 30 days vs the 90 before"
    if v > 1.25:
        return f"More contact than in the 90 days before{tail}"
    return f"Less contact than in the 90 days before{tail}"


def _csat(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No satisfaction ratings in the last 90 days"
    return f"Average satisfaction {v:.1f} out of 5 in the last 90 days"


def _sentiment(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No interaction sentiment in the last 90 days"
    mood = "negative" if v < -0.1 else "positive" if v > 0.1 else "neutral"
    return f"Interactions were {mood} on average in the last 90 days ({v:+.2f} on -1 to 1)"


def _nps_last(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, "nps_last")
    if v is None:
        return "No NPS response on record"
    band = _text(row, "nps_last_category")
    return f"Last NPS response: {_n(v)}" + (f" ({band})" if band else "")


def _nps_previous(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    return f"Previous NPS response: {_n(v)}" if v is not None else "Only one NPS response or none"


def _nps_delta(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
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


def _nps_min(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No NPS response in the last 180 days"
    return f"Lowest NPS in the last 180 days: {_n(v)}"


def _nps_since(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No NPS response on record"
    return f"Last NPS response {_plural(math.floor(v), 'day')} ago"


def _nps_count(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name) or 0.0
    return (
        f"{_plural(v, 'NPS response')} in the last year"
        if v
        else "No NPS response in the last year"
    )


def _nps_rate(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No NPS survey sent in the last year"
    if v == 0:
        return "Answered none of the NPS surveys sent in the last year"
    return f"Answered {v:.0%} of the NPS surveys sent in the last year"


def _util_level(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = _human(g[0])
    if v is None:
        return f"No {metric} data for the last 30 days"
    return f"Average {metric} of {_n(v)} over the last 30 days"


def _util_ratio(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = _human(g[0]).capitalize()
    if v is None:
        return f"No earlier {_human(g[0])} to compare with"
    change = round((v - 1.0) * 100)
    if change < 0:
        return f"{metric} fell {-change}% over the last 30 days vs the 90 before"
    if change > 0:
        return f"{metric} rose {change}% over the last 30 days vs the 90 before"
    return f"{metric} steady over the last 30 days vs the 90 before"


def _util_slope(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = _human(g[0]).capitalize()
    if v is None:
        return f"Not enough {_human(g[0])} history for a 90-day trend"
    pct = round(v * 100)
    if pct < 0:
        return f"{metric} trending down about {-pct}% a month over the last 90 days"
    if pct > 0:
        return f"{metric} trending up about {pct}% a month over the last 90 days"
    return f"{metric} flat over the last 90 days"


def _util_cv(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    metric = _human(g[0])
    if v is None:
        return f"Not enough {metric} history to judge its stability"
    return f"{metric.capitalize()} varied by {v:.0%} around its 90-day average"


def _seats(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "Seat utilisation unknown for the last 30 days"
    return f"{v:.0%} of licensed seats in use over the last 30 days"


def _since_active(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None:
        return "No product activity on record"
    days = math.floor(v)
    if days >= 30:
        return f"No product activity for {_plural(days, 'day')}"
    return f"Product used within the last {_plural(max(days, 1), 'day')}"


def _balance(name: str, row: Mapping[str, Any], d: int, g: tuple[str, ...]) -> str:
    v = _num(row, name)
    if v is None or abs(v) < 0.05:
        return "No recent service experience events weigh either way"
    if v < 0:
        return (
            "Recent service experience is net negative: complaints, slow or open tickets and "
            "low NPS outweigh the good moments"
        )
    return "Recent service experience is net positive: fast resolutions and high NPS"


# ---- the catalogue: (pattern, family, description, template, renderer) ------------------------

_W = r"(\d+)"
_ENTRIES: list[tuple[str, str, str, str, Render]] = [
    (r"acct_tenure_days", "commercial", "Days since the customer signed up.",
     "Customer for {years} years", _tenure),
    (r"acct_days_to_renewal", "commercial",
     "Days until the next contract renewal (negative: the term has ended).",
     "Renewal in {days} days", _renewal),
    (r"acct_plan", "commercial", "Product plan or tier.", "Plan: {plan}", _attribute("Plan")),
    (r"acct_segment", "commercial", "Customer segment.", "Segment: {segment}",
     _attribute("Segment")),
    (r"acct_region", "commercial", "Sales region.", "Region: {region}", _attribute("Region")),
    (r"acct_arr", "commercial", "Annual recurring revenue.", "Annual recurring revenue of {arr}",
     _arr),
    (rf"int_tickets_{_W}d", "service experience", "Interactions opened in the last {0} days.",
     "{n} interactions in the last {w} days", _count_in("interaction")),
    (rf"int_ch_(.+)_{_W}d", "service experience",
     "Interactions through the {0} channel in the last {1} days.",
     "{n} {channel} contacts in the last {w} days", _count_in("{} contact")),
    (rf"int_cat_(.+)_{_W}d", "service experience",
     "Interactions of category {0} in the last {1} days.",
     "{n} {category} interactions in the last {w} days", _count_in("{} interaction")),
    (r"int_open_tickets", "service experience",
     "Tickets opened before the snapshot and not resolved before it.",
     "{n} tickets open", _open_tickets),
    (rf"int_open_complaints_{_W}d", "service experience",
     "Complaints opened more than {0} days before the snapshot and still open.",
     "{n} complaints open for more than {d} days", _old_complaints),
    (r"int_resolution_days_mean_90d", "service experience",
     "Mean days to resolve, tickets resolved in the last 90 days (opened within 180).",
     "Tickets took {days} days on average to resolve", _resolution("mean")),
    (r"int_resolution_days_max_90d", "service experience",
     "Longest resolution in days, tickets resolved in the last 90 days (opened within 180).",
     "Slowest ticket took {days} days to resolve", _resolution("max")),
    (r"int_days_since_contact", "service experience", "Days since the last interaction.",
     "No contact for {days} days", _since_contact),
    (r"int_trend_30d_90d", "service experience",
     "Contact rate of the last 30 days over that of the 90 days before (add-one smoothed).",
     "More contact than in the 90 days before", _trend),
    (r"int_csat_mean_90d", "service experience",
     "Mean satisfaction (1-5) of interactions in the last 90 days.",
     "Average satisfaction {csat} out of 5", _csat),
    (r"int_sentiment_mean_90d", "sentiment",
     "Mean sentiment (-1 to 1) of interactions in the last 90 days.",
     "Interactions were {mood} on average", _sentiment),
    (r"nps_last", "sentiment", "Score of the latest NPS response (0-10).",
     "Last NPS response: {score}", _nps_last),
    (r"nps_last_category", "sentiment", "Band of the latest NPS response.",
     "Last NPS response: {score} ({band})", _nps_last),
    (r"nps_previous", "sentiment", "Score of the NPS response before the latest.",
     "Previous NPS response: {score}", _nps_previous),
    (r"nps_delta", "sentiment", "Latest NPS score minus the previous one.",
     "NPS fell from {previous} to {last}", _nps_delta),
    (r"nps_min_180d", "sentiment", "Lowest NPS score in the last 180 days.",
     "Lowest NPS in the last 180 days: {score}", _nps_min),
    (r"nps_days_since_response", "sentiment", "Days since the latest NPS response.",
     "Last NPS response {days} days ago", _nps_since),
    (r"nps_responses_365d", "sentiment", "NPS responses in the last 365 days.",
     "{n} NPS responses in the last year", _nps_count),
    (r"nps_response_rate_365d", "sentiment",
     "Share of NPS surveys sent in the last 365 days that were answered (silence is a signal).",
     "Answered {pct} of the NPS surveys sent in the last year", _nps_rate),
    (r"util_seat_utilisation_30d", "product adoption",
     "Active users over licensed seats, last 30 days.",
     "{pct} of licensed seats in use", _seats),
    (r"util_days_since_active", "product adoption",
     "Days since the end of the last usage period with activity.",
     "No product activity for {days} days", _since_active),
    (r"util_(.+)_ratio_30d_90d", "product adoption",
     "Mean {0} of the last 30 days over the mean of the 90 days before (below 1: decline).",
     "{metric} fell {pct}% over the last 30 days vs the 90 before", _util_ratio),
    (r"util_(.+)_slope_90d", "product adoption",
     "Least-squares trend of {0} over 90 days, as a share of its mean per 30 days.",
     "{metric} trending down about {pct}% a month", _util_slope),
    (r"util_(.+)_cv_90d", "product adoption",
     "Coefficient of variation of {0} over 90 days (volatility).",
     "{metric} varied by {pct} around its 90-day average", _util_cv),
    (r"util_(.+)_30d", "product adoption", "Mean {0} per usage period in the last 30 days.",
     "Average {metric} of {value} over the last 30 days", _util_level),
    (r"exp_balance", "service experience",
     "Experience 'bank account': exponentially decayed (60-day half-life) sum of credits "
     "(fast resolutions, promoter responses) and debits (complaints, tickets left open, "
     "detractor responses).",
     "Recent service experience is net negative", _balance),
]  # fmt: skip

_COMPILED = [(re.compile(p + r"\Z"), fam, desc, tpl, fn) for p, fam, desc, tpl, fn in _ENTRIES]


def _lookup(name: str) -> tuple[FeatureInfo, Render, tuple[str, ...]]:
    for pattern, family, desc, template, fn in _COMPILED:
        m = pattern.match(name)
        if m:
            groups = m.groups()
            readable = [_human(x) for x in groups]
            return FeatureInfo(name, family, desc.format(*readable), template), fn, groups
    raise KeyError(f"feature {name!r} is not in the catalogue; add it to churn.catalogue._ENTRIES")


def feature_catalogue(names: Iterable[str]) -> dict[str, FeatureInfo]:
    """Catalogue entries for ``names`` (generated names such as ``int_cat_complaint_90d`` too).

    Raises
    ------
    KeyError
        For a name no catalogue pattern matches.
    """
    return {name: _lookup(name)[0] for name in names}


def render_reason(name: str, row: Mapping[str, Any], direction: int) -> str:
    """A true plain-English sentence about feature ``name`` for one customer.

    Parameters
    ----------
    name
        Feature name.
    row
        The customer's feature values (a dict or a pandas Series); related features in the same
        row are used where a statement needs them (``nps_delta`` reads ``nps_previous`` and
        ``nps_last``).
    direction
        +1 if the feature raises this customer's risk, -1 if it lowers it. The sentence states
        the customer's values either way; it never claims a change that did not happen, and a
        missing value gives a neutral sentence ("No NPS response on record").

    Returns
    -------
    str
    """
    _, fn, groups = _lookup(name)
    return fn(name, row, direction, groups)


def catalogue_frame(names: Iterable[str]) -> pd.DataFrame:
    """The catalogue of ``names`` as a frame (name, family, description, reason_template)."""
    rows = [vars(info) for info in feature_catalogue(names).values()]
    return pd.DataFrame(rows, columns=["name", "family", "description", "reason_template"])
