"""``churn train`` on a static customer table (``churn.definition: flag``): the thin shell.

load (``churn.static_table.load_static``) -> the training rows (all, or all but
``static.holdout``) -> LightGBM settings chosen on inner folds of them
(``churn.static_table.tune_static``) -> repeated stratified k-fold, LightGBM against the
logistic baseline on the same folds (``churn.static_table.cross_validate``) -> final model on
the training rows with the mean cross-validated tree count, probabilities corrected for a
declared ``static.sampling`` -> every metric on the held-out rows, with intervals
(``churn.pipelines.static_eval``) -> one MLflow run with both. There is no out-of-time
test window, so there is no champion gate: the model is registered as ``churn-static-<dataset>``,
never as the weekly ``churn`` model. The leak probe (``churn.modeling.leakage``) scores each column
alone and the CV ROC AUC: a run too good to be true is logged, not registered, and raises
``LeakSuspected`` (exit code 3).
"""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

from churn.errors import ChurnError
from churn.pipelines import tracking
from churn.pipelines.static_log import STATIC_MODEL_PREFIX, StaticTrainReport
from churn.settings import load_settings
from churn.static_table import describe_static  # noqa: F401 (the CLI's `churn validate`)

log = logging.getLogger(__name__)

#: Experiment of static-table runs: kept apart from the weekly, time-based ``churn`` runs.
STATIC_EXPERIMENT = "churn-static"


def is_static_dataset(data: Path) -> bool:
    """Whether ``data`` is a static customer table (its config says ``churn.definition: flag``).

    Raises ``churn.data.DatasetConfigError`` when the path or the config cannot be understood.
    """
    from churn.data import load_config

    return load_config(data).churn.definition == "flag"


def _check_cv(n_splits: int, n_repeats: int) -> None:
    if n_splits < 2 or n_repeats < 1:
        raise ChurnError(
            f"cross-validation needs at least 2 folds and 1 repeat, got {n_splits} folds and "
            f"{n_repeats} repeats"
        )


def run_train_static(
    data: Path,
    config: Path | None = None,
    *,
    experiment: str = STATIC_EXPERIMENT,
    tracking_uri: str | None = None,
    n_splits: int = 5,
    n_repeats: int = 3,
    register: bool = True,
    progress: bool = True,
    accept_leak_risk: tuple[str, ...] = (),
    tune_trials: int = 2,
) -> StaticTrainReport:
    """Choose settings, cross-validate, fit, hold out and log a static-table model (module doc):
    ``data`` has ``churn.definition: flag``; ``config`` gives ``training.seed``, ``num_threads``,
    ``leak_*``; CV and ``tune_trials`` (0: ``STATIC_LIGHTGBM``) use the training rows only;
    ``accept_leak_risk``: columns the leak probe named that the user accepts."""
    from churn.data import load_config
    from churn.modeling import LogisticBaseline, evaluate
    from churn.pipelines.static_eval import evaluate_holdout, leak_probe, tune_rows
    from churn.pipelines.static_log import log_static_run
    from churn.static_table import (
        cross_validate,
        cv_metrics,
        fit_static,
        load_static,
        sampling_factor,
    )

    _check_cv(n_splits, n_repeats)
    started, settings = time.perf_counter(), load_settings(config)
    seed, threads = settings.training.seed, settings.training.num_threads
    uri = tracking_uri or tracking.default_tracking_uri()
    dataset, sampling = load_static(data), load_config(data).static.sampling
    train, test = dataset.split()
    factor, warnings = sampling_factor(train, test, sampling)
    tuning = tune_rows(train, tune_trials, seed, threads, progress)
    params = tuning.params if tuning is not None else None
    baseline = partial(LogisticBaseline, seed=seed)
    folds = {"n_splits": n_splits, "n_repeats": n_repeats, "seed": seed, "progress": progress}
    cv = cross_validate(
        train, evaluate=evaluate, baseline=baseline, params=params, num_threads=threads, **folds
    )
    metrics, trees = cv_metrics(cv, factor)
    probe = leak_probe(train, metrics["cv_roc_auc"], settings.training, accept_leak_risk)
    model = fit_static(train, num_boost_round=trees, params=params, seed=seed, odds_factor=factor)
    held, tables = evaluate_holdout(train, test, model, seed=seed, tuning=tuning)
    metrics.update(held)
    setup = {"cv_n_splits": n_splits, "cv_n_repeats": n_repeats, "seed": seed, "trees": trees}
    setup.update(num_threads=threads, odds_factor=factor, tune_trials=tune_trials)
    setup.update({f"chosen.{k}": v for k, v in (params or {}).items()})
    name = f"{STATIC_MODEL_PREFIX}{dataset.name}" if register else None
    with tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        run_id, info = log_static_run(
            experiment_id, (data, config), train, cv, model, metrics, setup, name, probe, tables
        )
    probe.raise_if_refused(run_id, static=True)
    version = getattr(info, "registered_model_version", None)
    log.info("%s: %s, CV ROC AUC %.3f", dataset.name, cv.protocol, metrics["cv_roc_auc"])
    return StaticTrainReport(
        run_id=run_id,
        experiment=experiment,
        tracking_uri=uri,
        dataset=dataset.name,
        protocol=cv.protocol,
        metrics=metrics,
        summary=cv.summary,
        rows=len(train.label),
        features=dataset.features.shape[1],
        churn_rate=train.churn_rate,
        trees=trees,
        registered_model=name,
        model_version=str(version) if version is not None else None,
        warnings=(*dataset.warnings, *warnings),
        seconds=round(time.perf_counter() - started, 1),
        leak_probe=probe.finding(),
    )
