"""The snapshot spine: which (customer, as_of) pairs exist.

A spine row says "customer X was a customer at instant ``as_of``". Training uses a spine of
weekly snapshots over the history; weekly scoring uses a spine of one date. Both go through the
same ``churn.features.build_features`` (see ``churn.dataset``), so a feature cannot mean one
thing in training and another in scoring.

Who is on the spine depends on how the dataset defines churn:

* **by date** (``build_spine``): ``signup_date < as_of`` and they had not churned before it:
  ``churn_date`` is unknown or ``churn_date >= as_of``;
* **by inactivity** (``build_activity_spine``): ``signup_date < as_of`` and their last activity
  known before ``as_of`` is less than ``inactivity_days`` old. Only data known before ``as_of``
  decides, so cutting the data at ``as_of`` leaves the spine unchanged. (A spine from churn
  dates derived from the whole extract would keep only the customers whose *final* activity is
  at or after ``as_of``: the ones that certainly come back.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from churn.errors import ChurnError

log = logging.getLogger(__name__)


def snapshot_dates(start: object, end: object, cadence: str = "W-MON") -> pd.DatetimeIndex:
    """Snapshot instants (midnights) from ``start`` to ``end`` inclusive at ``cadence``.

    Parameters
    ----------
    start, end
        Anything ``pd.Timestamp`` accepts. ``start`` is rounded up and ``end`` down to a
        midnight, so no snapshot lies outside ``[start, end]``.
    cadence
        pandas offset alias; weekly on Mondays by default.

    Returns
    -------
    pandas.DatetimeIndex
        Named ``as_of``; empty when ``end`` is before ``start``.
    """
    try:
        lo = pd.Timestamp(start).ceil("D")
        hi = pd.Timestamp(end).floor("D")
    except (TypeError, ValueError) as exc:
        raise ChurnError(f"snapshot dates need two dates, got {start!r} and {end!r}") from exc
    if hi < lo:
        return pd.DatetimeIndex([], dtype="datetime64[ns]", name="as_of")
    try:
        dates = pd.date_range(lo, hi, freq=cadence, name="as_of")
    except ValueError as exc:
        raise ChurnError(
            f"snapshot cadence {cadence!r} is not a pandas offset alias; use e.g. 'W-MON' or 'D'"
        ) from exc
    return dates.astype("datetime64[ns]")


def latest_complete_week(extraction_date: pd.Timestamp, cadence: str = "W-MON") -> pd.Timestamp:
    """The last snapshot date (midnight on the cadence, Mondays by default) not after extraction.

    Features at that as_of see only records strictly before it, all of which are in the data.
    """
    end = pd.Timestamp(extraction_date).normalize()
    return pd.Timestamp(pd.date_range(end=end, periods=1, freq=cadence)[0]).as_unit("ns")


def customers_index(customers: pd.DataFrame) -> pd.Index:
    ids = customers["customer_id"].astype("str")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ChurnError(
            f"table 'customers' has {len(dup)} duplicated customer_id value(s), e.g. "
            f"{list(dup.unique()[:3])}; keep one row per customer"
        )
    return pd.Index(ids.to_numpy(), name="customer_id")


def build_spine(
    customers: pd.DataFrame,
    as_of_dates: Iterable[object],
    churn_date: pd.Series | None = None,
) -> pd.DataFrame:
    """Every (customer, as_of) pair where the customer was a customer at ``as_of``.

    Parameters
    ----------
    customers
        The customers table (``customer_id``, ``signup_date``, optionally ``churn_date``).
    as_of_dates
        Snapshot instants.
    churn_date
        Churn dates indexed by customer_id, overriding ``customers.churn_date``; pass
        ``churn_dates(tables)`` so that censoring at the extraction applies. Churn by inactivity
        has no churn date known at ``as_of``: use :func:`build_activity_spine` (or
        ``churn.dataset.active_spine``, which picks the rule from the dataset).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``; sorted by as_of then customer_id, fresh RangeIndex.
    """
    for col in ("customer_id", "signup_date"):
        if col not in customers:
            raise ChurnError(f"table 'customers' lacks column {col!r}; it is required")
    idx = customers_index(customers)
    signup = pd.to_datetime(customers["signup_date"]).to_numpy().astype("datetime64[ns]")
    if churn_date is None:
        churn = (
            pd.to_datetime(customers["churn_date"]).to_numpy().astype("datetime64[ns]")
            if "churn_date" in customers
            else np.full(len(idx), np.datetime64("NaT"), dtype="datetime64[ns]")
        )
    else:
        churn = pd.to_datetime(churn_date.reindex(idx)).to_numpy().astype("datetime64[ns]")
    order = np.argsort(idx.to_numpy(), kind="stable")
    ids, signup, churn = idx.to_numpy()[order], signup[order], churn[order]
    frames = []
    dates = pd.DatetimeIndex(pd.to_datetime(list(as_of_dates))).astype("datetime64[ns]")
    for d in dates.unique().sort_values():
        d64 = np.datetime64(d, "ns")
        # Signed up strictly before as_of (a signup at as_of has no history yet) and not
        # churned before as_of (churn at as_of means they were still a customer until then).
        active = (signup < d64) & (np.isnat(churn) | (churn >= d64))
        frames.append(pd.DataFrame({"customer_id": ids[active], "as_of": d}))
    if not frames:
        return pd.DataFrame(
            {"customer_id": pd.Series(dtype="str"), "as_of": pd.Series(dtype="datetime64[ns]")}
        )
    out = pd.concat(frames, ignore_index=True)
    out["customer_id"] = out["customer_id"].astype("str")
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out


def build_activity_spine(
    customers: pd.DataFrame,
    as_of_dates: Iterable[object],
    activity: pd.DataFrame,
    inactivity_days: int,
) -> pd.DataFrame:
    """Every (customer, as_of) pair where the customer was active at ``as_of``, churn by inactivity.

    Active at ``as_of``: signed up strictly before it, and the last activity known before it
    (the signup itself when there is none) is less than ``inactivity_days`` old. A customer
    silent for exactly ``inactivity_days`` has churned, as ``churn.labels.churn_dates`` dates it.

    Parameters
    ----------
    customers
        The customers table (``customer_id``, ``signup_date``).
    as_of_dates
        Snapshot instants.
    activity
        One row per activity: ``customer_id``, ``t`` (when it happened) and ``known`` (when it
        reached the data, ``>= t``); it counts at ``as_of`` only when ``known < as_of``.
        ``churn.labels.activity_events(tables)`` builds it.
    inactivity_days
        Silence, in days, after which a customer has churned.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``; sorted by as_of then customer_id, fresh RangeIndex.
    """
    if not inactivity_days or inactivity_days <= 0:
        raise ChurnError(
            f"inactivity_days must be a positive number of days (got {inactivity_days!r}); "
            "set churn.inactivity_days in dataset.yaml"
        )
    candidates = build_spine(customers[["customer_id", "signup_date"]], as_of_dates)
    if candidates.empty:
        return candidates
    signup = pd.to_datetime(customers["signup_date"]).to_numpy().astype("datetime64[ns]")
    signup_of = pd.Series(signup, index=customers_index(customers))
    last = _last_known(candidates, activity)
    last = np.fmax(last, signup_of.reindex(candidates["customer_id"]).to_numpy())
    quiet_since = candidates["as_of"].to_numpy() - np.timedelta64(int(inactivity_days), "D")
    active = last > quiet_since
    return candidates.loc[active].reset_index(drop=True)


def _last_known(candidates: pd.DataFrame, activity: pd.DataFrame) -> np.ndarray:
    """Per candidate row: the latest ``t`` among its customer's activities with ``known < as_of``.

    One as-of join instead of a scan per date: activities ordered by ``known`` carry the
    running maximum of ``t`` per customer, and each (customer, as_of) picks the last running
    maximum known strictly before ``as_of``.
    """
    nat = np.full(len(candidates), np.datetime64("NaT"), dtype="datetime64[ns]")
    if activity.empty:
        return nat
    ev = pd.DataFrame(
        {
            "customer_id": pd.Series(activity["customer_id"].to_numpy(), dtype="str"),
            "t": pd.to_datetime(activity["t"]).to_numpy().astype("datetime64[ns]"),
            "known": pd.to_datetime(activity["known"]).to_numpy().astype("datetime64[ns]"),
        }
    ).dropna()
    ev = ev.sort_values(["known", "t"], kind="stable").reset_index(drop=True)
    ev["last"] = ev.groupby("customer_id")["t"].cummax()
    left = candidates.assign(
        customer_id=candidates["customer_id"].astype("str"), _row=np.arange(len(candidates))
    ).sort_values("as_of", kind="stable")
    joined = pd.merge_asof(
        left,
        ev[["customer_id", "known", "last"]],
        left_on="as_of",
        right_on="known",
        by="customer_id",
        allow_exact_matches=False,  # known at as_of is not known before it
        direction="backward",
    )
    nat[joined["_row"].to_numpy()] = joined["last"].to_numpy().astype("datetime64[ns]")
    return nat
