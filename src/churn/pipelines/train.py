"""``churn train``: the thin shell around out-of-time training.

dataset -> training frame (``churn.dataset``) -> out-of-time split, LightGBM, calibration
(``churn.modeling.train_model``) -> the model beside the baselines and, with ``--oracle``, the
simulator's true probabilities (``churn.modeling.compare_on_test``) -> rolling backtest -> the
champion re-scored on the SAME test window -> gate (``churn.modeling.judge``) -> one MLflow run,
the model registered as ``churn``, alias ``champion`` moved only if the gate passes or ``--force``
(``churn.pipelines.train_log``).

The heavy work happens before the MLflow run starts, so a failure leaves no half-logged run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from churn._progress import progress_bar, timed
from churn.errors import ChurnError
from churn.pipelines import registry, tracking

# Also reachable from here for the notebooks and scripts written against this module.
from churn.pipelines.inputs import load_oracle, load_training_frame
from churn.pipelines.summary import TrainReport
from churn.settings import load_settings

log = logging.getLogger(__name__)


def _gate(uri: str, cmp: Any, model: Any, training: Any, force: bool) -> tuple[Any, bool, str]:
    """Champion/challenger on THIS test window: the champion re-scored on the same rows (its
    logged metrics came from another window), then the gate. ``(champion_before, promoted,
    outcome)``."""
    from churn import modeling as m

    before, champion_auc, incomparable = registry.champion_version(uri), None, ""
    if before is not None:
        try:
            champion = registry.load_champion(uri)
        except ChurnError as exc:
            incomparable = f"the champion cannot score the new test frame ({exc})"
        else:
            champion_auc, incomparable = m.rescore_champion(cmp, champion, model.horizon_days)
    promoted, outcome = m.judge(
        cmp,
        champion_auc,
        has_champion=before is not None,
        incomparable=incomparable,
        force=force,
        tolerance=training.gate_tolerance,
    )
    return before, promoted, outcome


def _backtest(frame: pd.DataFrame, settings: Any, progress: bool) -> pd.DataFrame:
    from churn.modeling import backtest

    with progress_bar("backtest windows", settings.training.backtest_windows, progress) as bar:
        return backtest(frame, settings, on_window=bar.advance)


def run_train(
    data: Path,
    config: Path | None = None,
    *,
    oracle: Path | None = None,
    force: bool = False,
    experiment: str = "churn",
    tracking_uri: str | None = None,
    progress: bool = True,
    run_backtest: bool = True,
) -> TrainReport:
    """Train, evaluate, log, register and (if it earns it) promote a model.

    Parameters
    ----------
    data
        Dataset folder or dataset YAML (``churn.data``).
    config
        Settings YAML (``configs/model.yaml``); ``None`` for the defaults.
    oracle
        The simulator's truth folder (``<dataset>/ground_truth``): adds the oracle (the true
        churn probabilities) to the comparison and the gate. ``None``: no oracle column.
    force
        Make the new model champion even if the gate says no.
    experiment
        MLflow experiment name.
    tracking_uri
        Default ``churn.pipelines.tracking.default_tracking_uri()``.
    progress
        Show progress bars.
    run_backtest
        Retrain over ``backtest_windows`` earlier test windows to show stability.
    """
    from churn import modeling as m
    from churn.pipelines.lineage import training_lineage
    from churn.pipelines.train_log import TrainingRun, log_training_run

    started, timings = time.perf_counter(), {}
    settings = load_settings(config)
    tr = settings.training
    uri = tracking_uri or tracking.default_tracking_uri()
    truth = load_oracle(oracle)
    with timed(timings, "load and build training frame"):
        tables, frame, spec = load_training_frame(data, settings, progress=progress)
    with timed(timings, "train LightGBM"):
        result = m.train_model(frame, settings)
    with timed(timings, "evaluate and baselines"):
        test = result.split.part(frame, "test")
        p = None if truth is None else m.oracle_scores(truth, test, settings.snapshots)
        cmp = m.compare_on_test(result, frame, tables, tr, oracle=p)
    backtest = pd.DataFrame()
    if run_backtest and tr.backtest_windows > 0:
        with timed(timings, "rolling backtest"):
            backtest = _backtest(frame, settings, progress)
    gate = before, promoted, outcome = _gate(uri, cmp, result.model, tr, force)
    metrics = {**cmp.metrics(), **m.backtest_summary(backtest)}
    metrics["best_iteration"] = float(result.best_iteration)
    with timed(timings, "plots"):
        figures = m.comparison_figures(cmp, result, backtest, tr)
    lineage = training_lineage(data, tables, frame, result)
    parts = (config, settings, tables, frame, result, cmp, metrics, backtest, figures, lineage)
    run = TrainingRun(*parts, gate=gate, force=force, spec=spec)
    with timed(timings, "log to MLflow"):
        run_id, version = log_training_run(run, experiment, uri)
    log.info("gate: %s", outcome)
    return TrainReport(
        run_id=run_id,
        experiment=experiment,
        tracking_uri=uri,
        metrics=metrics,
        comparison=cmp.table(),
        backtest=backtest,
        split=result.split.describe(),
        gate_outcome=outcome,
        promoted=promoted,
        model_version=version,
        champion_version_before=str(before.version) if before else None,
        seconds=round(time.perf_counter() - started, 1),
        timings=timings,
    )
