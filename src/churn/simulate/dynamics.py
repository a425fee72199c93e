"""The dynamics shared by :func:`~churn.simulate.simulate` and the oracle, and calendar helpers.

Both the simulation and :func:`~churn.simulate.oracle_probability` call these, so the oracle
integrates exactly the process that generated the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from churn.simulate.params import DAY_NS, SimParams

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
