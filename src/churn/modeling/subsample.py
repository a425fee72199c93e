"""A training spine that fits a row budget: rows nobody uses dropped, then thinned, weighted.

``churn train`` builds features for every (customer, snapshot) pair of its spine; at 100k
customers and ~80 weekly snapshots that frame alone is several GB and most of the run's time.
Over ``training.row_budget`` rows, reductions in this order, each only while still over:

1. **Rows no window uses.** The fit window keeps every ``train_every``-th date, so the other
   dates of the fit pool (and dates in the gaps between windows) are never fitted, validated
   or tested on, in the reported split, in any backtest window (which shifts by
   ``test_snapshots`` dates) or in the deployed refit's windows (``churn.modeling.refit``).
   Censored rows (label unknown at the extraction) are used by none of them either. Dropping
   them changes no model and no metric.
2. **Negatives on fit-only dates**: a fixed fraction ``r`` of the non-churners of dates that
   are fitted on and never validated or tested on in any window is kept, chosen by a hash of
   (customer, as_of) (the same rows every run), each with weight ``1 / r`` (``weight``
   column; LightGBM and the logistic baseline fit with it). Weighted, the fitted log loss is
   an unbiased estimate of the full one, so raw probabilities keep their level. Positives are
   always kept; ``r`` is never below 1 in 20 (:data:`MIN_NEGATIVE_RATE`).
3. **Customers on evaluated dates**: the validation and test dates of the reported split keep
   a fixed hashed share ``s`` of the customers, those of the backtest windows ``s / 2`` (a
   subset of them: their spread needs fewer), all of a kept customer's rows, weight ``1 / s``
   (for the windows that fit on these dates). A uniform sample of whole customers leaves ROC
   AUC, PR AUC, the Brier score and calibration unbiased, and the intervals honest: they are
   customer-bootstrapped on the customers evaluated, so they widen by about ``1 / sqrt(s)``.
   The weekly capacity of the @K metrics is scaled by ``s``
   (``churn.modeling.training.evaluation_capacity``), so that precision@K still describes
   the top K of a whole week. At least :data:`MIN_EVALUATED_CUSTOMERS` customers are kept.

Beyond both floors the budget is exceeded (a log line says so). Pure: spine frames in and out.
The AUC cost is measured in ``make bench`` (bench/results.json).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.modeling.refit import refit_split
from churn.modeling.training import WEIGHT_COLUMN, out_of_time_split
from churn.settings import SnapshotSettings, TrainingSettings

log = logging.getLogger(__name__)

#: Fewest non-churners of a fit-only date kept: 1 in 20 (weights of at most 20).
MIN_NEGATIVE_RATE = 0.05
#: Fewest customers kept on the evaluated dates (unless there are fewer): below ~20k the test
#: window's few hundred churners make every interval wide.
MIN_EVALUATED_CUSTOMERS = 20_000


def date_roles(
    labelled: pd.DataFrame, training: TrainingSettings, snapshots: SnapshotSettings
) -> tuple[set[pd.Timestamp], set[pd.Timestamp]]:
    """``(fitted, evaluated)``: dates fitted on in some window, and dates validated or tested on
    in some window (the reported split, every backtest window and, with ``deploy: refit``, the
    deployed refit's fit and calibration windows)."""
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
    if fitted and training.deploy == "refit":
        # The refit at the extraction knows every label this spine has.
        gap = pd.Timedelta(days=snapshots.lead_days + snapshots.horizon_days)
        cutoff = pd.to_datetime(labelled.loc[labelled["label"].notna(), "as_of"]).max() + gap
        try:
            refit = refit_split(labelled, training, snapshots, cutoff)
        except ChurnError:
            return fitted, evaluated  # the refit says why in its own step
        fitted |= set(refit.fit_dates)
        evaluated |= set(refit.valid_dates)
    return fitted, evaluated


def reported_dates(
    labelled: pd.DataFrame, training: TrainingSettings, snapshots: SnapshotSettings
) -> set[pd.Timestamp]:
    """The validation and test dates of the reported split (the refit calibrates on the same
    test dates): the metrics the run reports and gates on."""
    split = out_of_time_split(labelled, training, snapshots)
    return set(split.valid_dates) | set(split.test_dates)


def _uniform(*keys: pd.Series) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per row, from a hash of ``keys``."""
    frame = pd.DataFrame(
        {str(i): k.astype(str).to_numpy() if i == 0 else k.to_numpy() for i, k in enumerate(keys)}
    )
    h = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return (h >> np.uint64(11)).astype("float64") / float(1 << 53)


def thin_training_spine(
    labelled: pd.DataFrame,
    training: TrainingSettings,
    snapshots: SnapshotSettings,
    budget_rows: int | None = None,
) -> pd.DataFrame:
    """The rows of ``labelled`` (customer_id, as_of, label) to build features for.

    Returned as is when it fits ``budget_rows`` (default ``training.row_budget``); otherwise
    reduced as the module docstring says, with a ``weight`` column (1 for every row kept
    whole, ``1 / r`` or ``1 / s`` for a row standing for several).
    """
    budget_rows = training.row_budget if budget_rows is None else budget_rows
    if len(labelled) <= budget_rows:
        return labelled
    fitted, evaluated = date_roles(labelled, training, snapshots)
    if not fitted:
        return labelled  # too short for a split: the training step says why
    as_of = pd.to_datetime(labelled["as_of"])
    used = as_of.isin(list(fitted | evaluated)).to_numpy() & labelled["label"].notna().to_numpy()
    out = labelled[used].assign(**{WEIGHT_COLUMN: 1.0})
    log.info(
        "training spine: %d of %d snapshot dates are fitted, validated or tested on in some "
        "window; %d rows of the others and censored rows dropped",
        len(fitted | evaluated),
        as_of.nunique(),
        len(labelled) - len(out),
    )
    if len(out) <= budget_rows:
        return out
    out, rate = _thin_negatives(out, fitted - evaluated, budget_rows)
    # Customers are sampled only once the negatives are at their floor (a hash lands a few
    # rows either side of the budget; that is not a reason to sample).
    if len(out) <= budget_rows or rate > MIN_NEGATIVE_RATE:
        return out
    out, at_floor = _sample_customers(
        out, evaluated, reported_dates(labelled, training, snapshots), budget_rows
    )
    if at_floor and len(out) > budget_rows:
        log.warning(
            "training spine: %d rows, over training.row_budget (%d) at the thinning floors "
            "(1 in %d fit-only negatives, %d evaluated customers)",
            len(out),
            budget_rows,
            round(1 / MIN_NEGATIVE_RATE),
            MIN_EVALUATED_CUSTOMERS,
        )
    return out


def _thin_negatives(
    out: pd.DataFrame, fit_only: set, budget_rows: int
) -> tuple[pd.DataFrame, float]:
    """Step 2: a hashed share of the fit-only dates' negatives, weighted by its inverse; and
    that share."""
    negative = pd.to_datetime(out["as_of"]).isin(list(fit_only)).to_numpy() & (
        out["label"].to_numpy() == 0
    )
    n_neg = int(negative.sum())
    room = budget_rows - (len(out) - n_neg)
    rate = max(min(1.0, max(room, 0) / max(n_neg, 1)), MIN_NEGATIVE_RATE)
    drop = negative & (_uniform(out["customer_id"], out["as_of"]) >= rate)
    out.loc[negative, WEIGHT_COLUMN] = 1.0 / rate
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
    return out, rate


def _sample_customers(
    out: pd.DataFrame, evaluated: set, reported: set, budget_rows: int
) -> tuple[pd.DataFrame, bool]:
    """Step 3: a hashed share of the customers on the evaluated dates, weighted by its inverse,
    twice as large on the reported split's dates as on the backtest's; and whether a share is
    at its floor."""
    as_of = pd.to_datetime(out["as_of"])
    on_rep = as_of.isin(list(reported)).to_numpy()
    on_bt = as_of.isin(list(evaluated - reported)).to_numpy()
    customers = out.loc[on_rep | on_bt, "customer_id"].nunique()
    floor = min(1.0, MIN_EVALUATED_CUSTOMERS / max(customers, 1))
    room = max(budget_rows - int((~(on_rep | on_bt)).sum()), 0)
    n_rep, n_bt = int(on_rep.sum()), int(on_bt.sum())
    share = max(min(1.0, room / max(n_rep + n_bt / 2, 1)), floor)
    # Uncapped, what is left is half the reported share; with the reported split whole, more.
    share_bt = max(min(1.0, max(room - share * n_rep, 0) / max(n_bt, 1)), floor)
    # By customer alone: a kept customer keeps every date of its role, as the bootstrap needs
    # (and the backtest's customers are a subset of the reported split's).
    u = _uniform(out["customer_id"])
    drop = (on_rep & (u >= share)) | (on_bt & (u >= share_bt))
    out.loc[on_rep, WEIGHT_COLUMN] = out.loc[on_rep, WEIGHT_COLUMN] / share
    out.loc[on_bt, WEIGHT_COLUMN] = out.loc[on_bt, WEIGHT_COLUMN] / share_bt
    out = out[~drop]
    log.info(
        "training spine over budget (%d rows): the reported split's validation and test dates "
        "keep %.1f%% of their customers, the backtest's %.1f%% (a fixed hash, weighted by the "
        "inverse); %d rows",
        budget_rows,
        100 * share,
        100 * share_bt,
        len(out),
    )
    return out, min(share, share_bt) <= floor
