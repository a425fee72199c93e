"""A simulated B2B customer base with its ground truth: the demo, the tests and the benchmarks.

No public dataset has support interactions, NPS and product utilisation together with churn dates,
so ``churn`` is developed against this simulator. Everything observable is driven by one hidden
quantity, and the process that generated the data is kept, so a model can be compared with the best
prediction possible (the *oracle*).

The generative story
--------------------
**Accounts.** Customers are B2B accounts in three segments (SMB, Mid-Market, Enterprise) with a plan,
a region, an account owner (a pool per segment), licensed seats and an ARR that follow from seats and
plan (lognormal). SMB accounts mostly pay monthly, larger ones mostly sign annual contracts; contracts
renew on the signup anniversaries of their term (``contract_months`` 1 or 12). An initial base signed
up before the history starts; the rest sign up week by week during it.

**Health.** Each account has a latent *health* that evolves weekly: an AR(1) deviation around a
baseline, where the baseline itself wanders (a random walk with a customer-specific drift: some
accounts slowly sour, some slowly improve). Rare shocks (a lost champion, a reorganisation) knock
health down; some of that is permanent, the rest recovers. The lifecycle adds a "storming" dip a few
months after signup, when the honeymoon ends. Support is an experience "bank account": every ticket
costs a little goodwill, and a fast, satisfying resolution gives some back while a slow, bad one
takes more away.

**What the company sees.** Health drives every signal, each with its own noise: weekly usage
(active users out of the licensed seats, logins, feature events; adoption ramps up after signup and
dips in August and at year end); support tickets (more of them, more complaints and incidents, slower
resolution and worse CSAT when health is low; channels phone, email, chat, visit); quarterly NPS
surveys, whose score slides from promoter to detractor and whose response rate falls as health
falls (a survey sent and not answered is a row with ``sent_at`` and no score).

**Churn.** Monthly customers decide at each monthly renewal, annual customers mostly at their
annual renewal (a small early-termination hazard in between); the odds rise steeply as health falls,
are higher in the first ~90 days (onboarding) and in January (budget season). A small base hazard,
unrelated to health, makes some churn come without warning. Usage stops on the churn date.

**Mess.** At ``mess_rate``: exact duplicate event rows, missing optional values (region, account
owner, sentiment, feature events) and late-arriving interactions (``recorded_at`` days after
``timestamp``). The clean data is recovered by dropping exact duplicates.

**Ground truth.** The weekly latent state of every account (``health``, ``baseline``, the week's churn
probability) is kept with the process parameters. :func:`oracle_probability` gives, for any
``(customer_id, as_of)``, the probability of churning in ``[as_of + lead, as_of + lead + horizon)``
given the latent state at ``as_of`` (which includes only what happened before ``as_of``), by
simulating the same dynamics forward (future shocks, tickets and renewals included) and integrating
the churn hazard along each path. It never looks at the realised future.

Time is on a weekly grid starting at ``start`` (2024-01-01 is a Monday, so weeks line up with Monday
snapshots). The extraction date is the instant after the last day; nothing in the tables is dated at
or after it except ``contract_end_date``, the contract's next renewal, which is known in advance.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from churn.errors import ChurnError

log = logging.getLogger(__name__)

DAY_S = 86_400
DAY_NS = DAY_S * 10**9
#: Sentinel churn day for customers who never churn (larger than any real day number).
NEVER = 10**9

SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
PLANS = ("Starter", "Pro", "Enterprise")
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
CATEGORIES = ("how-to", "billing", "incident", "complaint")
CHANNELS = ("email", "chat", "phone", "visit")
TRUTH_DIR = "ground_truth"
FORMATS = ("csv", "parquet")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NAME_HEADS = _words(
    "Acme Apex Arbor Atlas Aurora Beacon Birch Blue Bright Cascade Cedar Cobalt Coral Crest "
    "Delta Echo Ember Evergreen Falcon Fern Golden Granite Harbor Helix Horizon Indigo Iron "
    "Juniper Keystone Lumen Maple Meridian Nimbus North Oak Onyx Orbit Pine Pioneer Polar Prism "
    "Quartz Redwood River Sable Sierra Silver Solar Spruce Summit Tidal Titan Unity Vertex "
    "Willow Zenith"
)
_NAME_TAILS = _words(
    "Analytics Bio Capital Cloud Consulting Data Designs Dynamics Energy Engineering Foods "
    "Freight Health Holdings Industries Insights Labs Logistics Media Medical Metals Mobility "
    "Networks Partners Pharma Robotics Retail Software Solutions Systems Technologies Telecom "
    "Textiles Therapeutics Travel Ventures Works"
)
_NAME_FORMS = ("Inc", "Ltd", "GmbH", "LLC", "Group", "Co", "SA", "plc")
_OWNER_FIRST = _words(
    "Alex Priya Jonas Mei Carlos Fatima Liam Sofia Kenji Amara Noah Elena Omar Chloe Ravi "
    "Ingrid Diego Hana Lucas Zara Mateo Aisha Felix Nora Tomas Yuki Samuel Leila Victor Anya "
    "Hugo Grace Daniel Rosa Ethan Nadia"
)
_OWNER_LAST = _words(
    "Hughes Patel Berg Chen Ruiz Haddad Murphy Rossi Tanaka Okafor Walsh Novak Farouk Martin "
    "Iyer Larsen Alvarez Kim Moreau Ahmed Silva Diallo Weber Lindqvist Kowalski Sato Adeyemi "
    "Karimi Dubois Petrova Schmidt Brooks Cohen Ortega Clarke Volkova"
)
#: Account owners per segment (SMB, Mid-Market, Enterprise): big accounts get dedicated managers.
_OWNERS_PER_SEGMENT = (16, 12, 8)
_NPS_COMMENTS = (
    (
        "Too many outages lately",
        "Support takes days to answer",
        "We are evaluating alternatives",
        "Price is hard to justify",
        "The team stopped using it",
    ),
    ("It does the job", "Reporting could be better", "Onboarding was slow", "Okay overall"),
    (
        "Great product and support",
        "Our team relies on it daily",
        "Fast and reliable",
        "Love the new features",
    ),
)


@dataclass(frozen=True)
class SimParams:
    """Parameters of the generative process. The defaults give ~15% annual churn.

    Rates are weekly unless their name says otherwise; health is on a unit scale where most
    accounts sit between -1 and 2. Stored in ``ground_truth/params.json`` so the oracle runs the
    same dynamics that generated the data.
    """

    # --- population
    initial_share: float = 0.55
    initial_age_scale_days: float = 700.0
    initial_max_age_days: float = 8 * 365.0
    segment_probs: tuple[float, ...] = (0.6, 0.3, 0.1)
    plan_probs: tuple[tuple[float, ...], ...] = (
        (0.6, 0.35, 0.05),
        (0.2, 0.55, 0.25),
        (0.0, 0.3, 0.7),
    )
    region_probs: tuple[float, ...] = (0.45, 0.3, 0.17, 0.08)
    annual_probs: tuple[float, ...] = (0.35, 0.75, 0.95)
    seats_median: tuple[float, ...] = (12.0, 70.0, 400.0)
    seats_sigma: tuple[float, ...] = (0.6, 0.5, 0.6)
    price_per_seat: tuple[float, ...] = (300.0, 600.0, 1000.0)
    arr_sigma: float = 0.25
    # --- health
    health_mean: float = 0.6
    segment_health: tuple[float, ...] = (-0.1, 0.0, 0.2)
    health_sd: float = 0.8
    drift_mean_year: float = -0.05
    drift_sd_year: float = 0.35
    baseline_walk_sd: float = 0.03
    ar_phi: float = 0.9
    ar_sd: float = 0.15
    shock_prob: float = 0.004
    shock_mean: float = 1.0
    shock_sd: float = 0.4
    shock_permanent_prob: float = 0.35
    shock_permanent_share: float = 0.6
    storming_depth: float = 0.5
    storming_week: float = 20.0
    storming_width_weeks: float = 6.0
    # --- churn
    base_hazard_year: float = 0.02
    hazard_a: float = -6.3
    hazard_b: float = 1.4
    renewal_a: float = -2.9
    renewal_b: float = 1.4
    early_termination_share: float = 0.03
    onboarding_amp: float = 2.0
    onboarding_weeks: float = 6.0
    season_amp: float = 0.25
    # --- support
    ticket_rate_scale: float = 0.025
    ticket_rate_power: float = 0.55
    ticket_rate_sigma: float = 0.3
    ticket_health_slope: float = 0.5
    onboarding_ticket_amp: float = 1.0
    resolution_hours: tuple[float, ...] = (6.0, 30.0, 40.0, 70.0)
    resolution_health_slope: float = 0.35
    resolution_sd: float = 0.9
    sat_mean: float = 3.4
    sat_health_slope: float = 0.6
    sat_slowness_slope: float = 0.5
    sat_sd: float = 0.7
    csat_response_a: float = 0.2
    csat_response_b: float = 0.5
    bank_per_ticket: float = -0.02
    bank_per_sat: float = 0.05
    bank_permanent_share: float = 0.15
    # --- NPS
    nps_every_weeks: int = 13
    nps_min_age_weeks: float = 6.0
    nps_response_a: float = -0.2
    nps_response_b: float = 0.7
    nps_mean: float = 7.2
    nps_slope: float = 1.6
    nps_sd: float = 1.3
    nps_delay_mean_days: float = 2.0
    nps_max_delay_days: float = 14.0
    nps_comment_prob: float = 0.3
    # --- usage
    adoption_mean: float = 1.0
    adoption_sd: float = 0.4
    usage_health_slope: float = 1.1
    usage_noise_sd: float = 0.3
    ramp_weeks: float = 4.0
    logins_per_user: float = 4.0
    login_health_slope: float = 0.15
    events_per_user: float = 10.0
    events_health_slope: float = 0.3
    events_noise_sd: float = 0.2
    # --- mess
    late_min_days: float = 1.0
    late_max_days: float = 21.0

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SimParams:
        """Rebuild from ``dataclasses.asdict`` output (JSON turns tuples into lists)."""

        def tup(v: Any) -> Any:
            return tuple(tup(x) for x in v) if isinstance(v, list) else v

        return cls(**{k: tup(v) for k, v in raw.items()})


@dataclass(frozen=True)
class Truth:
    """The generating process's side of a simulated dataset.

    Parameters
    ----------
    static
        One row per customer: ``customer_id``, ``signup_date``, ``churn_date`` (as observed),
        ``contract_months``, ``segment`` and the latent per-customer parameters ``drift``
        (baseline drift per year) and ``ticket_rate`` (weekly ticket rate at health 0).
    latent
        One row per customer and week the customer existed in: ``customer_id`` (categorical, in
        ``static`` order), ``week_start``, ``health`` and ``baseline`` at the start of the week
        (known from everything strictly before it), ``eff_health`` (health plus the lifecycle dip)
        and ``hazard`` (probability of churning during that week, renewal included).
    params
        ``process`` (the :class:`SimParams` as a dict), ``start``, ``extraction_date``,
        ``n_weeks``, ``seed``, ``mess_rate``.
    """

    static: pd.DataFrame
    latent: pd.DataFrame
    params: dict[str, Any]

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.params["start"])

    @property
    def extraction_date(self) -> pd.Timestamp:
        return pd.Timestamp(self.params["extraction_date"])


@dataclass(frozen=True)
class SimulatedDataset:
    """A simulated dataset: the four contract tables plus the ground truth.

    ``customers``, ``interactions``, ``nps`` and ``usage`` use the contract's column names (usage
    metrics: ``active_users``, ``seats_licensed``, ``logins``, ``feature_events``). They contain
    the requested mess; ``extraction_date`` is the instant after the last simulated day.
    """

    name: str
    customers: pd.DataFrame
    interactions: pd.DataFrame
    nps: pd.DataFrame
    usage: pd.DataFrame
    extraction_date: pd.Timestamp
    truth: Truth

    def summary(self) -> str:
        """One line: customers, churned, events."""
        churned = int(self.customers["churn_date"].notna().sum())
        return (
            f"{len(self.customers):,} customers ({churned:,} churned), "
            f"{len(self.interactions):,} interactions, {len(self.nps):,} NPS surveys, "
            f"{len(self.usage):,} usage rows; extraction {self.extraction_date:%Y-%m-%d}"
        )


# ---------------------------------------------------------------------------------------------
# Calendar helpers on integer day numbers (days since 1970-01-01), vectorised.


def _day(ts: pd.Timestamp) -> int:
    return int(ts.value // DAY_NS)


def _add_months(day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``day + months`` calendar months, clipped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    d = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    month = d.astype("datetime64[M]")
    dom = (d - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    last = (target + 1).astype("datetime64[D]").astype(np.int64) - 1
    return np.minimum(target.astype("datetime64[D]").astype(np.int64) + dom, last)


def _renewal_after(signup: np.ndarray, after: np.ndarray, term: np.ndarray) -> np.ndarray:
    """First renewal ``signup + k * term`` months (k >= 1) strictly after day ``after``."""
    s_m = np.asarray(signup, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    a_m = np.asarray(after, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]")
    gap = (a_m - s_m).astype(np.int64)
    k = np.maximum(1, -(-gap // term))
    cand = _add_months(signup, k * term)
    return np.where(cand <= after, _add_months(signup, (k + 1) * term), cand)


def _day_of_year(day: np.ndarray) -> np.ndarray:
    day = np.asarray(day, dtype=np.int64)
    if day.size == 0:
        return day
    # Calendar conversions are slow on millions of rows; the days span a short range, so convert
    # that range once and look the rows up.
    lo = int(day.min())
    span = np.arange(lo, int(day.max()) + 1).astype("datetime64[D]")
    table = (span - span.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
    return table[day - lo]


def _month(day: np.ndarray) -> np.ndarray:
    d = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    return d.astype("datetime64[M]").astype(np.int64) % 12 + 1


def _to_datetime(ns: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    out = np.asarray(ns, dtype=np.int64).astype("datetime64[ns]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


def _str_column(values: np.ndarray, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as a pandas ``str`` column, fast for tens of millions of rows."""
    return pd.Series(pa.array(values).take(pa.array(codes)), dtype="str")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------------------
# The dynamics. simulate() and oracle_probability() both call these, so the oracle integrates
# exactly the process that generated the data.


def _age_weeks(week_start: np.ndarray, signup: np.ndarray) -> np.ndarray:
    return (week_start - signup) / 7.0


def _eff_health(health: np.ndarray, age_w: np.ndarray, p: SimParams) -> np.ndarray:
    """Health as it acts this week: the latent health plus the post-honeymoon "storming" dip."""
    dip = np.exp(-0.5 * ((age_w - p.storming_week) / p.storming_width_weeks) ** 2)
    return health - p.storming_depth * dip


def _hazards(
    eff: np.ndarray,
    age_w: np.ndarray,
    term: np.ndarray,
    week_start: np.ndarray,
    p: SimParams,
) -> tuple[np.ndarray, np.ndarray]:
    """This week's churn hazard: a continuous weekly rate and the probability at a renewal.

    Returns ``(rate, renewal_prob)``: churn happens on any day of the week at a constant daily rate
    ``rate / 7`` (the base hazard, plus early termination for annual contracts), and with
    probability ``renewal_prob`` on the renewal day if one falls in the week.
    """
    season = 1.0 + p.season_amp * np.cos(2 * np.pi * (_day_of_year(week_start) - 15) / 365.25)
    onboarding = 1.0 + p.onboarding_amp * np.exp(-np.maximum(age_w, 0.0) / p.onboarding_weeks)
    health_rate = np.exp(np.minimum(p.hazard_a - p.hazard_b * eff, 5.0)) * season * onboarding
    annual = term >= 12
    base = -np.log1p(-p.base_hazard_year) / 52.0
    rate = base + np.where(annual, p.early_termination_share * health_rate, 0.0)
    renewal_rate = np.where(
        annual,
        np.exp(np.minimum(p.renewal_a - p.renewal_b * eff, 5.0)) * season * onboarding,
        health_rate * (52.0 / 12.0),  # a month's worth of the weekly rate, decided at renewal
    )
    # Nobody churns in the week they sign up: churn dates fall after the week start, which could
    # be before the signup day.
    at_risk = age_w >= 0
    return np.where(at_risk, rate, 0.0), np.where(at_risk, -np.expm1(-renewal_rate), 0.0)


def _ticket_rate(
    base_rate: np.ndarray, eff: np.ndarray, age_w: np.ndarray, p: SimParams
) -> np.ndarray:
    onboarding = 1.0 + p.onboarding_ticket_amp * np.exp(
        -np.maximum(age_w, 0.0) / p.onboarding_weeks
    )
    # Clipped so that the support feedback loop (low health -> more, worse tickets -> lower
    # health) stays bounded for accounts that linger at very low health until their renewal.
    return base_rate * np.exp(-p.ticket_health_slope * np.clip(eff, -3.0, 3.0)) * onboarding


def _sat_mean(eff: np.ndarray, p: SimParams) -> np.ndarray:
    """Mean latent satisfaction with a ticket (resolution slowness integrated out)."""
    slope = p.sat_health_slope + p.sat_slowness_slope * p.resolution_health_slope
    return p.sat_mean + slope * np.clip(eff, -3.0, 3.0)


def _sat_sd(p: SimParams) -> float:
    return float(np.hypot(p.sat_slowness_slope * p.resolution_sd, p.sat_sd))


def _bank_aggregate(
    n_tickets: np.ndarray, eff: np.ndarray, rng: np.random.Generator, p: SimParams
) -> np.ndarray:
    """The week's experience-bank change from ``n_tickets`` tickets, drawn in aggregate.

    Per ticket the change is ``bank_per_ticket + bank_per_sat * (sat - sat_mean)`` with Gaussian
    ``sat``, so the sum over n tickets is exactly Gaussian with n times the mean and variance.
    """
    mean = p.bank_per_ticket + p.bank_per_sat * (_sat_mean(eff, p) - p.sat_mean)
    noise = p.bank_per_sat * _sat_sd(p) * np.sqrt(n_tickets) * rng.standard_normal(len(eff))
    return n_tickets * mean + noise


def _step(
    health: np.ndarray,
    baseline: np.ndarray,
    drift_year: np.ndarray,
    bank: np.ndarray,
    rng: np.random.Generator,
    p: SimParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Health and baseline at the start of next week, given this week's support experience."""
    n = len(health)
    shock = -np.abs(rng.normal(p.shock_mean, p.shock_sd, n)) * (rng.random(n) < p.shock_prob)
    permanent = np.where(rng.random(n) < p.shock_permanent_prob, p.shock_permanent_share, 0.0)
    new_baseline = (
        baseline
        + drift_year / 52.0
        + p.baseline_walk_sd * rng.standard_normal(n)
        + permanent * shock
        + p.bank_permanent_share * bank
    )
    deviation = (
        p.ar_phi * (health - baseline)
        + p.ar_sd * rng.standard_normal(n)
        + (1.0 - permanent) * shock
        + (1.0 - p.bank_permanent_share) * bank
    )
    # Health lives on a bounded scale: beyond +-6 every signal is saturated anyway.
    return np.clip(new_baseline + deviation, -6.0, 6.0), np.clip(new_baseline, -6.0, 6.0)


# ---------------------------------------------------------------------------------------------
# simulate()


def _check_args(n_customers: int, months: int, mess_rate: float) -> None:
    if not isinstance(n_customers, int | np.integer) or n_customers < 1:
        raise ChurnError(f"--customers must be a positive integer, got {n_customers!r}")
    if not isinstance(months, int | np.integer) or months < 3:
        raise ChurnError(f"--months must be an integer >= 3 (a quarter of history), got {months!r}")
    if not 0.0 <= mess_rate <= 0.5:
        raise ChurnError(f"--mess-rate must be between 0 and 0.5, got {mess_rate!r}")


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1), vectorised."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((u >= cum).sum(axis=1), probs.shape[1] - 1)


def _draw_accounts(
    n: int, rng: np.random.Generator, p: SimParams, start_day: int, end_day: int
) -> dict[str, np.ndarray]:
    n_initial = round(n * p.initial_share)
    age = np.minimum(
        1 + rng.exponential(p.initial_age_scale_days, n_initial), p.initial_max_age_days
    ).astype(np.int64)
    signup = np.concatenate(
        [start_day - age, rng.integers(start_day, end_day, n - n_initial, dtype=np.int64)]
    )
    # Customer numbers follow signup order, as a CRM would assign them.
    signup = np.sort(signup)
    segment = rng.choice(3, n, p=p.segment_probs)
    plan = _choice(rng, np.asarray(p.plan_probs)[segment])
    region = rng.choice(len(REGIONS), n, p=p.region_probs)
    offsets = np.concatenate([[0], np.cumsum(_OWNERS_PER_SEGMENT)[:-1]])
    owner = offsets[segment] + np.floor(
        rng.random(n) * np.asarray(_OWNERS_PER_SEGMENT)[segment]
    ).astype(np.int64)
    seats = np.maximum(
        3,
        np.round(
            np.asarray(p.seats_median)[segment]
            * np.exp(np.asarray(p.seats_sigma)[segment] * rng.standard_normal(n))
        ),
    ).astype(np.int64)
    arr = np.round(
        seats * np.asarray(p.price_per_seat)[plan] * np.exp(p.arr_sigma * rng.standard_normal(n)),
        -2,
    )
    term = np.where(rng.random(n) < np.asarray(p.annual_probs)[segment], 12, 1)
    baseline = (
        p.health_mean + np.asarray(p.segment_health)[segment] + p.health_sd * rng.standard_normal(n)
    )
    stationary_sd = p.ar_sd / np.sqrt(1 - p.ar_phi**2)
    health = baseline + stationary_sd * rng.standard_normal(n)
    drift = p.drift_mean_year + p.drift_sd_year * rng.standard_normal(n)
    ticket_rate = (
        p.ticket_rate_scale
        * seats**p.ticket_rate_power
        * np.exp(p.ticket_rate_sigma * rng.standard_normal(n))
    )
    adoption = p.adoption_mean + p.adoption_sd * rng.standard_normal(n)
    nps_phase = rng.integers(0, p.nps_every_weeks, n)
    name_parts = (
        rng.integers(0, len(_NAME_HEADS), n),
        rng.integers(0, len(_NAME_TAILS), n),
        rng.integers(0, len(_NAME_FORMS), n),
    )
    return {
        "signup": signup,
        "segment": segment,
        "plan": plan,
        "region": region,
        "owner": owner,
        "seats": seats,
        "arr": arr,
        "term": term,
        "baseline": baseline,
        "health": health,
        "drift": drift,
        "ticket_rate": ticket_rate,
        "adoption": adoption,
        "nps_phase": nps_phase,
        "name_parts": name_parts,
    }


def _owner_names() -> np.ndarray:
    total = sum(_OWNERS_PER_SEGMENT)
    # Fixed pairing so owners keep their names across seeds and sizes.
    return np.array(
        [f"{_OWNER_FIRST[i]} {_OWNER_LAST[(7 * i + 3) % len(_OWNER_LAST)]}" for i in range(total)]
    )


def _customer_ids(n: int) -> np.ndarray:
    width = max(6, len(str(n)))
    return np.char.add("C", np.char.zfill(np.arange(1, n + 1).astype(str), width))


class _Events:
    """Per-week chunks of event arrays, concatenated once at the end."""

    def __init__(self) -> None:
        self.chunks: dict[str, list[np.ndarray]] = {}

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self.chunks.setdefault(k, []).append(v)

    def get(self, name: str, dtype: Any) -> np.ndarray:
        parts = self.chunks.get(name)
        return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def simulate(
    n_customers: int,
    seed: int = 0,
    start: str = "2024-01-01",
    months: int = 24,
    mess_rate: float = 0.01,
    *,
    params: SimParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulatedDataset:
    """Simulate a B2B customer base and its ground truth (see the module docstring).

    Parameters
    ----------
    n_customers
        Number of accounts in the customers table (the initial base plus signups).
    seed
        Seed of ``np.random.default_rng``: the same arguments give the same dataset.
    start
        First day of the history (a Monday keeps weeks aligned with Monday snapshots).
    months
        Length of the history; ``extraction_date = start + months``.
    mess_rate
        Rate of duplicates, missing optional values and late-arriving interactions (0 = clean).
    params
        Process parameters; the defaults give a realistic (~15%) annual churn rate.
    progress
        Called as ``progress(weeks_done, n_weeks)`` after each simulated week.

    Returns
    -------
    SimulatedDataset
    """
    _check_args(n_customers, months, mess_rate)
    p = params or SimParams()
    rng = np.random.default_rng(seed)
    try:
        start_ts = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as exc:
        raise ChurnError(f"--start must be a date such as 2024-01-01, got {start!r}") from exc
    extraction = start_ts + pd.DateOffset(months=months)
    start_day, end_day = _day(start_ts), _day(extraction)
    end_s = end_day * DAY_S
    n_weeks = -(-(end_day - start_day) // 7)
    n = int(n_customers)

    acc = _draw_accounts(n, rng, p, start_day, end_day)
    signup, term, seats = acc["signup"], acc["term"], acc["seats"]
    health, baseline = acc["health"].copy(), acc["baseline"].copy()
    churn_day = np.full(n, NEVER, dtype=np.int64)
    # Renewals strictly after the first week start: one on the start day itself belongs to the
    # week before the history.
    next_renewal = _renewal_after(signup, np.maximum(signup, start_day), term)
    cat_hours = np.log(np.asarray(p.resolution_hours))
    chan_probs = np.array(
        [
            [0.45, 0.45, 0.10, 0.0],  # how-to
            [0.60, 0.10, 0.30, 0.0],  # billing
            [0.35, 0.20, 0.45, 0.0],  # incident
            [0.35, 0.05, 0.45, 0.15],  # complaint: some escalate to an on-site visit
        ]
    )

    latent, tickets, surveys, usage = _Events(), _Events(), _Events(), _Events()
    for t in range(n_weeks):
        ws = start_day + 7 * t
        ix = np.flatnonzero((signup < ws + 7) & (churn_day > ws))
        m = len(ix)
        s_ix, term_ix = signup[ix], term[ix]
        age_w = _age_weeks(ws, s_ix)
        eff = _eff_health(health[ix], age_w, p)
        rate, renewal_prob = _hazards(eff, age_w, term_ix, np.full(m, ws), p)
        renews = next_renewal[ix] <= ws + 7
        hazard = 1.0 - np.exp(-rate) * (1.0 - np.where(renews, renewal_prob, 0.0))
        # Recorded before this week's draws: the oracle's state for an as_of in this week must
        # reflect only earlier weeks, never the week's own churn, tickets or shocks.
        latent.add(
            code=ix.astype(np.int32),
            week=np.full(m, t, dtype=np.int16),
            health=health[ix].astype(np.float32),
            baseline=baseline[ix].astype(np.float32),
            eff=eff.astype(np.float32),
            hazard=hazard.astype(np.float32),
        )

        # Churn: a day of the week at a constant daily rate, or the renewal day.
        u = rng.random(m)
        p_cont = -np.expm1(-rate)
        cont = u < p_cont
        with np.errstate(divide="ignore", invalid="ignore"):
            # Day within the week for a constant daily rate (the truncated exponential).
            frac = np.nan_to_num(-np.log1p(-rng.random(m) * p_cont) / rate)
        offset = np.minimum(np.floor(7 * frac), 6).astype(np.int64)
        cont_day = np.where(cont, ws + 1 + offset, NEVER)
        at_renewal = renews & (rng.random(m) < renewal_prob)
        new_churn = np.minimum(cont_day, np.where(at_renewal, next_renewal[ix], NEVER))
        churn_day[ix] = np.minimum(churn_day[ix], new_churn)
        renewed = ix[renews & ~at_renewal]
        next_renewal[renewed] = _renewal_after(
            signup[renewed], next_renewal[renewed], term[renewed]
        )
        gone_s = np.minimum(churn_day[ix] * DAY_S, end_s)
        signup_s = s_ix * DAY_S

        # Support tickets: their experience feeds the health "bank account".
        n_t = rng.poisson(_ticket_rate(acc["ticket_rate"][ix], eff, age_w, p))
        tk = np.repeat(np.arange(m), n_t)
        k = len(tk)
        e_t = np.clip(eff[tk], -3.0, 3.0)  # as in _sat_mean, so the oracle sees the same bank
        ts = ws * DAY_S + np.floor(rng.random(k) * 7 * DAY_S).astype(np.int64)
        logits = np.column_stack(
            [
                0.3 + 1.2 * np.exp(-np.maximum(age_w[tk], 0) / p.onboarding_weeks),
                np.full(k, -1.2),
                -1.0 - 0.3 * e_t,
                -2.0 - 0.8 * e_t,
            ]
        )
        category = _choice(rng, np.exp(logits))
        channel = _choice(rng, chan_probs[category])
        smb = acc["segment"][ix[tk]] == 0
        channel = np.where(smb & (channel == 3), 2, channel)  # no site visits for small accounts
        slowness = p.resolution_health_slope * (-e_t) + p.resolution_sd * rng.standard_normal(k)
        resolved = ts + np.round(3600 * np.exp(cat_hours[category] + slowness)).astype(np.int64)
        sat = (
            p.sat_mean
            + p.sat_health_slope * e_t
            - p.sat_slowness_slope * slowness
            + p.sat_sd * rng.standard_normal(k)
        )
        answered = rng.random(k) < _sigmoid(p.csat_response_a + p.csat_response_b * e_t)
        sentiment = np.tanh(0.35 * (sat - p.sat_mean) + 0.25 * rng.standard_normal(k))
        bank = np.bincount(
            tk, weights=p.bank_per_ticket + p.bank_per_sat * (sat - p.sat_mean), minlength=m
        )
        keep = (ts >= signup_s[tk]) & (ts < gone_s[tk])
        still_open = resolved >= end_s
        tickets.add(
            code=ix[tk][keep].astype(np.int32),
            ts=ts[keep],
            category=category[keep].astype(np.int8),
            channel=channel[keep].astype(np.int8),
            resolved=np.where(still_open, -1, resolved)[keep],
            csat=np.where(answered & ~still_open, np.clip(np.round(sat), 1, 5), np.nan)[
                keep
            ].astype(np.float32),
            sentiment=np.round(sentiment, 2)[keep].astype(np.float32),
        )

        # Quarterly NPS survey: response rate and score both fall with health.
        due = ((t + acc["nps_phase"][ix]) % p.nps_every_weeks == 0) & (age_w >= p.nps_min_age_weeks)
        sv = np.flatnonzero(due)
        q = len(sv)
        sent = ws * DAY_S + rng.integers(0, 5, q) * DAY_S + rng.integers(9 * 3600, 17 * 3600, q)
        responds = rng.random(q) < _sigmoid(p.nps_response_a + p.nps_response_b * eff[sv])
        delay = np.round(rng.exponential(p.nps_delay_mean_days * DAY_S, q)).astype(np.int64)
        answered_at = sent + delay
        responds &= (delay <= p.nps_max_delay_days * DAY_S) & (answered_at < gone_s[sv])
        score = np.clip(
            np.round(p.nps_mean + p.nps_slope * eff[sv] + p.nps_sd * rng.standard_normal(q)), 0, 10
        )
        comment = np.where(rng.random(q) < p.nps_comment_prob, rng.integers(0, 1000, q), -1)
        keep = sent < gone_s[sv]
        surveys.add(
            code=ix[sv][keep].astype(np.int32),
            sent=sent[keep],
            answered=np.where(responds, answered_at, -1)[keep],
            score=np.where(responds, score, np.nan)[keep].astype(np.float32),
            comment=np.where(responds, comment, -1)[keep].astype(np.int16),
        )

        # Weekly usage, for complete weeks only (a row is known once its week has ended).
        if ws + 7 <= end_day:
            ramp = 1.0 - np.exp(-np.maximum(age_w + 1.0, 0.0) / p.ramp_weeks)
            # Usage stops on the churn date: a churn week is only partly used.
            used = np.clip((np.minimum(churn_day[ix], ws + 7) - ws) / 7.0, 0.0, 1.0)
            month = _month(np.array([ws + 3]))[0]
            season = -0.4 if (month == 12 and _day_of_year(np.array([ws + 3]))[0] >= 350) else 0.0
            season += -0.15 if month == 8 else 0.0
            share = _sigmoid(
                acc["adoption"][ix]
                + p.usage_health_slope * eff
                + season
                + p.usage_noise_sd * rng.standard_normal(m)
            )
            active = rng.binomial(seats[ix], share * ramp * used)
            logins = rng.poisson(active * p.logins_per_user * np.exp(p.login_health_slope * eff))
            events = rng.poisson(
                active
                * p.events_per_user
                * np.exp(p.events_health_slope * eff + p.events_noise_sd * rng.standard_normal(m))
            )
            usage.add(
                code=ix.astype(np.int32),
                week=np.full(m, t, dtype=np.int16),
                active=active.astype(np.int32),
                logins=logins.astype(np.int32),
                events=events.astype(np.int32),
            )

        health[ix], baseline[ix] = _step(health[ix], baseline[ix], acc["drift"][ix], bank, rng, p)
        if progress is not None:
            progress(t + 1, n_weeks)

    ids = _customer_ids(n)
    truth = _build_truth(
        ids, acc, churn_day, latent, p, start_ts, extraction, n_weeks, seed, mess_rate
    )
    customers = _build_customers(ids, acc, churn_day, end_day, rng, mess_rate)
    interactions = _build_interactions(ids, tickets, end_s, rng, mess_rate, p)
    nps = _build_nps(ids, surveys, rng, mess_rate)
    usage_frame = _build_usage(ids, usage, seats, start_day, rng, mess_rate)
    sim = SimulatedDataset(
        name=f"simulated-{n}-seed{seed}",
        customers=customers,
        interactions=interactions,
        nps=nps,
        usage=usage_frame,
        extraction_date=extraction,
        truth=truth,
    )
    log.debug("simulated %s", sim.summary())
    return sim


def _duplicate_rows(n_rows: int, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Row order with a fraction ``rate`` of rows repeated right after themselves."""
    return np.repeat(np.arange(n_rows), 1 + (rng.random(n_rows) < rate))


def _build_truth(
    ids: np.ndarray,
    acc: dict[str, np.ndarray],
    churn_day: np.ndarray,
    latent: _Events,
    p: SimParams,
    start: pd.Timestamp,
    extraction: pd.Timestamp,
    n_weeks: int,
    seed: int,
    mess_rate: float,
) -> Truth:
    end_day = _day(extraction)
    observed_churn = churn_day < end_day
    static = pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="str"),
            "signup_date": _to_datetime(acc["signup"] * DAY_NS),
            "churn_date": _to_datetime(
                np.where(observed_churn, churn_day, 0) * DAY_NS, ~observed_churn
            ),
            "contract_months": acc["term"].astype(np.int64),
            "segment": pd.Series(np.asarray(SEGMENTS)[acc["segment"]], dtype="str"),
            "drift": acc["drift"],
            "ticket_rate": acc["ticket_rate"],
        }
    )
    codes = latent.get("code", np.int32)
    weeks = latent.get("week", np.int16)
    frame = pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(codes, categories=pd.Index(ids, dtype="str")),
            "week_start": _to_datetime(
                (start.value // DAY_NS + 7 * weeks.astype(np.int64)) * DAY_NS
            ),
            "health": latent.get("health", np.float32),
            "baseline": latent.get("baseline", np.float32),
            "eff_health": latent.get("eff", np.float32),
            "hazard": latent.get("hazard", np.float32),
        }
    )
    params = {
        "process": dataclasses.asdict(p),
        "start": start.isoformat(),
        "extraction_date": extraction.isoformat(),
        "n_weeks": int(n_weeks),
        "seed": int(seed),
        "mess_rate": float(mess_rate),
    }
    return Truth(static=static, latent=frame, params=params)


def _build_customers(
    ids: np.ndarray,
    acc: dict[str, np.ndarray],
    churn_day: np.ndarray,
    end_day: int,
    rng: np.random.Generator,
    mess_rate: float,
) -> pd.DataFrame:
    n = len(ids)
    churned = churn_day < end_day
    # The contract in effect: the renewal a leaver left at (or would have), else the next one.
    after = np.where(churned, churn_day - 1, end_day - 1)
    contract_end = _renewal_after(acc["signup"], after, acc["term"])
    heads, tails, forms = acc["name_parts"]
    names = np.char.add(
        np.char.add(
            np.char.add(np.asarray(_NAME_HEADS)[heads], " "), np.asarray(_NAME_TAILS)[tails]
        ),
        np.char.add(" ", np.asarray(_NAME_FORMS)[forms]),
    )
    region = np.asarray(REGIONS, dtype=object)[acc["region"]]
    owner = _owner_names().astype(object)[acc["owner"]]
    # Mess: optional CRM fields left blank.
    region[rng.random(n) < mess_rate] = None
    owner[rng.random(n) < mess_rate] = None
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids, dtype="str"),
            "name": pd.Series(names, dtype="str"),
            "segment": pd.Series(np.asarray(SEGMENTS)[acc["segment"]], dtype="str"),
            "plan": pd.Series(np.asarray(PLANS)[acc["plan"]], dtype="str"),
            "region": pd.Series(region, dtype="str"),
            "account_owner": pd.Series(owner, dtype="str"),
            "signup_date": _to_datetime(acc["signup"] * DAY_NS),
            "churn_date": _to_datetime(np.where(churned, churn_day, 0) * DAY_NS, ~churned),
            "contract_months": acc["term"].astype(np.float64),
            "contract_end_date": _to_datetime(contract_end * DAY_NS),
            "arr": acc["arr"].astype(np.float64),
        }
    )


def _build_interactions(
    ids: np.ndarray,
    ev: _Events,
    end_s: int,
    rng: np.random.Generator,
    mess_rate: float,
    p: SimParams,
) -> pd.DataFrame:
    ts = ev.get("ts", np.int64)
    order = np.lexsort((ev.get("code", np.int32), ts))
    ts = ts[order]
    k = len(ts)
    # Mess: a few records reach the data days late; one that would arrive after extraction is
    # not in the extract at all.
    late = rng.random(k) < mess_rate
    lag = np.round(rng.uniform(p.late_min_days, p.late_max_days, k) * DAY_S).astype(np.int64)
    recorded = np.where(late, ts + lag, ts)
    # Rounded again after widening so that files show 0.29, not 0.28999999165534973.
    sentiment = np.round(ev.get("sentiment", np.float32)[order].astype(np.float64), 2)
    sentiment[rng.random(k) < mess_rate] = np.nan
    rows = np.flatnonzero(recorded < end_s)
    rows = rows[_duplicate_rows(len(rows), rng, mess_rate)]
    resolved = ev.get("resolved", np.int64)[order][rows]
    return pd.DataFrame(
        {
            "customer_id": _str_column(ids, ev.get("code", np.int32)[order][rows]),
            "timestamp": _to_datetime(ts[rows] * 10**9),
            "channel": _str_column(np.asarray(CHANNELS), ev.get("channel", np.int8)[order][rows]),
            "category": _str_column(
                np.asarray(CATEGORIES), ev.get("category", np.int8)[order][rows]
            ),
            "resolved_at": _to_datetime(resolved * 10**9, resolved < 0),
            "csat": ev.get("csat", np.float32)[order][rows].astype(np.float64),
            "sentiment": sentiment[rows],
            "recorded_at": _to_datetime(recorded[rows] * 10**9),
        }
    )


def _build_nps(
    ids: np.ndarray, ev: _Events, rng: np.random.Generator, mess_rate: float
) -> pd.DataFrame:
    sent = ev.get("sent", np.int64)
    order = np.lexsort((ev.get("code", np.int32), sent))
    rows = order[_duplicate_rows(len(order), rng, mess_rate)]
    answered = ev.get("answered", np.int64)[rows]
    score = ev.get("score", np.float32)[rows].astype(np.float64)
    comment_code = ev.get("comment", np.int16)[rows].astype(np.int64)
    comment = np.full(len(rows), None, dtype=object)
    for band, texts in enumerate(_NPS_COMMENTS):
        lo, hi = ((0, 6), (7, 8), (9, 10))[band]
        pick = (comment_code >= 0) & (score >= lo) & (score <= hi)
        comment[pick] = np.asarray(texts, dtype=object)[comment_code[pick] % len(texts)]
    return pd.DataFrame(
        {
            "customer_id": _str_column(ids, ev.get("code", np.int32)[rows]),
            "sent_at": _to_datetime(sent[rows] * 10**9),
            "timestamp": _to_datetime(answered * 10**9, answered < 0),
            "score": score,
            "comment": pd.Series(comment, dtype="str"),
        }
    )


def _build_usage(
    ids: np.ndarray,
    ev: _Events,
    seats: np.ndarray,
    start_day: int,
    rng: np.random.Generator,
    mess_rate: float,
) -> pd.DataFrame:
    code = ev.get("code", np.int32)
    week = ev.get("week", np.int16)
    order = np.lexsort((week, code))
    events = ev.get("events", np.int32)[order].astype(np.float64)
    # Missing values before duplication, so that a duplicate is an exact copy of its row.
    events[rng.random(len(order)) < mess_rate] = np.nan
    dup = _duplicate_rows(len(order), rng, mess_rate)
    rows, events = order[dup], events[dup]
    code = code[rows]
    return pd.DataFrame(
        {
            "customer_id": _str_column(ids, code),
            "date": _to_datetime((start_day + 7 * week[rows].astype(np.int64)) * DAY_NS),
            "active_users": ev.get("active", np.int32)[rows].astype(np.float64),
            "seats_licensed": seats[code].astype(np.float64),
            "logins": ev.get("logins", np.int32)[rows].astype(np.float64),
            "feature_events": events,
        }
    )


# ---------------------------------------------------------------------------------------------
# Ground truth: the oracle.


def oracle_probability(
    truth: Truth,
    spine: pd.DataFrame,
    horizon_days: int,
    lead_days: int = 0,
    n_paths: int = 32,
    *,
    seed: int = 0,
    max_units: int = 2_000_000,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """P(churn in ``[as_of + lead, as_of + lead + horizon)``) given the latent state at ``as_of``.

    The ceiling any model can reach: it knows each account's latent health, baseline and drift at
    ``as_of`` but not the future. Health is simulated forward ``n_paths`` times with the process's
    own dynamics (shocks, tickets and their experience effect, lifecycle, renewal dates); on each
    path the churn hazard is integrated exactly (no churn draws), and the paths are averaged.

    Parameters
    ----------
    truth
        ``SimulatedDataset.truth`` or :func:`load_truth`.
    spine
        Rows with ``customer_id`` and ``as_of``.
    horizon_days, lead_days
        The label window, as in the snapshot settings.
    n_paths
        Monte Carlo paths per row; the standard error is well under ``0.5 / sqrt(n_paths)``.
    seed
        Seed of the forward simulation.
    max_units
        Rows x paths simulated at once (memory bound).
    progress
        Called as ``progress(rows_done, rows_total)``.

    Returns
    -------
    numpy.ndarray
        One probability per spine row, in spine order; NaN where the customer is unknown or not
        active at ``as_of`` (``signup_date <= as_of < churn_date``), or ``as_of`` is outside the
        simulated history. Exact for as_of on week starts (Mondays by default); for an as_of
        inside a week, the events of that week before as_of are integrated over, not known.
    """
    missing = {"customer_id", "as_of"} - set(spine.columns)
    if missing:
        raise ChurnError(
            f"the spine needs columns customer_id and as_of; missing {sorted(missing)}"
        )
    if horizon_days <= 0 or lead_days < 0 or n_paths < 1:
        raise ChurnError("oracle_probability needs horizon_days > 0, lead_days >= 0, n_paths >= 1")
    p = SimParams.from_dict(truth.params["process"])
    start_day, end_day = _day(truth.start), _day(truth.extraction_date)
    static = truth.static
    pos = pd.Index(static["customer_id"].astype(str)).get_indexer(spine["customer_id"].astype(str))
    as_of_ns = pd.to_datetime(spine["as_of"]).to_numpy("datetime64[ns]").astype(np.int64)
    a_day = as_of_ns / DAY_NS
    known = pos >= 0
    pos_k = np.where(known, pos, 0)
    signup = static["signup_date"].to_numpy("datetime64[ns]").astype(np.int64)[pos_k] // DAY_NS
    churn_ns = static["churn_date"].to_numpy("datetime64[ns]")
    churn = np.where(np.isnat(churn_ns), NEVER, churn_ns.astype(np.int64) // DAY_NS)[pos_k]
    # Active at as_of: already signed up, and has not left on or before it.
    ok = known & (signup <= a_day) & (churn > a_day) & (a_day >= start_day) & (a_day < end_day)
    week = np.floor((a_day - start_day) / 7).astype(np.int64)

    # The state at the start of as_of's week: everything it reflects happened before as_of.
    lat = truth.latent
    lat_codes = pd.Categorical(
        lat["customer_id"], categories=static["customer_id"].astype(str)
    ).codes
    lat_week = (
        lat["week_start"].to_numpy("datetime64[ns]").astype(np.int64) // DAY_NS - start_day
    ) // 7
    n_weeks = int(truth.params["n_weeks"])
    lat_key = lat_codes.astype(np.int64) * n_weeks + lat_week
    sort = np.argsort(lat_key, kind="stable")
    want = pos_k * n_weeks + np.clip(week, 0, n_weeks - 1)
    at = np.clip(np.searchsorted(lat_key[sort], want), 0, len(sort) - 1)
    found = lat_key[sort][at] == want
    ok &= found
    row_lat = sort[at]

    out = np.full(len(spine), np.nan)
    rows = np.flatnonzero(ok)
    rng = np.random.default_rng(seed)
    health = lat["health"].to_numpy(np.float64)
    baseline = lat["baseline"].to_numpy(np.float64)
    drift = static["drift"].to_numpy(np.float64)
    ticket_rate = static["ticket_rate"].to_numpy(np.float64)
    term = static["contract_months"].to_numpy(np.int64)
    chunk = max(1, max_units // n_paths)
    for lo_i in range(0, len(rows), chunk):
        r = rows[lo_i : lo_i + chunk]
        rep = np.repeat(r, n_paths)
        c = pos_k[rep]
        probs = _forward(
            rng,
            p,
            health=health[row_lat[rep]],
            baseline=baseline[row_lat[rep]],
            drift=drift[c],
            ticket_rate=ticket_rate[c],
            term=term[c],
            signup=signup[rep],
            as_of=a_day[rep],
            first_week_start=start_day + 7 * week[rep],
            lead=float(lead_days),
            horizon=float(horizon_days),
        )
        out[r] = probs.reshape(len(r), n_paths).mean(axis=1)
        if progress is not None:
            progress(min(lo_i + chunk, len(rows)), len(rows))
    return out


def _forward(
    rng: np.random.Generator,
    p: SimParams,
    *,
    health: np.ndarray,
    baseline: np.ndarray,
    drift: np.ndarray,
    ticket_rate: np.ndarray,
    term: np.ndarray,
    signup: np.ndarray,
    as_of: np.ndarray,
    first_week_start: np.ndarray,
    lead: float,
    horizon: float,
) -> np.ndarray:
    """One forward path per unit; returns P(churn date in [as_of+lead, as_of+lead+horizon)).

    Churn dates are whole days; a unit alive at ``as_of`` can only churn on a day after it.
    """
    health, baseline = health.copy(), baseline.copy()
    win_lo = as_of + lead
    win_hi = win_lo + horizon
    first_day = np.floor(as_of).astype(np.int64) + 1  # first churn date still possible
    pre_hi = np.ceil(win_lo).astype(np.int64) - 1  # last day before the window
    in_lo = np.maximum(first_day, np.ceil(win_lo).astype(np.int64))
    in_hi = np.ceil(win_hi).astype(np.int64) - 1  # last day inside the window
    renewal = _renewal_after(signup, first_day - 1, term)
    log_pre = np.zeros(len(health))
    log_in = np.zeros(len(health))
    n_weeks = int(np.max(np.ceil((win_hi - first_week_start) / 7))) if len(health) else 0
    for j in range(n_weeks):
        ws = first_week_start + 7 * j
        age_w = _age_weeks(ws, signup)
        eff = _eff_health(health, age_w, p)
        rate, renewal_prob = _hazards(eff, age_w, term, ws, p)
        daily = rate / 7.0
        # Churn days of this week are ws+1 .. ws+7 (the week's churn instants are (ws, ws+7]).
        n_pre = np.clip(np.minimum(ws + 7, pre_hi) - np.maximum(ws + 1, first_day) + 1, 0, 7)
        n_in = np.clip(np.minimum(ws + 7, in_hi) - np.maximum(ws + 1, in_lo) + 1, 0, 7)
        renews = (renewal > ws) & (renewal <= ws + 7)
        log_keep = np.log1p(-np.minimum(renewal_prob, 1 - 1e-12))
        log_pre += -daily * n_pre + np.where(renews & (renewal <= pre_hi), log_keep, 0.0)
        log_in += -daily * n_in + np.where(
            renews & (renewal >= in_lo) & (renewal <= in_hi), log_keep, 0.0
        )
        renewal[renews] = _renewal_after(signup[renews], renewal[renews], term[renews])
        n_t = rng.poisson(_ticket_rate(ticket_rate, eff, age_w, p))
        bank = _bank_aggregate(n_t, eff, rng, p)
        health, baseline = _step(health, baseline, drift, bank, rng, p)
    return np.exp(log_pre) * -np.expm1(log_in)


# ---------------------------------------------------------------------------------------------
# Files.


def annual_churn_rate(customers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Churn events per customer-year at risk in ``[start, end)``."""
    signup = pd.to_datetime(customers["signup_date"]).clip(lower=start)
    churn = pd.to_datetime(customers["churn_date"])
    stop = churn.fillna(end).clip(upper=end)
    years = ((stop - signup).dt.total_seconds().clip(lower=0) / (365.25 * DAY_S)).sum()
    events = ((churn >= start) & (churn < end)).sum()
    return float(events / years) if years > 0 else float("nan")


def write_dataset(sim: SimulatedDataset, out_dir: str | Path, fmt: str = "csv") -> Path:
    """Write the tables, ``dataset.yaml`` and ``ground_truth/`` to ``out_dir``, atomically.

    Everything is written to a temporary folder beside ``out_dir`` and renamed into place, so a
    killed run never leaves half a dataset. An existing ``out_dir`` is replaced only if it is
    empty or holds a ``dataset.yaml`` (a dataset written before).

    Parameters
    ----------
    sim
        The dataset from :func:`simulate`.
    out_dir
        Folder to create or replace.
    fmt
        ``"csv"`` or ``"parquet"`` for the four tables (the ground truth is always Parquet).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    if fmt not in FORMATS:
        raise ChurnError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise ChurnError(f"{out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not (out / "dataset.yaml").exists():
            raise ChurnError(
                f"{out} is not empty and holds no dataset.yaml, so it was not written by "
                "`churn simulate`; refusing to replace it. Choose another --out or remove it."
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is meant to be shared
    try:
        for table in ("customers", "interactions", "nps", "usage"):
            frame: pd.DataFrame = getattr(sim, table)
            path = tmp / f"{table}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
        config = {
            "name": sim.name,
            "extraction_date": f"{sim.extraction_date:%Y-%m-%d}",
            "usage": {"period": "week"},
            "churn": {"definition": "date"},
        }
        (tmp / "dataset.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        truth_dir = tmp / TRUTH_DIR
        truth_dir.mkdir()
        sim.truth.static.to_parquet(truth_dir / "static.parquet", index=False)
        sim.truth.latent.to_parquet(truth_dir / "latent.parquet", index=False)
        (truth_dir / "params.json").write_text(
            json.dumps(sim.truth.params, indent=2), encoding="utf-8"
        )
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def load_truth(dataset_dir: str | Path) -> Truth:
    """Read the ground truth written by :func:`write_dataset` from ``dataset_dir/ground_truth``."""
    folder = Path(dataset_dir) / TRUTH_DIR
    files = [folder / "static.parquet", folder / "latent.parquet", folder / "params.json"]
    absent = [f.name for f in files if not f.exists()]
    if absent:
        raise ChurnError(
            f"{folder} lacks {', '.join(absent)}: ground truth exists only for datasets written "
            "by `churn simulate`"
        )
    static = pd.read_parquet(files[0])
    latent = pd.read_parquet(files[1])
    params = json.loads(files[2].read_text(encoding="utf-8"))
    static["customer_id"] = static["customer_id"].astype("str")
    latent["customer_id"] = pd.Categorical(
        latent["customer_id"].astype("str"), categories=pd.Index(static["customer_id"])
    )
    return Truth(static=static, latent=latent, params=params)
