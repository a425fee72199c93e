"""What the CLI prints after ``churn train``: the report of a run and its summary tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn.modeling import CHAMPION, LOGREG, MODEL, ORACLE, RULE


@dataclass
class TrainReport:
    """What a training run did, for the CLI summary and for tests."""

    run_id: str
    experiment: str
    tracking_uri: str
    metrics: dict[str, float]
    comparison: pd.DataFrame
    backtest: pd.DataFrame
    split: dict[str, str]
    gate_outcome: str
    promoted: bool
    model_version: str | None
    champion_version_before: str | None
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


#: Rows of the summary table: metric key -> label shown to people.
SUMMARY_METRICS: dict[str, str] = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "ece": "ECE",
    "top_decile_lift": "top-decile lift",
    "precision_at_k": "precision@K",
    "recall_at_k": "recall@K",
    "arr_captured_at_k": "ARR captured@K",
}
_COLUMNS = {
    MODEL: "LightGBM",
    RULE: "health score",
    LOGREG: "logistic",
    ORACLE: "oracle",
    CHAMPION: "champion",
}


def summary_renderables(report: TrainReport, capacity_k: int | None = None) -> list[Any]:
    """Rich renderables for the CLI: metrics beside baselines and oracle, gate, run id."""
    from rich import box
    from rich.table import Table

    title = "Out-of-time test window " + report.split.get("test_as_of", "")
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption="ECE: 10 equal-mass bins; @K: per weekly snapshot, ARR ranked by p x ARR"
        + ("; oracle: the simulator's true probabilities" if ORACLE in report.comparison else ""),
        caption_justify="left",
    )
    table.add_column("metric")
    shown = [c for c in _COLUMNS if c in report.comparison.columns]
    for c in shown:
        table.add_column(_COLUMNS[c], justify="right")
    for key, label in SUMMARY_METRICS.items():
        if key not in report.comparison.index:
            continue
        if capacity_k and key.endswith("_at_k"):
            label = label.replace("@K", f"@{capacity_k}")
        cells = []
        for c in shown:
            v = report.comparison.at[key, c]
            cells.append("-" if v is None or not math.isfinite(float(v)) else f"{float(v):.3f}")
        table.add_row(label, *cells)
    lines = []
    m = report.metrics
    if "model_oracle_ratio" in m:
        lines.append(f"model / oracle ROC AUC: {m['model_oracle_ratio']:.3f}")
    if "backtest_roc_auc_mean" in m:
        lines.append(
            f"backtest ROC AUC over {int(m['backtest_windows'])} windows: "
            f"{m['backtest_roc_auc_mean']:.3f} +/- {m['backtest_roc_auc_std']:.3f} "
            f"(min {m['backtest_roc_auc_min']:.3f})"
        )
    lines.append(f"gate: {report.gate_outcome}")
    lines.append(
        f"run {report.run_id}, model churn version {report.model_version}"
        + (" (champion)" if report.promoted else "")
    )
    lines.append(f"took {report.seconds:.0f} s; browse runs with: make ui")
    return [table, *lines]


def static_summary_lines(report: Any) -> list[str]:
    """Lines for the CLI: CV metrics beside the logistic baseline, run and model
    (``report``: a ``churn.pipelines.train_static.StaticTrainReport``)."""
    m = report.metrics
    lines = [
        f"{report.dataset}: {report.protocol}",
        f"  churn rate {report.churn_rate:.1%}, {report.features} features",
        f"  {'metric':<16} {'LightGBM':>16} {'logistic':>9}",
    ]
    for key, label in (
        ("roc_auc", "ROC AUC"),
        ("pr_auc", "PR AUC"),
        ("top_decile_lift", "top-decile lift"),
        ("brier", "Brier"),
        ("log_loss", "log loss"),
    ):
        lines.append(
            f"  {label:<16} {m[f'cv_{key}']:>8.3f} +/- {m[f'cv_{key}_std']:.3f}"
            f" {m[f'baseline_logreg_{key}']:>9.3f}"
        )
    model = (
        f", model {report.registered_model} version {report.model_version}"
        if report.registered_model
        else ""
    )
    lines.append(f"final model: {report.trees} trees on all {report.rows:,} rows")
    lines.append(
        f"run {report.run_id} (experiment {report.experiment}){model}; not the weekly churn "
        f"champion. Took {report.seconds:.0f} s; browse runs with: make ui"
    )
    return lines
