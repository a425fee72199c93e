"""Frames for the model: the training frame (spine + labels + features) and the scoring frame.

Both call the same ``build_features`` on a spine; only the spine differs (many snapshot dates
for training, one date for weekly scoring, the past listed customers at their week for uplift).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from churn.contract import USAGE_PERIODS, Tables
from churn.errors import ChurnError
from churn.features import FeatureSpec, build_features
from churn.labels import activity_events, attach_labels, churn_dates
from churn.settings import EngineSettings, SnapshotSettings
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
    thin: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    engine: EngineSettings | None = None,
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
    thin
        Applied to the labelled spine before features are built: the rows to keep, optionally
        with a ``weight`` column (``churn.modeling.subsample.thin_training_spine``).
    engine
        Where the features run (``build_features``); ``None``: in-memory DuckDB.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``, ``label`` (NaN = censored), [``weight``], then the features.
    """
    dates = _training_dates(tables, snapshots, start, end)
    spine = active_spine(tables, dates)
    log.info("spine: %d snapshots, %d customer-snapshot rows", len(dates), len(spine))
    labelled = attach_labels(spine, tables, snapshots.horizon_days, snapshots.lead_days)
    if thin is not None:
        # Fewer rows before any feature is built (churn.modeling.subsample): memory and time.
        labelled = thin(labelled).reset_index(drop=True)
        spine = labelled[["customer_id", "as_of"]]
    feats = build_features(spine, tables, spec=spec, progress=progress, engine=engine)
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
    engine: EngineSettings | None = None,
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
    engine
        Where the features run (``build_features``); ``None``: in-memory DuckDB.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of`` and the features, one row per customer active at ``as_of``.
    """
    if spine is None:
        spine = scoring_spine(tables, as_of)
    return build_features(spine, tables, spec=spec, progress=progress, engine=engine)


def build_outcome_frame(
    tables: Tables, units: pd.DataFrame, spec: FeatureSpec | None = None
) -> pd.DataFrame:
    """Features of past listed customers at the week they were listed, with arm and outcome.

    ``units``: ``customer_id``, ``as_of`` (the week), ``arm`` ("treated" / "control") and
    ``churned`` (``churn.impact.listed_units``). Features come from the SAME ``build_features``
    as scoring, on the spine (customer_id, as_of): each row sees only what was known strictly
    before its own week's as_of, exactly what the list was made from, never its outcome.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``, ``treated`` (bool), ``churned`` (bool), the units'
        ``recommended_play`` when they have one, then the features.
    """
    spine = units[["customer_id", "as_of"]].reset_index(drop=True)
    spine = spine.assign(as_of=pd.to_datetime(spine["as_of"]).astype("datetime64[ns]"))
    feats = build_features(spine, tables, spec=spec)
    out = spine.assign(
        treated=(units["arm"].to_numpy() == "treated"),
        churned=units["churned"].to_numpy(dtype=bool),
    )
    if "recommended_play" in units.columns:  # the play the list recommended that week
        out["recommended_play"] = units["recommended_play"].to_numpy()
    return pd.concat([out, feats.drop(columns=["customer_id", "as_of"])], axis=1)


# --- the fixed-as_of protocol ----------------------------------------------------------------


def known_before(tables: Tables, cutoff: object) -> Tables:
    """The dataset as it was known at ``cutoff``: a new ``Tables``, the input is not modified.

    Events are kept when they happened and reached the data strictly before ``cutoff`` (a usage
    row once its whole period has ended; an NPS row once sent, its answer blanked when given or
    recorded at or after ``cutoff``), customers when they signed up before it; the extraction
    date becomes ``cutoff``. Nothing learned from the result can have seen a label after it.
    """
    ts = pd.Timestamp(cutoff)
    if ts > pd.Timestamp(tables.extraction_date):
        raise ChurnError(
            f"cutoff {ts.date()} is after the extraction date {tables.extraction_date.date()}"
        )

    def before(frame: pd.DataFrame, when: pd.Series) -> pd.Series:
        rec = pd.to_datetime(frame["recorded_at"]) if "recorded_at" in frame else when
        return (when < ts) & (rec.fillna(when) < ts)

    c, inter, nps, usage = tables.customers, tables.interactions, tables.nps, tables.usage
    sent = pd.to_datetime(nps["sent_at"]).fillna(nps["timestamp"]) if "sent_at" in nps else None
    sent = pd.to_datetime(nps["timestamp"]) if sent is None else sent
    answer_known = before(nps, pd.to_datetime(nps["timestamp"]))
    nps = nps.loc[(sent < ts).to_numpy()].copy()
    late = ~answer_known.loc[nps.index]
    nps.loc[late, ["timestamp", "score"]] = np.nan
    end = pd.to_datetime(usage["date"]) + USAGE_PERIODS[tables.usage_period]
    return dataclasses.replace(
        tables,
        customers=c.loc[pd.to_datetime(c["signup_date"]) < ts].reset_index(drop=True),
        interactions=inter.loc[before(inter, pd.to_datetime(inter["timestamp"]))].reset_index(
            drop=True
        ),
        nps=nps.reset_index(drop=True),
        usage=usage.loc[(end <= ts) & before(usage, end - pd.Timedelta(1, "ns"))].reset_index(
            drop=True
        ),
        extraction_date=ts,
    )


def fixed_as_of_frame(
    tables: Tables,
    snapshots: SnapshotSettings,
    as_of: object,
    horizon_days: int,
    train_horizon_days: int,
    *,
    first: object | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, FeatureSpec]:
    """Training snapshots before ``as_of`` and the test snapshot at it, in one frame.

    Everything but the test labels comes from ``known_before(tables, as_of)``: the feature
    spec, the training spine (snapshots from ``first``, default :func:`first_snapshot`, to
    ``as_of - train_horizon_days``, so every training label is known at ``as_of``), the
    training labels (``train_horizon_days``) and the test features. The test spine is the
    customers active at ``as_of`` on the hindsight-free rule (:func:`active_spine`); their
    labels, churn in ``[as_of, as_of + horizon_days)``, come from the whole extract.

    Returns
    -------
    (frame, spec)
        ``customer_id``, ``as_of``, ``label`` and the features; the test rows are those with
        ``as_of`` equal to ``as_of``.
    """
    ts = pd.Timestamp(as_of)
    known = known_before(tables, ts)
    spec = FeatureSpec.from_tables(known)
    last = ts - pd.Timedelta(days=train_horizon_days)
    dates = _training_dates(known, snapshots, first, last)
    train_spine = active_spine(known, dates)
    train = attach_labels(train_spine, known, train_horizon_days)
    if train["label"].isna().any():  # every window ends by as_of: a bug, not the data
        raise ChurnError("training labels of the fixed-as_of protocol reach past as_of")
    test_spine = active_spine(known, [ts])
    if test_spine.empty:
        raise ChurnError(f"no customer is active at evaluation.as_of {ts.date()}")
    test = attach_labels(test_spine, tables, horizon_days)
    spine = pd.concat([train, test], ignore_index=True)
    feats = build_features(spine, known, spec=spec, progress=progress)
    log.info(
        "fixed as_of %s: %d training snapshots (%s..%s, %d rows), %d test rows",
        ts.date(), len(dates), dates[0].date(), dates[-1].date(), len(train), len(test),
    )  # fmt: skip
    return pd.concat([spine, feats.drop(columns=["customer_id", "as_of"])], axis=1), spec


@dataclasses.dataclass(frozen=True)
class ValidationFold:
    """The fixed-as_of protocol moved back inside the data known before the real ``as_of``.

    ``frame`` is :func:`fixed_as_of_frame`'s output at ``as_of`` (the fold's scored date, its
    test rows labelled over ``horizon_days``, its training snapshots over
    ``train_horizon_days``); ``describe()`` states it for run parameters and the README.
    """

    frame: pd.DataFrame
    as_of: pd.Timestamp
    horizon_days: int
    train_horizon_days: int
    gap_days: int

    def describe(self) -> str:
        rows = self.frame.loc[self.frame["as_of"] < self.as_of, "as_of"]
        return (
            f"fit on snapshots {rows.min().date()}..{rows.max().date()} "
            f"({rows.nunique()} dates, {self.train_horizon_days}-day labels), scored at "
            f"{self.as_of.date()} ({self.gap_days} days after the last fitted snapshot) for "
            f"churn in the next {self.horizon_days} days"
        )


def fixed_as_of_fold(
    tables: Tables,
    snapshots: SnapshotSettings,
    as_of: object,
    horizon_days: int,
    train_horizon_days: int,
    *,
    first: object | None = None,
    progress: bool = False,
) -> ValidationFold | None:
    """The validation fold of the fixed-as_of protocol: the protocol itself, every date moved
    back by ``train_horizon_days``, on ``known_before(tables, as_of)`` only.

    The fold's scored date is ``as_of - train_horizon_days`` (where the deployed model's
    training snapshots end); its fitted snapshots run from ``first`` (default
    :func:`first_snapshot`) moved back the same distance, clipped to the history's start, to
    ``train_horizon_days`` before the scored date. So the gap between the last fitted snapshot
    and the scored date, the number of fitted dates and the training labels are the
    deployment's; the fold's label horizon is ``min(horizon_days, train_horizon_days)``, the
    longest whose labels end by ``as_of``. ``None`` when no fitted snapshot fits in.
    """
    ts = pd.Timestamp(as_of)
    known = known_before(tables, ts)
    shift = pd.Timedelta(days=train_horizon_days)
    inner, start = (
        ts - shift,
        pd.Timestamp(first_snapshot(known, snapshots) if first is None else first),
    )
    begin, _ = known.event_range()
    start = max(start - shift, pd.Timestamp(begin).normalize()) if begin is not None else start
    dates = snapshot_dates(start, inner - shift, snapshots.cadence)
    if len(dates) == 0:
        return None
    horizon = min(int(horizon_days), int(train_horizon_days))
    frame, _ = fixed_as_of_frame(
        known, snapshots, inner, horizon, train_horizon_days, first=start, progress=progress
    )
    gap = int((inner - dates[-1]) / pd.Timedelta(days=1))
    return ValidationFold(frame, inner, horizon, int(train_horizon_days), gap)
