"""Twelve past weeks scored and monitored (issue 15's "done when"), without peeking.

    python bench/monitor_replay.py --data data/raw/demo --work /tmp/monitor-replay

1. The dataset is cut at ``--cutoff`` (what an extraction on that Monday would have held:
   events, answers, plan changes and churn dates from before it; ``extraction_date`` set to it),
   and ``churn train`` trains and promotes a champion on that cut (its own MLflow store under
   ``--work``). Scoring the later weeks with today's champion would not do: it learned their
   labels.
2. ``churn score`` writes the ``--weeks`` Mondays from the cut-off on, from the full dataset
   (features only see what was known before each as_of, so this is what those Mondays saw).
3. ``churn monitor`` on the full dataset, whose labels have matured for every one of them.

Prints a table (and writes ``--work/replay.json``): each week's list precision and predicted
churn, as estimated that week (CBPE from the calibrated probabilities), beside what happened,
with 95% customer-bootstrap intervals.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from churn.pipelines.monitor import run_monitor
from churn.pipelines.score import run_score
from churn.pipelines.train import run_train

#: Per table: the columns that date a row; a row dated on or after the cut-off did not exist yet.
DATED = {
    "interactions.csv": ("timestamp", "recorded_at"),
    "nps.csv": ("sent_at", "timestamp"),
    "usage.csv": ("date",),
    "account_history.csv": ("valid_from", "recorded_at"),
}


def cut_dataset(src: Path, dst: Path, cutoff: pd.Timestamp) -> Path:
    """A copy of ``src`` as extracted at ``cutoff`` (see the module docstring)."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for name, cols in DATED.items():
        if not (src / name).exists():
            continue
        table = pd.read_csv(src / name, dtype=str, keep_default_na=False)
        keep = pd.Series(True, index=table.index)
        for col in (c for c in cols if c in table.columns):
            when = pd.to_datetime(table[col].replace("", None), errors="coerce")
            keep &= when.isna() | (when < cutoff)
        if "resolved_at" in table.columns:  # resolved after the cut-off: still open then
            resolved = pd.to_datetime(table["resolved_at"].replace("", None), errors="coerce")
            table.loc[resolved >= cutoff, "resolved_at"] = ""
        table.loc[keep].to_csv(dst / name, index=False)
    customers = pd.read_csv(src / "customers.csv", dtype=str, keep_default_na=False)
    signup = pd.to_datetime(customers["signup_date"])
    churn = pd.to_datetime(customers["churn_date"].replace("", None), errors="coerce")
    customers.loc[churn >= cutoff, "churn_date"] = ""
    customers.loc[signup < cutoff].to_csv(dst / "customers.csv", index=False)
    config = yaml.safe_load((src / "dataset.yaml").read_text(encoding="utf-8"))
    config["extraction_date"] = str(cutoff.date())
    (dst / "dataset.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return dst


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def interval(iv: dict) -> str:
    return f"{pct(iv['estimate'])} [{pct(iv['low'])}, {pct(iv['high'])}]"


def table(report: dict) -> list[str]:
    """Markdown rows: estimate made that week beside what happened."""
    head = [
        "| week | model | list precision: expected | realised | precision@K: expected "
        "| realised | churn: predicted | realised |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = []
    for w in report["weeks"]:
        e, r = w["expected"], w["realised"] or {}
        if not r:
            continue
        rows.append(
            f"| {w['as_of']} | v{w['model_version']} | {pct(e['list_precision'])} "
            f"| {interval(r['list_precision'])} | {pct(e['precision_at_k'])} "
            f"| {interval(r['precision_at_k'])} | {pct(r['predicted_rate'])} "
            f"| {interval(r['churn_rate'])} |"
        )
    return head + rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data/raw/demo"))
    parser.add_argument("--config", type=Path, default=Path("configs/model.yaml"))
    parser.add_argument("--work", type=Path, default=Path("data/monitor-replay"))
    parser.add_argument("--cutoff", default="2025-07-14")
    parser.add_argument("--weeks", type=int, default=12)
    args = parser.parse_args()
    cutoff = pd.Timestamp(args.cutoff)
    work = args.work.resolve()
    uri = f"sqlite:///{work / 'mlflow.db'}"
    for old in ("weeks", "monitoring", "mlflow.db", "mlartifacts"):
        path = work / old
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    cut = cut_dataset(args.data, work / "data", cutoff)
    trained = run_train(
        cut, args.config, force=True, tracking_uri=uri, progress=False, run_backtest=False
    )
    weeks = pd.date_range(cutoff, periods=args.weeks, freq="W-MON")
    for week in weeks:
        run_score(args.data, str(week.date()), work / "weeks", args.config, uri, progress=False)
    result = run_monitor(
        args.data, work / "weeks", work / "monitoring", args.config, uri, progress=False
    )
    lines = table(result.report)
    summary = {
        "command": f"python bench/monitor_replay.py --data {args.data} --cutoff {args.cutoff} "
        f"--weeks {args.weeks}",
        "champion": {"version": trained.model_version, "split": trained.split},
        "weeks": [str(w.date()) for w in weeks],
        "matured": sum(1 for w in result.report["weeks"] if w["realised"]),
        "table": lines,
        "recommendation": result.report["recommendation"],
    }
    (work / "replay.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print("\n".join(lines))
    print(f"champion trained at {cutoff.date()}: {trained.split.get('deployed', '')}")
    print("monitor:", result.folder / "monitor.html")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
