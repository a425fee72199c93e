"""Honest uncertainty: 95% intervals from a bootstrap over customers, not rows.

The test window holds a few weekly snapshots of the same customers, so its positive rows are a
few distinct churners seen several times. Resampling *rows* would treat the four snapshots of
one churner as four independent facts and give intervals far too narrow. Here every resample
draws customers with replacement and keeps all of a drawn customer's rows together: a customer
drawn twice counts twice, one not drawn is absent.

Implementation: a resample is a vector of per-customer counts (how often each customer was
drawn); a row weighs its customer's count, and every metric is the *weighted* metric on the
original rows. A row with weight w behaves exactly like w copies of it, so this equals
materialising the resample without copying any frame. Each scorer's rows are ranked ONCE
(descending score, ties in row order, groups of equal scores); a batch of resamples then costs
one gather of the counts onto the non-churners in rank order and one cumulative sum, and every
metric is read off at the few churner rows: ROC AUC from the weight of non-churners ranked
above, tied with and below each churner, average precision from the cumulative weights at the
end of each churner's score group, top-decile lift and precision@K from the weight ranked
before each churner (precision@K on each snapshot date's top ranks only). Counts are integers,
so ROC AUC, lift and precision@K are exact and average precision equals the row-by-row
definition to rounding. At 100k customers (290k test rows, 72k customers) 1000 resamples of
three scorers take a few seconds and a block of resamples a few tens of MB.

The metrics keep the definitions of ``churn.modeling.evaluation``: ties in ROC AUC count half,
average precision steps at each distinct score, top-decile lift takes the ceil(n/10) highest
scores of the resample, and precision@K is cut per weekly snapshot and averaged over snapshots.

Differences between two scorers (LightGBM minus a baseline) are *paired*: both are evaluated on
the same resamples, so customer-to-customer variation that hits both cancels out.

Intervals are percentile intervals (2.5th and 97.5th percentile of the resampled values).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Metrics that get a bootstrap interval, in report order.
CI_METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "top_decile_lift", "precision_at_k")

#: Resamples per block of a given weight matrix (``resampled_metrics``).
_BATCH = 100
#: Row weights per block of :func:`bootstrap_intervals`' resamples: a block's arrays are about
#: this many 4-byte counts (64 MB), whatever the number of test rows.
_CELLS = 1 << 24


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% bootstrap interval."""

    estimate: float
    low: float
    high: float


def customer_weights(
    customer_ids: np.ndarray | pd.Series, n_resamples: int, seed: int
) -> np.ndarray:
    """Row weights of ``n_resamples`` customer-level bootstrap resamples.

    Parameters
    ----------
    customer_ids
        Customer of each row; all rows of a customer share one draw.
    n_resamples, seed
        Number of resamples and the random seed (fixed: the same data gives the same intervals).

    Returns
    -------
    ndarray
        Shape ``(n_resamples, n_rows)``, integer-valued: how many times each row's customer was
        drawn in each resample.
    """
    batches = list(weight_batches(customer_ids, n_resamples, seed))
    return np.concatenate(batches) if batches else np.zeros((0, len(customer_ids)))


def weight_batches(
    customer_ids: np.ndarray | pd.Series, n_resamples: int, seed: int, batch: int | None = None
) -> Iterator[np.ndarray]:
    """:func:`customer_weights` in consecutive blocks of ``batch`` resamples (the same draws):
    only one block of the ``(n_resamples, n_rows)`` matrix exists at a time (1000 resamples of
    290k test rows would be 2.3 GB at once)."""
    codes, n_customers = _customer_codes(customer_ids)
    for counts in count_batches(n_customers, n_resamples, seed, batch or _BATCH):
        yield counts[:, codes].astype(float)


def _customer_codes(customer_ids: np.ndarray | pd.Series) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(np.asarray(customer_ids), use_na_sentinel=False)
    return codes, len(uniques)


def count_batches(
    n_customers: int, n_resamples: int, seed: int, batch: int
) -> Iterator[np.ndarray]:
    """How often each customer is drawn, ``(batch, n_customers)`` int32 blocks of resamples.

    Each block's draws come from the one seeded generator in turn, so the resamples are the
    same whatever the block size (numpy draws ``integers`` element by element in C order), and
    the ``(n_resamples, n_customers)`` draws never exist at once (576 MB at 72k customers)."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, batch):
        b = min(batch, n_resamples - start)
        draws = rng.integers(0, n_customers, size=(b, n_customers))
        shifted = draws + np.arange(b)[:, None] * n_customers
        counts = np.bincount(shifted.ravel(), minlength=b * n_customers)
        yield counts.reshape(b, n_customers).astype(np.int32)


def _cumulative(weights: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``out[j]`` = sum of ``weights[rows[:j]]``: a leading zero row, then the running sums."""
    out = np.zeros((len(rows) + 1, weights.shape[1]))
    np.cumsum(weights[rows], axis=0, out=out[1:])
    return out


@dataclass(frozen=True)
class _Ranking:
    """One scorer's rows ranked once (descending score, ties in row order), as indices that
    every resample reuses.

    Churners ("pos") are few: ``pos_unit`` is the unit (customer) of each, in rank order.
    Non-churners are many, and every metric needs their weight only at a few ranks: how many
    are ranked above, tied with or before each churner. ``segments`` counts each unit's
    non-churners between consecutive such ranks (sparse, ``(n_segments, n_units)``), so a
    block of counts times it, summed cumulatively, is the non-churner weight up to each of
    those ranks. For the i-th churner, indices into that cumulative sum: ``above`` / ``upto``:
    non-churners in higher / higher-or-equal score groups; ``ahead``: non-churners before it in
    rank order (ties by row); and ``group_pos``: churners up to the end of its score group.
    ``dates``: per snapshot date (in the order dates first appear in rank order), its code, and
    the units and outcomes of its rows in rank order."""

    pos_unit: np.ndarray
    segments: Any
    above: np.ndarray
    upto: np.ndarray
    ahead: np.ndarray
    group_pos: np.ndarray
    dates: tuple[tuple[int, np.ndarray, np.ndarray], ...]


def _rank(
    y: np.ndarray, p: np.ndarray, units: np.ndarray, n_units: int, date_codes: np.ndarray
) -> _Ranking:
    from scipy import sparse

    order = np.argsort(-p, kind="stable")
    ps, pos, us, ds = p[order], y[order] == 1, units[order], date_codes[order]
    start = np.r_[True, ps[1:] != ps[:-1]]
    group = np.cumsum(start) - 1
    neg_before = np.cumsum(~pos) - ~pos  # non-churners ranked before each row
    ends = np.r_[np.flatnonzero(start)[1:], len(ps)] - 1  # last row of each group
    g = group[pos]
    above = neg_before[np.flatnonzero(start)][g]
    upto = (neg_before + ~pos)[ends][g]
    ahead = neg_before[pos]
    n_neg = int((~pos).sum())
    marks = np.unique(np.r_[above, upto, ahead, n_neg])
    # Non-churner i (in rank order) falls in the segment of the first mark above i.
    segment = np.searchsorted(marks, np.arange(n_neg), side="right")
    counts = np.ones(n_neg)
    segments = sparse.csr_matrix((counts, (segment, us[~pos])), shape=(len(marks), n_units))
    # The cumulative sum over segments 0..j is the weight of non-churners ranked before mark j.
    return _Ranking(
        pos_unit=us[pos],
        segments=segments,
        above=np.searchsorted(marks, above),
        upto=np.searchsorted(marks, upto),
        ahead=np.searchsorted(marks, ahead),
        group_pos=np.cumsum(pos)[ends][g],
        dates=tuple(
            (int(code), us[ds == code], pos[ds == code].astype(float)) for code in pd.unique(ds)
        ),
    )


def _top_share(
    weights: np.ndarray, units: np.ndarray, y: np.ndarray, cut: np.ndarray
) -> np.ndarray:
    """Churners among the first ``cut`` (per resample) weighted rows, rows in rank order.

    Only a prefix of the ranks can reach ``cut``: it is widened until its weight covers ``cut``
    in every resample (a row past that point takes nothing)."""
    n = min(len(units), 2 * int(np.max(cut, initial=0.0)) + 64)
    while True:
        w = weights[units[:n]]
        before = np.cumsum(w, axis=0) - w
        if n == len(units) or (before[-1] + w[-1] >= cut).all():
            break
        n = min(len(units), 4 * n)
    return y[:n] @ np.clip(cut - before, 0.0, w)


def _ranked_metrics(
    r: _Ranking, weights: np.ndarray, per_date: np.ndarray, k: int
) -> dict[str, np.ndarray]:
    """Each metric of :data:`CI_METRICS` per resample (columns of ``weights``: ``(n_units, b)``
    counts); ``per_date``: ``(n_dates, b)``, each resample's weight on each snapshot date."""
    cn = np.cumsum(r.segments @ weights, axis=0)  # non-churner weight before each mark
    cp = _cumulative(weights, r.pos_unit)  # churner weight up to each churner
    wp = cp[1:] - cp[:-1]  # each churner's weight
    neg_total, churners = cn[-1], cp[-1]
    n = neg_total + churners
    upto = cn[r.upto]
    # ROC AUC: each churner against the stayers ranked below it, ties half.
    below = neg_total - 0.5 * (upto + cn[r.above])
    # Average precision: precision at the end of each churner's score group.
    at_group = cp[r.group_pos]
    precision = at_group / np.maximum(at_group + upto, 1e-300)
    # Top decile: the weight ranked before each churner, ties in row order.
    cut = np.ceil(n / 10)
    top = np.clip(cut - (cp[:-1] + cn[r.ahead]), 0.0, wp).sum(axis=0)
    sums, present = np.zeros(weights.shape[1]), np.zeros(weights.shape[1])
    for code, units, ys in r.dates:
        n_date = per_date[code]
        at_k = _top_share(weights, units, ys, np.minimum(float(k), n_date))
        sums += np.where(n_date > 0, at_k / np.maximum(np.minimum(float(k), n_date), 1.0), 0.0)
        present += n_date > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "roc_auc": np.where(
                churners * neg_total > 0,
                (wp * below).sum(axis=0) / (churners * neg_total),
                np.nan,
            ),
            "pr_auc": np.where(churners > 0, (wp * precision).sum(axis=0) / churners, np.nan),
            "top_decile_lift": np.where(churners > 0, (top / cut) / (churners / n), np.nan),
            "precision_at_k": np.where(present > 0, sums / present, np.nan),
        }


def _resampled(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    units: np.ndarray,
    n_units: int,
    blocks: Iterable[np.ndarray],
    dates: np.ndarray,
    capacity_k: int,
) -> dict[str, dict[str, np.ndarray]]:
    """:func:`resampled_metrics` with weights per unit: ``blocks`` of ``(b, n_units)`` counts,
    a row weighing its unit's count."""
    from scipy import sparse

    date_codes, keys = pd.factorize(dates, use_na_sentinel=False)
    # Each date's rows per unit: times a block of counts, each resample's weight on each date
    # (precision@K's cut), without expanding the counts onto rows.
    rows = sparse.csr_matrix((np.ones(len(units)), (date_codes, units)), shape=(len(keys), n_units))
    rankings = {
        s: _rank(y, np.asarray(p, dtype=float), units, n_units, date_codes)
        for s, p in scores.items()
    }
    out: dict[str, dict[str, list[np.ndarray]]] = {s: {m: [] for m in CI_METRICS} for s in scores}
    for counts in blocks:
        # Units by resample (float: sparse products in BLAS-free C loops; the counts are exact).
        weights = np.ascontiguousarray(counts.T, dtype=float)
        per_date = np.asarray(rows @ weights)
        for name, r in rankings.items():
            batch = _ranked_metrics(r, weights, per_date, capacity_k)
            for metric in CI_METRICS:
                out[name][metric].append(batch[metric])
    return {s: {m: np.concatenate(v) for m, v in ms.items()} for s, ms in out.items()}


def resampled_metrics(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    weights: np.ndarray | Iterable[np.ndarray],
    *,
    as_of: np.ndarray | None = None,
    capacity_k: int = 100,
) -> dict[str, dict[str, np.ndarray]]:
    """Each metric of :data:`CI_METRICS` for each scorer on each resample.

    Parameters
    ----------
    y
        Outcomes (0/1) of the rows.
    scores
        Scores per scorer, each aligned with ``y``.
    weights
        :func:`customer_weights` (``(n_resamples, n_rows)``; a row of ones is the data itself),
        or its blocks from :func:`weight_batches`.
    as_of, capacity_k
        Snapshot date per row and weekly capacity, for precision@K (as in ``evaluate``).

    Returns
    -------
    dict
        scorer -> metric -> array of ``n_resamples`` values (NaN where undefined, e.g. a
        resample without churners).
    """
    y = np.asarray(y, dtype=float)
    # Without snapshot dates, precision@K is cut once over all rows (as in evaluate).
    dates = np.zeros(len(y)) if as_of is None else np.asarray(as_of)
    if isinstance(weights, np.ndarray):
        matrix = weights
        weights = (matrix[i : i + _BATCH] for i in range(0, len(matrix), _BATCH))
    # Any row weights: every row is its own unit.
    blocks = (np.asarray(w, dtype=float) for w in weights)
    return _resampled(y, scores, np.arange(len(y)), len(y), blocks, dates, capacity_k)


def percentile_interval(values: np.ndarray, estimate: float, level: float = 0.95) -> Interval:
    """The central ``level`` percentile interval of ``values`` (NaNs ignored)."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return Interval(estimate, math.nan, math.nan)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def bootstrap_intervals(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    customer_ids: np.ndarray | pd.Series,
    *,
    as_of: np.ndarray | None = None,
    capacity_k: int = 100,
    n_resamples: int = 1000,
    seed: int = 0,
    reference: str | None = None,
) -> dict[str, dict[str, Interval]]:
    """95% customer-bootstrap intervals of each scorer's metrics, and paired differences.

    Parameters
    ----------
    y, scores, as_of, capacity_k
        As in :func:`resampled_metrics`.
    customer_ids
        Customer of each row: the resampling unit.
    n_resamples, seed
        Bootstrap size and seed.
    reference
        A scorer name (the model): adds ``"<reference>-<other>"`` entries, the difference
        reference minus each other scorer, computed on the same resamples (paired).

    Returns
    -------
    dict
        name -> metric -> :class:`Interval`; the estimate is the metric on the data itself.
    """
    y = np.asarray(y, dtype=float)
    dates = np.zeros(len(y)) if as_of is None else np.asarray(as_of)
    units, n_units = _customer_codes(customer_ids)
    # The data itself first (every customer once: every row weight 1), then the resamples, in
    # blocks of about _CELLS row weights; every scorer is ranked once for all of them.
    batch = max(1, _CELLS // max(len(y), 1))
    blocks = itertools.chain(
        [np.ones((1, n_units), dtype=np.int32)], count_batches(n_units, n_resamples, seed, batch)
    )
    both = _resampled(y, scores, units, n_units, blocks, dates, capacity_k)
    point = {s: {m: v[:1] for m, v in ms.items()} for s, ms in both.items()}
    boot = {s: {m: v[1:] for m, v in ms.items()} for s, ms in both.items()}
    out = {
        name: {m: percentile_interval(v, point[name][m][0]) for m, v in ms.items()}
        for name, ms in boot.items()
    }
    if reference is not None:
        for other in scores:
            if other == reference:
                continue
            out[f"{reference}-{other}"] = {
                m: percentile_interval(
                    boot[reference][m] - boot[other][m],
                    point[reference][m][0] - point[other][m][0],
                )
                for m in boot[reference]
            }
    return out
