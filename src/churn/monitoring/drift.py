"""Drift: has this week's population moved away from the one the champion was trained on?

Per feature, the population stability index (PSI) between the reference (features at
snapshot dates of the champion's latest labelled window: ``churn.monitoring.reference_dates``)
and the week, and the share of missing values in each.

Binning, stated once:

- a numeric feature: ``bins`` equal-frequency bins cut at the reference's quantiles (deciles by
  default; repeated edges merged, so a feature with few distinct values gets fewer bins), the
  outer bins open-ended so every current value falls somewhere;
- a categorical feature: one bin per category seen in either frame;
- missing values: one more bin in both cases, so a feature that starts arriving empty drifts;
- shares are floored at 0.0001 before the logarithm, so an empty bin costs a finite amount.

``PSI = sum_b (cur_b - ref_b) * ln(cur_b / ref_b)``; the usual reading is below 0.1 stable,
0.1-0.25 moderate, above 0.25 significant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: Floor of a bin's share before the logarithm.
PSI_FLOOR = 1e-4


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def bin_shares(reference: pd.Series, current: pd.Series, bins: int = 10) -> pd.DataFrame:
    """Share of the reference and of the current values in each bin (see the module docstring).

    Returns a frame with columns ``bin``, ``reference``, ``current`` (shares summing to 1 each
    over the non-empty frames).
    """
    if _is_numeric(reference) and _is_numeric(current):
        ref = pd.to_numeric(reference, errors="coerce").astype(float)
        cur = pd.to_numeric(current, errors="coerce").astype(float)
        finite = ref[np.isfinite(ref)]
        qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]) if len(finite) else []
        edges = np.r_[-np.inf, np.unique(qs), np.inf]
        labels = [f"[{a:.4g}, {b:.4g})" for a, b in zip(edges[:-1], edges[1:], strict=True)]

        def codes(v: pd.Series) -> pd.Series:
            idx = np.searchsorted(edges, v.to_numpy(), side="right") - 1
            out = pd.Series(np.asarray(labels, dtype=object)[np.clip(idx, 0, len(labels) - 1)])
            return out.where(np.isfinite(v.to_numpy()), "missing")

        ref_bins, cur_bins, order = codes(ref), codes(cur), [*labels, "missing"]
    else:
        ref_bins = reference.astype(object).where(reference.notna(), "missing").astype(str)
        cur_bins = current.astype(object).where(current.notna(), "missing").astype(str)
        order = sorted(set(ref_bins) | set(cur_bins))
    r = ref_bins.value_counts(normalize=True).reindex(order, fill_value=0.0)
    c = cur_bins.value_counts(normalize=True).reindex(order, fill_value=0.0)
    return pd.DataFrame({"bin": order, "reference": r.to_numpy(), "current": c.to_numpy()})


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (module docstring)."""
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    shares = bin_shares(reference, current, bins)
    r = np.maximum(shares["reference"].to_numpy(), PSI_FLOOR)
    c = np.maximum(shares["current"].to_numpy(), PSI_FLOOR)
    return float(((c - r) * np.log(c / r)).sum())


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    *,
    descriptions: Mapping[str, str] | None = None,
    kinds: Mapping[str, str] | None = None,
    bins: int = 10,
    psi_threshold: float = 0.25,
    missing_threshold: float = 0.10,
    flag_context: bool = False,
) -> pd.DataFrame:
    """PSI and missing shares of each feature, with a flag and its reason, largest PSI first.

    Parameters
    ----------
    reference, current
        Feature frames (the champion's latest labelled window; the week).
    features
        Columns to check (the model's features).
    descriptions, kinds
        Plain-English description and kind (``behaviour``/``context``) per feature, from the
        registry (``churn.features.feature_catalogue``).
    bins, psi_threshold, missing_threshold, flag_context
        ``monitoring`` settings: see ``churn.settings.MonitoringSettings``.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``description``, ``kind``, ``psi``, ``missing_reference``,
        ``missing_current``, ``flagged`` (bool) and ``why`` (plain words; empty if not flagged).
    """
    descriptions, kinds = descriptions or {}, kinds or {}
    rows = []
    for name in features:
        ref, cur = reference[name], current[name]
        value = psi(ref, cur, bins)
        miss_ref = float(ref.isna().mean()) if len(ref) else float("nan")
        miss_cur = float(cur.isna().mean()) if len(cur) else float("nan")
        why = []
        if np.isfinite(value) and value >= psi_threshold:
            why.append(f"distribution moved (PSI {value:.2f} >= {psi_threshold:g})")
        if abs(miss_cur - miss_ref) >= missing_threshold:
            why.append(f"missing {miss_ref:.0%} -> {miss_cur:.0%}")
        kind = kinds.get(name, "behaviour")
        flagged = bool(why) and (flag_context or kind != "context")
        rows.append(
            {
                "feature": name,
                "description": descriptions.get(name, name),
                "kind": kind,
                "psi": value,
                "missing_reference": miss_ref,
                "missing_current": miss_cur,
                "flagged": flagged,
                "why": "; ".join(why) if flagged else "",
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    return out.sort_values("psi", ascending=False, kind="stable", ignore_index=True)
