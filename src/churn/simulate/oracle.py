"""The oracle: the best prediction possible, from the latent state the data was generated with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.simulate.dynamics import (
    _age_weeks,
    _bank_aggregate,
    _day,
    _eff_health,
    _hazards,
    _renewal_after,
    _step,
    _ticket_rate,
)
from churn.simulate.params import DAY_NS, NEVER, SimParams, Truth


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
    _check_oracle_args(spine, horizon_days, lead_days, n_paths)
    p = SimParams.from_dict(truth.params["process"])
    at = _locate(truth, spine)

    out = np.full(len(spine), np.nan)
    rows = np.flatnonzero(at.ok)
    rng = np.random.default_rng(seed)
    static, lat = truth.static, truth.latent
    health = lat["health"].to_numpy(np.float64)
    baseline = lat["baseline"].to_numpy(np.float64)
    drift = static["drift"].to_numpy(np.float64)
    ticket_rate = static["ticket_rate"].to_numpy(np.float64)
    term = static["contract_months"].to_numpy(np.int64)
    chunk = max(1, max_units // n_paths)
    for lo_i in range(0, len(rows), chunk):
        r = rows[lo_i : lo_i + chunk]
        rep = np.repeat(r, n_paths)
        c = at.pos[rep]
        probs = _forward(
            rng,
            p,
            health=health[at.row_lat[rep]],
            baseline=baseline[at.row_lat[rep]],
            drift=drift[c],
            ticket_rate=ticket_rate[c],
            term=term[c],
            signup=at.signup[rep],
            as_of=at.as_of[rep],
            first_week_start=at.start_day + 7 * at.week[rep],
            lead=float(lead_days),
            horizon=float(horizon_days),
        )
        out[r] = probs.reshape(len(r), n_paths).mean(axis=1)
        if progress is not None:
            progress(min(lo_i + chunk, len(rows)), len(rows))
    return out


def _check_oracle_args(
    spine: pd.DataFrame, horizon_days: int, lead_days: int, n_paths: int
) -> None:
    missing = {"customer_id", "as_of"} - set(spine.columns)
    if missing:
        raise ChurnError(
            f"the spine needs columns customer_id and as_of; missing {sorted(missing)}"
        )
    if horizon_days <= 0 or lead_days < 0 or n_paths < 1:
        raise ChurnError("oracle_probability needs horizon_days > 0, lead_days >= 0, n_paths >= 1")


@dataclass(frozen=True)
class _Located:
    """Spine rows located in the ground truth, one entry per spine row."""

    #: Row of the customer in ``truth.static`` (0 where unknown: then ``ok`` is False).
    pos: np.ndarray
    #: as_of as a fractional day number.
    as_of: np.ndarray
    #: Signup day of the customer.
    signup: np.ndarray
    #: Week of as_of in the simulated history (weeks since ``truth.start``).
    week: np.ndarray
    #: Whether the oracle applies: known, active at as_of, inside the history, state found.
    ok: np.ndarray
    #: Row in ``truth.latent`` of the state at the start of as_of's week.
    row_lat: np.ndarray
    #: Day number of ``truth.start``.
    start_day: int


def _locate(truth: Truth, spine: pd.DataFrame) -> _Located:
    """Find each spine row's customer, its activity at as_of and its latent state that week."""
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
    return _Located(
        pos=pos_k,
        as_of=a_day,
        signup=signup,
        week=week,
        ok=ok,
        row_lat=sort[at],
        start_day=start_day,
    )


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
