"""Reasons: why a customer is at risk, in plain English, from TreeSHAP contributions.

The model's contributions (``ChurnModel.contributions``: LightGBM's exact TreeSHAP values, one
column per feature plus ``bias``) are in **log-odds** of the uncalibrated model. They add up
(``bias + sum(contributions) = logit(raw probability)``) but they are not percentages, so this
module never shows them as such: :func:`risk_points` turns them into probability points that add
up to the customer's probability minus the base rate (its docstring is THE definition).

A reason is a true, risk-raising statement about behaviour (:class:`ReasonRules`):

- only **behaviour** features can be reasons; context (region, segment, plan, ARR, tenure, seats
  licensed) is shown beside the customer, never as "why at risk";
- its points, **rounded as displayed** (whole points), are at least
  ``ScoringSettings.min_reason_points`` and never 0;
- its value points to **more** risk per the registry's ``risk_direction``: strictly above (for
  +1) or below (for -1) the feature's natural "no change" value where it has one (``nps_delta``
  0, a 30/90-day ratio 1, a slope 0), otherwise at or beyond (for a level such as the latest NPS)
  the median of the scored customers. So "NPS rose from 9 to 10" or "NPS unchanged" is never a
  risk reason, whatever the model's push, and neither is a promoter's NPS of 10. A
  missing value passes (the sentence states the absence, e.g. "No NPS response on record", which
  is what the model found risky), and a feature of unknown direction is kept on its positive
  points alone.

The sentence itself comes from ``churn.features.catalogue.render_reason`` using the customer's
own feature values, so it is a true statement about their data ("NPS fell from 9 to 4"), never a
feature name. Everything here is pure: frames in, new frames out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.features.registry import BEHAVIOUR, lookup

log = logging.getLogger(__name__)

#: Renders one reason: (feature name, the customer's feature row, direction +1/-1) -> sentence.
Renderer = Callable[[str, Mapping[str, Any], int], str]
#: Maps uncalibrated probabilities to calibrated ones (the model's calibrator).
Calibrate = Callable[[np.ndarray], np.ndarray]

BIAS = "bias"
RAISES_RISK = "raises risk"
BASE_PROBABILITY = "base_probability"
OTHER_FACTORS = "other_factors_effect"
#: Decimals of the displayed points ("+12 pts"); the threshold is applied to the rounded value.
POINTS_DECIMALS = 0

#: The natural "no change" value of registry entries that state a change (by entry name): a
#: reason must lie on the risky side of it, not merely of the median customer.
NEUTRAL: dict[str, float] = {
    "nps_delta": 0.0,
    "util_{metric}_ratio_30d_90d": 1.0,
    "util_{metric}_slope_90d": 0.0,
    "int_trend_30d_90d": 1.0,
}


@dataclass(frozen=True)
class ReasonRules:
    """Which features may be a customer's reason, and from what size.

    Parameters
    ----------
    behaviour
        Features that may be reasons; ``None``: every feature (no registry, e.g. a toy model).
    direction
        Feature -> +1 (higher value = more risk), -1, or missing/``None`` (unknown).
    reference
        Feature -> the value a reason must lie beyond in its risk direction: strictly for the
        features in ``neutral``, at or beyond for the others (a median).
    neutral
        Features whose reference is a natural "no change" value (a delta's 0, a ratio's 1).
    min_points
        Smallest displayed size (probability points, after rounding) a reason may have.
    """

    behaviour: frozenset[str] | None = None
    direction: Mapping[str, int | None] = field(default_factory=dict)
    reference: Mapping[str, float] = field(default_factory=dict)
    min_points: float = 0.0
    neutral: frozenset[str] = frozenset()


def _identity(p: np.ndarray) -> np.ndarray:
    return p


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def reason_rules(
    names: Iterable[str], population: pd.DataFrame, min_points: float = 0.0
) -> ReasonRules:
    """The :class:`ReasonRules` of ``names`` read from the feature registry.

    ``population`` (the scored customers' features) gives the median used as the reference of a
    directional feature without a natural "no change" value. A name the registry does not know
    (a toy model's) is treated as behaviour of unknown direction.
    """
    behaviour, direction, reference, neutral = set(), {}, {}, set()
    for name in names:
        try:
            column = lookup(name)
        except KeyError:
            behaviour.add(name)
            continue
        if column.kind == BEHAVIOUR:
            behaviour.add(name)
        d = column.feature.risk_direction
        direction[name] = d
        if d is None:
            continue
        if column.feature.name in NEUTRAL:
            reference[name] = NEUTRAL[column.feature.name]
            neutral.add(name)
        elif name in population.columns:
            values = pd.to_numeric(population[name], errors="coerce")
            reference[name] = float(values.median()) if values.notna().any() else np.nan
    return ReasonRules(
        frozenset(behaviour), direction, reference, float(min_points), frozenset(neutral)
    )


def reason_columns(k: int) -> list[str]:
    """Column names written by :func:`top_reasons` for ``k`` reasons, in order."""
    cols: list[str] = []
    for i in range(1, k + 1):
        cols += [
            f"reason_{i}",
            f"reason_{i}_feature",
            f"reason_{i}_family",
            f"reason_{i}_direction",
            f"reason_{i}_effect",
        ]
    return cols + ["main_driver", BASE_PROBABILITY, OTHER_FACTORS]


def risk_points(
    contributions: pd.DataFrame, calibrate: Calibrate | None = None
) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Each feature's share of (probability - base rate), in calibrated probability.

    With ``f(x) = calibrate(sigmoid(x))``, bias ``b`` and TreeSHAP log-odds ``phi_i``, the
    customer's probability is ``p = f(b + sum(phi))`` and the base rate ``p0 = f(b)`` (the
    model's probability at the bias term alone, calibrated the same way). The log-odds push is
    split into its rise ``P = sum(phi_i > 0)`` and its fall ``N = sum(phi_i < 0)``; the rise is
    worth, averaged over both orders (a two-player Shapley value),
    ``up = [(f(b+P) - f(b)) + (f(b+P+N) - f(b+N))] / 2`` and the fall ``down = (p - p0) - up``.
    Only same-signed contributions share a same-signed total: a risk-raising feature gets
    ``up * phi_i / P`` (>= 0), a risk-lowering one ``down * phi_i / N`` (<= 0), a zero one 0.

    So the points of all features add up exactly to ``p - p0``, each has the sign of its log-odds
    contribution, and within a customer a larger contribution never gets fewer points (monotone).
    With an isotonic calibrator a push inside a flat step is worth 0 points, honestly.

    Returns
    -------
    points : DataFrame
        Same index and feature columns as ``contributions`` (without ``bias``), in probability
        (0.12 = 12 points).
    probability, base : Series
        ``p`` and ``p0`` per row.
    """
    calibrate = calibrate or _identity
    names = [c for c in contributions.columns if c != BIAS]
    phi = contributions[names].to_numpy(dtype=float)
    n = len(contributions)
    b = contributions[BIAS].to_numpy(dtype=float) if BIAS in contributions else np.zeros(n)

    def f(x: np.ndarray) -> np.ndarray:
        return np.asarray(calibrate(_sigmoid(x)), dtype=float) if len(x) else np.zeros(0)

    rise = np.where(phi > 0, phi, 0.0).sum(axis=1)
    fall = np.where(phi < 0, phi, 0.0).sum(axis=1)
    p, p0 = f(b + rise + fall), f(b)
    up = ((f(b + rise) - p0) + (p - f(b + fall))) / 2.0
    down = (p - p0) - up
    with np.errstate(divide="ignore", invalid="ignore"):
        share_up = np.where(rise > 0, up / rise, 0.0)[:, None]
        share_down = np.where(fall < 0, down / fall, 0.0)[:, None]
    points = np.where(phi > 0, phi * share_up, np.where(phi < 0, phi * share_down, 0.0))
    index = contributions.index
    return (
        pd.DataFrame(points, index=index, columns=names),
        pd.Series(p, index=index, name="probability"),
        pd.Series(p0, index=index, name=BASE_PROBABILITY),
    )


def _allowed(features: pd.DataFrame, names: list[str], rules: ReasonRules) -> np.ndarray:
    """Per row and feature: may it be a reason (behaviour, value on its risky side)?"""
    ok = np.ones((len(features), len(names)), dtype=bool)
    for j, name in enumerate(names):
        if rules.behaviour is not None and name not in rules.behaviour:
            ok[:, j] = False
            continue
        d, ref = rules.direction.get(name), rules.reference.get(name)
        if d is None or name not in features.columns:
            continue
        v = pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)
        if ref is None or np.isnan(ref):
            continue
        beyond = d * (v - ref)
        ok[:, j] = np.isnan(v) | (beyond > 0 if name in rules.neutral else beyond >= 0)
    return ok


def top_contributors(
    contributions: pd.DataFrame, k: int = 3, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per row, the ``k`` features with the largest POSITIVE value, largest first.

    Parameters
    ----------
    contributions
        TreeSHAP log-odds (or :func:`risk_points`), one column per feature plus optionally
        ``bias`` (ignored).
    k
        How many to keep per row.
    allowed
        Boolean (n_rows, n_features): cells that may be picked; all when omitted.

    Returns
    -------
    index : ndarray of int, shape (n_rows, k)
        Column positions into ``names``; -1 where the row has fewer than ``k`` risk-raising
        features.
    value : ndarray of float, shape (n_rows, k)
        The values; NaN where index is -1.
    names : list of str
        Feature names the positions refer to.
    """
    names = [c for c in contributions.columns if c != BIAS]
    values = contributions[names].to_numpy(dtype=float)
    k_eff = min(k, len(names))
    # Features that lower risk (or do nothing) are never a reason to call a customer.
    keep = values > 0 if allowed is None else (values > 0) & allowed
    masked = np.where(keep, values, -np.inf)
    # Stable sort on the negated values: ties resolve by feature order, so reruns are identical.
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k_eff]
    picked = np.take_along_axis(masked, order, axis=1)
    index = np.where(np.isfinite(picked), order, -1)
    value = np.where(np.isfinite(picked), picked, np.nan)
    if k_eff < k:
        pad = k - k_eff
        index = np.hstack([index, np.full((len(values), pad), -1)])
        value = np.hstack([value, np.full((len(values), pad), np.nan)])
    return index, value, names


def top_reasons(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    families: Mapping[str, str],
    render: Renderer,
    *,
    k: int = 3,
    calibrate: Calibrate | None = None,
    rules: ReasonRules | None = None,
) -> pd.DataFrame:
    """The top ``k`` reasons per customer (see the module docstring), as plain sentences.

    Parameters
    ----------
    contributions
        TreeSHAP log-odds from ``ChurnModel.contributions`` (feature columns plus ``bias``),
        same index as ``features``.
    features
        The customers' feature values (the frame that was scored); each sentence is rendered
        from the customer's own row so it is a true statement about their data.
    families
        Feature name -> driver family; features missing here get the family "other".
    render
        ``churn.features.catalogue.render_reason``: (name, row, direction) -> sentence.
    k
        Reasons per customer (``ScoringSettings.reasons_per_customer``).
    calibrate
        The model's calibrator, so points are in calibrated probability. Identity if omitted.
    rules
        :class:`ReasonRules` (:func:`reason_rules`); omitted: every feature, any direction, and
        only the displayed-zero rule.

    Returns
    -------
    DataFrame
        Same index as ``contributions``; columns :func:`reason_columns` (k): for each reason the
        sentence, the feature, its family, its direction ("raises risk") and its effect (its
        :func:`risk_points`, in probability); ``main_driver`` is the family of the first reason
        (None without one); ``base_probability`` is the base rate and ``other_factors_effect``
        is probability minus base rate minus the reasons' effects (the "other factors").
    """
    if not contributions.index.equals(features.index):
        raise ValueError("contributions and features must share the same index (same rows)")
    rules = rules or ReasonRules()
    points, p, p0 = risk_points(contributions, calibrate)
    names = list(points.columns)
    shown = np.round(100.0 * points.to_numpy(dtype=float), POINTS_DECIMALS)
    allowed = _allowed(features, names, rules) & (shown > 0) & (shown >= rules.min_points)
    index, effects, _ = top_contributors(points, k, allowed)
    n = len(contributions)
    records = features.to_dict("records") if n else []
    out: dict[str, Any] = {}
    for i in range(k):
        idx = index[:, i]
        feat = [names[j] if j >= 0 else None for j in idx]
        out[f"reason_{i + 1}"] = [
            render(f, records[r], +1) if f is not None else None for r, f in enumerate(feat)
        ]
        out[f"reason_{i + 1}_feature"] = feat
        out[f"reason_{i + 1}_family"] = [families.get(f, "other") if f else None for f in feat]
        out[f"reason_{i + 1}_direction"] = [RAISES_RISK if f else None for f in feat]
        out[f"reason_{i + 1}_effect"] = effects[:, i]
    out["main_driver"] = out["reason_1_family"] if k else [None] * n
    out[BASE_PROBABILITY] = p0.to_numpy()
    out[OTHER_FACTORS] = (p - p0).to_numpy() - np.nansum(effects, axis=1)
    floats = {BASE_PROBABILITY, OTHER_FACTORS}
    # Text columns stay object with None for empty slots (pandas 3 would infer str with NaN).
    columns = {
        c: pd.Series(
            v,
            index=contributions.index,
            dtype=float if c.endswith("_effect") or c in floats else object,
        )
        for c, v in out.items()
    }
    return pd.DataFrame(columns, index=contributions.index)[reason_columns(k)]


def global_drivers(contributions: pd.DataFrame) -> pd.Series:
    """Mean absolute contribution per feature (log-odds), largest first: the global drivers.

    Mean |SHAP| is the usual global importance for TreeSHAP; it is in log-odds, so it ranks
    features and is plotted as such, never as a percentage.
    """
    names = [c for c in contributions.columns if c != BIAS]
    if contributions.empty:
        return pd.Series(0.0, index=names, name="mean_abs_contribution")
    mean_abs = contributions[names].abs().mean(axis=0)
    # Sort by value, then by name, so ties never reorder between runs.
    frame = pd.DataFrame({"feature": mean_abs.index, "value": mean_abs.to_numpy()})
    frame = frame.sort_values(["value", "feature"], ascending=[False, True], kind="stable")
    return pd.Series(
        frame["value"].to_numpy(), index=frame["feature"].to_list(), name="mean_abs_contribution"
    )


def recommend_play(
    main_driver: pd.Series, playbook: Mapping[str, str], default_play: str
) -> pd.Series:
    """The recommended play for each customer, mapped from the main driver family.

    A family with no entry in the playbook, or a customer with no risk-raising feature, gets
    ``default_play``.
    """
    return pd.Series(
        [
            playbook.get(f, default_play) if isinstance(f, str) else default_play
            for f in main_driver
        ],
        index=main_driver.index,
        dtype=object,
        name="recommended_play",
    )
