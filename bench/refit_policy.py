"""Refit policy, measured by replaying weeks (issue 15): which model should `make train` deploy?

    python bench/refit_policy.py --data data/raw/demo --out bench/refit_policy.json

For each training cut-off ``T`` (a Monday: the day `make train` would have run), only labels
whose window closed by ``T`` are used (``churn.modeling.known_labels``), and each policy's model
scores the ``--weeks`` Mondays from ``T`` on, all of whose horizons have passed by the data's end:

- ``a_validated``: `make train`'s validated model at ``T`` (fit | gap | valid | gap | test), as
  deployed before this change: scores later weeks without a refit;
- ``b_refit``: the validated settings refitted on every labelled snapshot up to one gap before
  the calibration window, the calibrator fitted on the latest labelled window only
  (``churn.modeling.refit_model``);
- ``b_refit_in_sample``: the booster on every labelled snapshot *including* the calibration
  window (the calibrator then sees the booster's own training rows);
- ``c_refit_recency``: ``b_refit`` with fit rows weighted by recency (half-life 26 weeks).

Realised ROC AUC, precision@K (per week, K = training.capacity_k), Brier score and calibration
in the large (mean prediction minus churn rate), pooled over every cut-off's weeks, with 95%
intervals from a bootstrap over customers (``churn.modeling.uncertainty``; all of a customer's
rows in every week and cut-off are drawn together) and paired differences against a_validated.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from churn.modeling import train_model
from churn.modeling.refit import known_labels, refit_model
from churn.modeling.training import out_of_time_split
from churn.modeling.uncertainty import bootstrap_intervals, customer_weights, percentile_interval
from churn.pipelines.inputs import load_training_frame
from churn.settings import load_settings

POLICIES = ("a_validated", "b_refit", "b_refit_in_sample", "c_refit_recency")
REFERENCE = "a_validated"


def policy_models(frame: pd.DataFrame, settings, cutoff: pd.Timestamp) -> dict:
    """Each policy's model trained with what was known at ``cutoff``."""
    known = known_labels(frame, cutoff, settings.snapshots)
    censored = frame.loc[~frame.index.isin(known.index)].assign(label=np.nan)
    seen = pd.concat([known, censored]).sort_index()  # a later label must not be seen at T
    split = out_of_time_split(seen, settings.training, settings.snapshots)
    validated = train_model(seen, settings, split=split)
    return {
        "a_validated": validated,
        "b_refit": refit_model(seen, settings, validated, cutoff),
        "b_refit_in_sample": refit_model(
            seen, settings, validated, cutoff, fit_through_calibration=True
        ),
        "c_refit_recency": refit_model(
            seen, settings, validated, cutoff, recency_half_life_days=182
        ),
    }


def calibration_figures(y, p, customers, n, seed) -> dict:
    """Brier score and calibration in the large (mean p - churn rate), with intervals."""
    w = customer_weights(customers, n, seed)
    tot = w.sum(axis=1)
    brier = w @ (p - y) ** 2 / tot
    citl = (w @ p - w @ y) / tot
    point_b, point_c = float(np.mean((p - y) ** 2)), float(p.mean() - y.mean())
    return {
        "brier": brier,
        "citl": citl,
        "point": {"brier": point_b, "citl": point_c},
    }


def interval_dict(iv) -> dict:
    return {"estimate": iv.estimate, "low": iv.low, "high": iv.high}


def summarise(rows: pd.DataFrame, k: int, n: int, seed: int) -> dict:
    """Pooled figures per policy, and each policy minus the reference on the same resamples."""
    y = rows["label"].to_numpy(dtype=float)
    cust = rows["customer_id"].astype(str).to_numpy()
    week = (rows["cutoff"].astype(str) + "/" + rows["as_of"].astype(str)).to_numpy()
    scores = {p: rows[p].to_numpy(dtype=float) for p in POLICIES}
    ranked = bootstrap_intervals(
        y, scores, cust, as_of=week, capacity_k=k, n_resamples=n, seed=seed, reference=REFERENCE
    )
    calib = {p: calibration_figures(y, s, cust, n, seed) for p, s in scores.items()}
    out: dict = {}
    for p in POLICIES:
        out[p] = {m: interval_dict(ranked[p][m]) for m in ("roc_auc", "precision_at_k")}
        for m in ("brier", "citl"):
            out[p][m] = interval_dict(percentile_interval(calib[p][m], calib[p]["point"][m]))
        if p == REFERENCE:
            continue
        # bootstrap_intervals gives reference - p: flipped, so a positive number favours p
        # for ROC AUC and precision@K, and a negative one for Brier and |calibration in the large|.
        diff = {}
        for m in ("roc_auc", "precision_at_k"):
            iv = ranked[f"{REFERENCE}-{p}"][m]
            diff[m] = {"estimate": -iv.estimate, "low": -iv.high, "high": -iv.low}
        ref = calib[REFERENCE]
        b = percentile_interval(
            calib[p]["brier"] - ref["brier"], calib[p]["point"]["brier"] - ref["point"]["brier"]
        )
        c = percentile_interval(
            np.abs(calib[p]["citl"]) - np.abs(ref["citl"]),
            abs(calib[p]["point"]["citl"]) - abs(ref["point"]["citl"]),
        )
        diff["brier"], diff["abs_citl"] = interval_dict(b), interval_dict(c)
        out[f"{p} - {REFERENCE}"] = diff
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/raw/demo"))
    parser.add_argument("--config", type=Path, default=Path("configs/model.yaml"))
    parser.add_argument("--out", type=Path, default=Path("bench/refit_policy.json"))
    parser.add_argument("--cutoffs", default="2025-06-16,2025-06-30,2025-07-14")
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    started = time.perf_counter()
    settings = load_settings(args.config)
    _, frame, _ = load_training_frame(args.data, settings, progress=False)
    horizon = pd.Timedelta(days=settings.snapshots.lead_days + settings.snapshots.horizon_days)
    last_labelled = frame.loc[frame["label"].notna(), "as_of"].max()
    scored, per_cutoff = [], []
    for cutoff in pd.to_datetime(args.cutoffs.split(",")):
        weeks = pd.date_range(cutoff, periods=args.weeks, freq=settings.snapshots.cadence)
        if weeks[-1] > last_labelled:
            raise SystemExit(f"cut-off {cutoff.date()}: week {weeks[-1].date()} has not matured")
        models = policy_models(frame, settings, cutoff)
        rows = frame.loc[frame["as_of"].isin(weeks) & frame["label"].notna()]
        out = rows[["customer_id", "as_of", "label"]].assign(cutoff=cutoff)
        for name, result in models.items():
            out[name] = result.model.predict_proba(rows)
        scored.append(out)
        per_cutoff.append(
            {
                "cutoff": str(cutoff.date()),
                "weeks": f"{weeks[0].date()}..{weeks[-1].date()}",
                "rows": len(rows),
                "churn_rate": float(rows["label"].mean()),
                "windows": {n: r.split.describe() for n, r in models.items()},
                "best_iteration": models[REFERENCE].best_iteration,
            }
        )
        print(f"cut-off {cutoff.date()}: {len(rows)} rows, {time.perf_counter() - started:.0f} s")
    rows = pd.concat(scored, ignore_index=True)
    k = settings.training.capacity_k
    result = {
        "command": "python bench/refit_policy.py "
        + " ".join(f"--{a} {v}" for a, v in vars(args).items()),
        "horizon_days": horizon.days,
        "capacity_k": k,
        "rows": len(rows),
        "customers": int(rows["customer_id"].nunique()),
        "cutoffs": per_cutoff,
        "pooled": summarise(rows, k, args.resamples, settings.training.seed),
        "per_cutoff": {
            str(c.date()): summarise(g, k, 200, settings.training.seed)
            for c, g in rows.groupby("cutoff")
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    for name, figs in result["pooled"].items():
        cells = "  ".join(
            f"{m} {v['estimate']:+.4f} [{v['low']:+.4f}, {v['high']:+.4f}]" for m, v in figs.items()
        )
        print(f"{name:40s} {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
