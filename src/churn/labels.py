"""Labels: what happened after each ``as_of``.

Intervals, written down once
----------------------------
* The label is 1.0 when the customer churned within ``[as_of + lead, as_of + lead + horizon)``.
* Label windows that run past what the data can tell are right-censored: the label is NaN. Such
  rows are not trained on; they are what weekly scoring scores.

Decisions
---------
* **Censored windows are NaN even when the churn is already visible.** A customer who churned
  inside the visible part of a censored window is certainly a 1.0, but keeping those rows while
  dropping the censored 0.0 rows would keep only the positives of the latest weeks, inflating
  their churn rate. Those weeks are exactly the out-of-time test and calibration window, so
  calibration would be biased. ``attach_labels(..., keep_censored_churn=True)`` keeps them.
* **Churn during the lead time is NaN, not 0.0.** A customer who leaves between ``as_of`` and
  ``as_of + lead`` is not a "stays" example; labelling them 0.0 would teach the model that the
  most imminent churners are safe.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churn.contract import USAGE_PERIODS, Tables
from churn.errors import ChurnError
from churn.features import activity_columns
from churn.spine import customers_index

log = logging.getLogger(__name__)


def last_activity(tables: Tables) -> pd.Series:
    """Last activity per customer (any event table), falling back to the signup date.

    Activity is an interaction, an answered NPS survey (a send is the company's action, not
    the customer's) or a usage period with a positive metric. A usage row counts at the END of
    its period: we only know the activity happened somewhere in it, and dating it at the end
    keeps us from declaring a customer gone while they may still have been active.
    """
    idx = customers_index(tables.customers)
    parts = [
        pd.Series(
            pd.to_datetime(tables.customers["signup_date"]).to_numpy().astype("datetime64[ns]"),
            index=idx,
        )
    ]
    inter = tables.interactions
    if len(inter):
        parts.append(_max_by(inter["customer_id"], inter["timestamp"]))
    nps = tables.nps
    if len(nps):
        answered = nps["timestamp"].notna() & nps["score"].notna()
        parts.append(_max_by(nps["customer_id"][answered], nps["timestamp"][answered]))
    usage = tables.usage
    metrics = activity_columns([m for m in tables.usage_metrics if m in usage])
    if len(usage) and metrics:
        active = (usage[metrics].apply(pd.to_numeric, errors="coerce") > 0).any(axis=1)
        end = pd.to_datetime(usage["date"]) + USAGE_PERIODS[tables.usage_period]
        parts.append(_max_by(usage["customer_id"][active], end[active]))
    both = pd.concat(parts, axis=1)
    out = both.max(axis=1).reindex(idx)
    out.name = "last_activity"
    return out.astype("datetime64[ns]")


def _max_by(ids: pd.Series, ts: pd.Series) -> pd.Series:
    frame = pd.DataFrame({"customer_id": ids.astype("str"), "t": pd.to_datetime(ts)})
    return frame.groupby("customer_id")["t"].max().astype("datetime64[ns]")


def churn_dates(tables: Tables) -> pd.Series:
    """The churn date of every customer, as far as the data can tell (NaT = not known churned).

    * ``churn_definition == "date"``: ``customers.churn_date``. A date at or after the
      extraction has not happened yet in the data and is treated as unknown.
    * ``churn_definition == "inactivity"``: a customer with no activity (see
      ``last_activity``) for ``inactivity_days`` has churned, dated at the last activity.
      Censoring: only a customer whose last activity is at least ``inactivity_days`` before the
      extraction is known to have churned; a quieter spell that is still running is not churn.

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
        days = tables.inactivity_days
        if not days or days <= 0:
            raise ChurnError(
                "churn is defined by inactivity but inactivity_days is not a positive number; "
                "set churn.inactivity_days in dataset.yaml"
            )
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
        Keep 1.0 for a censored window in which the churn is already visible (see the module
        docstring for why the default is NaN).

    Returns
    -------
    pandas.DataFrame
        A copy of ``spine`` with a float ``label`` column.

    Notes
    -----
    A window is censored when the data cannot say "no churn in it": for churn by date, when the
    window ends after the extraction; for churn by inactivity, also when a churn dated inside
    it could not yet be confirmed (window end + inactivity_days after the extraction), unless
    the customer was seen active at or after the window's end.
    """
    if horizon_days <= 0 or lead_days < 0:
        raise ChurnError(
            f"horizon_days must be > 0 and lead_days >= 0 (got {horizon_days}, {lead_days}); "
            "fix snapshots.horizon_days / lead_days in the settings"
        )
    out = spine.copy()
    extraction = pd.Timestamp(tables.extraction_date)
    cd_all = churn_dates(tables)
    ids = out["customer_id"].astype("str")
    as_of = pd.to_datetime(out["as_of"]).to_numpy().astype("datetime64[ns]")
    cd = cd_all.reindex(ids.to_numpy()).to_numpy().astype("datetime64[ns]")
    start = as_of + np.timedelta64(lead_days, "D")
    end = start + np.timedelta64(horizon_days, "D")
    ext = np.datetime64(extraction, "ns")
    has = ~np.isnat(cd)
    in_window = has & (cd >= start) & (cd < end)
    # Churned before the window opened: at/after as_of but during the lead time, or (for a
    # hand-made spine) already before as_of. Neither is a "stays" example.
    early = has & (cd < start)
    if tables.churn_definition == "inactivity":
        days = np.timedelta64(int(tables.inactivity_days or 0), "D")
        seen = last_activity(tables).reindex(ids.to_numpy()).to_numpy().astype("datetime64[ns]")
        no_churn_known = (end + days <= ext) | (~np.isnat(seen) & (seen >= end))
    else:
        no_churn_known = end <= ext
    censored = end > ext
    label = np.where(in_window, 1.0, np.where(no_churn_known, 0.0, np.nan))
    if not keep_censored_churn:
        label = np.where(in_window & censored, np.nan, label)
    label = np.where(early, np.nan, label)
    out["label"] = label.astype("float64")
    return out
