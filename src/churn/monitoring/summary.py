"""One monitoring report: each week's estimate, its realised figures once matured, drift, the
champion's age and whether to retrain. Plain dicts, ready for ``monitor.json`` and the page."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from churn.monitoring.estimate import expected_week
from churn.monitoring.realised import realised_week
from churn.settings import MonitoringSettings, Settings

_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


def window_bounds(text: str | None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last date of a split description (``"2024-07-08..2025-02-17 (17 dates)"``)."""
    match = _RANGE.search(text or "")
    if match is None:
        return None
    return pd.Timestamp(match.group(1)), pd.Timestamp(match.group(2))


def training_end(metadata: Mapping[str, Any]) -> pd.Timestamp | None:
    """The latest snapshot the deployed champion learned from: the end of its fit window or of
    its validation (calibration) window, whichever is later (from the model's metadata)."""
    ends = [b[1] for key in ("fit_as_of", "valid_as_of") if (b := window_bounds(metadata.get(key)))]
    return max(ends) if ends else None


def reference_dates(metadata: Mapping[str, Any], n: int, cadence: str) -> list[pd.Timestamp]:
    """``n`` evenly spaced snapshot dates of the latest labelled window of the champion's
    training frame (the drift reference): the window that ends last among its test, validation
    (calibration) and fit windows, i.e. the test window of a validated model and the
    calibration window of a refit (``churn.modeling.refit``).

    Not the fit window: it lies two gaps (lead + horizon) or more before the weeks scored, and
    on a customer base with a short history, features that fill up with time (a second NPS
    answer) move between then and now without anything going wrong: on the demo 59% of the
    customers had no previous NPS answer at the fit window's snapshots against 27% in December
    2025 (29% in the latest labelled window, September 2025)."""
    windows = [window_bounds(metadata.get(k)) for k in ("fit_as_of", "valid_as_of", "test_as_of")]
    found = [w for w in windows if w is not None]
    if not found:
        return []
    bounds = max(found, key=lambda w: w[1])
    dates = pd.date_range(bounds[0], bounds[1], freq=cadence)
    if len(dates) <= n:
        return list(dates)
    picks = np.unique(np.round(np.linspace(0, len(dates) - 1, n)).astype(int))
    return [dates[i] for i in picks]


def score_distribution(scores: pd.DataFrame, tiers: Sequence[tuple[str, float]]) -> dict:
    """Quantiles of the week's probabilities and the share of customers in each tier."""
    p = scores["churn_probability"].to_numpy(dtype=float)
    q = np.quantile(p, [0.1, 0.5, 0.9]) if len(p) else [math.nan] * 3
    tier = scores["risk_tier"].astype(str)
    return {
        "mean": float(p.mean()) if len(p) else math.nan,
        "p10": float(q[0]),
        "p50": float(q[1]),
        "p90": float(q[2]),
        "tier_share": {name: float((tier == name).mean()) if len(p) else 0.0 for name, _ in tiers},
    }


def week_entry(
    as_of: pd.Timestamp,
    manifest: Mapping[str, Any],
    scores: pd.DataFrame,
    labels: pd.Series | None,
    drift: pd.DataFrame | None,
    settings: Settings,
) -> dict[str, Any]:
    """Everything the report says about one week folder.

    ``labels``: 0/1/NaN per row of ``scores`` when the week has matured, else None.
    """
    mon, k = settings.monitoring, settings.training.capacity_k
    tiers = settings.scoring.tiers
    model = manifest.get("model") or {}
    entry: dict[str, Any] = {
        "as_of": pd.Timestamp(as_of).date().isoformat(),
        "model_version": model.get("version"),
        "model_run_id": model.get("run_id"),
        "matured": labels is not None,
        "expected": expected_week(scores, k),
        "scores": score_distribution(scores, tiers),
        "realised": None,
        "drift": None,
    }
    if labels is not None:
        entry["realised"] = realised_week(
            scores,
            labels,
            capacity_k=k,
            tiers=tiers,
            n_resamples=mon.bootstrap_resamples,
            seed=mon.seed,
        )
    if drift is not None and len(drift):
        flagged = drift.loc[drift["flagged"]]
        cols = ["feature", "description", "psi", "missing_reference", "missing_current", "why"]
        entry["drift"] = {
            "flagged": flagged[cols].to_dict("records"),
            "top": drift.head(10)[cols[:-1]].to_dict("records"),
            "max_psi": float(drift["psi"].max()),
        }
    return entry


def staleness(
    end: pd.Timestamp | None, latest: pd.Timestamp | None, mon: MonitoringSettings
) -> dict[str, Any]:
    """Days from the champion's latest training snapshot to the latest scored week."""
    if end is None or latest is None:
        return {"training_end": None, "latest_as_of": None, "age_days": None, "stale": False}
    age = int((pd.Timestamp(latest) - pd.Timestamp(end)).days)
    return {
        "training_end": pd.Timestamp(end).date().isoformat(),
        "latest_as_of": pd.Timestamp(latest).date().isoformat(),
        "age_days": age,
        "stale": age > mon.max_training_age_days,
    }
