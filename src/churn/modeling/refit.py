"""The deployed refit: the validated settings, refitted on the freshest labels a cut-off allows.

The validated model (``churn.modeling.training``) is fitted on snapshots about two gaps
(lead + horizon) older than its test window: on the demo its trees learned from snapshots up to
February 2025 and scored December 2025. A refit with the validated settings moves the same model
forward by those two gaps. Windows, from the training cut-off ``T`` (the extraction date in
``churn train``; an earlier date in a replay) backwards::

    fit (every train_every-th date) | gap >= L+H | calibration (latest labelled dates) | L+H | T

- **known labels only**: a snapshot ``d`` counts as labelled at ``T`` only if its label window
  ``[d + L, d + L + H)`` closed by ``T`` (``d + L + H <= T``); a label filled in from later data
  is dropped, so replaying an earlier ``T`` on today's frame sees what ``T`` saw.
- **calibration**: the latest ``valid_snapshots`` labelled dates, and only those.
- **fit**: labelled dates whose label window closes before the calibration window starts, so
  the trees never learned the churn events the calibrator is fitted on (a calibrator fitted on
  the booster's own training rows is overconfident).
- **settings**: the validated booster's parameters and its early-stopped number of rounds; no
  early stopping here (the calibration rows would choose the trees).

``recency_half_life_days`` weights fit rows by ``0.5 ** (age / half_life)`` (age from the
newest fit date): measured in ``bench/refit_policy.py``, not the default.

Pure: frames in, a ``TrainResult`` out. The test metrics ``churn train`` reports stay those of
the validated model on its out-of-time test window; the refit has no test window of its own.
"""

from __future__ import annotations

import logging

import lightgbm as lgb
import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.modeling.model import Calibrator, ChurnModel
from churn.modeling.training import WEIGHT_COLUMN, OutOfTimeSplit, TrainResult
from churn.settings import Settings, SnapshotSettings, TrainingSettings

log = logging.getLogger(__name__)

DEPLOYED_REFIT = "refit"


def known_labels(frame: pd.DataFrame, cutoff: object, snapshots: SnapshotSettings) -> pd.DataFrame:
    """Rows of ``frame`` whose label was known at ``cutoff``: labelled and ``as_of + lead +
    horizon <= cutoff`` (the label window closed by then)."""
    end = frame["as_of"] + pd.Timedelta(days=snapshots.lead_days + snapshots.horizon_days)
    return frame.loc[frame["label"].notna() & (end <= pd.Timestamp(cutoff))]


def refit_split(
    frame: pd.DataFrame,
    training: TrainingSettings,
    snapshots: SnapshotSettings,
    cutoff: object,
    *,
    fit_through_calibration: bool = False,
) -> OutOfTimeSplit:
    """Fit and calibration windows of the refit at ``cutoff`` (module docstring); no test dates.
    ``fit_through_calibration``: the fit window takes every labelled date, the calibration
    window's too (measured in ``bench/refit_policy.py``; not what ``churn train`` deploys).

    Raises
    ------
    ChurnError
        When the labels known at ``cutoff`` cannot fill a calibration window and a fit window
        one gap before it.
    """
    dates = pd.DatetimeIndex(sorted(known_labels(frame, cutoff, snapshots)["as_of"].unique()))
    gap = pd.Timedelta(days=snapshots.lead_days + snapshots.horizon_days)
    n_valid = training.valid_snapshots
    calib = dates[-n_valid:]
    fit_pool = dates[dates + gap <= calib[0]] if len(calib) == n_valid else dates[:0]
    if fit_through_calibration and len(calib) == n_valid:
        fit_pool = dates
    if len(fit_pool) == 0:
        raise ChurnError(
            f"{len(dates)} snapshot dates labelled by {pd.Timestamp(cutoff).date()} are too few "
            f"to refit: {n_valid} calibration dates and fit dates {gap.days} days before them"
        )
    every = max(int(training.train_every), 1)
    return OutOfTimeSplit(
        fit_dates=tuple(fit_pool[::-1][::every][::-1]),
        valid_dates=tuple(calib),
        test_dates=(),
        gap_days=gap.days,
    )


def recency_weights(as_of: pd.Series, half_life_days: float | None) -> np.ndarray | None:
    """``0.5 ** (age / half_life)`` per row, age in days before the newest row; ``None``: none."""
    if not half_life_days:
        return None
    age = (as_of.max() - as_of).dt.days.to_numpy(dtype=float)
    return np.power(0.5, age / float(half_life_days))


def _fit_weights(fit: pd.DataFrame, half_life_days: float | None) -> np.ndarray | None:
    """The rows' own weights (``WEIGHT_COLUMN``: 1/r where ``churn.modeling.subsample`` thinned
    negatives, as the validated model was fitted with) times the optional recency weights."""
    recency = recency_weights(fit["as_of"], half_life_days)
    if WEIGHT_COLUMN not in fit:
        return recency
    own = fit[WEIGHT_COLUMN].to_numpy(dtype=float)
    return own if recency is None else own * recency


def refit_model(
    frame: pd.DataFrame,
    settings: Settings,
    validated: TrainResult,
    cutoff: object,
    *,
    recency_half_life_days: float | None = None,
    fit_through_calibration: bool = False,
) -> TrainResult:
    """The validated model's settings refitted on the labels known at ``cutoff``.

    Parameters
    ----------
    frame
        The training frame the validated model came from.
    settings
        The run's settings (window sizes, calibration method).
    validated
        ``churn.modeling.train_model``'s result: its parameters, best iteration and features.
    cutoff
        The training cut-off: labels whose window ends after it are not used.
    recency_half_life_days
        Optional recency weighting of the fit rows (``None``: every row weighs 1).
    fit_through_calibration
        See :func:`refit_split` (a measured alternative, not the default).
    """
    tr, snap = settings.training, settings.snapshots
    split = refit_split(frame, tr, snap, cutoff, fit_through_calibration=fit_through_calibration)
    fit, calib = split.part(frame, "fit"), split.part(frame, "valid")
    features, rounds = validated.features, validated.best_iteration
    y = fit["label"].to_numpy(dtype=float)
    if len(np.unique(y)) < 2 or len(np.unique(calib["label"])) < 2:
        raise ChurnError("the refit's fit or calibration window has only one class")
    weight = _fit_weights(fit, recency_half_life_days)
    data = lgb.Dataset(fit.loc[:, features], y, weight=weight, categorical_feature="auto")
    booster = lgb.train(validated.params, data, num_boost_round=rounds)
    raw = booster.predict(calib.loc[:, features])
    calibrator = Calibrator(tr.calibration).fit(raw, calib["label"].to_numpy(dtype=float))
    counts = {"fit": len(fit), "valid": len(calib), "test": 0}
    described = split.describe()
    log.info(
        "refit on %d rows (%s), calibrated on %d rows", len(fit), described["fit_as_of"], len(calib)
    )
    model = ChurnModel(
        booster=booster,
        calibrator=calibrator,
        feature_names=features,
        horizon_days=snap.horizon_days,
        metadata={
            **validated.model.metadata,
            # Its own fit and calibration windows; test_as_of stays the validated model's, where
            # the test metrics it carries come from.
            **{k: v for k, v in described.items() if k != "test_as_of"},
            "deployed_model": DEPLOYED_REFIT,
            "trained_through": str(pd.Timestamp(cutoff).date()),
            "recency_half_life_days": recency_half_life_days,
            "rows": counts,
        },
    )
    return TrainResult(model, split, features, rounds, dict(validated.params), counts)
