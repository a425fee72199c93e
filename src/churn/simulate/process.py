"""The simulation itself: accounts, their weekly health, churn, tickets, surveys and usage.

See ``churn.simulate`` for the generative story. Every random draw comes from one
``np.random.Generator`` in a fixed order, so the same arguments give the same dataset.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.simulate.dynamics import (
    _age_weeks,
    _day,
    _day_of_year,
    _eff_health,
    _hazards,
    _month,
    _renewal_after,
    _sigmoid,
    _step,
    _str_column,
    _ticket_rate,
    _to_datetime,
)
from churn.simulate.params import (
    _NAME_FORMS,
    _NAME_HEADS,
    _NAME_TAILS,
    _NPS_COMMENTS,
    _OWNER_FIRST,
    _OWNER_LAST,
    _OWNERS_PER_SEGMENT,
    CATEGORIES,
    CHANNELS,
    DAY_NS,
    DAY_S,
    NEVER,
    PLANS,
    REGIONS,
    SEGMENTS,
    SimParams,
    SimulatedDataset,
    Truth,
)

log = logging.getLogger(__name__)


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
    # The account's price factor stays with it: ARR follows seats and plan when they change.
    arr_factor = np.exp(p.arr_sigma * rng.standard_normal(n))
    arr = _arr(seats, plan, arr_factor, p)
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
        "arr_factor": arr_factor,
        "term": term,
        "baseline": baseline,
        "health": health,
        "drift": drift,
        "ticket_rate": ticket_rate,
        "adoption": adoption,
        "nps_phase": nps_phase,
        "name_parts": name_parts,
    }


def _arr(seats: np.ndarray, plan: np.ndarray, factor: np.ndarray, p: SimParams) -> np.ndarray:
    return np.round(seats * np.asarray(p.price_per_seat)[plan] * factor, -2)


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
    """Simulate a B2B customer base and its ground truth (see ``churn.simulate``).

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
    start_ts, extraction = _history(start, months)
    start_day, end_day = _day(start_ts), _day(extraction)
    end_s = end_day * DAY_S
    n_weeks = -(-(end_day - start_day) // 7)
    n = int(n_customers)

    acc = _draw_accounts(n, rng, p, start_day, end_day)
    initial = {k: acc[k].copy() for k in ("plan", "seats", "arr")}
    state, rec = _run_weeks(acc, rng, p, seed, start_day, end_day, n_weeks, progress)

    ids = _customer_ids(n)
    churn_day = state.churn_day
    truth = _build_truth(
        ids, acc, churn_day, rec.latent, p, start_ts, extraction, n_weeks, seed, mess_rate
    )
    customers = _build_customers(ids, acc, churn_day, end_day, rng, mess_rate)
    interactions = _build_interactions(ids, rec.tickets, end_s, rng, mess_rate, p)
    nps = _build_nps(ids, rec.surveys, rng, mess_rate)
    usage_frame = _build_usage(ids, rec.usage, start_day, rng, mess_rate)
    history = _build_history(ids, acc, initial, rec.changes)
    sim = SimulatedDataset(
        name=f"simulated-{n}-seed{seed}",
        customers=customers,
        interactions=interactions,
        nps=nps,
        usage=usage_frame,
        extraction_date=extraction,
        truth=truth,
        account_history=history,
    )
    log.debug("simulated %s", sim.summary())
    return sim


def _run_weeks(
    acc: dict[str, np.ndarray],
    rng: np.random.Generator,
    p: SimParams,
    seed: int,
    start_day: int,
    end_day: int,
    n_weeks: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[_State, _Record]:
    """Simulate every week of the history (``acc`` holds the attributes in force after it)."""
    state = _State(
        health=acc["health"].copy(),
        baseline=acc["baseline"].copy(),
        churn_day=np.full(len(acc["signup"]), NEVER, dtype=np.int64),
        # Renewals strictly after the first week start: one on the start day itself belongs to
        # the week before the history.
        next_renewal=_renewal_after(
            acc["signup"], np.maximum(acc["signup"], start_day), acc["term"]
        ),
    )
    rec = _Record()
    # Plan changes draw from their own stream, so that the other tables' draws stay in order.
    rng_plan = np.random.default_rng([seed, 1])
    end_s = end_day * DAY_S
    for t in range(n_weeks):
        _simulate_week(t, start_day + 7 * t, acc, state, rec, rng, p, end_day=end_day, end_s=end_s)
        _draw_plan_changes(start_day + 7 * t, acc, state, rec.latent, rng_plan, p, end_day, rec)
        if progress is not None:
            progress(t + 1, n_weeks)
    return state, rec


def _history(start: str, months: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first day of the history and the extraction date, ``months`` later."""
    try:
        start_ts = pd.Timestamp(start).normalize()
    except (ValueError, TypeError) as exc:
        raise ChurnError(f"--start must be a date such as 2024-01-01, got {start!r}") from exc
    return start_ts, start_ts + pd.DateOffset(months=months)


@dataclasses.dataclass
class _State:
    """What carries over from week to week, per customer (updated in place)."""

    health: np.ndarray
    baseline: np.ndarray
    churn_day: np.ndarray
    next_renewal: np.ndarray


@dataclasses.dataclass
class _Record:
    """The events recorded week by week: latent state, tickets, NPS surveys and usage."""

    latent: _Events = dataclasses.field(default_factory=_Events)
    tickets: _Events = dataclasses.field(default_factory=_Events)
    surveys: _Events = dataclasses.field(default_factory=_Events)
    usage: _Events = dataclasses.field(default_factory=_Events)
    changes: _Events = dataclasses.field(default_factory=_Events)


#: Channel probabilities per ticket category (rows: how-to, billing, incident, complaint).
_CHANNEL_PROBS = np.array(
    [
        [0.45, 0.45, 0.10, 0.0],  # how-to
        [0.60, 0.10, 0.30, 0.0],  # billing
        [0.35, 0.20, 0.45, 0.0],  # incident
        [0.35, 0.05, 0.45, 0.15],  # complaint: some escalate to an on-site visit
    ]
)


def _simulate_week(
    t: int,
    ws: int,
    acc: dict[str, np.ndarray],
    state: _State,
    rec: _Record,
    rng: np.random.Generator,
    p: SimParams,
    *,
    end_day: int,
    end_s: int,
) -> None:
    """Simulate week ``t``, which starts on day ``ws``.

    Records the state at the week start, then draws churn, tickets, NPS, usage and next week's
    health, in that order: the order of the draws is the dataset, so it must not change.
    """
    ix = np.flatnonzero((acc["signup"] < ws + 7) & (state.churn_day > ws))
    m = len(ix)
    s_ix, term_ix = acc["signup"][ix], acc["term"][ix]
    age_w = _age_weeks(ws, s_ix)
    eff = _eff_health(state.health[ix], age_w, p)
    rate, renewal_prob = _hazards(eff, age_w, term_ix, np.full(m, ws), p)
    renews = state.next_renewal[ix] <= ws + 7
    hazard = 1.0 - np.exp(-rate) * (1.0 - np.where(renews, renewal_prob, 0.0))
    # Recorded before this week's draws: the oracle's state for an as_of in this week must
    # reflect only earlier weeks, never the week's own churn, tickets or shocks.
    rec.latent.add(
        code=ix.astype(np.int32),
        week=np.full(m, t, dtype=np.int16),
        health=state.health[ix].astype(np.float32),
        baseline=state.baseline[ix].astype(np.float32),
        eff=eff.astype(np.float32),
        hazard=hazard.astype(np.float32),
    )
    _draw_churn(ix, ws, rate, renewal_prob, renews, acc, state, rng)
    gone_s = np.minimum(state.churn_day[ix] * DAY_S, end_s)
    signup_s = s_ix * DAY_S
    bank = _draw_tickets(ix, ws, eff, age_w, signup_s, gone_s, acc, rng, p, rec.tickets, end_s)
    _draw_surveys(t, ix, ws, eff, age_w, gone_s, acc, rng, p, rec.surveys)
    # Weekly usage, for complete weeks only (a row is known once its week has ended).
    if ws + 7 <= end_day:
        _draw_usage(t, ix, ws, eff, age_w, acc, state.churn_day, rng, p, rec.usage)
    state.health[ix], state.baseline[ix] = _step(
        state.health[ix], state.baseline[ix], acc["drift"][ix], bank, rng, p
    )


def _draw_churn(
    ix: np.ndarray,
    ws: int,
    rate: np.ndarray,
    renewal_prob: np.ndarray,
    renews: np.ndarray,
    acc: dict[str, np.ndarray],
    state: _State,
    rng: np.random.Generator,
) -> None:
    """Churn: a day of the week at a constant daily rate, or the renewal day (state updated)."""
    signup, term, churn_day, next_renewal = (
        acc["signup"],
        acc["term"],
        state.churn_day,
        state.next_renewal,
    )
    m = len(ix)
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
    next_renewal[renewed] = _renewal_after(signup[renewed], next_renewal[renewed], term[renewed])


def _draw_tickets(
    ix: np.ndarray,
    ws: int,
    eff: np.ndarray,
    age_w: np.ndarray,
    signup_s: np.ndarray,
    gone_s: np.ndarray,
    acc: dict[str, np.ndarray],
    rng: np.random.Generator,
    p: SimParams,
    tickets: _Events,
    end_s: int,
) -> np.ndarray:
    """Support tickets of the week; returns their experience, which feeds the health "bank"."""
    m = len(ix)
    cat_hours = np.log(np.asarray(p.resolution_hours))
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
    channel = _choice(rng, _CHANNEL_PROBS[category])
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
        csat=np.where(answered & ~still_open, np.clip(np.round(sat), 1, 5), np.nan)[keep].astype(
            np.float32
        ),
        sentiment=np.round(sentiment, 2)[keep].astype(np.float32),
    )
    return bank


def _draw_surveys(
    t: int,
    ix: np.ndarray,
    ws: int,
    eff: np.ndarray,
    age_w: np.ndarray,
    gone_s: np.ndarray,
    acc: dict[str, np.ndarray],
    rng: np.random.Generator,
    p: SimParams,
    surveys: _Events,
) -> None:
    """Quarterly NPS survey: response rate and score both fall with health."""
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


def _draw_usage(
    t: int,
    ix: np.ndarray,
    ws: int,
    eff: np.ndarray,
    age_w: np.ndarray,
    acc: dict[str, np.ndarray],
    churn_day: np.ndarray,
    rng: np.random.Generator,
    p: SimParams,
    usage: _Events,
) -> None:
    """The week's usage: active users, logins and feature events, all falling with health."""
    m = len(ix)
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
    active = rng.binomial(acc["seats"][ix], share * ramp * used)
    logins = rng.poisson(active * p.logins_per_user * np.exp(p.login_health_slope * eff))
    events = rng.poisson(
        active
        * p.events_per_user
        * np.exp(p.events_health_slope * eff + p.events_noise_sd * rng.standard_normal(m))
    )
    usage.add(
        code=ix.astype(np.int32),
        week=np.full(m, t, dtype=np.int16),
        seats=acc["seats"][ix].astype(np.int32),
        active=active.astype(np.int32),
        logins=logins.astype(np.int32),
        events=events.astype(np.int32),
    )


def _draw_plan_changes(
    ws: int,
    acc: dict[str, np.ndarray],
    state: _State,
    latent: _Events,
    rng: np.random.Generator,
    p: SimParams,
    end_day: int,
    rec: _Record,
) -> None:
    """The week's downgrades (plan down a tier, or seats cut) and upgrades, driven by the week's
    effective health (as recorded in ``latent``); ``acc`` holds the values in force after them.

    A change takes effect on a day of the week (after signup, before churn and the extraction);
    ARR follows seats and plan. Every customer draws the same numbers each week, so the stream
    does not depend on who changed.
    """
    ix = latent.chunks["code"][-1].astype(np.int64)
    eff = latent.chunks["eff"][-1].astype(np.float64)
    m = len(ix)
    u = rng.random((5, m))
    down = u[0] < _sigmoid(p.downgrade_a - p.downgrade_b * eff)
    up = ~down & (u[1] < _sigmoid(p.upgrade_a + p.upgrade_b * eff))
    day = ws + 1 + np.floor(7 * u[2]).astype(np.int64)
    ok = (day > acc["signup"][ix]) & (day < state.churn_day[ix]) & (day < end_day)
    plan, seats = acc["plan"][ix], acc["seats"][ix]
    top = len(PLANS) - 1
    by_plan = (u[3] < p.plan_change_share) & np.where(down, plan > 0, plan < top)
    step = p.seat_change_min + (p.seat_change_max - p.seat_change_min) * u[4]
    new_plan = np.where(by_plan, plan + np.where(down, -1, 1), plan)
    cut = np.maximum(1, np.floor(seats * (1.0 - step))).astype(np.int64)
    grow = seats + np.maximum(1, np.round(seats * step)).astype(np.int64)
    new_seats = np.where(by_plan, seats, np.where(down, cut, grow))
    moved = ok & (down | up) & ((new_plan != plan) | (new_seats != seats))
    c = ix[moved]
    acc["plan"][c], acc["seats"][c] = new_plan[moved], new_seats[moved]
    acc["arr"][c] = _arr(acc["seats"][c], acc["plan"][c], acc["arr_factor"][c], p)
    rec.changes.add(
        code=c.astype(np.int32),
        day=day[moved],
        plan=acc["plan"][c].astype(np.int8),
        seats=acc["seats"][c].astype(np.int64),
        arr=acc["arr"][c].astype(np.float64),
    )


def _build_history(
    ids: np.ndarray,
    acc: dict[str, np.ndarray],
    initial: dict[str, np.ndarray],
    changes: _Events,
) -> pd.DataFrame:
    """``account_history``: a row at signup with the first values, the term, segment and region
    (which never change), then one row per change of plan, seats and ARR."""
    n = len(ids)
    code = np.concatenate([np.arange(n), changes.get("code", np.int32)])
    day = np.concatenate([acc["signup"], changes.get("day", np.int64)])
    plan = np.concatenate([initial["plan"], changes.get("plan", np.int8)]).astype(np.int64)
    seats = np.concatenate([initial["seats"], changes.get("seats", np.int64)])
    arr = np.concatenate([initial["arr"], changes.get("arr", np.float64)])
    term = np.full(len(code), np.nan)
    term[:n] = acc["term"]
    segment = np.full(len(code), None, dtype=object)
    segment[:n] = np.asarray(SEGMENTS, dtype=object)[acc["segment"]]
    region = np.full(len(code), None, dtype=object)
    region[:n] = np.asarray(REGIONS, dtype=object)[acc["region"]]
    order = np.lexsort((day, code))
    return pd.DataFrame(
        {
            "customer_id": _str_column(ids, code[order]),
            "valid_from": _to_datetime(day[order] * DAY_NS),
            "plan": _str_column(np.asarray(PLANS), plan[order]),
            "seats_licensed": seats[order].astype(np.float64),
            "arr": arr[order].astype(np.float64),
            "contract_months": term[order],
            "segment": pd.Series(segment[order], dtype="str"),
            "region": pd.Series(region[order], dtype="str"),
        }
    )


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
            "seats_licensed": ev.get("seats", np.int32)[rows].astype(np.float64),
            "logins": ev.get("logins", np.int32)[rows].astype(np.float64),
            "feature_events": events,
        }
    )
