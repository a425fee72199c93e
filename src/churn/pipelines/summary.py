"""What the CLI prints after ``churn train``: the report of a run and its summary tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from churn.modeling import CHAMPION, CI_METRICS, LOGREG, METRIC_PREFIXES, MODEL, ORACLE, RULE


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
    model_selection: str = ""  # the fixed-as_of protocol's model kind and why (else empty)


#: Rows of the summary table: metric key -> label shown to people.
SUMMARY_METRICS: dict[str, str] = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "ece": "ECE",
    "calibration_intercept": "calibration intercept",
    "calibration_slope": "calibration slope",
    "top_decile_lift": "top-decile lift",
    "precision_at_k": "precision@K",
    "recall_at_k": "recall@K",
    "arr_captured_at_k": "ARR captured@K",
}
_NAMES = ("LightGBM", "health score", "logistic", "oracle", "champion")
_COLUMNS = dict(zip((MODEL, RULE, LOGREG, ORACLE, CHAMPION), _NAMES, strict=True))
_PREFIX = {name: prefix for prefix, name in METRIC_PREFIXES}
_CAPTION = (
    "[95% interval]: bootstrap over test customers (all of a customer's rows drawn together); "
    "ECE: 10 equal-mass bins; calibration intercept (slope fixed at 1) and slope: logistic "
    "recalibration of logit(p), ideal 0 and 1; @K: per weekly snapshot, ARR ranked by p x ARR"
)


def _cell(m: dict[str, float], key: str, v: Any, sign: str = "") -> str:
    """``0.820 [0.769, 0.865]`` when the run has ``key_ci_low``, else ``0.820``."""

    def num(x: Any) -> str:
        return "-" if x is None or not math.isfinite(float(x)) else f"{float(x):{sign}.3f}"

    ci = f" [{num(m[key + '_ci_low'])}, {num(m[key + '_ci_high'])}]" if key + "_ci_low" in m else ""
    return num(v) + ci


def _extra_lines(m: dict[str, float], k: int | None) -> list[str]:
    """The model's paired lead over each baseline, and what its ECE is worth."""
    lines = []
    for name in (RULE, LOGREG):
        keys = [(c, f"diff_{c}_vs_{_PREFIX[name]}") for c in CI_METRICS]
        parts = [f"{SUMMARY_METRICS[c]} {_cell(m, d, m[d], '+')}" for c, d in keys if d in m]
        text = f"LightGBM - {_COLUMNS[name]} (paired): " + "; ".join(parts)
        lines += [text.replace("@K", f"@{k}" if k else "@K")] if parts else []
    if "test_ece_constant" in m:
        boot = f"{int(m.get('bootstrap_resamples', 0))} resamples of "
        lines.append(
            f"intervals: {boot}{int(m['test_customers']):,} test customers "
            f"({int(m['test_churned_customers'])} churned); ECE of a constant at the training "
            f"churn rate ({m['train_churn_rate']:.1%}): {m['test_ece_constant']:.3f}; health "
            "score: points fitted on the validation window (test ROC AUC "
            f"{m['baseline_rule_default_roc_auc']:.3f} with the default points)"
        )
    return lines


def summary_renderables(report: TrainReport, capacity_k: int | None = None) -> list[Any]:
    """Rich renderables for the CLI: metrics beside baselines and oracle, gate, run id."""
    from rich import box
    from rich.table import Table

    table = Table(
        title="Out-of-time test window " + report.split.get("test_as_of", ""),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        caption=_CAPTION
        + ("; oracle: the simulator's true probabilities" if ORACLE in report.comparison else ""),
        caption_justify="left",
    )
    table.add_column("metric")
    m = report.metrics
    shown = [c for c in _COLUMNS if c in report.comparison.columns]
    for c in shown:
        table.add_column(_COLUMNS[c], justify="right")
    for key, label in SUMMARY_METRICS.items():
        if key not in report.comparison.index:
            continue
        if capacity_k and key.endswith("_at_k"):
            label = label.replace("@K", f"@{capacity_k}")
        cells = [_cell(m, f"{_PREFIX[c]}_{key}", report.comparison.at[key, c]) for c in shown]
        table.add_row(label, *cells)
    lines = _extra_lines(m, capacity_k)
    if "model_oracle_ratio" in m:
        lines.append(f"model / oracle ROC AUC: {m['model_oracle_ratio']:.3f}")
    if "backtest_roc_auc_mean" in m:
        lines.append(
            f"backtest ROC AUC over {int(m['backtest_windows'])} windows: "
            f"{m['backtest_roc_auc_mean']:.3f} +/- {m['backtest_roc_auc_std']:.3f} "
            f"(min {m['backtest_roc_auc_min']:.3f})"
        )
    said = {"model kind": report.model_selection, "deployed": report.split.get("deployed")}
    lines += [f"{k}: {v}" for k, v in said.items() if v] + [f"gate: {report.gate_outcome}"]
    champion = " (champion)" if report.promoted else ""
    lines.append(f"run {report.run_id}, model churn version {report.model_version}{champion}")
    return [table, *lines, f"took {report.seconds:.0f} s; browse runs with: make ui"]


def static_summary_lines(report: Any) -> list[str]:
    """Lines for the CLI: CV metrics beside the logistic baseline, run and model
    (``report``: a ``churn.pipelines.train_static.StaticTrainReport``)."""
    m = report.metrics
    lines = [
        f"{report.dataset}: {report.protocol}",
        f"  churn rate {report.churn_rate:.1%}, {report.features} features",
        f"  {'metric':<16} {'LightGBM':>16} {'logistic':>9}",
    ]
    for key in ("roc_auc", "pr_auc", "top_decile_lift", "brier", "log_loss"):
        lines.append(
            f"  {SUMMARY_METRICS[key]:<16} {m[f'cv_{key}']:>8.3f} +/- {m[f'cv_{key}_std']:.3f}"
            f" {m[f'baseline_logreg_{key}']:>9.3f}"
        )
    model = report.registered_model and f", model {report.registered_model}"
    model = f"{model} version {report.model_version}" if model else ""
    lines.append(f"final model: {report.trees} trees on all {report.rows:,} rows")
    lines.append(
        f"run {report.run_id} (experiment {report.experiment}){model}; not the weekly churn "
        f"champion. Took {report.seconds:.0f} s; browse runs with: make ui"
    )
    return lines
