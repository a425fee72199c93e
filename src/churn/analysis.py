"""What the analyst notebooks compute, as pure functions over DataFrames.

The notebooks in ``notebooks/`` tell stories with these; anything a notebook needs twice lives
here, so the notebooks hold wiring and prose, not logic, and every number they show is tested.

- **Churn rates with confidence intervals** (:func:`churn_rates`, :func:`wilson_interval`):
  the share of labelled snapshots that churned within the horizon, per group, with a Wilson score
  interval (exact enough for small groups and rates near 0, unlike the normal approximation).
- **Metric cohorts** (:func:`metric_cohorts`), as in *Fighting Churn with Data*: bin one feature
  into quantiles and show the churn rate per bin against the bin's average value.
- **Coverage** (:func:`table_coverage`, :func:`active_customers`): rows per table and month.
- **Model evaluation** (:func:`test_window_rows`, :func:`lift_table`, :func:`metrics_by_group`).
- **Driver families** (:func:`family_contributions`, :func:`driver_mix`,
  :func:`family_importance_by`, :func:`shap_explanation`).

Independence
------------
A labelled snapshot frame holds one row per customer and week, and the label windows of weekly
snapshots overlap (a 90-day horizon spans 13 weekly rows of the same customer), so those rows are
not independent and an interval over all of them would be far too narrow.
:func:`spaced_snapshots` keeps snapshot dates at least a horizon apart: each customer then
appears at most once per non-overlapping label window, and the intervals mean what they say.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.modeling import evaluate

if TYPE_CHECKING:
    from pandas.api.typing import DataFrameGroupBy

#: Two-sided 95% normal quantile.
Z95 = 1.959963984540054

#: Label of the bin that holds rows whose feature value is missing.
MISSING = "missing"

_WINDOW = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


# --------------------------------------------------------------------------------------------
# Rates and intervals
# --------------------------------------------------------------------------------------------


def wilson_interval(successes: Any, trials: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion, vectorised.

    Parameters
    ----------
    successes, trials
        Counts (scalars or arrays of one shape). Trials of 0 give NaN bounds.
    z
        Normal quantile; the default gives a two-sided 95% interval.

    Returns
    -------
    low, high : ndarray of float
        Bounds in [0, 1].
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("successes must lie between 0 and trials")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        # Rounding can put a bound a hair past the estimate at 0 or 1 successes-share; the
        # exact Wilson bounds there are 0 and 1.
        low = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        high = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return low, high


def _labelled(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    if label not in frame.columns:
        raise ChurnError(
            f"the frame has no {label!r} column; build it with churn.dataset.build_training_frame"
        )
    # NaN labels are right-censored windows (or churn during the lead time): no outcome yet.
    return frame.loc[frame[label].notna()]


def _rate_table(grouped: DataFrameGroupBy, label: str) -> pd.DataFrame:
    out = grouped[label].agg(n="size", churners="sum")
    out["churners"] = out["churners"].astype(float)
    out["n"] = out["n"].astype(int)
    out["churn_rate"] = out["churners"] / out["n"]
    low, high = wilson_interval(out["churners"].to_numpy(), out["n"].to_numpy())
    out["ci_low"], out["ci_high"] = low, high
    return out


def churn_rates(
    frame: pd.DataFrame, by: str | Sequence[str], *, label: str = "label", min_rows: int = 1
) -> pd.DataFrame:
    """Churn rate within the horizon per group of labelled snapshots, with a 95% Wilson interval.

    Parameters
    ----------
    frame
        Labelled snapshots (``label`` 1.0 churned / 0.0 stayed / NaN censored) with the grouping
        column(s). Censored rows are left out. Not modified.
    by
        Column name(s) to group by. Missing group values form their own group, labelled
        ``"missing"``, so nobody silently drops out of the table.
    label
        The outcome column.
    min_rows
        Groups with fewer labelled rows are dropped (their interval would span most of [0, 1]).

    Returns
    -------
    DataFrame
        One row per group: the group column(s), ``n``, ``churners``, ``churn_rate``, ``ci_low``,
        ``ci_high``; in group order.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ChurnError(f"the frame has no column(s) {missing} to group churn rates by")
    rows = _labelled(frame, label)
    work = rows[keys + [label]].copy()
    for k in keys:
        col = work[k]
        if isinstance(col.dtype, pd.CategoricalDtype):
            if col.isna().any():
                work[k] = col.cat.add_categories([MISSING]).fillna(MISSING)
        elif col.isna().any():
            work[k] = col.astype(object).where(col.notna(), MISSING)
    out = _rate_table(work.groupby(keys, observed=True, sort=True, dropna=False), label)
    out = out.loc[out["n"] >= min_rows]
    return out.reset_index()


def spaced_snapshots(frame: pd.DataFrame, every_days: int) -> pd.DataFrame:
    """Rows of the snapshot dates at least ``every_days`` apart, counting back from the newest.

    With ``every_days`` = the label horizon (plus lead), no two kept rows of one customer have
    overlapping label windows, so per-row confidence intervals are honest (module docstring).
    Counting back from the newest date keeps the freshest labelled snapshot.
    """
    if every_days <= 0:
        raise ValueError("every_days must be positive")
    dates = pd.DatetimeIndex(pd.to_datetime(frame["as_of"]).unique()).sort_values()
    kept: list[pd.Timestamp] = []
    for d in reversed(dates):
        if not kept or (kept[-1] - d) >= pd.Timedelta(days=every_days):
            kept.append(d)
    return frame.loc[pd.to_datetime(frame["as_of"]).isin(pd.DatetimeIndex(kept))]


def metric_cohorts(
    frame: pd.DataFrame,
    feature: str,
    *,
    n_bins: int = 10,
    label: str = "label",
    include_missing: bool = True,
) -> pd.DataFrame:
    """Churn rate per quantile bin of one feature: a *metric cohort* table (fightchurn).

    Numeric features are cut into ``n_bins`` equal-count bins (fewer when many values tie, e.g.
    counts that are mostly 0); each bin reports its mean feature value, so the cohorts plot
    against the metric's own scale. Category and text features get one cohort per value.

    Parameters
    ----------
    frame
        Labelled snapshots with ``feature`` (censored rows are left out). Not modified.
    feature
        Column to cohort by.
    n_bins
        Number of quantile bins for a numeric feature.
    label
        The outcome column.
    include_missing
        Add a cohort for rows where the feature is missing (they often churn differently:
        "no NPS answer" is a signal in itself).

    Returns
    -------
    DataFrame
        One row per cohort, in metric order (missing last): ``cohort`` (a label),
        ``metric_mean`` (NaN for categories and for the missing cohort), ``metric_min``,
        ``metric_max``, ``n``, ``churners``, ``churn_rate``, ``ci_low``, ``ci_high``.
    """
    if feature not in frame.columns:
        raise ChurnError(f"the frame has no column {feature!r} to build metric cohorts from")
    rows = _labelled(frame, label)
    values = rows[feature]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    present = values.notna()
    parts: list[pd.DataFrame] = []
    if numeric and present.any():
        x = values[present].astype(float)
        parts.append(_numeric_cohorts(x, rows.loc[present, label], label, n_bins))
    elif present.any():
        work = pd.DataFrame(
            {"cohort": values[present].astype(str), label: rows.loc[present, label]}
        )
        parts.append(_text_cohorts(work.groupby("cohort", sort=True), label))
    if include_missing and (~present).any():
        miss = pd.DataFrame({"cohort": MISSING, label: rows.loc[~present, label]})
        parts.append(_text_cohorts(miss.groupby("cohort"), label))
    if not parts:
        return pd.DataFrame(columns=_COHORT_COLUMNS)
    return pd.concat(parts, ignore_index=True)[_COHORT_COLUMNS]


#: Columns of a metric cohort table, in order.
_COHORT_COLUMNS = [
    "cohort",
    "metric_mean",
    "metric_min",
    "metric_max",
    "n",
    "churners",
    "churn_rate",
    "ci_low",
    "ci_high",
]


def _numeric_cohorts(x: pd.Series, outcome: pd.Series, label: str, n_bins: int) -> pd.DataFrame:
    """Cohorts of a numeric feature's present values ``x``: quantile bins, ties kept together."""
    # Ranks break ties so qcut always finds n_bins edges; equal values can then straddle
    # a boundary, so bins are re-merged on their value ranges below.
    codes = pd.qcut(x.rank(method="first"), q=min(n_bins, len(x)), labels=False)
    work = pd.DataFrame({"x": x, "bin": codes, label: outcome})
    work = _merge_tied_bins(work)
    table = _rate_table(work.groupby("bin", sort=True), label)
    stats = work.groupby("bin", sort=True)["x"].agg(["mean", "min", "max"])
    table["metric_mean"] = stats["mean"]
    table["metric_min"] = stats["min"]
    table["metric_max"] = stats["max"]
    table["cohort"] = [
        _range_label(lo, hi) for lo, hi in zip(stats["min"], stats["max"], strict=True)
    ]
    return table.reset_index(drop=True)


def _text_cohorts(grouped: DataFrameGroupBy, label: str) -> pd.DataFrame:
    """Cohorts grouped by a ``cohort`` label (category values, or the missing cohort)."""
    table = _rate_table(grouped, label).reset_index()
    table["metric_mean"] = table["metric_min"] = table["metric_max"] = np.nan
    return table


def _merge_tied_bins(work: pd.DataFrame) -> pd.DataFrame:
    """Give every row of one value the bin of that value's first row, then renumber bins 0..k-1.

    Without this, a feature that is 0 for 60% of rows would split its zeros over six "different"
    cohorts with identical metric values.
    """
    first_bin = work.groupby("x")["bin"].transform("min")
    out = work.assign(bin=first_bin)
    out["bin"] = pd.factorize(out["bin"], sort=True)[0]
    return out


def _range_label(lo: float, hi: float) -> str:
    def fmt(v: float) -> str:
        if not math.isfinite(v):
            return str(v)
        if abs(v) >= 100 or float(v).is_integer():
            return f"{v:,.0f}"
        return f"{v:.3g}"

    return fmt(lo) if lo == hi else f"{fmt(lo)} to {fmt(hi)}"


# --------------------------------------------------------------------------------------------
# The tables over time
# --------------------------------------------------------------------------------------------


def table_coverage(tables: Tables, freq: str = "MS") -> pd.DataFrame:
    """Rows per table and period: how far back each table goes and where it thins out.

    Events are counted at their own time (interactions and NPS answers at ``timestamp``, usage
    at ``date``; NPS sends without an answer at ``sent_at``); customers count signups and churns.

    Parameters
    ----------
    tables
        The validated dataset.
    freq
        pandas period start alias: ``"MS"`` months, ``"W-MON"`` weeks, ``"QS"`` quarters.

    Returns
    -------
    DataFrame
        Index: period start; one column per series (``signups``, ``churns``,
        ``interactions``, ``nps answers``, ``nps unanswered``, ``usage rows``), 0 where none.
    """
    series: dict[str, pd.Series] = {}
    cust = tables.customers
    series["signups"] = cust["signup_date"]
    if "churn_date" in cust.columns:
        series["churns"] = cust["churn_date"]
    series["interactions"] = tables.interactions["timestamp"]
    nps = tables.nps
    answered = nps["score"].notna() if "score" in nps.columns else pd.Series(False, nps.index)
    series["nps answers"] = nps.loc[answered, "timestamp"]
    if "sent_at" in nps.columns:
        series["nps unanswered"] = nps.loc[~answered, "sent_at"]
    series["usage rows"] = tables.usage["date"]
    counts = {}
    for name, ts in series.items():
        ts = pd.to_datetime(ts).dropna()
        if ts.empty:
            counts[name] = pd.Series(dtype="int64")
            continue
        counts[name] = ts.dt.to_period(_period_alias(freq)).dt.start_time.value_counts()
    out = pd.DataFrame(counts).fillna(0).astype("int64").sort_index()
    out.index.name = "period"
    return out


def _period_alias(freq: str) -> str:
    # Period aliases differ from offset aliases for month/quarter/year starts.
    return {"MS": "M", "QS": "Q", "YS": "Y", "D": "D"}.get(freq, freq)


def active_customers(customers: pd.DataFrame, dates: Sequence[Any]) -> pd.Series:
    """Number of customers active at each instant, by the spine's rule.

    Active at ``d``: signed up strictly before ``d`` and not churned before ``d``
    (``churn_date`` unknown or ``>= d``), the same rule as ``churn.spine.build_spine``.
    """
    signup = pd.to_datetime(customers["signup_date"]).to_numpy()
    churn = (
        pd.to_datetime(customers["churn_date"]).to_numpy()
        if "churn_date" in customers.columns
        else np.full(len(customers), np.datetime64("NaT"), dtype="datetime64[ns]")
    )
    idx = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    counts = [
        int(((signup < np.datetime64(d)) & (np.isnat(churn) | (churn >= np.datetime64(d)))).sum())
        for d in idx
    ]
    return pd.Series(counts, index=idx, name="active_customers")


def signup_cohort(signup_date: pd.Series, freq: str = "Q") -> pd.Series:
    """Signup cohort label per row (``"2024Q3"`` for quarters), ordered as a category."""
    periods = pd.to_datetime(signup_date).dt.to_period(freq)
    levels = sorted(periods.dropna().unique())
    return pd.Series(
        pd.Categorical(periods.astype(str).where(periods.notna()), [str(p) for p in levels]),
        index=signup_date.index,
        name="signup_cohort",
    )


# --------------------------------------------------------------------------------------------
# Model evaluation
# --------------------------------------------------------------------------------------------


def window_bounds(described: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last as_of of a window as ``OutOfTimeSplit.describe`` writes it.

    ``"2025-04-07..2025-04-28 (4 dates)"`` -> ``(2025-04-07, 2025-04-28)``.
    """
    m = _WINDOW.match(str(described))
    if not m:
        raise ChurnError(
            f"cannot read a window from {described!r}: expected 'YYYY-MM-DD..YYYY-MM-DD (n dates)'"
        )
    return pd.Timestamp(m.group(1)), pd.Timestamp(m.group(2))


def test_window_rows(
    tables: Tables,
    test_as_of: str,
    *,
    horizon_days: int,
    lead_days: int = 0,
    cadence: str = "W-MON",
    spec: Any = None,
) -> pd.DataFrame:
    """Rebuild a model's out-of-time test rows: spine, labels and features at its test dates.

    Only the test snapshots are built (not the whole history), with the same functions as
    training, so scoring them with the model reproduces its logged test metrics.

    Parameters
    ----------
    tables
        The dataset the model was trained on.
    test_as_of
        The run's ``test_as_of`` parameter (``"start..end (n dates)"``).
    horizon_days, lead_days, cadence
        The run's snapshot settings.
    spec
        ``churn.features.FeatureSpec``; ``None`` derives it from ``tables`` as training did.

    Returns
    -------
    DataFrame
        ``customer_id``, ``as_of``, ``label`` and the features; only rows with a known label.
    """
    from churn.dataset import active_spine
    from churn.features import build_features
    from churn.labels import attach_labels
    from churn.spine import snapshot_dates

    start, end = window_bounds(test_as_of)
    dates = snapshot_dates(start, end, cadence)
    spine = active_spine(tables, dates)
    labelled = attach_labels(spine, tables, horizon_days, lead_days)
    feats = build_features(spine, tables, spec=spec)
    frame = pd.concat([labelled, feats.drop(columns=["customer_id", "as_of"])], axis=1)
    return frame.loc[frame["label"].notna()].reset_index(drop=True)


def lift_table(y: Any, p: Any, n_bins: int = 10) -> pd.DataFrame:
    """Churn rate and lift per score decile (highest scores first), with cumulative capture.

    Returns
    -------
    DataFrame
        One row per bin: ``bin`` (1 = highest scores), ``n``, ``churners``, ``churn_rate``,
        ``ci_low``, ``ci_high``, ``lift`` (bin rate / overall rate), ``cum_share_contacted`` and
        ``cum_share_captured`` (share of all churners found in bins 1..bin).
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError("y and p must be 1-d arrays of one length")
    order = np.argsort(-p, kind="stable")
    rows = []
    total = y.sum()
    base = y.mean() if len(y) else math.nan
    seen = caught = 0.0
    for b, idx in enumerate(np.array_split(order, n_bins), start=1):
        if len(idx) == 0:
            continue
        k = float(y[idx].sum())
        seen += len(idx)
        caught += k
        rows.append(
            {
                "bin": b,
                "n": len(idx),
                "churners": k,
                "churn_rate": k / len(idx),
                "lift": (k / len(idx)) / base if base else math.nan,
                "cum_share_contacted": seen / len(y),
                "cum_share_captured": caught / total if total else math.nan,
            }
        )
    out = pd.DataFrame(rows)
    low, high = wilson_interval(out["churners"].to_numpy(), out["n"].to_numpy())
    out.insert(4, "ci_low", low)
    out.insert(5, "ci_high", high)
    return out


def metrics_by_group(
    y: Any,
    p: Any,
    groups: Any,
    *,
    as_of: Any = None,
    capacity_k: int = 100,
    min_rows: int = 30,
) -> pd.DataFrame:
    """``churn.evaluation.evaluate`` per group (segment, plan, ...), beside the overall numbers.

    Parameters
    ----------
    y, p
        Outcomes and calibrated probabilities.
    groups
        Group label per row.
    as_of
        Snapshot date per row (the @K metrics are per week, as in ``evaluate``).
    capacity_k
        Weekly capacity for the @K metrics.
    min_rows
        Groups with fewer rows are left out (their AUC would be noise).

    Returns
    -------
    DataFrame
        Index: ``"all"`` then each group; columns: ``n_rows``, ``churn_rate``, ``roc_auc``,
        ``pr_auc``, ``brier``, ``ece``, ``top_decile_lift``, ``mean_predicted``. Metrics
        undefined for a group (one class only) are NaN.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    g = pd.Series(groups).astype(object).fillna(MISSING).to_numpy()
    when = None if as_of is None else np.asarray(as_of)
    keep = ["n_rows", "churn_rate", "roc_auc", "pr_auc", "brier", "ece", "top_decile_lift"]
    rows: dict[str, dict[str, float]] = {}

    def one(mask: np.ndarray) -> dict[str, float]:
        m = evaluate(
            y[mask],
            p[mask],
            as_of=None if when is None else when[mask],
            capacity_k=capacity_k,
        )
        out = {k: m[k] for k in keep}
        out["mean_predicted"] = float(p[mask].mean())
        return out

    rows["all"] = one(np.ones(len(y), dtype=bool))
    for name in sorted(pd.unique(g), key=str):
        mask = g == name
        if mask.sum() >= min_rows:
            rows[str(name)] = one(mask)
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------------------------
# Drivers
# --------------------------------------------------------------------------------------------


def family_contributions(
    contributions: pd.DataFrame, families: Mapping[str, str], other: str = "other"
) -> pd.DataFrame:
    """TreeSHAP contributions summed per driver family, one column per family.

    SHAP values are additive in log-odds, so a family's contribution is the sum of its features'
    (``bias`` is left out). Features missing from ``families`` count as ``other``.
    """
    names = [c for c in contributions.columns if c != "bias"]
    fam = pd.Series({n: families.get(n, other) for n in names})
    out = contributions[names].T.groupby(fam.reindex(names).to_numpy(), sort=True).sum().T
    out.index = contributions.index
    return out


def driver_mix(
    frame: pd.DataFrame, by: str, *, driver: str = "main_driver", none_label: str = "none"
) -> pd.DataFrame:
    """Share of customers whose main driver is each family, per group (rows sum to 1).

    Parameters
    ----------
    frame
        Scored customers with ``by`` and ``driver`` (``churn.scoring.score_customers`` output).
    by
        Group column, e.g. ``segment`` or ``account_owner``.
    driver
        Family column; an empty value (no risk-raising feature) counts as ``none_label``.

    Returns
    -------
    DataFrame
        Index: groups (largest first); columns: the families, then ``n`` (customers in group).
    """
    for col in (by, driver):
        if col not in frame.columns:
            raise ChurnError(f"the frame has no column {col!r}; pass scored customers")
    fam = frame[driver].astype(object).where(frame[driver].notna(), none_label)
    group = frame[by].astype(object).where(frame[by].notna(), MISSING)
    counts = pd.crosstab(group.to_numpy(), fam.to_numpy())
    n = counts.sum(axis=1)
    shares = counts.div(n, axis=0)
    shares["n"] = n
    shares = shares.sort_values("n", ascending=False, kind="stable")
    shares.index.name = by
    shares.columns.name = None
    return shares


def family_importance_by(
    contributions: pd.DataFrame,
    families: Mapping[str, str],
    groups: pd.Series,
) -> pd.DataFrame:
    """Mean absolute family contribution (log-odds) per group: which families move risk where.

    ``groups`` must share ``contributions``' index. Returns groups x families.
    """
    if not groups.index.equals(contributions.index):
        raise ValueError("groups and contributions must share the same index (same rows)")
    fam = family_contributions(contributions, families).abs()
    key = groups.astype(object).where(groups.notna(), MISSING)
    return fam.groupby(key.to_numpy(), sort=True).mean()


def shap_explanation(contributions: pd.DataFrame, X: pd.DataFrame) -> Any:
    """A ``shap.Explanation`` of TreeSHAP log-odds contributions, for SHAP's own plots.

    Category features are shown by their category code (SHAP colours by number); ``X`` keeps
    its values for the caller's text. Values are log-odds of the uncalibrated model, so plots
    label them as such, never as percentages.
    """
    import shap

    features = [c for c in contributions.columns if c != "bias"]
    data = X.loc[:, features].copy()
    for c in features:
        if isinstance(data[c].dtype, pd.CategoricalDtype):
            data[c] = data[c].cat.codes.replace(-1, np.nan)
        else:
            data[c] = pd.to_numeric(data[c], errors="coerce")
    return shap.Explanation(
        values=contributions[features].to_numpy(dtype=float),
        base_values=contributions["bias"].to_numpy(dtype=float),
        data=data.to_numpy(dtype=float),
        feature_names=features,
    )


# --------------------------------------------------------------------------------------------
# Drawing (on an Axes the notebook owns; no pyplot state)
# --------------------------------------------------------------------------------------------


def plot_rates(
    ax: Any,
    table: pd.DataFrame,
    *,
    x: str = "cohort",
    title: str,
    xlabel: str,
    overall: float | None = None,
    numeric_x: bool = False,
) -> Any:
    """Churn rate per cohort with its 95% interval as error bars, in percent.

    Parameters
    ----------
    ax
        A matplotlib Axes.
    table
        :func:`churn_rates` or :func:`metric_cohorts` output.
    x
        Column with the cohort label (or ``metric_mean`` with ``numeric_x``).
    title, xlabel
        Texts; the y axis is always "churned within the horizon (%)".
    overall
        The overall rate, drawn as a dotted reference line.
    numeric_x
        Plot at the metric's mean value (a metric cohort plot); missing cohorts are dropped.
    """
    t = table.dropna(subset=[x]) if numeric_x else table
    rate = 100 * t["churn_rate"].to_numpy(dtype=float)
    err = np.clip(
        np.vstack(
            [
                rate - 100 * t["ci_low"].to_numpy(dtype=float),
                100 * t["ci_high"].to_numpy(dtype=float) - rate,
            ]
        ),
        0.0,
        None,
    )
    pos = t[x].to_numpy(dtype=float) if numeric_x else np.arange(len(t))
    ax.errorbar(pos, rate, yerr=err, fmt="o-" if numeric_x else "o", capsize=3, lw=1.2)
    if not numeric_x:
        labels = [str(v) for v in t[x]]
        ax.set_xticks(pos, labels)
        if max((len(s) for s in labels), default=0) * len(labels) > 60:
            ax.tick_params(axis="x", labelrotation=45)
            for lab in ax.get_xticklabels():
                lab.set_horizontalalignment("right")
    if overall is not None:
        ax.axhline(100 * overall, ls=":", color="grey", label=f"overall {overall:.1%}")
        ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Churned within the horizon (%)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    return ax
