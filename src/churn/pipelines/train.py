"""``churn train`` and ``churn tune``: the thin shell around out-of-time training.

load the dataset (``churn.data``) -> training frame (``churn.dataset.build_training_frame``) ->
out-of-time split, LightGBM, calibration (``churn.training``) -> test metrics beside the baselines
and, on simulated data, the oracle (``churn.evaluation``, ``churn.baselines``) -> rolling backtest
-> plots -> one MLflow run: config, lineage, metrics, plots, catalogue, calibrator, the model in
LightGBM's native format registered as ``churn`` -> champion/challenger gate on the SAME test
window -> alias ``champion`` moved only if the gate passes (or ``--force``).

The heavy work happens before the MLflow run starts, so a failure leaves no half-logged run.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.contract import TABLE_NAMES, Tables
from churn.errors import ChurnError
from churn.settings import Settings, load_settings

log = logging.getLogger(__name__)

#: Scorer names in the comparison table, in display order.
MODEL = "lightgbm"
MODEL_RAW = "lightgbm_uncalibrated"
RULE = "baseline_rule"
LOGREG = "baseline_logreg"
ORACLE = "oracle"
CHAMPION = "champion"


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


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    log.info("%s ...", name)
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 2)
    log.info("%s: %.1f s", name, timings[name])


@contextmanager
def _bar(description: str, total: int, enabled: bool) -> Iterator[Callable[..., None]]:
    """A rich progress bar; yields ``advance()``. Nothing is drawn when disabled."""
    if not enabled:
        yield lambda *_: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda *_: bar.advance(task)


def dataset_root(data: Path) -> Path:
    """The dataset folder (``data`` itself, or the folder of a dataset YAML)."""
    data = Path(data)
    return data if data.is_dir() else data.parent


def load_training_frame(
    data: Path, settings: Settings, *, progress: bool = True
) -> tuple[Tables, pd.DataFrame]:
    """Load and validate the dataset, then build the labelled snapshot frame."""
    from churn.data import load_dataset
    from churn.dataset import build_training_frame
    from churn.features import FeatureSpec

    tables = load_dataset(data)
    # The spec fixes the data-dependent columns (top channels, categories, metrics). It travels
    # with the model so that weekly scoring builds exactly these columns from next week's data.
    spec = FeatureSpec.from_tables(tables)
    frame = build_training_frame(
        tables,
        settings.snapshots,
        start=history_start(tables, settings),
        progress=progress,
        spec=spec,
    )
    frame.attrs["feature_spec"] = spec.to_dict()
    return tables, frame


def history_start(tables: Tables, settings: Settings) -> pd.Timestamp | None:
    """First snapshot date worth training on: warm-up days after the event history begins.

    Customers may have signed up years before the extract's first interaction, NPS or usage
    record. Snapshots before the event history starts see no events at all, and their labels
    can only be "stayed" (nobody in the extract left before it starts), so they would teach
    the model that silence means safety. ``None`` when there are no events (the spine's default).
    """
    firsts = []
    for name, col in (("interactions", "timestamp"), ("nps", "timestamp"), ("usage", "date")):
        table = tables.table(name)
        if col in table.columns and table[col].notna().any():
            firsts.append(pd.Timestamp(table[col].min()))
    if not firsts:
        return None
    signup = pd.to_datetime(tables.customers["signup_date"]).min()
    first = max(min(firsts), signup) if pd.notna(signup) else min(firsts)
    return (first + pd.Timedelta(days=settings.snapshots.warmup_days)).normalize()


def _arr_for(rows: pd.DataFrame, tables: Tables) -> np.ndarray | None:
    customers = tables.customers
    if "arr" not in customers.columns or customers["arr"].isna().all():
        return None
    arr = customers.drop_duplicates("customer_id").set_index("customer_id")["arr"]
    return rows["customer_id"].map(arr).to_numpy(dtype=float)


def _oracle(data: Path, rows: pd.DataFrame, settings: Settings) -> np.ndarray | None:
    """True churn probabilities when the dataset is simulated (has ground_truth/)."""
    root = dataset_root(data)
    if not (root / "ground_truth").is_dir():
        return None
    from churn.simulate import load_truth, oracle_probability

    truth = load_truth(root)
    return np.asarray(
        oracle_probability(
            truth,
            rows[["customer_id", "as_of"]],
            settings.snapshots.horizon_days,
            lead_days=settings.snapshots.lead_days,
        ),
        dtype=float,
    )


def _flat_params(settings: Settings, extra: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for section in ("snapshots", "training"):
        for key, value in getattr(settings, section).__dict__.items():
            if key == "lightgbm":
                out.update({f"lgb.{k}": str(v) for k, v in value.items()})
            else:
                out[f"{section}.{key}"] = str(value)
    out.update({k: str(v) for k, v in extra.items()})
    # MLflow caps parameter values at 6000 characters; ours are short, but stay safe.
    return {k: v[:500] for k, v in out.items()}


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def run_train(
    data: Path,
    config: Path | None = None,
    *,
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
    force
        Make the new model champion even if the gate says no.
    experiment
        MLflow experiment name.
    tracking_uri
        Default ``churn.tracking.default_tracking_uri()``.
    progress
        Show progress bars.
    run_backtest
        Retrain over ``backtest_windows`` earlier test windows to show stability.
    """
    import mlflow

    from churn.modeling import (
        backtest,
        backtest_summary,
        baselines,
        comparison_table,
        evaluate,
        gains_curve,
        plots,
        promotion,
        reliability_curve,
        roc_auc,
        train_model,
    )
    from churn.pipelines import tracking

    started = time.perf_counter()
    timings: dict[str, float] = {}
    settings = load_settings(config)
    tr = settings.training
    uri = tracking_uri or tracking.default_tracking_uri()

    with _timed(timings, "load and build training frame"):
        tables, frame = load_training_frame(data, settings, progress=progress)
    with _timed(timings, "train LightGBM"):
        result = train_model(frame, settings)
    model, split = result.model, result.split
    test = split.part(frame, "test")
    train_rows = split.part(frame, "train")
    y = test["label"].to_numpy(dtype=float)
    arr = _arr_for(test, tables)

    def scored(p: np.ndarray) -> dict[str, float]:
        return evaluate(y, p, arr=arr, as_of=test["as_of"].to_numpy(), capacity_k=tr.capacity_k)

    with _timed(timings, "evaluate and baselines"):
        scores: dict[str, np.ndarray] = {
            MODEL: model.predict_proba(test),
            MODEL_RAW: model.predict_raw(test),
        }
        scores[RULE] = baselines.health_score_proba(test)
        logreg = baselines.LogisticBaseline(result.features, seed=tr.seed).fit(
            train_rows, train_rows["label"].to_numpy(dtype=float)
        )
        scores[LOGREG] = logreg.predict_proba(test)
        results = {name: scored(p) for name, p in scores.items()}
        oracle = _oracle(data, test, settings)
        oracle_ratio = None
        if oracle is not None:
            # The oracle has no latent state for a few rows (e.g. a customer leaving exactly at
            # as_of); compare model and oracle on the rows where both exist.
            ok = np.isfinite(oracle)
            if not ok.all():
                log.warning("oracle undefined for %d of %d test rows", (~ok).sum(), len(ok))
            results[ORACLE] = evaluate(
                y[ok],
                oracle[ok],
                arr=None if arr is None else arr[ok],
                as_of=test["as_of"].to_numpy()[ok],
                capacity_k=tr.capacity_k,
            )
            results[ORACLE]["n_rows"] = float(ok.sum())
            scores[ORACLE] = np.where(ok, oracle, 0.0)
            oracle_ratio = roc_auc(y[ok], scores[MODEL][ok]) / results[ORACLE]["roc_auc"]

    backtest_table = pd.DataFrame()
    if run_backtest and tr.backtest_windows > 0:
        with (
            _timed(timings, "rolling backtest"),
            _bar("backtest windows", tr.backtest_windows, progress) as advance,
        ):
            backtest_table = backtest(frame, settings, on_window=advance)

    # Champion/challenger: re-score the current champion on THIS test window, so both numbers
    # describe the same customers and weeks (metrics logged at the champion's own training time
    # came from another window and are not comparable).
    champion_before = tracking.champion_version(uri)
    champion_auc: float | None = None
    incomparable = ""
    if champion_before is not None:
        try:
            champion = tracking.load_champion(uri)
            if champion.horizon_days != model.horizon_days:
                incomparable = (
                    f"the champion predicts {champion.horizon_days} days ahead, "
                    f"this model {model.horizon_days}"
                )
            else:
                scores[CHAMPION] = champion.predict_proba(test)
                results[CHAMPION] = scored(scores[CHAMPION])
                champion_auc = results[CHAMPION]["roc_auc"]
        except ChurnError as exc:
            incomparable = f"the champion cannot score the new test frame ({exc})"

    challenger_auc = results[MODEL]["roc_auc"]
    if oracle_ratio is not None and oracle_ratio > promotion.ORACLE_LEAK_RATIO:
        log.warning(
            "the model ranks better than the true probabilities (ROC AUC %.3f vs oracle %.3f): "
            "a feature leaks the future; see features/importance.csv in the run",
            challenger_auc,
            results[ORACLE]["roc_auc"],
        )
    promoted, outcome = promotion.decide_promotion(
        challenger_auc,
        champion_auc,
        has_champion=champion_before is not None,
        incomparable=incomparable,
        force=force,
        tolerance=tr.gate_tolerance,
        oracle_ratio=oracle_ratio,
    )

    metrics: dict[str, float] = {}
    for prefix, name in (
        ("test", MODEL),
        ("test_uncalibrated", MODEL_RAW),
        ("baseline_rule", RULE),
        ("baseline_logreg", LOGREG),
        ("oracle", ORACLE),
        ("champion_test", CHAMPION),
    ):
        if name in results:
            metrics.update({f"{prefix}_{k}": v for k, v in results[name].items()})
    if oracle_ratio is not None:
        metrics["model_oracle_ratio"] = oracle_ratio
    metrics.update(backtest_summary(backtest_table))
    metrics["best_iteration"] = float(result.best_iteration)
    comparison = comparison_table(results)

    with _timed(timings, "plots"):
        curves = {k: v for k, v in scores.items() if k in (MODEL, RULE, LOGREG, ORACLE)}
        figures = {
            "plots/roc_pr.png": plots.roc_pr_figure(y, curves),
            "plots/calibration.png": plots.calibration_figure(
                y, {"calibrated": scores[MODEL], "uncalibrated": scores[MODEL_RAW]}
            ),
            "plots/gains.png": plots.gains_figure(
                y, curves, capacity_share=tr.capacity_k / max(len(test) / len(split.test_dates), 1)
            ),
        }
        if not backtest_table.empty:
            figures["plots/backtest.png"] = plots.backtest_figure(backtest_table)
        sample = test.sample(min(tr.shap_sample, len(test)), random_state=tr.seed)
        figures["plots/shap_beeswarm.png"] = plots.shap_beeswarm_figure(
            model.contributions(sample), model.prepare(sample)
        )

    data_hash = tracking.tables_fingerprint(tables)
    lineage = {
        "data_path": str(Path(data).resolve()),
        "data_name": tables.name,
        "data_hash": data_hash,
        "extraction_date": str(tables.extraction_date),
        "as_of_min": str(frame["as_of"].min().date()),
        "as_of_max": str(frame["as_of"].max().date()),
        **split.describe(),
        "rows_frame": len(frame),
        **{f"rows_{k}": v for k, v in result.row_counts.items()},
        **{f"rows_table_{t}": len(tables.table(t)) for t in TABLE_NAMES},
        "n_features": len(result.features),
    }
    model.metadata.update(
        {
            "data_hash": data_hash,
            "data_name": tables.name,
            "feature_spec": frame.attrs.get("feature_spec"),
            "test_metrics": _finite(results[MODEL]),
            "settings": tracking.json_safe(settings.to_dict()),
        }
    )

    with _timed(timings, "log to MLflow"), tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            model.metadata["run_id"] = run_id
            mlflow.log_params(
                _flat_params(
                    settings,
                    {
                        "best_iteration": result.best_iteration,
                        "deployed_model": model.metadata["deployed_model"],
                        "config_path": str(config) if config else "(defaults)",
                        **lineage,
                    },
                )
            )
            mlflow.set_tags(
                {
                    "deployed_model": "validated: fitted on the fit window, early-stopped and "
                    "calibrated on the validation window; the model the test metrics describe",
                    "data_hash": data_hash,
                    "gate_outcome": outcome,
                    "promoted": str(promoted),
                    "forced": str(force),
                    "champion_version_before": str(
                        champion_before.version if champion_before else None
                    ),
                    "has_oracle": str(ORACLE in results),
                }
            )
            with warnings.catch_warnings():
                # MLflow registers its local-file dataset source twice and warns about it.
                warnings.simplefilter("ignore", UserWarning)
                dataset = mlflow.data.from_pandas(
                    frame,
                    source=lineage["data_path"],
                    targets="label",
                    name=tables.name,
                    digest=data_hash[:20],
                )
            mlflow.log_input(dataset, context="training")
            mlflow.log_metrics(_finite(metrics))
            mlflow.log_dict(tracking.json_safe(settings.to_dict()), "config/settings.json")
            if config is not None and Path(config).exists():
                mlflow.log_artifact(str(config), artifact_path="config")
            mlflow.log_dict(model.calibrator.to_dict(), "model_extra/calibrator.json")
            mlflow.log_dict(tracking.json_safe(model.to_metadata()), "model_extra/churn_model.json")
            mlflow.log_text(comparison.to_csv(), "evaluation/comparison.csv")
            if not backtest_table.empty:
                mlflow.log_text(backtest_table.to_csv(index=False), "evaluation/backtest.csv")
            mlflow.log_text(
                reliability_curve(y, scores[MODEL]).to_csv(index=False),
                "evaluation/reliability_curve.csv",
            )
            mlflow.log_text(
                gains_curve(y, scores[MODEL]).to_csv(index=False), "evaluation/gains_curve.csv"
            )
            importance = pd.DataFrame(
                {
                    "feature": model.feature_names,
                    "gain": model.booster.feature_importance("gain"),
                    "splits": model.booster.feature_importance("split"),
                }
            ).sort_values("gain", ascending=False)
            mlflow.log_text(importance.to_csv(index=False), "features/importance.csv")
            _log_catalogue(model.feature_names)
            for path, fig in figures.items():
                mlflow.log_figure(fig, path)
            info = tracking.log_churn_model(model, test)
        version = info.registered_model_version
        version = str(version) if version is not None else None
        if version is not None:
            if promoted:
                tracking.promote(version, uri)
            tracking.tag_version(
                version,
                {
                    "gate_outcome": outcome,
                    "test_roc_auc": f"{challenger_auc:.5f}",
                    "test_window": split.describe()["test_as_of"],
                    "data_hash": data_hash,
                },
                uri,
            )
    log.info("gate: %s", outcome)
    return TrainReport(
        run_id=run_id,
        experiment=experiment,
        tracking_uri=uri,
        metrics=metrics,
        comparison=comparison,
        backtest=backtest_table,
        split=split.describe(),
        gate_outcome=outcome,
        promoted=promoted,
        model_version=version,
        champion_version_before=str(champion_before.version) if champion_before else None,
        seconds=round(time.perf_counter() - started, 1),
        timings=timings,
    )


def _log_catalogue(names: list[str]) -> None:
    """The feature catalogue (name, family, description, reason template) as CSV and JSON."""
    import mlflow

    try:
        from churn.features import catalogue_frame
    except ImportError:  # the catalogue is optional for a model; its absence is not fatal
        log.warning("churn.catalogue is not available: feature catalogue not logged")
        mlflow.log_dict({"features": names}, "features/catalogue.json")
        return
    table = catalogue_frame(names)
    mlflow.log_text(table.to_csv(index=False), "features/catalogue.csv")
    mlflow.log_text(
        json.dumps(json.loads(table.to_json(orient="records")), indent=1),
        "features/catalogue.json",
    )


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
    from churn.pipelines import tracking

    settings = load_settings(config)
    tr = settings.training
    uri = tracking_uri or tracking.default_tracking_uri()
    _, frame = load_training_frame(data, settings, progress=progress)
    n = trials or tr.tune_trials
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _bar("tuning trials", n, progress) as advance:
        best, table = tune(
            frame,
            settings,
            n_trials=n,
            timeout_s=timeout_s or tr.tune_timeout_s,
            on_trial=lambda *_: advance(),
        )
    with tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params(_flat_params(settings, {"trials": n}))
            mlflow.log_params({f"best.{k}": v for k, v in best.items()})
            mlflow.log_metric("best_valid_log_loss", float(table["value"].min()))
            mlflow.log_text(table.to_csv(index=False), "tuning/trials.csv")
            mlflow.log_dict({"training": {"lightgbm": best}}, "tuning/best_params.json")
            mlflow.set_tag("scored_on", "validation window only (never the test window)")
            run_id = run.info.run_id
    return best, table, run_id


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


# --- static tables (churn.definition: flag) ---------------------------------------------------

#: Experiment of static-table runs: kept apart from the weekly, time-based ``churn`` runs.
STATIC_EXPERIMENT = "churn-static"
#: Registered-model prefix of static-table models. Never ``churn``: that name (and its champion
#: alias) belongs to the time-based model that is scored every week.
STATIC_MODEL_PREFIX = "churn-static-"
#: CV metrics logged as ``cv_<name>`` (LightGBM) and ``baseline_logreg_<name>``.
STATIC_METRICS = ("roc_auc", "pr_auc", "top_decile_lift", "brier", "log_loss")


@dataclass
class StaticTrainReport:
    """What ``run_train_static`` did, for the CLI summary and for tests."""

    run_id: str
    experiment: str
    tracking_uri: str
    dataset: str
    protocol: str
    metrics: dict[str, float]
    summary: pd.DataFrame
    rows: int
    features: int
    churn_rate: float
    trees: int
    registered_model: str | None
    model_version: str | None
    warnings: tuple[str, ...]
    seconds: float


def is_static_dataset(data: Path) -> bool:
    """Whether ``data`` is a static customer table (its config says ``churn.definition: flag``).

    Raises
    ------
    churn.loading.DatasetConfigError
        The path or the config cannot be understood (the same message ``load_dataset`` gives).
    """
    from churn.data import load_config

    return load_config(data).churn.definition == "flag"


def describe_static(data: Any) -> str:
    """A short summary of a prepared static table (``churn.static.StaticDataset``)."""
    X = data.features
    n_cat = len(data.categorical)
    shown = ", ".join(map(str, X.columns[:12])) + (
        f", ... ({X.shape[1] - 12} more)" if X.shape[1] > 12 else ""
    )
    lines = [
        f"Dataset {data.name!r}: static customer table (churn.definition: flag), no time axis",
        f"  customers: {len(data.label):,}; left: {int(np.nansum(data.label)):,} "
        f"(churn rate {data.churn_rate:.1%})",
        f"  features: {X.shape[1]} ({X.shape[1] - n_cat} numeric, {n_cat} categorical): {shown}",
    ]
    if data.duplicates_dropped:
        lines.append(f"  exact duplicates dropped before any split: {data.duplicates_dropped:,}")
    if data.warnings:
        lines.append(f"Warnings ({len(data.warnings)}):")
        lines.extend(f"  - {w}" for w in data.warnings)
    else:
        lines.append("No warnings.")
    return "\n".join(lines)


def _static_fingerprint(data: Any) -> str:
    """SHA-256 of the prepared table (ids, features, label), for lineage."""
    import hashlib

    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in data.features.columns]).encode())
    frame = data.features.assign(_id=data.customer_id.to_numpy(), _label=data.label)
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


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
) -> StaticTrainReport:
    """Cross-validate, fit and log a model on a static customer table (``churn.definition: flag``).

    load (``churn.static.load_static``) -> repeated stratified k-fold, LightGBM against the
    logistic baseline on the same folds (``churn.static.cross_validate``) -> final model on
    every row, with the mean cross-validated tree count -> one MLflow run: params, ``cv_*`` and
    ``baseline_logreg_*`` metrics, fold table, importances, lineage tags ``dataset`` and
    ``mode=static``. There is no out-of-time test window, so there is no champion gate: the model
    is registered as ``churn-static-<dataset>``, never as the weekly ``churn`` model.

    Parameters
    ----------
    data
        Dataset YAML (or folder with one) whose ``churn.definition`` is ``flag``.
    config
        Settings YAML; only ``training.seed`` and ``training.num_threads`` are used.
    experiment
        MLflow experiment name.
    tracking_uri
        Default ``churn.tracking.default_tracking_uri()``.
    n_splits, n_repeats
        Cross-validation folds and repeats.
    register
        Register the final model as ``churn-static-<dataset>``.
    progress
        Show a progress bar over the folds.
    """
    import mlflow

    from churn.modeling import LogisticBaseline, evaluate
    from churn.pipelines import tracking
    from churn.static_table import STATIC_LIGHTGBM, cross_validate, fit_static, load_static

    if n_splits < 2 or n_repeats < 1:
        raise ChurnError(
            f"cross-validation needs at least 2 folds and 1 repeat, got {n_splits} folds and "
            f"{n_repeats} repeats"
        )
    started = time.perf_counter()
    settings = load_settings(config)
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
    s = cv.summary
    metrics: dict[str, float] = {}
    for m in STATIC_METRICS:
        metrics[f"cv_{m}"] = float(s.loc["lightgbm", (m, "mean")])
        metrics[f"cv_{m}_std"] = float(s.loc["lightgbm", (m, "std")])
        metrics[f"baseline_logreg_{m}"] = float(s.loc["logistic_regression", (m, "mean")])
    trees_per_fold = cv.folds.loc[cv.folds["model"] == "lightgbm", "trees"]
    # The final model has no held-out rows left to early-stop on: it takes the tree count
    # that early stopping chose, on average, inside the training folds.
    trees = max(1, round(float(trees_per_fold.mean())))
    metrics["cv_mean_trees"] = float(trees_per_fold.mean())
    model = fit_static(dataset, num_boost_round=trees, seed=seed, num_threads=threads)

    data_hash = _static_fingerprint(dataset)
    params = {
        "mode": "static",
        "dataset": dataset.name,
        "data_path": str(Path(data).resolve()),
        "config_path": str(config) if config else "(defaults)",
        "cv_n_splits": n_splits,
        "cv_n_repeats": n_repeats,
        "seed": seed,
        "num_threads": threads,
        "trees": trees,
        "rows": len(dataset.label),
        "n_features": dataset.features.shape[1],
        "n_categorical": len(dataset.categorical),
        "churn_rate": round(dataset.churn_rate, 5),
        "duplicates_dropped": dataset.duplicates_dropped,
        "protocol": cv.protocol,
        **{f"lgb.{k}": v for k, v in STATIC_LIGHTGBM.items()},
    }
    importance = pd.DataFrame(
        {
            "feature": model.features,
            "gain": model.booster.feature_importance("gain"),
            "splits": model.booster.feature_importance("split"),
        }
    ).sort_values("gain", ascending=False)
    name = f"{STATIC_MODEL_PREFIX}{dataset.name}" if register else None
    with tracking.using_tracking_uri(uri):
        experiment_id = tracking.get_or_create_experiment(experiment, uri)
        with mlflow.start_run(experiment_id=experiment_id) as run:
            run_id = run.info.run_id
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            mlflow.log_metrics(_finite(metrics))
            mlflow.set_tags(
                {
                    "dataset": dataset.name,
                    "mode": "static",
                    "data_hash": data_hash,
                    "evaluation": cv.protocol,
                    "deployed_model": f"fitted on all {len(dataset.label):,} rows with {trees} "
                    "trees (the mean early-stopped count over the CV folds)",
                }
            )
            mlflow.log_text(cv.folds.to_csv(index=False), "evaluation/cv_folds.csv")
            mlflow.log_text(cv.summary.to_csv(), "evaluation/cv_summary.csv")
            mlflow.log_text(importance.to_csv(index=False), "features/importance.csv")
            if dataset.warnings:
                mlflow.log_text("\n".join(dataset.warnings) + "\n", "data/warnings.txt")
            if config is not None and Path(config).exists():
                mlflow.log_artifact(str(config), artifact_path="config")
            if Path(data).is_file():
                mlflow.log_artifact(str(data), artifact_path="dataset_config")
            info = _log_static_model(model, name)
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
    )


def _log_static_model(model: Any, registered_model_name: str | None) -> Any:
    """Log a ``StaticModel``'s booster in LightGBM's native format, with its feature layout."""
    import lightgbm
    import mlflow.lightgbm

    return mlflow.lightgbm.log_model(
        model.booster,
        name="model",
        registered_model_name=registered_model_name,
        metadata={"mode": "static", "features": model.features, "categories": model.categories},
        # Explicit requirements spare MLflow a subprocess that infers them.
        pip_requirements=[
            f"lightgbm=={lightgbm.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
        ],
    )


def static_summary_lines(report: StaticTrainReport) -> list[str]:
    """Lines for the CLI: CV metrics beside the logistic baseline, run and model."""
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
