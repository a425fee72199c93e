"""Lifetime activity: a buyer over their whole history, as known strictly before ``as_of``.

For churn by inactivity (a purchase log: no purchase for N days is churn) the features that
describe a customer's rhythm matter more than the last 30-180 days: how often they have bought
since their first purchase, how long they usually wait between purchases and how the present
silence compares with that, what they spend and whether the latest purchase was smaller than
the earlier ones. Rates and ratios to the customer's own rhythm keep their meaning at a later
``as_of`` whose recency and tenure lie beyond anything seen in training (trees cannot
extrapolate raw days; "silent 2.5 times their usual gap" needs no extrapolation).

An "active period" is a usage row with a positive activity metric (a purchase day in a daily
purchase log). It is visible at ``as_of`` on the engine's rule: its whole period ended by then
and it was recorded strictly before it (``avail < as_of``). The lookback is unbounded: one range
join of the spine to every visible active period of the customer, the gaps between consecutive
periods from a window function, one ``GROUP BY`` snapshot row. Columns are declared in
``churn.features.registry`` (``act_*``, ``requires="activity_history"``).

Days themselves still grow past the training range (a buyer silent 272 days at a test date when
no training snapshot saw more than 179), so :func:`cohort_percentiles` adds the RFM analyst's
answer: recency and age as percentiles among the customers of the same snapshot (the spine rows
sharing its ``as_of``), which lie in [0, 1] at any date. They read only those customers'
features at that as_of, so they are as point-in-time as the days they rank.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from churn.contract import USAGE_PERIODS, Tables
from churn.features.registry import ACTIVITY_WINDOWS, SEAT_METRICS, slug

#: Cross-sectional percentile column -> the days column it ranks within each as_of.
PERCENTILES: dict[str, str] = {
    "act_recency_pct": "util_days_since_active",
    "act_age_pct": "act_days_since_first",
}

#: Floor of the exposure in the lifetime rate, days (a first purchase yesterday is not 30 a month).
MIN_EXPOSURE_DAYS = 30.0


def activity_spec(tables: Tables) -> dict[str, Any]:
    """The ``FeatureSpec`` fields of the family: on for churn by inactivity with usage activity.

    The count windows are the ``ACTIVITY_WINDOWS`` shorter than the usage history (a window as
    long as the history only repeats the lifetime count).
    """
    usage = tables.usage
    metrics = [m for m in tables.usage_metrics if m in usage and m not in SEAT_METRICS]
    if tables.churn_definition != "inactivity" or usage.empty or not metrics:
        return {}
    dates = pd.to_datetime(usage["date"]).dropna()
    if dates.empty:
        return {}
    span = (dates.max() + USAGE_PERIODS[tables.usage_period] - dates.min()).days
    return {
        "activity_history": True,
        "activity_windows": tuple(w for w in ACTIVITY_WINDOWS if w < span),
    }


def _days(later: Any, earlier: Any) -> Any:
    return later.delta(earlier, unit="microsecond").cast("float64") / 86_400e6


def _query(engine: Any, chunk: pd.DataFrame) -> pd.DataFrame:
    """Per spine row: counts, first/last active period, gap moments and metric sums."""
    ibis, spec, u = engine.ibis, engine.spec, engine.usage_t
    _, hi = engine._bounds(chunk)
    s = engine._spine(chunk)
    act = u.filter(u.active, u.avail < hi)
    # Visible: the period ended by as_of and was recorded before it (avail < as_of).
    j = s.join(act, [s.customer_id == act.customer_id, act.avail < s.as_of])
    j = j.mutate(_prev=j.end.lag().over(ibis.window(group_by="_row", order_by="end")))
    gap = _days(j.end, j._prev)
    aggs: dict[str, Any] = {
        "n": j.end.count(),
        "first": j.end.min(),
        "last": j.end.max(),
        "gap_n": gap.count(),
        "gap_sum": gap.sum(),
        "gap_sq": (gap * gap).sum(),
    }
    for w in spec.activity_windows:
        aggs[f"n_{w}"] = j.end.count(where=j.end > j.as_of - ibis.interval(days=w))
    for m in spec.usage_metrics:
        c = j[f"m_{slug(m)}"]
        k = slug(m)
        aggs[f"{k}__sum"] = c.sum()
        aggs[f"{k}__n"] = c.count()
        aggs[f"{k}__last"] = c.argmax(j.end)
    g = j.group_by(["_row", "as_of"]).aggregate(**aggs)
    g = g.mutate(since_first=_days(g.as_of, g["first"]), since_last=_days(g.as_of, g["last"]))
    return engine._frame(engine._run(g), chunk)


def lifetime_activity(engine: Any, chunk: pd.DataFrame) -> pd.DataFrame:
    """The ``act_*`` columns for one chunk of the spine (see the module docstring).

    ``engine`` is ``churn.features.engine._Engine``: its backend, its usage table
    (with ``end``, ``avail``, ``active`` and the ``m_<metric>`` columns) and its helpers.
    """
    r = _query(engine, chunk)
    n = r["n"].fillna(0).astype("float64")
    out = pd.DataFrame(index=chunk["_row"].to_numpy())
    out["act_periods_total"] = n.to_numpy()
    for w in engine.spec.activity_windows:
        out[f"act_periods_{w}d"] = r[f"n_{w}"].fillna(0).to_numpy()
    since_first = r["since_first"].astype("float64")
    out["act_days_since_first"] = since_first.to_numpy()
    exposure = np.maximum(since_first.to_numpy(), MIN_EXPOSURE_DAYS)
    out["act_periods_per_30d"] = np.where(n > 0, n.to_numpy() * 30.0 / exposure, 0.0)
    k = r["gap_n"].fillna(0).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(k >= 1, r["gap_sum"].to_numpy(dtype=float) / k, np.nan)
        var = r["gap_sq"].to_numpy(dtype=float) / k - mean**2
        out["act_gap_mean_days"] = mean
        out["act_gap_std_days"] = np.where(k >= 2, np.sqrt(np.maximum(var, 0.0)), np.nan)
        ratio = r["since_last"].to_numpy(dtype=float) / mean
        out["act_recency_over_gap"] = np.where(mean > 0, ratio, np.nan)
        for m in engine.spec.usage_metrics:
            key = slug(m)
            total = r[f"{key}__sum"].to_numpy(dtype=float)
            count = r[f"{key}__n"].fillna(0).to_numpy(dtype=float)
            last = r[f"{key}__last"].to_numpy(dtype=float)
            earlier = (total - last) / (count - 1)
            out[f"act_{key}_total"] = np.nan_to_num(total, nan=0.0)
            out[f"act_{key}_mean"] = np.where(count > 0, total / count, np.nan)
            out[f"act_{key}_last_vs_mean"] = np.where(
                (count >= 2) & (earlier > 0), last / earlier, np.nan
            )
    return out


def cohort_percentiles(feats: pd.DataFrame, as_of: pd.Series) -> pd.DataFrame:
    """:data:`PERCENTILES` of ``feats``: each row's rank within the rows of the same ``as_of``
    (average rank of ties over the rows with a value, in (0, 1]); missing where the ranked
    column is missing. ``as_of`` is aligned with ``feats`` by position."""
    keys = np.asarray(as_of)
    out = pd.DataFrame(index=feats.index)
    for name, col in PERCENTILES.items():
        values = pd.Series(feats[col].to_numpy(dtype=float), index=feats.index)
        out[name] = values.groupby(keys).rank(pct=True).to_numpy()
    return out
