"""The snapshot spine and its labels: which (customer, as_of) pairs exist and what happened next.

A spine row says "customer X was a customer at instant ``as_of``". Training uses a spine of
weekly snapshots over the history; weekly scoring uses a spine of one date. Both go through the
same ``churn.features.build_features``, so a feature cannot mean one thing in training and
another in scoring.

Intervals, written down once
----------------------------
* A customer is on the spine at ``as_of`` when ``signup_date < as_of`` and they had not churned
  before it: ``churn_date`` is unknown or ``churn_date >= as_of``.
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
from collections.abc import Iterable

import numpy as np
import pandas as pd

from churn.contract import USAGE_PERIODS, Tables
from churn.errors import ChurnError
from churn.features import FeatureSpec, activity_columns, build_features
from churn.settings import SnapshotSettings

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


def _customers_index(customers: pd.DataFrame) -> pd.Index:
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
        ``churn_dates(tables)`` so that inactivity-defined churn and censoring apply.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``; sorted by as_of then customer_id, fresh RangeIndex.
    """
    for col in ("customer_id", "signup_date"):
        if col not in customers:
            raise ChurnError(f"table 'customers' lacks column {col!r}; it is required")
    idx = _customers_index(customers)
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


def last_activity(tables: Tables) -> pd.Series:
    """Last activity per customer (any event table), falling back to the signup date.

    Activity is an interaction, an answered NPS survey (a send is the company's action, not
    the customer's) or a usage period with a positive metric. A usage row counts at the END of
    its period: we only know the activity happened somewhere in it, and dating it at the end
    keeps us from declaring a customer gone while they may still have been active.
    """
    idx = _customers_index(tables.customers)
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
    idx = _customers_index(tables.customers)
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


def _training_dates(
    tables: Tables, snapshots: SnapshotSettings, start: object | None, end: object | None
) -> pd.DatetimeIndex:
    if tables.customers.empty:
        raise ChurnError("table 'customers' is empty; there is no one to build snapshots for")
    extraction = pd.Timestamp(tables.extraction_date)
    if start is None:
        first = pd.to_datetime(tables.customers["signup_date"]).min()
        start = first + pd.Timedelta(days=snapshots.warmup_days)
    hi = extraction if end is None else min(pd.Timestamp(end), extraction)
    dates = snapshot_dates(start, hi, snapshots.cadence)
    if len(dates) == 0:
        raise ChurnError(
            f"no snapshot dates between {pd.Timestamp(start).date()} and {hi.date()}: the "
            "history is shorter than snapshots.warmup_days; lower it in the settings"
        )
    return dates


def build_training_frame(
    tables: Tables,
    snapshots: SnapshotSettings,
    start: object | None = None,
    end: object | None = None,
    progress: bool = False,
    spec: FeatureSpec | None = None,
) -> pd.DataFrame:
    """Spine over the snapshot dates, labels and point-in-time features, one row per pair.

    Parameters
    ----------
    tables
        The dataset.
    snapshots
        Cadence, horizon, lead and warm-up.
    start, end
        First / last snapshot instant; defaults: first signup + warmup_days, and the
        extraction date (never later).
    progress
        Show a progress bar while features are built.
    spec
        Feature spec; ``None`` derives it from ``tables``.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``, ``label`` (NaN = censored), then the features.
    """
    dates = _training_dates(tables, snapshots, start, end)
    spine = build_spine(tables.customers, dates, churn_date=churn_dates(tables))
    log.info("spine: %d snapshots, %d customer-snapshot rows", len(dates), len(spine))
    labelled = attach_labels(spine, tables, snapshots.horizon_days, snapshots.lead_days)
    feats = build_features(spine, tables, spec=spec, progress=progress)
    return pd.concat([labelled, feats.drop(columns=["customer_id", "as_of"])], axis=1)


def build_scoring_frame(
    tables: Tables,
    as_of: object,
    spec: FeatureSpec | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Features of every current customer at one instant: the scoring twin of training.

    Parameters
    ----------
    tables
        The dataset.
    as_of
        The scoring instant; must not be after the extraction date (the gap would look like
        silence from every customer).
    spec
        The trained model's feature spec (so columns match); ``None`` derives it.
    progress
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of`` and the features, one row per customer active at ``as_of``.
    """
    ts = pd.Timestamp(as_of)
    if ts > pd.Timestamp(tables.extraction_date):
        raise ChurnError(
            f"as_of {ts} is after the data's extraction date {tables.extraction_date}; "
            "score a date not after the extraction or load fresher data"
        )
    spine = build_spine(tables.customers, [ts], churn_date=churn_dates(tables))
    return build_features(spine, tables, spec=spec, progress=progress)
