"""Frames for the model: the training frame (spine + labels + features) and the scoring frame.

Both call the same ``build_features`` on a spine; only the spine differs (many snapshot dates
for training, one date for weekly scoring).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.features import FeatureSpec, build_features
from churn.labels import activity_events, attach_labels, churn_dates
from churn.settings import SnapshotSettings
from churn.spine import build_activity_spine, build_spine, snapshot_dates

log = logging.getLogger(__name__)


def first_snapshot(tables: Tables, snapshots: SnapshotSettings) -> pd.Timestamp:
    """First snapshot date worth training on: ``warmup_days`` after the history begins.

    The history begins at the first interaction, NPS or usage record (but not before the first
    signup). Customers may have signed up years before the extract's first event; snapshots
    before the event history starts see no events at all, and their labels can only be
    "stayed" (nobody in the extract left before it starts), so they would teach the model that
    silence means safety. Without any events, the first signup starts the history.

    Parameters
    ----------
    tables
        The dataset.
    snapshots
        ``warmup_days`` is used.

    Returns
    -------
    pandas.Timestamp
        A midnight when events exist; first signup + warm-up otherwise.
    """
    warmup = pd.Timedelta(days=snapshots.warmup_days)
    signup = pd.to_datetime(tables.customers["signup_date"]).min()
    first_event, _ = tables.event_range()
    if first_event is None:
        return signup + warmup
    first = max(first_event, signup) if pd.notna(signup) else first_event
    return (pd.Timestamp(first) + warmup).normalize()


def _training_dates(
    tables: Tables, snapshots: SnapshotSettings, start: object | None, end: object | None
) -> pd.DatetimeIndex:
    if tables.customers.empty:
        raise ChurnError("table 'customers' is empty; there is no one to build snapshots for")
    extraction = pd.Timestamp(tables.extraction_date)
    if start is None:
        start = first_snapshot(tables, snapshots)
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
        First / last snapshot instant; defaults: :func:`first_snapshot` (warm-up days after the
        event history begins), and the extraction date (never later).
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
    spine = active_spine(tables, dates)
    log.info("spine: %d snapshots, %d customer-snapshot rows", len(dates), len(spine))
    labelled = attach_labels(spine, tables, snapshots.horizon_days, snapshots.lead_days)
    feats = build_features(spine, tables, spec=spec, progress=progress)
    return pd.concat([labelled, feats.drop(columns=["customer_id", "as_of"])], axis=1)


def active_spine(tables: Tables, as_of_dates: Iterable[object]) -> pd.DataFrame:
    """Every (customer, as_of) pair where the customer was active, by the dataset's churn rule.

    Churn by date: not churned before ``as_of`` (``churn_dates``, censored at the extraction).
    Churn by inactivity: last activity known before ``as_of`` less than ``inactivity_days``
    old (``churn.spine.build_activity_spine``); nothing at or after ``as_of`` decides.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``; sorted by as_of then customer_id.
    """
    if tables.churn_definition == "inactivity":
        days = tables.inactivity_days
        return build_activity_spine(tables.customers, as_of_dates, activity_events(tables), days)
    return build_spine(tables.customers, as_of_dates, churn_date=churn_dates(tables))


def scoring_spine(tables: Tables, as_of: object) -> pd.DataFrame:
    """Every customer active at ``as_of``: the spine of one scoring date.

    The same definition of "active" as training (:func:`active_spine`), so inactivity-defined
    churn and censoring apply here too.

    Raises
    ------
    ChurnError
        When ``as_of`` is after the extraction date (the gap would look like silence from
        every customer).
    """
    ts = pd.Timestamp(as_of)
    if ts > pd.Timestamp(tables.extraction_date):
        raise ChurnError(
            f"as_of {ts} is after the data's extraction date {tables.extraction_date}; "
            "score a date not after the extraction or load fresher data"
        )
    return active_spine(tables, [ts])


def build_scoring_frame(
    tables: Tables,
    as_of: object,
    spec: FeatureSpec | None = None,
    progress: bool = False,
    *,
    spine: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of every current customer at one instant: the scoring twin of training.

    Parameters
    ----------
    tables
        The dataset.
    as_of
        The scoring instant; must not be after the extraction date.
    spec
        The trained model's feature spec (so columns match); ``None`` derives it.
    progress
        Show a progress bar.
    spine
        ``scoring_spine(tables, as_of)`` when the caller has built it already (weekly scoring
        needs the active customers too); ``None`` builds it here.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of`` and the features, one row per customer active at ``as_of``.
    """
    if spine is None:
        spine = scoring_spine(tables, as_of)
    return build_features(spine, tables, spec=spec, progress=progress)
