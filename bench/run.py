"""`make bench`: the product's speed and memory targets, measured and written to a results file.

Runs the feature benchmark (bench/features.py) and the scoring benchmark (bench/scoring.py) at
the requested size (default 100k customers), prints a table, and writes JSON with the figures,
the targets and whether each was met, plus the machine it ran on. Targets are checked here and
never by timed unit tests: shared machines are too noisy for that.

    python bench/run.py --customers 100000 --out bench/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from features import run_feature_bench
from scoring import run_scoring_bench

#: (figure, limit in seconds or ratio, what it means)
TARGETS: tuple[tuple[str, str, float, str], ...] = (
    ("features", "snapshots_26_s", 60.0, "features for 26 weekly snapshots under 60 s"),
    ("features", "snapshot_1_s", 10.0, "features for one scoring snapshot under 10 s"),
    ("features", "ratio_1_to_floor", 5.0, "one snapshot within 5x of a plain DuckDB scan"),
    ("scoring", "score_listed_s", 60.0, "scoring with reasons for the listed customers under 60 s"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results.json"))
    args = parser.parse_args()

    started = time.time()
    results: dict[str, Any] = {
        "customers": args.customers,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "features": run_feature_bench(args.customers),
        "scoring": run_scoring_bench(args.customers),
    }
    checks = []
    for section, key, limit, text in TARGETS:
        value = results[section].get(key)
        met = value is not None and value <= limit
        checks.append({"target": text, "figure": key, "value": value, "limit": limit, "met": met})
    results["targets"] = checks
    results["wall_s"] = round(time.time() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(args.out)  # atomic: a killed run never leaves a half-written results file

    width = max(len(c["target"]) for c in checks)
    for c in checks:
        value = "n/a" if c["value"] is None else f"{c['value']:.2f}"
        status = "ok" if c["met"] else "MISSED"
        sys.stdout.write(f"{c['target']:<{width}}  {value:>8}  (limit {c['limit']:g})  {status}\n")
    sys.stdout.write(f"written to {args.out}\n")


if __name__ == "__main__":
    main()
