"""A training spine that fits a memory budget: snapshots never used dropped, negatives thinned.

``churn train`` builds features for every (customer, snapshot) pair of its spine; at 100k
customers and ~80 weekly snapshots that frame alone is several GB. Two reductions, in order:

1. **Snapshots no window uses.** The fit window keeps every ``train_every``-th date, so the
   other dates of the fit pool (and dates in the gaps between windows) are never fitted,
   validated or tested on, in the reported split nor in any backtest window (which shifts by
   ``test_snapshots`` dates). Dropping them changes no model and no metric.
2. **Negatives on fit-only dates**, if still over budget: a fixed fraction ``r`` of the
   non-churners of dates that are fitted on and never validated or tested on in any window is
   kept, chosen by a hash of (customer, as_of) (the same rows every run), each with weight
   ``1 / r`` (``weight`` column; LightGBM fits with it). Weighted, the fitted log loss is an
   unbiased estimate of the full one, so raw probabilities keep their level; the calibrator is
   fitted on the validation window, which is never thinned, nor is any test window, so every
   reported metric is on all rows. Positives and censored rows are always kept.

Pure: spine frames in and out. The AUC cost is measured in ``make bench`` (bench/results.json).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.modeling.training import out_of_time_split
from churn.settings import SnapshotSettings, TrainingSettings

log = logging.getLogger(__name__)


def date_roles(
    labelled: pd.DataFrame, training: TrainingSettings, snapshots: SnapshotSettings
) -> tuple[set[pd.Timestamp], set[pd.Timestamp]]:
    """``(fitted, evaluated)``: dates fitted on in some window, and dates validated or tested on
    in some window (the reported split and every backtest window)."""
    fitted: set[pd.Timestamp] = set()
    evaluated: set[pd.Timestamp] = set()
    for w in range(max(int(training.backtest_windows), 1)):
        try:
            split = out_of_time_split(
                labelled, training, snapshots, drop_latest=w * training.test_snapshots
            )
        except ChurnError:
            break
        fitted |= set(split.fit_dates)
        evaluated |= set(split.valid_dates) | set(split.test_dates)
    return fitted, evaluated


def _uniform(frame: pd.DataFrame) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per (customer_id, as_of)."""
    keys = pd.DataFrame(
        {"c": frame["customer_id"].astype(str).to_numpy(), "t": frame["as_of"].to_numpy()}
    )
    h = pd.util.hash_pandas_object(keys, index=False).to_numpy()
    return (h >> np.uint64(11)).astype("float64") / float(1 << 53)


def thin_training_spine(
    labelled: pd.DataFrame,
    training: TrainingSettings,
    snapshots: SnapshotSettings,
    budget_rows: int | None = None,
) -> pd.DataFrame:
    """The rows of ``labelled`` (customer_id, as_of, label) to build features for.

    Returned as is when it fits ``budget_rows`` (default ``training.row_budget``); otherwise
    without the unused snapshots and, if still too large, with negatives of fit-only dates
    thinned and a ``weight`` column (1 for every row kept whole, ``1 / r`` for a kept thinned
    negative).
    """
    budget_rows = training.row_budget if budget_rows is None else budget_rows
    if len(labelled) <= budget_rows:
        return labelled
    fitted, evaluated = date_roles(labelled, training, snapshots)
    if not fitted:
        return labelled  # too short for a split: the training step says why
    as_of = pd.to_datetime(labelled["as_of"])
    censored = labelled["label"].isna().to_numpy()
    used = as_of.isin(list(fitted | evaluated)).to_numpy() | censored
    kept = labelled[used]
    log.info(
        "training spine: %d of %d snapshot dates are fitted, validated or tested on in some "
        "window; %d rows of the others dropped",
        len(fitted | evaluated),
        as_of.nunique(),
        len(labelled) - len(kept),
    )
    out = kept.assign(weight=1.0)
    if len(kept) <= budget_rows:
        return out
    fit_only = pd.to_datetime(kept["as_of"]).isin(list(fitted - evaluated)).to_numpy()
    negative = fit_only & (kept["label"].to_numpy() == 0)
    n_neg = int(negative.sum())
    room = budget_rows - (len(kept) - n_neg)
    rate = min(1.0, max(room, 0) / max(n_neg, 1))
    rate = max(rate, 0.05)  # never fewer than 1 in 20: beyond that the budget is exceeded
    drop = negative & (_uniform(kept) >= rate)
    out.loc[negative, "weight"] = 1.0 / rate
    out = out[~drop]
    log.info(
        "training spine over budget (%d rows): kept %.1f%% of the %d negatives of fit-only "
        "dates, weighted %.2f; %d rows",
        budget_rows,
        100 * rate,
        n_neg,
        1.0 / rate,
        len(out),
    )
    return out
