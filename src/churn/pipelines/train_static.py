"""``churn train`` on a static customer table (``churn.definition: flag``): the thin shell.

load (``churn.static_table.load_static``) -> repeated stratified k-fold, LightGBM against the
logistic baseline on the same folds (``churn.static_table.cross_validate``) -> final model on
every row with the mean cross-validated tree count -> one MLflow run. There is no out-of-time
test window, so there is no champion gate: the model is registered as ``churn-static-<dataset>``,
never as the weekly ``churn`` model. The leak probe (``churn.modeling.leakage``) scores each column
alone and the CV ROC AUC: a run too good to be true is logged, not registered, and raises
``LeakSuspected`` (exit code 3).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

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


def leak_probe(dataset: Any, cv_auc: float, training: Any, accepted: tuple[str, ...]) -> Any:
    """The leak probe of a static table: each column alone on every row (cross-validation
    leaves no rows unseen by training) and the cross-validated ROC AUC."""
    from churn.modeling import check_model, probe_features

    probe = probe_features(
        dataset.features,
        dataset.label,
        threshold=training.leak_single_feature_auc,
        accepted=accepted,
        seed=training.seed,
    )
    return check_model(probe, cv_auc, training.leak_model_auc)


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
) -> StaticTrainReport:
    """Cross-validate, fit and log a model on a static customer table (see the module doc).

    Parameters
    ----------
    data, config
        Dataset YAML (or folder with one) whose ``churn.definition`` is ``flag``; settings YAML
        (only ``training.seed``, ``num_threads`` and the two ``leak_*`` thresholds are used).
    experiment, tracking_uri
        MLflow experiment name; tracking URI, default ``tracking.default_tracking_uri()``.
    n_splits, n_repeats
        Cross-validation folds and repeats.
    register, progress
        Register the final model as ``churn-static-<dataset>``; show a bar over the folds.
    accept_leak_risk
        Columns the leak probe named that the user accepts (``--accept-leak-risk``).
    """
    from churn.modeling import LogisticBaseline, evaluate
    from churn.pipelines.static_log import log_static_run
    from churn.static_table import cross_validate, cv_metrics, fit_static, load_static

    _check_cv(n_splits, n_repeats)
    started, settings = time.perf_counter(), load_settings(config)
    seed, threads = settings.training.seed, settings.training.num_threads
    uri = tracking_uri or tracking.default_tracking_uri()
    dataset = load_static(data)
    cv = cross_validate(
        dataset,
        evaluate=evaluate,
        baseline=lambda features: LogisticBaseline(features, seed=seed),
        n_splits=n_splits,
        n_repeats=n_repeats,
        seed=seed,
        num_threads=threads,
        progress=progress,
    )
    metrics, trees = cv_metrics(cv)
    probe = leak_probe(dataset, metrics["cv_roc_auc"], settings.training, accept_leak_risk)
    model = fit_static(dataset, num_boost_round=trees, seed=seed, num_threads=threads)
    setup = {"cv_n_splits": n_splits, "cv_n_repeats": n_repeats, "seed": seed}
    setup.update(num_threads=threads, trees=trees)
    name = f"{STATIC_MODEL_PREFIX}{dataset.name}" if register else None
    with tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        run_id, info = log_static_run(
            experiment_id, (data, config), dataset, cv, model, metrics, setup, name, probe
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
        rows=len(dataset.label),
        features=dataset.features.shape[1],
        churn_rate=dataset.churn_rate,
        trees=trees,
        registered_model=name,
        model_version=str(version) if version is not None else None,
        warnings=dataset.warnings,
        seconds=round(time.perf_counter() - started, 1),
        leak_probe=probe.finding(),
    )
