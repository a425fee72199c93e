"""Known changes injected into a simulated dataset, so that monitoring is tested against them.

Each drift post-processes the generated tables from a start date, leaving everything before it
untouched (the simulated dynamics are not changed):

- ``usage_drop``: a product release changes how usage is counted. From ``start``, usage periods
  report ``1 - size`` of their active users, logins and feature events (default size 0.5).
  Customers behave as before and churn as before: the model's inputs moved, the truth did not.
- ``price_rise``: a pricing change moves churn. Each customer still active at ``start`` leaves,
  with probability ``size`` (default 0.15), on a day drawn uniformly within the 90 days after
  it (unless they were leaving earlier anyway); their records stop on that day. Nothing in the
  usage, tickets or NPS announces it: the model's inputs look the same, churn rises.

Written ``kind:YYYY-MM-DD[:size]``, e.g. ``usage_drop:2025-09-01`` or ``price_rise:2025-06-02:0.2``
(``churn simulate --drift``). The ground truth's params record the drift; the oracle does not
model it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.simulate.params import SimulatedDataset

#: Drift kinds and their default size.
DRIFTS: dict[str, float] = {"usage_drop": 0.5, "price_rise": 0.15}
#: Usage columns a usage drop scales (seats licensed are billing, not usage).
USAGE_COUNTS = ("active_users", "logins", "feature_events")


@dataclass(frozen=True)
class Drift:
    """One injected change: what, from when, how large."""

    kind: str
    start: pd.Timestamp
    size: float

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "start": self.start.date().isoformat(), "size": self.size}


def parse_drift(text: str) -> Drift:
    """``kind:YYYY-MM-DD[:size]`` as a :class:`Drift` (a ``ChurnError`` naming what is wrong)."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or parts[0] not in DRIFTS:
        raise ChurnError(
            f"--drift {text!r}: write kind:YYYY-MM-DD[:size] with kind one of "
            f"{', '.join(DRIFTS)} (e.g. usage_drop:2025-09-01)"
        )
    try:
        start = pd.Timestamp(parts[1])
        size = float(parts[2]) if len(parts) == 3 else DRIFTS[parts[0]]
    except ValueError:
        raise ChurnError(
            f"--drift {text!r}: {parts[1]!r} is not a date or the size not a number"
        ) from None
    if not 0 < size <= 1:
        raise ChurnError(f"--drift {text!r}: size must be in (0, 1], got {size}")
    return Drift(parts[0], start.normalize(), size)


def apply_drift(sim: SimulatedDataset, drift: Drift, seed: int = 0) -> SimulatedDataset:
    """A copy of ``sim`` with ``drift`` applied from its start (see the module docstring)."""
    if not sim.truth.start < drift.start < sim.extraction_date:
        raise ChurnError(
            f"drift start {drift.start.date()} is outside the simulated history "
            f"({sim.truth.start.date()} to {sim.extraction_date.date()})"
        )
    if drift.kind == "usage_drop":
        usage = sim.usage.copy()
        after = pd.to_datetime(usage["date"]) >= drift.start
        for col in USAGE_COUNTS:
            usage.loc[after, col] = np.round(usage.loc[after, col] * (1 - drift.size))
        out = dataclasses.replace(sim, usage=usage)
    else:
        out = _price_rise(sim, drift, np.random.default_rng(seed))
    params = {**sim.truth.params, "drift": [*sim.truth.params.get("drift", []), drift.to_dict()]}
    return dataclasses.replace(out, truth=dataclasses.replace(sim.truth, params=params))


def _price_rise(sim: SimulatedDataset, drift: Drift, rng: np.random.Generator) -> SimulatedDataset:
    customers = sim.customers.copy()
    signup = pd.to_datetime(customers["signup_date"])
    churn = pd.to_datetime(customers["churn_date"])
    active = (signup < drift.start) & (churn.isna() | (churn >= drift.start))
    leave = active & (rng.random(len(customers)) < drift.size)
    days = rng.uniform(0, 90, len(customers))
    new = pd.Series(drift.start + pd.to_timedelta(days, unit="D"), index=customers.index)
    new = new.dt.floor("D")
    new = new.where(new < sim.extraction_date)
    moved = leave & new.notna() & (churn.isna() | (new < churn))
    churn = churn.where(~moved, new)
    customers["churn_date"] = churn.astype(sim.customers["churn_date"].dtype)
    stop = churn.set_axis(customers["customer_id"].astype(str))

    def keep(table: pd.DataFrame, column: str) -> pd.DataFrame:
        ends = table["customer_id"].astype(str).map(stop)
        when = pd.to_datetime(table[column])
        return table.loc[ends.isna().to_numpy() | (when < ends).to_numpy()].reset_index(drop=True)

    return dataclasses.replace(
        sim,
        customers=customers,
        interactions=keep(sim.interactions, "timestamp"),
        nps=keep(sim.nps, "sent_at"),
        usage=keep(sim.usage, "date"),
    )
