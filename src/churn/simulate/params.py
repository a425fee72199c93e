"""The simulator's parameters, constants and result types.

:class:`SimParams` holds every rate of the generative process (stored with the ground truth so
the oracle runs the same dynamics); :class:`Truth` is the process's side of a dataset and
:class:`SimulatedDataset` the tables plus that truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

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
    # --- plan changes (account_history): weekly odds, logistic in effective health. Falling
    # health brings downgrades and seat cuts (which thus precede churn), good health upgrades.
    # They are signals of health, never causes: the churn hazard does not read them.
    downgrade_a: float = -6.0
    downgrade_b: float = 1.3
    upgrade_a: float = -6.6
    upgrade_b: float = 0.9
    #: Share of changes that move the plan one tier (where one is left), the rest move seats.
    plan_change_share: float = 0.35
    seat_change_min: float = 0.1
    seat_change_max: float = 0.4
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
    """A simulated dataset: the contract tables plus the ground truth.

    ``customers``, ``interactions``, ``nps``, ``usage`` and ``account_history`` use the
    contract's column names (usage metrics: ``active_users``, ``seats_licensed``, ``logins``,
    ``feature_events``). They contain the requested mess; ``extraction_date`` is the instant
    after the last simulated day. ``customers`` holds plan and ARR as extracted (the latest);
    ``account_history`` dates every value from signup on (a row at signup, one per change).
    """

    name: str
    customers: pd.DataFrame
    interactions: pd.DataFrame
    nps: pd.DataFrame
    usage: pd.DataFrame
    extraction_date: pd.Timestamp
    truth: Truth
    account_history: pd.DataFrame | None = None

    def summary(self) -> str:
        """One line: customers, churned, events."""
        churned = int(self.customers["churn_date"].notna().sum())
        changes = 0 if self.account_history is None else len(self.account_history)
        changes -= len(self.customers) if changes else 0
        return (
            f"{len(self.customers):,} customers ({churned:,} churned), "
            f"{len(self.interactions):,} interactions, {len(self.nps):,} NPS surveys, "
            f"{len(self.usage):,} usage rows, {changes:,} plan changes; "
            f"extraction {self.extraction_date:%Y-%m-%d}"
        )
