"""`make bench`: the pipeline end to end at several sizes, each step's time and peak memory.

For each size (default 10k and 100k customers; ``--sizes`` or ``BENCH_SIZES``, and 1M added by
``--with-1m`` or ``BENCH_1M=1``) the steps run back to back, each in its own child process of
this one, measured by ``os.wait4`` (the child's own wall time, user+system CPU time and peak
RSS, no psutil):

- ``simulate``: ``churn simulate`` (blocks of 100k customers beyond 100k);
- ``load``: ``load_dataset`` alone (read, map, validate);
- ``features``: load + ``build_features`` over 26 weekly snapshots, every feature (from 1M
  customers streamed chunk by chunk to Parquet, as ``churn features --out`` does);
- ``features_common``: the same for the registry's ``common`` set only
  (``churn.features.registry.FEATURE_SETS``), the peer's features;
- ``peer_sql``: a hand-written DuckDB query of the common feature set over the same 26 snapshots,
  from the CSV files (bench/steps.py);
- ``featuretools`` (sizes up to 10k, when ``--featuretools-python`` or
  ``BENCH_FEATURETOOLS_PYTHON`` names a Python with Featuretools): DFS of the peer's 22 features
  (bench/featuretools_peer.py), the library peer;
- ``floor``: one DuckDB scan of every event table from the files (count and last date per
  customer): what any feature build must at least do;
- ``train``: ``churn train`` (MLflow in a scratch sqlite store), with its test metrics; over
  ``training.row_budget`` rows the spine is thinned (``churn.modeling.subsample``);
- ``train_thin`` (sizes up to 30k only): the same with ``row_budget`` 30 rows per customer
  rows, so the AUC cost of thinning is measured where the full frame fits;
- ``score``: ``churn score`` of the latest snapshot with reasons for the listed customers only.

CPU seconds are reported beside wall seconds because a shared machine's wall time says as much
about the neighbours as about the code. Writes ``--out`` (default bench/results.json) with the
command line, the machine and its load average, atomically, after every step (a run cut short
keeps what it measured).

    python bench/run.py --sizes 10000 --out bench/results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STEPS = (
    "simulate",
    "load",
    "features",
    "features_common",
    "peer_sql",
    "featuretools",
    "floor",
    "train",
    "train_thin",
    "score",
)
#: The issue's targets (issue 17), checked where the size is the one they name.
TARGETS = {
    "features_to_peer_max": 4.0,
    "features_to_floor_max": 10.0,
    "features_common_to_peer_max": 1.5,
    "featuretools_to_features_common_min": 50.0,
    "features_peak_rss_mb_max_at_100k": 3072,
    "features_peak_rss_mb_max_at_1m": 12288,
    "train_peak_rss_mb_max_at_100k": 6144,
    "train_wall_s_max_at_100k": 240,
    "score_wall_s_max_at_1m": 180,
}


def measure(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``cmd`` as a child; its wall and CPU seconds, peak RSS (MB), exit code, last line."""
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    lines = log.read_text(errors="replace").strip().splitlines()
    result: dict[str, Any] = {
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "exit": proc.returncode,
    }
    if proc.returncode != 0:
        result["error"] = "\n".join(lines[-15:])
    elif lines and lines[-1].startswith("{"):
        result |= json.loads(lines[-1])
    return result


def run_size(
    n: int, scratch: Path, env: dict[str, str], record, given: Path | None = None, ft: str = ""
) -> dict[str, Any]:
    """Every step at ``n`` customers; ``given``: an already simulated folder (not simulated
    again, not removed); ``ft``: the Python that runs the Featuretools peer."""
    data, py = given or scratch / f"data-{n}", sys.executable
    churn = [py, "-m", "churn.cli"]
    settings = scratch / "settings.yaml"
    settings.write_text("scoring:\n  reasons_scope: listed\n", encoding="utf-8")
    env = {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{scratch / f'mlflow-{n}.db'}"}
    # Beyond 100k customers the features never exist as one frame (churn features --out).
    stream = "stream" if n > 300_000 else ""
    commands = {
        "simulate": churn + ["simulate", "--customers", str(n), "--seed", "0", "--out", str(data)],
        "load": [py, str(HERE / "steps.py"), "load", str(data)],
        "features": [py, str(HERE / "steps.py"), "features", str(data), "", stream],
        "features_common": [py, str(HERE / "steps.py"), "features", str(data), "common", stream],
        "peer_sql": [py, str(HERE / "steps.py"), "peer", str(data)],
        "floor": [py, str(HERE / "steps.py"), "floor", str(data)],
        "train": [py, str(HERE / "steps.py"), "train", str(data), str(settings)],
        # 15 rows a customer: under the spine left once censored rows go (~31 at 10k).
        "train_thin": [py, str(HERE / "steps.py"), "train", str(data), str(settings), str(n * 15)],
        "featuretools": [ft, str(HERE / "featuretools_peer.py"), str(data)],
        "score": churn
        + ["score", "--data", str(data), "--config", str(settings), "--out", str(scratch / "at")],
    }
    out: dict[str, Any] = {}
    for step in STEPS:
        if (step == "train_thin" and n > 30_000) or (step == "simulate" and given):
            continue
        if step == "featuretools" and (not ft or n > 10_000):
            continue
        sys.stderr.write(f"[{n:,}] {step} ...\n")
        out[step] = measure(commands[step], env, scratch / f"{step}-{n}.log")
        sys.stderr.write(f"[{n:,}] {step}: {json.dumps(out[step])[:300]}\n")
        record(out)
        if out[step]["exit"] != 0 and step in ("simulate", "train"):
            break  # nothing after it can run
    out["ratios"] = _ratios(out)
    out["targets"] = _against_targets(n, out)
    if given is None:
        shutil.rmtree(data, ignore_errors=True)
    return out


def _ratios(out: dict[str, Any]) -> dict[str, float]:
    """Ours against the peers and the floor, end to end from the files (loading included, as the
    peers' and the floor's own reading of the CSVs is); ``*_build_only``: ``build_features``
    alone, without loading."""
    feats, peer, floor, ft = (
        out.get(k, {}) for k in ("features", "peer_sql", "floor", "featuretools")
    )
    common = out.get("features_common", {})
    ratios: dict[str, float] = {}

    def ratio(a: float, b: dict) -> float:
        return round(a / max(b["inner_s"], 1e-9), 1)

    for name, ours in (("features", feats), ("features_common", common)):
        if "inner_s" not in ours:
            continue
        total = ours["inner_s"] + ours["load_s"]
        if "inner_s" in peer:
            ratios[f"{name}_to_peer"] = ratio(total, peer)
            ratios[f"{name}_to_peer_build_only"] = ratio(ours["inner_s"], peer)
        if "inner_s" in floor:
            ratios[f"{name}_to_floor"] = ratio(total, floor)
    if "inner_s" in ft and "inner_s" in common:
        ratios["featuretools_to_features_common"] = round(
            ft["inner_s"] / (common["inner_s"] + common["load_s"]), 1
        )
    return ratios


def _against_targets(n: int, out: dict[str, Any]) -> dict[str, Any]:
    """Each measured figure beside the issue's target, ``met`` true/false."""
    checks: dict[str, Any] = {}
    ratios, feats, train = out.get("ratios", {}), out.get("features", {}), out.get("train", {})
    if "features_to_peer" in ratios:
        checks["features_to_peer"] = (ratios["features_to_peer"], TARGETS["features_to_peer_max"])
    if "features_to_floor" in ratios:
        checks["features_to_floor"] = (
            ratios["features_to_floor"],
            TARGETS["features_to_floor_max"],
        )
    if "features_common_to_peer" in ratios:
        checks["features_common_to_peer"] = (
            ratios["features_common_to_peer"],
            TARGETS["features_common_to_peer_max"],
        )
    size = {100_000: "100k", 1_000_000: "1m"}.get(n)
    if size and "peak_rss_mb" in feats:
        key = f"features_peak_rss_mb_max_at_{size}"
        checks["features_peak_rss_mb"] = (feats["peak_rss_mb"], TARGETS[key])
    if n == 100_000 and train.get("exit") == 0:
        checks["train_peak_rss_mb"] = (
            train["peak_rss_mb"],
            TARGETS["train_peak_rss_mb_max_at_100k"],
        )
        checks["train_wall_s"] = (train["wall_s"], TARGETS["train_wall_s_max_at_100k"])
    score = out.get("score", {})
    if n == 1_000_000 and score.get("exit") == 0:
        checks["score_wall_s"] = (score["wall_s"], TARGETS["score_wall_s_max_at_1m"])
    if "featuretools_to_features_common" in ratios:
        value = ratios["featuretools_to_features_common"]
        target = TARGETS["featuretools_to_features_common_min"]
        checks["featuretools_to_features_common"] = {
            "value": value,
            "target_min": target,
            "met": value >= target,
        }
    thin = out.get("train_thin", {})
    if "test_roc_auc" in thin and "test_roc_auc" in train:
        checks["thinning_auc_cost"] = round(train["test_roc_auc"] - thin["test_roc_auc"], 4)
    return {
        k: v if not isinstance(v, tuple) else {"value": v[0], "target": v[1], "met": v[0] <= v[1]}
        for k, v in checks.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_sizes = os.environ.get("BENCH_SIZES", "10000,100000")
    parser.add_argument("--sizes", default=default_sizes, help="comma-separated customer counts")
    parser.add_argument("--with-1m", action="store_true", default=os.environ.get("BENCH_1M") == "1")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--scratch", type=Path, default=None, help="work folder (default: temp)")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="N=DIR",
        help="use DIR, already simulated with N customers, instead of simulating (kept)",
    )
    parser.add_argument(
        "--featuretools-python",
        default=os.environ.get("BENCH_FEATURETOOLS_PYTHON", ""),
        help="a Python with featuretools installed: adds the Featuretools peer (sizes <= 10k)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.with_1m else [])
    given = {int(k): Path(v) for k, v in (d.split("=", 1) for d in args.data)}

    src = str(HERE.parent / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env |= {"OMP_WAIT_POLICY": "passive", "PYTHONHASHSEED": "0"}
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "snapshots": 26,
        "sizes": {},
    }

    def write() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
        tmp.replace(args.out)  # atomic: a killed run never leaves a half-written file

    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="churn-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    for n in sizes:

        def record(steps: dict, n: int = n) -> None:
            results["sizes"][str(n)] = steps
            results["machine"]["load_average_now"] = os.getloadavg()
            write()

        record(run_size(n, scratch, env, record, given.get(n), args.featuretools_python))
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write()
    for n, steps in results["sizes"].items():
        for step in STEPS:
            r = steps.get(step)
            if r:
                sys.stdout.write(
                    f"{int(n):>9,} {step:<15} wall {r['wall_s']:>7.1f} s  cpu {r['cpu_s']:>7.1f} s"
                    f"  peak {r['peak_rss_mb']:>6} MB  exit {r['exit']}\n"
                )
    sys.stdout.write(f"written to {args.out}\n")


if __name__ == "__main__":
    main()
