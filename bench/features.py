"""Benchmark: point-in-time feature building (called by bench/run.py).

``run_feature_bench(n_customers)`` simulates a clean dataset of that many customers
(``churn.simulate``, no mess), writes its tables to a temporary folder, and then, each in a fresh
subprocess so that peak memory (``ru_maxrss``) belongs to one measurement only, times:

- ``snapshots_26_s``: ``build_features`` over 26 weekly snapshots (the training shape);
- ``snapshot_1_s``: ``build_features`` for one snapshot (weekly scoring);
- ``floor_s``: one plain DuckDB scan-and-group-by (count, max time per customer) over every
  event table: the least any feature build must do.

Targets on a 2-core machine at 100k customers: 26 snapshots under 60 s, one snapshot under 10 s,
one snapshot within 5x of the floor. Run: ``python bench/features.py --customers 10000``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

TABLES = ("customers", "interactions", "nps", "usage")


def _write_dataset(n_customers: int, folder: Path, seed: int = 0) -> dict[str, Any]:
    from churn.simulate import simulate

    sim = simulate(n_customers, seed=seed, mess_rate=0.0)
    for name in TABLES:
        getattr(sim, name).to_parquet(folder / f"{name}.parquet", index=False)
    metrics = [
        c
        for c in sim.usage.columns
        if c not in ("customer_id", "date", "recorded_at")
        and pd.api.types.is_numeric_dtype(sim.usage[c])
    ]
    meta = {
        "extraction_date": str(sim.extraction_date),
        "usage_metrics": metrics,
        "rows": {name: len(getattr(sim, name)) for name in TABLES},
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return meta


def _load(folder: Path) -> Any:
    from churn.contract import Tables

    meta = json.loads((folder / "meta.json").read_text())
    frames = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    inter, nps, usage = frames["interactions"], frames["nps"], frames["usage"]
    # The contract's defaults, as the loader would fill them.
    if "recorded_at" not in inter:
        inter["recorded_at"] = inter["timestamp"]
    if "recorded_at" not in nps:
        nps["recorded_at"] = nps["timestamp"].fillna(nps.get("sent_at"))
    return Tables(
        customers=frames["customers"],
        interactions=inter,
        nps=nps,
        usage=usage,
        extraction_date=pd.Timestamp(meta["extraction_date"]),
        usage_period="week",
        usage_metrics=tuple(meta["usage_metrics"]),
    )


def _child(mode: str, folder: Path) -> dict[str, Any]:
    """One measurement in this (fresh) process; prints JSON."""
    tables = _load(folder)
    # Import the engines before the clock starts: the figures are about data work, and a
    # weekly job pays the ~1.5 s import of ibis once whatever the data size.
    import duckdb
    import ibis

    ibis.duckdb.connect()
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    rows = 0
    if mode == "floor":
        con = duckdb.connect()
        for name, col in (("interactions", "timestamp"), ("nps", "sent_at"), ("usage", "date")):
            frame = tables.table(name)  # noqa: F841 - read by DuckDB's replacement scan
            res = con.sql(
                f"SELECT customer_id, count(*) AS n, max({col}) AS last FROM frame GROUP BY 1"
            ).df()
            rows += len(res)
    else:
        from churn.features import build_features
        from churn.labels import churn_dates
        from churn.spine import build_spine, snapshot_dates

        end = pd.Timestamp(tables.extraction_date)
        dates = snapshot_dates(end - pd.Timedelta(weeks=26), end)[-26:]
        if mode == "snapshot_1":
            dates = dates[-1:]
        spine = build_spine(tables.customers, dates, churn_date=churn_dates(tables))
        t0 = time.perf_counter()  # time the features only, not the spine
        rows = len(build_features(spine, tables))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rows": rows, "peak_rss_mb": peak, "loaded_rss_mb": rss_loaded}


def _measure(mode: str, folder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--folder", str(folder)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        # Say why the measurement died (often memory at large sizes), not just that it did.
        raise RuntimeError(
            f"{mode} benchmark failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_feature_bench(n_customers: int = 100_000, seed: int = 0) -> dict[str, Any]:
    """Time and peak memory of feature building at ``n_customers`` customers.

    Returns
    -------
    dict
        ``snapshots_26_s``, ``snapshot_1_s``, ``floor_s``, ``ratio_1_to_floor``, peak RSS (MB)
        of each measurement, row counts, and whether each target was met.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        meta = _write_dataset(n_customers, folder, seed=seed)
        floor = _measure("floor", folder)
        one = _measure("snapshot_1", folder)
        many = _measure("snapshots_26", folder)
    ratio = one["seconds"] / max(floor["seconds"], 1e-9)
    return {
        "n_customers": n_customers,
        "event_rows": meta["rows"],
        "snapshots_26_s": round(many["seconds"], 2),
        "snapshots_26_rows": many["rows"],
        "snapshots_26_peak_rss_mb": round(many["peak_rss_mb"]),
        "snapshot_1_s": round(one["seconds"], 2),
        "snapshot_1_rows": one["rows"],
        "snapshot_1_peak_rss_mb": round(one["peak_rss_mb"]),
        "floor_s": round(floor["seconds"], 3),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"]),
        "data_loaded_rss_mb": round(floor["loaded_rss_mb"]),
        "ratio_1_to_floor": round(ratio, 1),
        "ratio_26_to_floor": round(many["seconds"] / max(floor["seconds"], 1e-9), 1),
        "targets_met": {
            "snapshots_26_under_60s": many["seconds"] < 60,
            "snapshot_1_under_10s": one["seconds"] < 10,
            "snapshot_1_within_5x_floor": ratio <= 5,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--child", choices=["floor", "snapshot_1", "snapshots_26"])
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.folder)))
        return
    print(json.dumps(run_feature_bench(args.customers), indent=2))


if __name__ == "__main__":
    main()
