"""Held-out rows of a static table, and the correction of a sampled training set; pure.

Held-out rows (``static.holdout``) are chosen on the source rows, before duplicates are dropped,
so that a duplicate of a held-out row is dropped from the training side (the first copy is
kept: a training row), never seen on both sides. The column or date that chose them is never a
feature: a split marker, or a date a category model would read as an identifier.

Sampled training sets (``static.sampling``): when the training rows kept every churner but only
a share of the stayers, the model's probabilities are those of the sample. Bayes' rule gives the
population's: the odds are multiplied by ``k = (population odds) / (training odds)``, i.e.
``p' = k p / (k p + 1 - p)`` (the standard prior-shift, or "odds", correction; King & Zeng
2001, Elkan 2001). Ranking is unchanged (ROC AUC is the same); calibration and lift are not:
lift on the training sample is measured against the sample's churn rate, so
:func:`population_lift` reweights its rows to the population's.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from churn.data import HOLDOUT_MARKER, DatasetConfig, Findings, rows

log = logging.getLogger(__name__)

#: Training and held-out churn odds further apart than this factor, with no static.sampling
#: declared, are warned: the probabilities will be off by about that factor.
RATE_MISMATCH_ODDS = 1.5
MISMATCH_START = "the training rows' churn rate"


def holdout_columns(config: DatasetConfig) -> tuple[str, ...]:
    """Source columns that choose the held-out rows: never features."""
    h = config.static.holdout
    if h is None:
        return ()
    return tuple(c for c in (h.column, h.date) if c is not None)


def holdout_mask(frame: pd.DataFrame, config: DatasetConfig, findings: Findings) -> np.ndarray:
    """Which source rows are held out (all False without ``static.holdout``).

    ``fraction`` is drawn later, on the cleaned rows (see :func:`fraction_mask`).
    """
    h = config.static.holdout
    if HOLDOUT_MARKER in frame.columns:
        return frame[HOLDOUT_MARKER].fillna(False).to_numpy(dtype=bool)
    if h is None or h.fraction is not None:
        return np.zeros(len(frame), dtype=bool)
    column = h.column or h.date
    if column not in frame.columns:
        findings.add(
            "customers",
            column,
            "column named in static.holdout is not in the table",
            f"Columns in the file: {', '.join(map(repr, list(frame.columns)[:25]))}.",
        )
        return np.zeros(len(frame), dtype=bool)
    if h.column is not None:
        text = frame[column].astype("str").str.strip()
        wanted = {str(v).strip() for v in h.test_values or ()}
        numbers = pd.to_numeric(frame[column], errors="coerce")
        wanted_numbers = pd.to_numeric(pd.Series(list(h.test_values or ())), errors="coerce")
        return (text.isin(wanted) | numbers.isin(wanted_numbers.dropna())).to_numpy()
    dates = pd.to_datetime(frame[column], errors="coerce", format="mixed")
    id_col = config.table("customers").columns.get("customer_id")
    if id_col in frame.columns:  # examples name the customers, not row numbers
        frame = frame.assign(customer_id=frame[id_col].astype("str"))
    findings.add(
        "customers",
        column,
        "have no readable date in the static.holdout.date column",
        "Fill in the date (YYYY-MM-DD) or remove these rows.",
        frame=frame,
        mask=dates.isna().to_numpy(),
    )
    return (dates > h.after).to_numpy()


def fraction_mask(label: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A stratified random ``share`` of the rows (each class held out in the same share)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(label))
    _, test = train_test_split(idx, test_size=share, stratify=label, random_state=seed)
    out = np.zeros(len(label), dtype=bool)
    out[test] = True
    return out


def check_holdout(mask: np.ndarray, label: np.ndarray, findings: Findings) -> None:
    """Both sides need rows, and the training side both classes."""
    n_test = int(mask.sum())
    if n_test == 0 or n_test == len(mask):
        side = "no" if n_test == 0 else "every"
        findings.add(
            "customers",
            None,
            f"static.holdout selects {side} row ({rows(n_test)} of {rows(len(mask))})",
            "Check the holdout's column and values, or date and after.",
        )
    elif len(np.unique(label[~mask])) < 2:
        findings.add(
            "customers", None, "the training rows (not held out) all have one churn flag", ""
        )


def odds_correct(p: np.ndarray, factor: float) -> np.ndarray:
    """Probabilities with their odds multiplied by ``factor`` (the prior-shift correction)."""
    p = np.asarray(p, dtype=float)
    if factor == 1.0:
        return p
    return factor * p / (factor * p + 1.0 - p)


def population_lift(y: np.ndarray, p: np.ndarray, factor: float) -> float:
    """Top-decile lift on the population the sample was drawn from.

    Each stayer weighs ``factor`` times a churner (``factor`` = population odds / sample odds
    = stayer weight / churner weight): the top tenth of the population's weight is taken in
    score order, and its churn rate divided by the population's.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    w = np.where(y == 1, 1.0, 1.0 / factor)
    order = np.argsort(-p, kind="stable")
    ys, ws = y[order], w[order]
    cut = ws.sum() / 10
    before = np.cumsum(ws) - ws
    taken = np.clip(cut - before, 0.0, ws)
    base = (ws * ys).sum() / ws.sum()
    return float((taken @ ys / cut) / base) if base > 0 else float("nan")


def rate_mismatch(train_rate: float, test_rate: float, declared: Any) -> str | None:
    """A warning when the two churn rates' odds differ by more than
    :data:`RATE_MISMATCH_ODDS` and no sampling is declared; None otherwise."""
    if declared is not None or not (0 < train_rate < 1 and 0 < test_rate < 1):
        return None
    ratio = (train_rate / (1 - train_rate)) / (test_rate / (1 - test_rate))
    if max(ratio, 1 / ratio) <= RATE_MISMATCH_ODDS:
        return None
    return (
        f"{MISMATCH_START} ({train_rate:.1%}) is far from the held-out rows' "
        f"({test_rate:.1%}), and static.sampling is not declared: probabilities are "
        f"about {ratio:.1f}x the held-out odds. If the training rows were sampled, declare "
        f"static.sampling: {{population_churn_rate: {test_rate:.3f}}}."
    )


def sampling_factor(train: Any, test: Any, sampling: Any) -> tuple[float, tuple[str, ...]]:
    """The odds correction of a declared ``static.sampling`` (1.0 without) for the training
    rows ``train``, and a warning when their churn rate is far from the held-out rows' ``test``
    (None: no held-out rows) with nothing declared."""
    factor = sampling.odds_factor(train.churn_rate) if sampling is not None else 1.0
    warning = None
    if test is not None:
        warning = rate_mismatch(train.churn_rate, test.churn_rate, sampling)
    if warning:
        log.warning(warning)
    return float(factor), (warning,) if warning else ()
