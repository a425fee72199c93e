"""The feature registry: every feature declared once.

Each ``Feature`` says what a column is (name or name template, source table, window, dtype, the
value a customer with no records gets), how people read it (family, description, reason sentence)
and what it may be used for (``kind``: a **behaviour** may be a reason, **context** such as region,
segment, plan, ARR, tenure and seats licensed is shown beside a customer, never as "why at risk"),
and which way of the value means more risk where that is known. The engine's column order and
missing-value fill, the catalogue, the reasons and the health-score baseline all read it, so a
feature cannot exist in one place and be missing in another.

Name templates
--------------
Some columns depend on the data: one per interaction channel and category, per usage metric and
per window of the ``FeatureSpec``. Their names are templates with placeholders (``{window}``,
``{channel}``, ``{category}``, ``{metric}``, ``{age}``). ``expand(spec)`` turns the registry into the
exact columns ``build_features`` returns, in output order: ``loop`` lists a template's
placeholders outermost first, and consecutive entries whose loops start with the same placeholder
are expanded together, one value of it at a time (``int_tickets_30d``, ``int_ch_*_30d``,
``int_cat_*_30d``, then the same for 90 days). ``lookup(name)`` goes the other way, from any
generated name back to its entry, so the catalogue works on names from any dataset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from churn.features import reasons as r
from churn.features.reasons import Render

if TYPE_CHECKING:
    from churn.features.engine import FeatureSpec

#: The driver families the scoring playbook maps to a play.
FAMILIES: tuple[str, ...] = ("product adoption", "service experience", "sentiment", "commercial")
#: The family of attributes that describe an account rather than its behaviour. Declared for the
#: registry; no feature carries it yet, because the playbook still maps the account attributes
#: to "commercial" (``kind`` already marks them as context).
ACCOUNT_CONTEXT = "account context"
BEHAVIOUR = "behaviour"
CONTEXT = "context"

#: Windows (days) for interaction counts.
INTERACTION_WINDOWS: tuple[int, ...] = (30, 90, 180)
#: A complaint is "old" once it has been open this long.
OLD_COMPLAINT_DAYS = 14
#: Usage column names treated as licensed capacity rather than activity.
SEAT_METRICS = ("seats_licensed", "seats", "licensed_seats", "licenses")
ACTIVE_METRICS = ("active_users", "users_active", "active_seats")

_NAN = math.nan
#: Windows (days) for lifetime-activity counts, kept while shorter than the history
#: (``FeatureSpec.activity_windows``): a long purchase log gets windows beyond 180 days.
ACTIVITY_WINDOWS: tuple[int, ...] = (90, 180, 365, 730)
#: Placeholders whose values are numbers of days; the others are slugs of data values.
_NUMERIC = frozenset({"window", "age", "span"})


def slug(value: str) -> str:
    """A column-name-safe version of a category or channel value (``"How-to"`` -> ``how_to``)."""
    s = re.sub(r"[^0-9a-z]+", "_", str(value).lower()).strip("_")
    return s or "unknown"


def seat_pair(metrics: Sequence[str]) -> tuple[str, str] | None:
    """The (active users, seats licensed) metrics when the dataset has both, else ``None``."""
    act = next((m for m in metrics if m in ACTIVE_METRICS), None)
    seats = next((m for m in metrics if m in SEAT_METRICS), None)
    return (act, seats) if act and seats else None


@dataclass(frozen=True)
class Feature:
    """One feature, or one template of generated features.

    Parameters
    ----------
    name
        Column name, or a template with placeholders (``"int_ch_{channel}_{window}d"``).
    table
        Source table(s), e.g. ``"interactions"``; ``"interactions+nps"`` for a blend.
    window
        Lookback in days, or ``None`` for an unbounded lookback or a static attribute. For a
        template over ``{window}`` the window is that placeholder's value (``FeatureColumn.window``).
    dtype
        ``"float64"`` or ``"category"``.
    fill
        The value of a customer with no records (0 for counts, NaN where "unknown" is honest).
    family
        One of ``FAMILIES`` (or ``ACCOUNT_CONTEXT``): the driver family reasons and plays use.
    description
        Plain-English meaning; placeholders are filled with the generated name's parts.
    reason_template
        The shape of the sentence ``render``, for documentation.
    render
        The reason renderer (see ``churn.features.reasons``).
    kind
        ``"behaviour"`` (may be a reason) or ``"context"`` (shown beside a customer, never a reason).
    risk_direction
        +1 when a higher value means more risk, -1 less risk, ``None`` unknown or not ordered.
    loop
        The template's placeholders, outermost first, for the expansion order.
    requires
        The ``FeatureSpec`` condition for the column to exist (see ``_CONDITIONS``), or ``None``.
    levels
        For a category column: the ``FeatureSpec`` field holding its category list.
    context_when
        Placeholder values that make a generated column context rather than behaviour (the
        level of a seat metric is seats licensed, an account attribute).
    as_extracted
        Without an ``account_history`` that dates it, the value comes from the customers table
        as extracted today, for every past ``as_of`` too (plan, segment, region, ARR, contract
        term): a customer who downgraded before leaving shows today's value.
    history
        The ``account_history`` column that dates this attribute: when the data's history has
        it (``FeatureSpec.history``), the value is the one in force at ``as_of`` and the column
        is point in time (``is_as_extracted``).
    """

    name: str
    table: str
    window: int | None
    dtype: str
    fill: float
    family: str
    description: str
    reason_template: str
    render: Render
    kind: str = BEHAVIOUR
    risk_direction: int | None = None
    loop: tuple[str, ...] = ()
    requires: str | None = None
    levels: str | None = None
    context_when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    as_extracted: bool = False
    history: str | None = None

    def is_as_extracted(self, history: Sequence[str] | None = None) -> bool:
        """Whether the value is today's extract for every past date, given the attributes the
        data's ``account_history`` dates (``None``: unknown, as declared)."""
        if not self.as_extracted:
            return False
        return history is None or self.history not in history

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The regular expression a generated name of this entry matches (whole name)."""
        parts = re.split(r"\{(\w+)\}", self.name)
        rx = "".join(
            re.escape(p) if i % 2 == 0 else (r"(\d+)" if p in _NUMERIC else "(.+)")
            for i, p in enumerate(parts)
        )
        return re.compile(rx + r"\Z")

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The template's placeholders in the order they appear in the name."""
        return tuple(re.findall(r"\{(\w+)\}", self.name))

    def match(self, name: str) -> dict[str, str] | None:
        """The placeholder values of ``name`` if it is a column of this entry, else ``None``."""
        if not self.loop:
            return {} if name == self.name else None
        m = self.pattern.match(name)
        return dict(zip(self.placeholders, m.groups(), strict=True)) if m else None


@dataclass(frozen=True)
class FeatureColumn:
    """One concrete column: a registry entry with its placeholders filled in."""

    name: str
    feature: Feature
    values: tuple[tuple[str, str], ...] = ()

    @property
    def groups(self) -> tuple[str, ...]:
        """The placeholder values in the order they appear in the name (for the renderers)."""
        got = dict(self.values)
        return tuple(got[p] for p in self.feature.placeholders)

    @property
    def window(self) -> int | None:
        """Lookback in days: the ``{window}`` value of a windowed template, else the entry's."""
        got = dict(self.values)
        for key in ("window", "span"):
            if key in got:
                return int(got[key])
        return self.feature.window

    @property
    def kind(self) -> str:
        """``"behaviour"`` or ``"context"`` for this column."""
        got = dict(self.values)
        for key, allowed in self.feature.context_when:
            if got.get(key) in allowed:
                return CONTEXT
        return self.feature.kind

    @property
    def description(self) -> str:
        """The entry's description with this column's parts, in words."""
        words = {k: r.human(v) for k, v in self.values}
        return self.feature.description.format(**words)


def _f(
    name: str,
    table: str,
    window: int | None,
    family: str,
    description: str,
    reason_template: str,
    render: Render,
    *,
    dtype: str = "float64",
    fill: float = _NAN,
    kind: str = BEHAVIOUR,
    risk: int | None = None,
    loop: tuple[str, ...] = (),
    requires: str | None = None,
    levels: str | None = None,
    context_when: tuple[tuple[str, tuple[str, ...]], ...] = (),
    as_extracted: bool = False,
    history: str | None = None,
) -> Feature:
    return Feature(
        name, table, window, dtype, fill, family, description, reason_template, render,
        kind, risk, loop, requires, levels, context_when, as_extracted, history,
    )  # fmt: skip


_ADOPTION, _SERVICE, _SENTIMENT, _COMMERCIAL = FAMILIES
_W = ("window",)

#: Every feature, in ``build_features``' column order.
REGISTRY: tuple[Feature, ...] = (
    # ---- account (customers; account_history where it dates them) ----------------------------
    _f("acct_tenure_days", "customers", None, _COMMERCIAL, "Days since the customer signed up.",
       "Customer for {years} years", r.tenure, kind=CONTEXT, risk=-1),
    _f("acct_days_to_renewal", "customers", None, _COMMERCIAL,
       "Days until the next renewal, on the signup anniversaries of the contract term "
       "(contract_months, the term in force at the snapshot with an account history); missing "
       "without a term (contract_end_date is never used).",
       "Renewal in {days} days", r.renewal, risk=-1, requires="has_contract_term",
       as_extracted=True, history="contract_months"),
    _f("acct_plan", "customers", None, _COMMERCIAL, "Product plan or tier.", "Plan: {plan}",
       r.attribute("Plan"), dtype="category", kind=CONTEXT, levels="plans", as_extracted=True,
       history="plan"),
    _f("acct_segment", "customers", None, _COMMERCIAL, "Customer segment.", "Segment: {segment}",
       r.attribute("Segment"), dtype="category", kind=CONTEXT, levels="segments",
       as_extracted=True, history="segment"),
    _f("acct_region", "customers", None, _COMMERCIAL, "Sales region.", "Region: {region}",
       r.attribute("Region"), dtype="category", kind=CONTEXT, levels="regions",
       as_extracted=True, history="region"),
    _f("acct_arr", "customers", None, _COMMERCIAL, "Annual recurring revenue.",
       "Annual recurring revenue of {arr}", r.arr, kind=CONTEXT, as_extracted=True,
       history="arr"),
    # ---- account changes (account_history) -------------------------------------------------
    _f("acct_seats_change_90d", "account_history", 90, _COMMERCIAL,
       "Licensed seats in force at the snapshot over those 90 days before, minus 1 (-0.25: a "
       "quarter of the seats cut); missing without a record 90 days before.",
       "Seats cut by {pct}% in the last 90 days", r.change("seats"), risk=-1,
       requires="history_seats"),
    _f("acct_arr_change_90d", "account_history", 90, _COMMERCIAL,
       "ARR in force at the snapshot over the ARR 90 days before, minus 1.",
       "ARR cut by {pct}% in the last 90 days", r.change("ARR"), risk=-1,
       requires="history_arr"),
    _f("acct_downgraded_90d", "account_history", 90, _COMMERCIAL,
       "1 when the plan in force is lower than 90 days before (plans ranked by median ARR) or "
       "fewer seats are licensed, else 0.",
       "Downgraded (plan or seats) in the last 90 days", r.plan_change(up=False), fill=0.0,
       risk=+1, requires="history_changes"),
    _f("acct_downgraded_180d", "account_history", 180, _COMMERCIAL,
       "1 when the plan in force is lower than 180 days before or fewer seats are licensed.",
       "Downgraded (plan or seats) in the last 180 days", r.plan_change(up=False), fill=0.0,
       risk=+1, requires="history_changes"),
    _f("acct_upgraded_180d", "account_history", 180, _COMMERCIAL,
       "1 when the plan in force is higher than 180 days before or more seats are licensed.",
       "Upgraded (plan or seats) in the last 180 days", r.plan_change(up=True), fill=0.0,
       risk=-1, requires="history_changes"),
    # ---- interactions, one block per window ------------------------------------------------
    _f("int_tickets_{window}d", "interactions", None, _SERVICE,
       "Interactions opened in the last {window} days.",
       "{n} interactions in the last {w} days", r.count_in("interaction"), fill=0.0, loop=_W),
    _f("int_ch_{channel}_{window}d", "interactions", None, _SERVICE,
       "Interactions through the {channel} channel in the last {window} days.",
       "{n} {channel} contacts in the last {w} days", r.count_in("{} contact"), fill=0.0,
       loop=("window", "channel")),
    _f("int_cat_{category}_{window}d", "interactions", None, _SERVICE,
       "Interactions of category {category} in the last {window} days.",
       "{n} {category} interactions in the last {w} days", r.count_in("{} interaction"),
       fill=0.0, loop=("window", "category")),
    _f("int_days_since_contact", "interactions", None, _SERVICE,
       "Days since the last interaction.", "No contact for {days} days", r.since_contact),
    # No records: (0 + 1) / (0 + 1), a steady rate.
    _f("int_trend_30d_90d", "interactions", 120, _SERVICE,
       "Contact rate of the last 30 days over that of the 90 days before (add-one smoothed).",
       "More contact than in the 90 days before", r.trend, fill=1.0),
    _f("int_open_tickets", "interactions", None, _SERVICE,
       "Tickets opened before the snapshot and not resolved before it.",
       "{n} tickets open", r.open_tickets, fill=0.0, risk=+1, requires="has_resolution"),
    _f("int_open_complaints_{age}d", "interactions", None, _SERVICE,
       "Complaints opened more than {age} days before the snapshot and still open.",
       "{n} complaints open for more than {d} days", r.old_complaints, fill=0.0, risk=+1,
       loop=("age",), requires="has_resolution"),
    _f("int_resolution_days_mean_90d", "interactions", 90, _SERVICE,
       "Mean days to resolve, tickets resolved in the last 90 days (opened within 180).",
       "Tickets took {days} days on average to resolve", r.resolution("mean"), risk=+1,
       requires="has_resolution"),
    _f("int_resolution_days_max_90d", "interactions", 90, _SERVICE,
       "Longest resolution in days, tickets resolved in the last 90 days (opened within 180).",
       "Slowest ticket took {days} days to resolve", r.resolution("max"), risk=+1,
       requires="has_resolution"),
    _f("int_csat_mean_90d", "interactions", 90, _SERVICE,
       "Mean satisfaction (1-5) of tickets resolved in the last 90 days (CSAT is known at "
       "resolution; opened within 180).",
       "Average satisfaction {csat} out of 5", r.csat, risk=-1, requires="has_csat"),
    _f("int_sentiment_mean_90d", "interactions", 90, _SENTIMENT,
       "Mean sentiment (-1 to 1) of tickets resolved in the last 90 days (scored on the "
       "closed conversation; opened within 180).",
       "Tickets resolved in the last 90 days were {mood} on average", r.sentiment, risk=-1,
       requires="has_sentiment"),
    # ---- nps -------------------------------------------------------------------------------
    _f("nps_last", "nps", None, _SENTIMENT, "Score of the latest NPS response (0-10).",
       "Last NPS response: {score}", r.nps_last, risk=-1),
    _f("nps_last_category", "nps", None, _SENTIMENT, "Band of the latest NPS response.",
       "Last NPS response: {score} ({band})", r.nps_last, dtype="category"),
    _f("nps_previous", "nps", None, _SENTIMENT, "Score of the NPS response before the latest.",
       "Previous NPS response: {score}", r.nps_previous),
    _f("nps_delta", "nps", None, _SENTIMENT, "Latest NPS score minus the previous one.",
       "NPS fell from {previous} to {last}", r.nps_delta, risk=-1),
    _f("nps_min_180d", "nps", 180, _SENTIMENT, "Lowest NPS score in the last 180 days.",
       "Lowest NPS in the last 180 days: {score}", r.nps_min, risk=-1),
    _f("nps_days_since_response", "nps", None, _SENTIMENT, "Days since the latest NPS response.",
       "Last NPS response {days} days ago", r.nps_since, risk=+1),
    _f("nps_responses_365d", "nps", 365, _SENTIMENT, "NPS responses in the last 365 days.",
       "{n} NPS responses in the last year", r.nps_count, fill=0.0, risk=-1),
    _f("nps_response_rate_365d", "nps", 365, _SENTIMENT,
       "Share of NPS surveys sent in the last 365 days whose answer was known at the snapshot "
       "(a survey still pending then counts as unanswered; silence is a signal).",
       "Answered {pct} of the NPS surveys sent in the last year", r.nps_rate, risk=-1),
    # ---- usage, one block per metric -------------------------------------------------------
    _f("util_{metric}_30d", "usage", 30, _ADOPTION,
       "Mean {metric} per usage period in the last 30 days.",
       "Average {metric} of {value} over the last 30 days", r.util_level, loop=("metric",),
       context_when=(("metric", SEAT_METRICS),)),
    _f("util_{metric}_ratio_30d_90d", "usage", 120, _ADOPTION,
       "Mean {metric} of the last 30 days over the mean of the 90 days before (below 1: decline).",
       "{metric} fell {pct}% over the last 30 days vs the 90 before", r.util_ratio, risk=-1,
       loop=("metric",)),
    _f("util_{metric}_slope_90d", "usage", 90, _ADOPTION,
       "Least-squares trend of {metric} over 90 days, as a share of its mean per 30 days.",
       "{metric} trending down about {pct}% a month", r.util_slope, risk=-1, loop=("metric",)),
    _f("util_{metric}_cv_90d", "usage", 90, _ADOPTION,
       "Coefficient of variation of {metric} over 90 days (volatility).",
       "{metric} varied by {pct} around its 90-day average", r.util_cv, loop=("metric",)),
    _f("util_seat_utilisation_30d", "usage", 30, _ADOPTION,
       "Active users over licensed seats, last 30 days.",
       "{pct} of licensed seats in use", r.seats, risk=-1, requires="seat pair"),
    _f("util_days_since_active", "usage", None, _ADOPTION,
       "Days since the end of the last usage period with activity.",
       "No product activity for {days} days", r.since_active, risk=+1),
    # ---- lifetime activity (purchase logs, churn by inactivity) ----------------------------
    # A buyer over their whole history, from the usage periods with activity (purchases), in
    # scale-free forms (rates, ratios to their own rhythm) that carry over to later snapshots.
    _f("act_periods_total", "usage", None, _ADOPTION,
       "Usage periods with activity (purchase days in a purchase log) over the whole history.",
       "{n} active periods on record", r.act_count, fill=0.0, risk=-1,
       requires="activity_history"),
    _f("act_periods_{span}d", "usage", None, _ADOPTION,
       "Usage periods with activity in the last {span} days.",
       "{n} active periods in the last {d} days", r.act_count, fill=0.0, risk=-1,
       loop=("span",), requires="activity_history"),
    _f("act_days_since_first", "usage", None, _ADOPTION,
       "Days since the end of the first usage period with activity (the buyer's age).",
       "First active {days} days ago", r.act_since_first, kind=CONTEXT, risk=-1,
       requires="activity_history"),
    _f("act_periods_per_30d", "usage", None, _ADOPTION,
       "Active periods per 30 days since the first one (lifetime frequency; at least 30 days).",
       "Active in {rate} periods a month", r.act_rate, risk=-1, requires="activity_history"),
    _f("act_gap_mean_days", "usage", None, _ADOPTION,
       "Mean days between consecutive active periods (needs two).",
       "Usually {days} days between active periods", r.act_gap("mean"), risk=+1,
       requires="activity_history"),
    _f("act_gap_std_days", "usage", None, _ADOPTION,
       "Standard deviation of the days between consecutive active periods (needs three).",
       "Gaps vary by about {days} days", r.act_gap("std"), requires="activity_history"),
    _f("act_recency_over_gap", "usage", None, _ADOPTION,
       "Days since the last active period over the customer's own mean gap (above 1: overdue).",
       "Silent {x} times their usual gap", r.act_overdue, risk=+1,
       requires="activity_history"),
    _f("act_recency_pct", "usage", None, _ADOPTION,
       "Days since the last active period as a percentile among the customers of the same "
       "snapshot (RFM recency score; 1: the longest silence). Stays in [0, 1] at later dates.",
       "Silent longer than {pct}% of customers", r.act_pct("recency"), risk=+1,
       requires="activity_history"),
    _f("act_age_pct", "usage", None, _ADOPTION,
       "Days since the first active period as a percentile among the customers of the same "
       "snapshot (1: the oldest buyer).",
       "Buyer for longer than {pct}% of customers", r.act_pct("age"), kind=CONTEXT,
       requires="activity_history"),
    _f("act_{metric}_total", "usage", None, _ADOPTION,
       "Sum of {metric} over the whole history (lifetime spend for a money metric).",
       "{value} {metric} in total", r.act_total, fill=0.0, risk=-1, loop=("metric",),
       requires="activity_history"),
    _f("act_{metric}_mean", "usage", None, _ADOPTION,
       "Mean {metric} per active period over the whole history.",
       "{value} {metric} per active period", r.act_mean, loop=("metric",),
       requires="activity_history"),
    _f("act_{metric}_last_vs_mean", "usage", None, _ADOPTION,
       "{metric} of the latest active period over the mean of the earlier ones (trend; below "
       "1: shrinking).",
       "Latest {metric} {pct}% below the earlier average", r.act_last_vs_mean, risk=-1,
       loop=("metric",), requires="activity_history"),
    # ---- experience balance ----------------------------------------------------------------
    _f("exp_balance", "interactions+nps", None, _SERVICE,
       "Experience 'bank account': exponentially decayed (60-day half-life) sum of credits "
       "(fast resolutions, promoter responses) and debits (complaints, tickets left open, "
       "detractor responses).",
       "Recent service experience is net negative", r.balance, fill=0.0, risk=-1),
)  # fmt: skip

_CONDITIONS = {
    "has_resolution": lambda spec: spec.has_resolution,
    "has_csat": lambda spec: spec.has_csat,
    "has_sentiment": lambda spec: spec.has_sentiment,
    "has_contract_term": lambda spec: spec.has_contract_term,
    "seat pair": lambda spec: seat_pair(spec.usage_metrics) is not None,
    "history_seats": lambda spec: "seats_licensed" in spec.history,
    "history_arr": lambda spec: "arr" in spec.history,
    # A downgrade is a plan ranked lower (needs the plans' order) or fewer seats.
    "history_changes": lambda spec: "seats_licensed" in spec.history or bool(spec.plan_order),
    "activity_history": lambda spec: spec.activity_history,
}


def _values(spec: FeatureSpec) -> dict[str, list[str]]:
    """The values each placeholder takes for ``spec``."""
    return {
        "window": [str(w) for w in spec.windows],
        "channel": [slug(c) for c in spec.channels],
        "category": [slug(c) for c in spec.categories],
        "metric": [slug(m) for m in spec.usage_metrics],
        "age": [str(OLD_COMPLAINT_DAYS)],
        "span": [str(w) for w in spec.activity_windows],
    }


def _combos(
    loop: Sequence[str], values: Mapping[str, list[str]]
) -> list[tuple[tuple[str, str], ...]]:
    out: list[tuple[tuple[str, str], ...]] = [()]
    for key in loop:
        out = [(*done, (key, v)) for done in out for v in values[key]]
    return out


def _column(feature: Feature, combo: tuple[tuple[str, str], ...]) -> FeatureColumn:
    return FeatureColumn(feature.name.format(**dict(combo)), feature, combo)


def expand(spec: FeatureSpec) -> list[FeatureColumn]:
    """Every column ``build_features`` produces for ``spec``, in output order."""
    values = _values(spec)
    present = [f for f in REGISTRY if f.requires is None or _CONDITIONS[f.requires](spec)]
    out: list[FeatureColumn] = []
    i = 0
    while i < len(present):
        head = present[i]
        if not head.loop:
            out.append(FeatureColumn(head.name, head))
            i += 1
            continue
        # The block: consecutive templates looping over the same outermost placeholder.
        j = i
        while j < len(present) and present[j].loop[:1] == head.loop[:1]:
            j += 1
        outer = head.loop[0]
        for v in values[outer]:
            for feature in present[i:j]:
                for inner in _combos(feature.loop[1:], values):
                    out.append(_column(feature, ((outer, v), *inner)))
        i = j
    return out


def feature_names(spec: FeatureSpec) -> list[str]:
    """Every feature column ``build_features`` produces for ``spec``, in output order."""
    return [c.name for c in expand(spec)]


_BY_NAME = {f.name: f for f in REGISTRY}
_LITERALS = {f.name: f for f in REGISTRY if not f.loop}
_TEMPLATES = tuple(f for f in REGISTRY if f.loop)


def entry(name: str) -> Feature:
    """The registry entry declared as ``name`` (a column name or a template, as written).

    Raises
    ------
    KeyError
        For a name the registry does not declare.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not declared in churn.features.registry.REGISTRY") from None


def lookup(name: str) -> FeatureColumn:
    """The column ``name`` resolved against the registry (generated names too).

    A declared name wins over a template that would also match it
    (``util_seat_utilisation_30d`` is not the 30-day level of a metric ``seat_utilisation``).

    Raises
    ------
    KeyError
        For a name no entry matches.
    """
    if name in _LITERALS:
        return FeatureColumn(name, _LITERALS[name])
    for feature in _TEMPLATES:
        got = feature.match(name)
        if got is not None:
            return FeatureColumn(name, feature, tuple((k, got[k]) for k in feature.loop))
    raise KeyError(
        f"feature {name!r} is not in the catalogue; declare it in churn.features.registry.REGISTRY"
    )


#: Named feature sets, declared once: what ``build_features(only=...)``, ``churn features
#: --feature-set`` and the benchmark's ``features_common`` step build. A member is a registry
#: entry as declared (a template selects every column it generates for the data) or one
#: generated column; a generated member the data does not produce (no ``complaint`` category)
#: is skipped. ``common`` is the registry's nearest match to the hand-written DuckDB peer of
#: the benchmark (bench/steps.py ``PEER_SQL``): interaction and complaint counts per window,
#: days since the last contact, the last NPS score and the responses of the last year, and each
#: usage metric's 30-day mean and its ratio to the 90 days before (the peer's 30/90-day means).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "common": (
        "int_tickets_{window}d",
        "int_cat_complaint_30d",
        "int_cat_complaint_90d",
        "int_cat_complaint_180d",
        "int_days_since_contact",
        "nps_last",
        "nps_responses_365d",
        "util_{metric}_30d",
        "util_{metric}_ratio_30d_90d",
    ),
}


def select(spec: FeatureSpec, only: str | Sequence[str] | None = None) -> list[FeatureColumn]:
    """The columns of ``expand(spec)`` that ``only`` names, in output order (``None``: all).

    ``only`` holds names of :data:`FEATURE_SETS`, registry entries as declared (templates
    included: ``"int_tickets_{window}d"``) or generated columns (``"int_tickets_30d"``); a
    comma-separated string is split.

    Raises
    ------
    KeyError
        For a name that is none of these, or a generated column ``spec`` does not produce.
    """
    columns = expand(spec)
    if only is None:
        return columns
    names = [n.strip() for n in only.split(",")] if isinstance(only, str) else list(only)
    wanted: set[str] = set()
    built = {c.name for c in columns}
    for name in (n for n in names if n):
        if name in FEATURE_SETS:
            members = FEATURE_SETS[name]
            wanted |= {c.name for c in columns if c.feature.name in members} | (
                built & set(members)
            )
        elif name in _BY_NAME:
            wanted |= {c.name for c in columns if c.feature.name == name}
        elif name in built:
            wanted.add(name)
        else:
            lookup(name)  # a KeyError naming it when no entry matches
            raise KeyError(f"feature {name!r} is not built for this dataset (see churn catalogue)")
    if not wanted:
        raise KeyError(f"no feature selected by {names!r}")
    return [c for c in columns if c.name in wanted]
