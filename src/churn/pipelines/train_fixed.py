"""``churn train`` on a dataset config with an ``evaluation`` section: the fixed-as_of protocol.

dataset -> the frame of ``churn.dataset.fixed_as_of_frame`` (training snapshots ending
``train_horizon_days`` before ``as_of``, the test snapshot at ``as_of``, everything but the test
labels from the data known before ``as_of``) -> ``churn.modeling.fixed_as_of_split`` (customers
held out for early stopping and calibration) -> the model kind (LightGBM, a hybrid boosted from a
logistic offset, or the offset alone) chosen on the protocol moved back a training horizon before
``as_of`` (``churn.dataset.fixed_as_of_fold``, ``churn.modeling.select_kind``) -> that kind
trained -> the model beside every baseline on the test rows: the health card, logistic regression on the same features, recency alone, and
BG/NBD's P(no purchase in the horizon) when pymc-marketing is importable (skipped with a
warning otherwise) -> the same gate, MLflow run and registration as the rolling protocol
(``churn.pipelines.train``). No backtest: the protocol has one test date.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from churn._progress import timed
from churn.pipelines import tracking
from churn.pipelines.summary import TrainReport
from churn.settings import Settings, load_settings

log = logging.getLogger(__name__)


def evaluation_protocol(data: Path) -> Any:
    """The dataset config's ``evaluation`` section, or ``None`` (rolling protocol)."""
    from churn.data import load_config

    return load_config(data).evaluation


def _with_horizon(settings: Settings, days: int) -> Settings:
    snapshots = settings.snapshots.model_copy(update={"horizon_days": days})
    return settings.model_copy(update={"snapshots": snapshots})


def run_train_fixed(
    data: Path,
    config: Path | None = None,
    *,
    force: bool = False,
    experiment: str = "churn",
    tracking_uri: str | None = None,
    progress: bool = True,
    accept_leak_risk: tuple[str, ...] = (),
) -> TrainReport:
    """Train and evaluate on the config's fixed ``as_of``, then log, register and gate.

    The model's horizon is ``train_horizon_days`` (what it was trained and calibrated on); the
    test ranks ``[as_of, as_of + horizon_days)``. Parameters as ``run_train``.
    """
    from churn import modeling as m
    from churn.data import load_dataset
    from churn.dataset import fixed_as_of_fold, fixed_as_of_frame
    from churn.pipelines.deploy import gate as _gate
    from churn.pipelines.lineage import training_lineage
    from churn.pipelines.train_log import TrainingRun, log_training_run

    started, timings = time.perf_counter(), {}
    ev = evaluation_protocol(data)
    settings = _with_horizon(load_settings(config), ev.train_horizon())
    tr, uri = settings.training, tracking_uri or tracking.default_tracking_uri()
    with timed(timings, "load and build training frame"):
        tables = load_dataset(data)
        protocol = (tables, settings.snapshots, ev.as_of, ev.horizon_days, ev.train_horizon())
        frame, spec = fixed_as_of_frame(*protocol, first=ev.first_snapshot, progress=progress)
    with timed(timings, "leak probe and train LightGBM"):
        split = m.fixed_as_of_split(
            frame, ev.as_of, ev.train_horizon(), ev.horizon_days, seed=tr.seed
        )
        probe = m.probe_rows(split.part(frame, "fit"), tr, accept_leak_risk)
    with timed(timings, "choose the model kind on the protocol moved back"):
        fold = fixed_as_of_fold(*protocol, first=ev.first_snapshot, progress=progress)
        selection = m.select_kind(fold, tr)
        result = m.train_model(frame, settings, split=split, kind=selection.choice)
    with timed(timings, "evaluate and baselines"):
        extra, bg_info = m.activity_baselines(frame, split, ev.horizon_days, tr.seed)
        if m.BGNBD not in extra:
            log.warning("%s", bg_info["note"])
        cmp = m.compare_on_test(result, frame, tables, tr, extra=extra)
    probe = m.check_comparison(probe, cmp, tr.leak_model_auc)
    strongest, value = m.strongest_baseline(cmp)
    log.info("strongest baseline on the test rows: %s (ROC AUC %.4f)", strongest, value)
    with tracking.store_lock(uri):
        gate = before, promoted, outcome = _gate(uri, cmp, result.model, tr, force, probe)
        metrics = {**cmp.metrics(), **selection.metrics(), "best_iteration": result.best_iteration}
        metrics["strongest_baseline_roc_auc"] = value
        metrics.update({f"bgnbd_{k}": v for k, v in bg_info.get("params", {}).items()})
        metrics.update({f"bgnbd_{k}": v for k, v in bg_info.items() if k.startswith("max_abs")})
        with timed(timings, "plots"):
            figures = m.comparison_figures(cmp, result, pd.DataFrame(), tr)
        lineage = training_lineage(data, tables, frame, result)
        lineage.update(strongest_baseline=strongest, bgnbd=bg_info["note"], **selection.params())

        parts = (config, settings, tables, frame, result, cmp, metrics, pd.DataFrame(), figures)
        run = TrainingRun(*parts, lineage, gate=gate, force=force, spec=spec, probe=probe)
        with timed(timings, "log to MLflow"):
            run_id, version = log_training_run(run, experiment, uri)
    probe.raise_if_refused(run_id, static=False)
    return TrainReport(
        run_id=run_id,
        experiment=experiment,
        tracking_uri=uri,
        metrics=metrics,
        comparison=cmp.table(),
        backtest=pd.DataFrame(),
        split=result.split.describe(),
        gate_outcome=outcome,
        promoted=promoted,
        model_version=version,
        champion_version_before=str(before.version) if before else None,
        seconds=round(time.perf_counter() - started, 1),
        timings=timings,
        model_selection=selection.note,
    )


def run_train_any(
    data: Path,
    config: Path | None = None,
    *,
    oracle: Path | None = None,
    run_backtest: bool = True,
    **kwargs: Any,
) -> TrainReport:
    """``churn train`` on a dataset with a time axis: the fixed-as_of protocol when its config
    has an ``evaluation`` section (``oracle`` and the backtest do not apply), else the rolling
    out-of-time protocol (``churn.pipelines.train.run_train``)."""
    if evaluation_protocol(data) is not None:
        if oracle is not None:
            log.warning("--oracle is ignored by the fixed-as_of protocol")
        return run_train_fixed(data, config, **kwargs)
    from churn.pipelines.train import run_train

    return run_train(data, config, oracle=oracle, run_backtest=run_backtest, **kwargs)
