"""Whether to retrain, and why: each threshold of ``MonitoringSettings`` crossed, in words."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from churn.settings import MonitoringSettings


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def recommend(
    weeks: Sequence[Mapping[str, Any]],
    stale: Mapping[str, Any],
    test_roc_auc: float | None,
    mon: MonitoringSettings,
) -> dict[str, Any]:
    """``{"retrain": bool, "reasons": [...]}`` from the latest week, the latest matured week,
    the champion's age and its test ROC AUC (the yardstick of the quality checks)."""
    reasons: list[str] = []
    latest = weeks[-1] if weeks else None
    matured = [w for w in weeks if w.get("realised")]
    if latest and latest.get("drift"):
        flagged = latest["drift"]["flagged"]
        if len(flagged) >= mon.retrain_drifted_features:
            names = ", ".join(f["feature"] for f in flagged[:5])
            reasons.append(
                f"{len(flagged)} features drifted in the week of {latest['as_of']} "
                f"(at least {mon.retrain_drifted_features} call for a retrain): {names}"
            )
    if _finite(test_roc_auc):
        floor = test_roc_auc - mon.max_auc_drop
        est = latest["expected"]["roc_auc"] if latest else None
        if _finite(est) and est < floor:
            reasons.append(
                f"expected ROC AUC {est:.3f} in the week of {latest['as_of']} is below the test "
                f"ROC AUC {test_roc_auc:.3f} minus {mon.max_auc_drop:g}"
            )
        if matured:
            auc = matured[-1]["realised"]["roc_auc"]
            if _finite(auc["high"]) and auc["high"] < floor:
                reasons.append(
                    f"realised ROC AUC {auc['estimate']:.3f} [{auc['low']:.3f}, {auc['high']:.3f}] "
                    f"in the week of {matured[-1]['as_of']} is below the test ROC AUC "
                    f"{test_roc_auc:.3f} minus {mon.max_auc_drop:g}"
                )
    if matured:
        reasons.extend(_calibration(matured[-1], mon))
    if stale.get("stale"):
        reasons.append(
            f"the champion's latest training snapshot ({stale['training_end']}) is "
            f"{stale['age_days']} days before the latest week (more than "
            f"{mon.max_training_age_days})"
        )
    return {"retrain": bool(reasons), "reasons": reasons}


def _calibration(week: Mapping[str, Any], mon: MonitoringSettings) -> list[str]:
    realised = week["realised"]
    rate, predicted = realised["churn_rate"], realised["predicted_rate"]
    if not (_finite(rate["low"]) and _finite(predicted)):
        return []
    outside = predicted < rate["low"] or predicted > rate["high"]
    if outside and abs(predicted - rate["estimate"]) >= mon.max_calibration_gap:
        return [
            f"the week of {week['as_of']} predicted {predicted:.1%} churn and "
            f"{rate['estimate']:.1%} [{rate['low']:.1%}, {rate['high']:.1%}] happened "
            f"(gap of {mon.max_calibration_gap:.0%} or more): recalibrate or retrain"
        ]
    return []
