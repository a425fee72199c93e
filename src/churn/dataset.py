"""Frames for the model: the training frame (spine + labels + features) and the scoring frame.

Both call the same ``build_features`` on a spine; only the spine differs (many snapshot dates
for training, one date for weekly scoring).
"""

from __future__ import annotations

import logging

import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.features import FeatureSpec, build_features
from churn.labels import attach_labels, churn_dates
from churn.settings import SnapshotSettings
from churn.spine import build_spine, snapshot_dates

log = logging.getLogger(__name__)


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
