"""``churn train``: the thin shell around out-of-time training.

dataset -> training frame (``churn.dataset``) -> out-of-time split, LightGBM, calibration
(``churn.modeling.train_model``: the validated model) and its refit on every label known at the
extraction date (``churn.pipelines.deploy``: the deployed model) -> the validated model beside
the baselines and, with ``--oracle``, the simulator's true probabilities
(``churn.modeling.compare_on_test``) -> rolling backtest -> the champion re-scored on the SAME
test window -> gate on the deployed model (``churn.modeling.judge``) -> one MLflow run, the
deployed model registered as ``churn``, alias ``champion`` moved only if the gate passes or ``--force``
(``churn.pipelines.train_log``). A run the leak probe (``churn.modeling.leakage``) finds too good
to be true is logged, not registered, and raises ``LeakSuspected`` (exit code 3). The heavy
work happens before the MLflow run starts, so a failure leaves no half-logged run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

from churn._progress import progress_bar, timed
from churn.pipelines import tracking
from churn.pipelines.deploy import deploy, describe_deployed, gate

# Also reachable from here for the notebooks and scripts written against this module.
from churn.pipelines.inputs import load_oracle, load_training_frame
from churn.pipelines.summary import TrainReport
from churn.settings import load_settings

log = logging.getLogger(__name__)


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
    accept_leak_risk: tuple[str, ...] = (),
) -> TrainReport:
    """Train, evaluate, log, register and (if it earns it) promote a model.

    Parameters
    ----------
    data, config
        Dataset folder or YAML (``churn.data``); settings YAML, ``None`` for the defaults.
    oracle
        The simulator's truth folder (``<dataset>/ground_truth``): the true churn probabilities
        join the comparison, the gate and the leak probe. ``None``: no oracle column.
    force, accept_leak_risk, experiment, tracking_uri, progress, run_backtest
        Promote even if the gate says no (never past the leak probe); ``--accept-leak-risk``;
        MLflow experiment and URI; progress bars; retrain over earlier test windows.
    """
    from churn import modeling as m
    from churn.pipelines.lineage import training_lineage
    from churn.pipelines.train_log import TrainingRun, log_training_run

    started, timings = time.perf_counter(), {}
    tr = (settings := load_settings(config)).training
    uri, truth = tracking_uri or tracking.default_tracking_uri(), load_oracle(oracle)
    with timed(timings, "load and build training frame"):
        tables, frame, spec = load_training_frame(data, settings, progress=progress)
    with timed(timings, "leak probe, train LightGBM and refit the deployed model"):
        split = m.out_of_time_split(frame, tr, settings.snapshots)
        probe = m.probe_rows(split.part(frame, "fit"), tr, accept_leak_risk)  # before fitting
        result = m.train_model(frame, settings, split=split)
        deployed = deploy(frame, settings, result, tables.extraction_date)
    with timed(timings, "evaluate and baselines"):
        test = result.split.part(frame, "test")
        p = None if truth is None else m.oracle_scores(truth, test, settings.snapshots)
        cmp = m.compare_on_test(result, frame, tables, tr, oracle=p)
    probe = m.check_comparison(probe, cmp, tr.leak_model_auc)
    backtest = pd.DataFrame()
    if run_backtest and tr.backtest_windows > 0:
        with (
            timed(timings, "rolling backtest"),
            progress_bar("backtest windows", tr.backtest_windows, progress) as bar,
        ):
            backtest = m.backtest(frame, settings, on_window=bar.advance)
    # One trainer at a time judges and promotes: a second is compared with the first's champion.
    with tracking.store_lock(uri):
        gate_ = before, promoted, outcome = gate(uri, cmp, deployed.model, tr, force, probe)
        metrics = {**cmp.metrics(), **m.backtest_summary(backtest)}
        metrics["best_iteration"] = float(result.best_iteration)
        with timed(timings, "plots"):
            figures = m.comparison_figures(cmp, result, backtest, tr)
        lineage = training_lineage(data, tables, frame, result, spec)
        parts = (config, settings, tables, frame, result, cmp, metrics, backtest, figures, lineage)
        run = TrainingRun(*parts, gate_, force, spec, probe, deployed)
        with timed(timings, "log to MLflow"):
            run_id, version = log_training_run(run, experiment, uri)
    probe.raise_if_refused(run_id, static=False)
    log.info("gate: %s", outcome)
    return TrainReport(
        run_id=run_id,
        experiment=experiment,
        tracking_uri=uri,
        metrics=metrics,
        comparison=cmp.table(),
        backtest=backtest,
        split={**result.split.describe(), "deployed": describe_deployed(deployed.model.metadata)},
        gate_outcome=outcome,
        promoted=promoted,
        model_version=version,
        champion_version_before=str(before.version) if before else None,
        seconds=round(time.perf_counter() - started, 1),
        timings=timings,
    )
