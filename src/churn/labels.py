"""Labels: what happened after each ``as_of``.

Intervals, written down once
----------------------------
* Churn by date: the label is 1.0 when the customer churned within
  ``[as_of + lead, as_of + lead + horizon)``.
* Churn by inactivity: the label is 1.0 when the customer had no activity (``activity_events``)
  within ``[as_of + lead, as_of + lead + horizon)``, 0.0 when they had some.
* Label windows that run past the extraction are right-censored: the label is NaN, for
  churners and stayers alike. Such rows are not trained on; they are what weekly scoring scores.

Decisions
---------
* **Censored windows are NaN even when the churn is already visible.** A customer who churned
  inside the visible part of a censored window is certainly a 1.0, but keeping those rows while
  dropping the censored 0.0 rows would keep only the positives of the latest weeks, inflating
  their churn rate. Those weeks are exactly the out-of-time test and calibration window, so
  calibration would be biased. ``attach_labels(..., keep_censored_churn=True)`` keeps them.
* **Churn during the lead time is NaN, not 0.0.** A customer who leaves between ``as_of`` and
  ``as_of + lead`` is not a "stays" example; labelling them 0.0 would teach the model that the
  most imminent churners are safe. (Churn by date only; by inactivity, silence that starts
  during the lead time and lasts through the window is a 1.0.)
* **Inactivity: a censored window is NaN even when activity in it is already visible.** The
  mirror image of the first decision: a customer seen buying in the visible part is certainly
  a 0.0, but "no activity" can only be known once the window has ended, so keeping the 0.0 rows
  would leave the latest weeks with stayers only (an undefined test ROC AUC, a calibration
  taught that nobody leaves).
* **Inactivity: who is at risk is decided at ``as_of``.** The spine holds customers whose last
  activity known before ``as_of`` is less than ``inactivity_days`` old
  (``churn.spine.build_activity_spine``), not those whose final activity in the extract is
  after ``as_of``: that rule keeps only customers who certainly come back.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churn.contract import USAGE_PERIODS, Tables
from churn.errors import ChurnError
from churn.features import activity_columns, usage_visible_from
from churn.spine import customers_index

log = logging.getLogger(__name__)


def activity_events(tables: Tables) -> pd.DataFrame:
    """Every activity of every customer: when it happened and when it reached the data.

    Activity is an interaction, an answered NPS survey (a send is the company's action, not
    the customer's) or a usage period with a positive metric. A usage row counts at the END of
    its period: we only know the activity happened somewhere in it, and dating it at the end
    keeps us from declaring a customer gone while they may still have been active.

    Returns
    -------
    pandas.DataFrame
        One row per activity: ``customer_id`` (str); ``t``, the instant it is dated at (a usage
        period's end); ``since``, the earliest instant it may have happened (a usage period's
        start, else ``t``); ``known``, ``max(t, recorded_at)`` (a usage period: its end as
        ``churn.features.usage_visible_from`` has it, so known at an ``as_of`` equal to its end):
        it counts at ``as_of`` only when ``known < as_of``.
    """
    parts = []
    inter = tables.interactions
    if len(inter):
        t = pd.to_datetime(inter["timestamp"])
        parts.append(_events(inter["customer_id"], t, t, _recorded(inter, t)))
    nps = tables.nps
    if len(nps):
        answered = (nps["timestamp"].notna() & nps["score"].notna()).to_numpy()
        t = pd.to_datetime(nps["timestamp"])
        parts.append(_events(nps["customer_id"], t, t, _recorded(nps, t))[answered])
    usage = tables.usage
    metrics = activity_columns([m for m in tables.usage_metrics if m in usage])
    if len(usage) and metrics:
        active = (usage[metrics].apply(pd.to_numeric, errors="coerce") > 0).any(axis=1)
        start = pd.to_datetime(usage["date"])
        end = start + USAGE_PERIODS[tables.usage_period]
        rows = _events(usage["customer_id"], end, start, _recorded(usage, end))
        # Known as the features know it (one rule, churn.features.usage_visible_from): the week
        # ending at a Monday as_of is known that Monday, so the spine counts it as activity
        # before as_of exactly when the features see it.
        rec = usage["recorded_at"] if "recorded_at" in usage else pd.Series(pd.NaT, usage.index)
        known = usage_visible_from(end, pd.to_datetime(rec))
        rows["known"] = known.to_numpy().astype("datetime64[ns]")
        parts.append(rows[active.to_numpy()])
    if not parts:
        none = pd.Series([], dtype="datetime64[ns]")
        return _events(pd.Series([], dtype="str"), none, none, none)
    out = pd.concat(parts, ignore_index=True)
    return out.loc[out["t"].notna()].reset_index(drop=True)


def _recorded(table: pd.DataFrame, t: pd.Series) -> pd.Series:
    if "recorded_at" not in table:
        return t
    return pd.to_datetime(table["recorded_at"]).fillna(t)


def _events(ids: pd.Series, t: pd.Series, since: pd.Series, rec: pd.Series) -> pd.DataFrame:
    t64 = pd.to_datetime(t).to_numpy().astype("datetime64[ns]")
    rec64 = pd.to_datetime(rec).to_numpy().astype("datetime64[ns]")
    return pd.DataFrame(
        {
            "customer_id": pd.Series(ids.to_numpy(), dtype="str"),
            "t": t64,
            "since": pd.to_datetime(since).to_numpy().astype("datetime64[ns]"),
            "known": np.fmax(t64, rec64),
        }
    )


def last_activity(tables: Tables) -> pd.Series:
    """Last activity per customer in the whole extract (see ``activity_events``), falling back
    to the signup date.

    Hindsight by design: it reads every record up to the extraction. It dates churn after the
    fact (``churn_dates``); the spine at a past ``as_of`` must not use it (see
    ``churn.spine.build_activity_spine``).
    """
    idx = customers_index(tables.customers)
    signup = pd.to_datetime(tables.customers["signup_date"]).to_numpy().astype("datetime64[ns]")
    ev = activity_events(tables)
    latest = ev.groupby("customer_id")["t"].max().astype("datetime64[ns]")
    both = pd.concat([pd.Series(signup, index=idx), latest], axis=1)
    out = both.max(axis=1).reindex(idx)
    out.name = "last_activity"
    return out.astype("datetime64[ns]")


def churn_dates(tables: Tables) -> pd.Series:
    """The churn date of every customer, as far as the data can tell (NaT = not known churned).

    * ``churn_definition == "date"``: ``customers.churn_date``. A date at or after the
      extraction has not happened yet in the data and is treated as unknown.
    * ``churn_definition == "inactivity"``: a customer with no activity (see
      ``last_activity``) for ``inactivity_days`` has churned, dated at the last activity.
      Censoring: only a customer whose last activity is at least ``inactivity_days`` before the
      extraction is known to have churned; a quieter spell that is still running is not churn.
      This reads the whole extract: a description of who left, for reports. Neither the spine
      nor the labels of inactivity churn use it (see ``attach_labels`` and
      ``churn.spine.build_activity_spine``), since at a past ``as_of`` it would know who comes
      back.

    Returns
    -------
    pandas.Series
        ``datetime64[ns]`` indexed by customer_id, named ``churn_date``.
    """
    idx = customers_index(tables.customers)
    extraction = pd.Timestamp(tables.extraction_date)
    definition = tables.churn_definition
    if definition == "date":
        if "churn_date" not in tables.customers:
            raise ChurnError(
                "table 'customers' has no churn_date column, and the dataset defines churn by "
                "date; add churn_date or set churn.definition to 'inactivity' in dataset.yaml"
            )
        out = pd.Series(
            pd.to_datetime(tables.customers["churn_date"]).to_numpy().astype("datetime64[ns]"),
            index=idx,
        )
        out = out.where(out < extraction)
    elif definition == "inactivity":
        days = _inactivity_days(tables)
        last = last_activity(tables)
        known = last + pd.Timedelta(days=days) <= extraction
        out = last.where(known)
    else:
        raise ChurnError(
            f"churn definition {definition!r} has no time axis, so there are no snapshots to "
            "build; provide customers.churn_date or define churn by inactivity"
        )
    out.name = "churn_date"
    return out.astype("datetime64[ns]")


def _inactivity_days(tables: Tables) -> int:
    days = tables.inactivity_days
    if not days or days <= 0:
        raise ChurnError(
            "churn is defined by inactivity but inactivity_days is not a positive number; "
            "set churn.inactivity_days in dataset.yaml"
        )
    return int(days)


def attach_labels(
    spine: pd.DataFrame,
    tables: Tables,
    horizon_days: int,
    lead_days: int = 0,
    *,
    keep_censored_churn: bool = False,
) -> pd.DataFrame:
    """The spine plus ``label``: 1.0 churned in ``[as_of + lead, as_of + lead + horizon)``,
    0.0 did not, NaN unknown.

    Parameters
    ----------
    spine
        ``customer_id``, ``as_of`` (not modified).
    tables
        The dataset; its churn definition and extraction date decide what is known.
    horizon_days, lead_days
        Label window length and its offset from ``as_of``.
    keep_censored_churn
        Churn by date only: keep 1.0 for a censored window in which the churn is already
        visible (see the module docstring for why the default is NaN). Churn by inactivity
        has no such case: "no activity in the window" is only known once the window has ended.

    Returns
    -------
    pandas.DataFrame
        A copy of ``spine`` with a float ``label`` column.

    Notes
    -----
    A window is censored (NaN) when it ends after the extraction. Churn by date: 1.0 when the
    churn date falls in the window. Churn by inactivity: 1.0 when the customer has no activity
    (``activity_events``) in the window, 0.0 when they have some; censored windows are NaN for
    both, so the latest labelled weeks keep their churners.
    """
    if horizon_days <= 0 or lead_days < 0:
        raise ChurnError(
            f"horizon_days must be > 0 and lead_days >= 0 (got {horizon_days}, {lead_days}); "
            "fix snapshots.horizon_days / lead_days in the settings"
        )
    out = spine.copy()
    as_of = pd.to_datetime(out["as_of"]).to_numpy().astype("datetime64[ns]")
    start = as_of + np.timedelta64(lead_days, "D")
    end = start + np.timedelta64(horizon_days, "D")
    censored = end > np.datetime64(pd.Timestamp(tables.extraction_date), "ns")
    if tables.churn_definition == "inactivity":
        _inactivity_days(tables)
        quiet = ~_active_in(out["customer_id"], start, end, activity_events(tables))
        label = np.where(censored, np.nan, np.where(quiet, 1.0, 0.0))
    else:
        label = _date_labels(out["customer_id"], start, end, censored, tables, keep_censored_churn)
    out["label"] = label.astype("float64")
    return out


def _date_labels(
    ids: pd.Series,
    start: np.ndarray,
    end: np.ndarray,
    censored: np.ndarray,
    tables: Tables,
    keep_censored_churn: bool,
) -> np.ndarray:
    cd = churn_dates(tables).reindex(ids.astype("str").to_numpy())
    cd = cd.to_numpy().astype("datetime64[ns]")
    has = ~np.isnat(cd)
    in_window = has & (cd >= start) & (cd < end)
    # Churned before the window opened: at/after as_of but during the lead time, or (for a
    # hand-made spine) already before as_of. Neither is a "stays" example.
    early = has & (cd < start)
    label = np.where(in_window, 1.0, np.where(censored, np.nan, 0.0))
    if not keep_censored_churn:
        label = np.where(in_window & censored, np.nan, label)
    return np.where(early, np.nan, label)


def _active_in(
    ids: pd.Series, start: np.ndarray, end: np.ndarray, activity: pd.DataFrame
) -> np.ndarray:
    """Per row: may the customer have been active in ``[start, end)``?

    A point activity (``since == t``) counts when ``start <= t < end``; a usage period
    ``[since, t)`` counts when it overlaps the window, since its activity may lie anywhere in
    it (a week that ended at ``start`` lies wholly before the window and does not count).
    "No activity" is claimed only when no activity can have been in the window.

    One as-of join: activities ordered by their latest possible instant ``last`` carry the
    minimum ``since`` over every later one; each row picks the first activity with
    ``last >= start``, and overlaps iff that minimum is before ``end``.
    """
    rows = pd.DataFrame(
        {
            "customer_id": pd.Series(ids.to_numpy(), dtype="str"),
            "start": start,
            "_row": np.arange(len(ids)),
        }
    ).sort_values("start", kind="stable")
    t, since = activity["t"], activity["since"]
    ev = pd.DataFrame(
        {
            "customer_id": activity["customer_id"].astype("str"),
            "last": t.where(since == t, t - pd.Timedelta(1, "ns")),
            "since": since,
        }
    ).sort_values("last", kind="stable", ignore_index=True)
    backwards = ev.iloc[::-1]
    ev["first_since"] = backwards.groupby("customer_id")["since"].cummin().iloc[::-1]
    joined = pd.merge_asof(
        rows,
        ev[["customer_id", "last", "first_since"]],
        left_on="start",
        right_on="last",
        by="customer_id",
        direction="forward",
    )
    first = np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
    first[joined["_row"].to_numpy()] = joined["first_since"].to_numpy().astype("datetime64[ns]")
    return ~np.isnat(first) & (first < end)
