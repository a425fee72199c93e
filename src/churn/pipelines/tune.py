"""``churn tune``: Optuna on the validation window (never the test window), logged to MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from churn._progress import progress_bar
from churn.pipelines import tracking
from churn.pipelines.inputs import load_training_frame
from churn.settings import load_settings


def run_tune(
    data: Path,
    config: Path | None = None,
    *,
    trials: int | None = None,
    timeout_s: float | None = None,
    experiment: str = "churn-tune",
    tracking_uri: str | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], pd.DataFrame, str]:
    """Tune LightGBM on the validation window; log the study to MLflow.

    Returns ``(best_params, trials, run_id)``. The test window is never scored.
    """
    import mlflow
    import optuna

    from churn.modeling import tune

    settings = load_settings(config)
    tr = settings.training
    uri = tracking_uri or tracking.default_tracking_uri()
    _, frame, _ = load_training_frame(data, settings, progress=progress)
    n = trials or tr.tune_trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with progress_bar("tuning trials", n, progress) as bar:
        best, table = tune(
            frame,
            settings,
            n_trials=n,
            timeout_s=timeout_s or tr.tune_timeout_s,
            on_trial=bar.advance,
        )
    with tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params(tracking.flat_params(settings, {"trials": n}))
            mlflow.log_params({f"best.{k}": v for k, v in best.items()})
            mlflow.log_metric("best_valid_log_loss", float(table["value"].min()))
            mlflow.log_text(table.to_csv(index=False), "tuning/trials.csv")
            mlflow.log_dict({"training": {"lightgbm": best}}, "tuning/best_params.json")
            mlflow.set_tag("scored_on", "validation window only (never the test window)")
            run_id = run.info.run_id
    return best, table, run_id
