"""Simulated owners run the plays: outcomes after each week change, and the true effect is kept.

Run after the weeks were scored (``churn simulate-plays --data D --weeks W``): for every customer
*sent* to an owner (``at_risk.csv``; the control group is never touched), at the first week they
were sent:

- the owner runs the recommended play with probability ``compliance`` (realistic follow-through,
  70% by default), else not at all (recorded as "not done");
- a play that is run **helps** some customers: a customer who would have churned within the
  horizon is saved with the probability :data:`SAVE` gives for the play's driver family and the
  customer's segment (an adoption workshop helps small accounts, an executive call the large ones,
  a plain check-in nobody);
- and **backfires** for some who were not going to leave (Ascarza 2018): a customer whose true
  churn probability was below ``backfire_below`` churns within the horizon with probability
  ``backfire`` (the call reminds them to shop around).

Only the future after that week's as_of changes (a churn_date removed, or one added inside the
horizon), so every feature the list was scored from is untouched. Ground truth per treated
customer: ``p0`` (the oracle's churn probability without the play), ``complied``, ``save``,
``backfire_prob`` and ``true_effect = complied * (backfire_prob * (1 - p0) - save * p0)``: the change
in churn probability the play caused, which the treated-vs-control difference estimates.

Limitation: a saved customer's events still stop at the churn date they had (the tables are not
re-simulated), so weeks scored *after* the plays see a customer with no activity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Save probability of a play that is run, by driver family and segment (others: 0).
SAVE: dict[str, dict[str, float]] = {
    "product adoption": {"SMB": 0.45, "Mid-Market": 0.35, "Enterprise": 0.10},
    "service experience": {"SMB": 0.30, "Mid-Market": 0.40, "Enterprise": 0.40},
    "sentiment": {"Mid-Market": 0.20, "Enterprise": 0.50},
    "commercial": {"SMB": 0.10, "Mid-Market": 0.25, "Enterprise": 0.35},
}


def _save_and_backfire(
    units: pd.DataFrame, p0: np.ndarray, backfire: float, backfire_below: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p0 clipped, save probability, backfire probability)`` of a play run on each unit."""
    p0 = np.clip(np.asarray(p0, dtype=float), 0.0, 1.0)
    driver = units["main_driver"].astype(object).where(units["main_driver"].notna(), "")
    segment = units["segment"].astype(object).where(units["segment"].notna(), "")
    save = np.array([SAVE.get(d, {}).get(s, 0.0) for d, s in zip(driver, segment, strict=True)])
    return p0, save, np.where(p0 < backfire_below, backfire, 0.0)


def play_effects(
    units: pd.DataFrame,
    p0: np.ndarray,
    rng: np.random.Generator,
    *,
    compliance: float = 0.7,
    backfire: float = 0.08,
    backfire_below: float = 0.15,
) -> pd.DataFrame:
    """Each treated unit's play, drawn: ``complied``, ``save``, ``backfire_prob``, ``true_effect``.

    ``units``: ``customer_id``, ``as_of``, ``main_driver``, ``segment`` (one row per customer);
    ``p0``: their true churn probability within the horizon without a play.
    """
    p0, save, back = _save_and_backfire(units, p0, backfire, backfire_below)
    complied = rng.random(len(units)) < compliance
    effect = complied * (back * (1 - p0) - save * p0)
    return units[["customer_id", "as_of"]].assign(
        p0=p0, complied=complied, save=save, backfire_prob=back, true_effect=effect
    )


def expected_effect(
    units: pd.DataFrame,
    p0: np.ndarray,
    *,
    compliance: float = 0.7,
    backfire: float = 0.08,
    backfire_below: float = 0.15,
) -> np.ndarray:
    """The true effect of *sending* each unit, before the owner's compliance is drawn:
    ``compliance * (backfire_prob * (1 - p0) - save * p0)``: what an uplift model of the sent
    vs held-out customers estimates (intention to treat). Known for any customer, listed or not.
    """
    p0, save, back = _save_and_backfire(units, p0, backfire, backfire_below)
    return compliance * (back * (1 - p0) - save * p0)


def apply_plays(
    customers: pd.DataFrame,
    effects: pd.DataFrame,
    horizon_days: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """``customers`` with the plays' outcomes: churn dates removed (saved) or added (backfired).

    Only churn inside ``[as_of, as_of + horizon)`` of the unit's week is touched; everything
    before as_of stays as it was.
    """
    out = customers.copy()
    churn = pd.to_datetime(out["churn_date"])
    pos = pd.Index(out["customer_id"].astype(str)).get_indexer(effects["customer_id"].astype(str))
    as_of = pd.to_datetime(effects["as_of"]).to_numpy()
    end = as_of + np.timedelta64(int(horizon_days), "D")
    current = churn.to_numpy()[pos]
    would_churn = (current >= as_of) & (current < end)
    u = rng.random(len(effects))
    complied = effects["complied"].to_numpy()
    saved = complied & would_churn & (u < effects["save"].to_numpy())
    lost = complied & ~would_churn & (u < effects["backfire_prob"].to_numpy())
    # A backfire is only drawn for a customer still active over the whole horizon.
    lost &= pd.isna(current) | (current >= end)
    days = rng.integers(1, int(horizon_days), len(effects))
    new = current.copy()
    new[saved] = np.datetime64("NaT")
    new[lost] = (as_of + days.astype("timedelta64[D]"))[lost]
    values = churn.to_numpy().copy()
    values[pos] = new
    out["churn_date"] = pd.to_datetime(values).normalize()
    return out
