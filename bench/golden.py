"""Golden check for a refactor: train + score the demo in a fresh MLflow store, print digests.

Usage: python bench/golden.py --data data/raw/demo --out golden.json
Run it before and after a change that should not change behaviour; the two JSON files must be equal.
The run id (random per run) is masked in every file before hashing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def _digest(path: Path, run_id: str) -> str:
    data = path.read_bytes()
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            parts = [
                (n, zf.read(n).replace(run_id.encode(), b"RUN")) for n in sorted(zf.namelist())
            ]
        data = b"".join(n.encode() + b"\0" + d for n, d in parts)
    else:
        data = data.replace(run_id.encode(), b"RUN")
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/raw/demo")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    churn = str(Path(sys.executable).with_name("churn"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        train = [churn, "train", "--data", args.data, "--config", "configs/model.yaml"]
        oracle = Path(args.data) / "ground_truth"
        if oracle.is_dir():  # the simulator's truth: the oracle column and the leak gate
            train += ["--oracle", str(oracle)]
        subprocess.run(train, env=env, check=True, capture_output=True)
        week_root = Path(tmp) / "at_risk"
        subprocess.run(
            [
                churn,
                "score",
                "--data",
                args.data,
                "--config",
                "configs/model.yaml",
                "--out",
                str(week_root),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        import mlflow

        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        client = mlflow.MlflowClient()
        version = client.get_model_version_by_alias("churn", "champion")
        run = client.get_run(version.run_id)
        week = next(week_root.iterdir())
        files = {
            str(p.relative_to(week)): _digest(p, version.run_id)
            for p in sorted(week.rglob("*"))
            if p.is_file()
        }
    result = {"metrics": dict(sorted(run.data.metrics.items())), "week": week.name, "files": files}
    Path(args.out).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
