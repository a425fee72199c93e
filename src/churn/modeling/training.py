"""Out-of-time training: split by snapshot date, fit LightGBM, early-stop and calibrate out of time.

Snapshot rows of one customer a week apart are near duplicates and their label windows overlap,
so a random split would leak the answer. Everything here splits by ``as_of`` only. With labelled
snapshot dates d_0 < ... < d_{n-1}, horizon H and lead L (label window
``[as_of + L, as_of + L + H)``), the split is, from the newest date backwards::

    fit (every train_every-th date) | gap >= L+H | valid | gap >= L+H | test (latest dates)

- **test**: the latest ``test_snapshots`` labelled dates. Touched once, to report metrics.
- **valid**: the latest ``valid_snapshots`` dates ``d`` with ``d + L + H <= first test date``: no
  label window of a validation row reaches into the test period. Used for early stopping and to
  fit the calibrator, never for fitting trees.
- **fit**: dates ``d`` with ``d + L + H <= first valid date``, thinned to every
  ``train_every``-th date (counting back from the newest, so the freshest one is kept).

Which model is deployed
-----------------------
The test metrics always describe the **validated** model: the booster fitted on the fit window,
stopped early and calibrated on the validation window. By default (``training.deploy: refit``)
``churn train`` deploys its refit (``churn.modeling.refit``): the same settings and number of
trees fitted on every snapshot labelled by the extraction date up to one gap before the latest
labelled window, which alone calibrates it. Replaying weeks on the demo
(``bench/refit_policy.py``) it ranked and calibrated the following weeks better than the
validated model, which lags the data by two gaps. ``training.deploy: validated`` deploys the
validated model itself; the run's ``deployed_model`` tag says which.

Everything here is pure (frames in, results out); MLflow and files live in ``churn.pipelines``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.modeling.evaluation import evaluate
from churn.modeling.hybrid import KINDS, LinearOffset, linear_features, zero_booster
from churn.modeling.model import Calibrator, ChurnModel
from churn.settings import Settings, SnapshotSettings, TrainingSettings

log = logging.getLogger(__name__)

#: Columns of the training frame that are keys or the target, never features.
KEY_COLUMNS: tuple[str, ...] = ("customer_id", "as_of", "label")
#: Optional column of a training frame: each row's weight in the fit (rows of a thinned
#: negative sample stand for several; ``churn.modeling.subsample``). Never a feature.
WEIGHT_COLUMN = "weight"

DEPLOYED_MODEL = "validated"


def evaluation_capacity(rows: pd.DataFrame, capacity_k: int) -> int:
    """The weekly capacity to cut evaluated ``rows`` at: ``capacity_k`` scaled by the share
    ``s`` of customers they keep (weight ``1 / s`` on a spine whose evaluated dates were
    sampled by customer, ``churn.modeling.subsample``), so that the top K of a sampled week
    stands for the top ``capacity_k`` of the whole week; ``capacity_k`` for unsampled rows."""
    if WEIGHT_COLUMN not in rows or rows.empty:
        return capacity_k
    weight = float(rows[WEIGHT_COLUMN].max())
    return capacity_k if weight <= 1.0 else max(1, round(capacity_k / weight))


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns of a training frame: every numeric, boolean or category column but the keys.

    Other dtypes (free text, dates) are left out with a warning: LightGBM cannot use them and
    turning them into codes silently would invent an order.
    """
    out, skipped = [], []
    for col in frame.columns:
        if col in KEY_COLUMNS or col == WEIGHT_COLUMN:
            continue
        dtype = frame[col].dtype
        if isinstance(dtype, pd.CategoricalDtype) or (
            pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_datetime64_any_dtype(dtype)
        ):
            out.append(col)
        else:
            skipped.append(col)
    if skipped:
        log.warning("not used as features (neither numeric nor category): %s", skipped)
    return out


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose label is known. NaN labels are right-censored: their window is not over yet."""
    missing = [c for c in KEY_COLUMNS if c not in frame.columns]
    if missing:
        raise ChurnError(
            f"the training frame lacks column(s) {missing}; it must be built by "
            "churn.dataset.build_training_frame"
        )
    return frame.loc[frame["label"].notna()]


@dataclass(frozen=True)
class OutOfTimeSplit:
    """Snapshot dates of each window (see the module docstring)."""

    fit_dates: tuple[pd.Timestamp, ...]
    valid_dates: tuple[pd.Timestamp, ...]
    test_dates: tuple[pd.Timestamp, ...]
    gap_days: int

    def part(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Labelled rows of ``frame`` in window ``name`` ("fit", "valid", "test" or "train" =
        fit and valid together)."""
        # One mask and one copy of the window's rows (not a copy of every labelled row first).
        return frame.loc[self.mask(frame, name)]

    def mask(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        """Which rows of ``frame`` :meth:`part` takes, without copying them."""
        dates = {
            "fit": self.fit_dates,
            "valid": self.valid_dates,
            "test": self.test_dates,
            "train": self.fit_dates + self.valid_dates,
        }[name]
        labelled(frame.iloc[:0])  # the key-column check, without copying the frame
        keep = frame["label"].notna() & frame["as_of"].isin(pd.DatetimeIndex(dates))
        return keep.to_numpy()

    def describe(self) -> dict[str, str]:
        """Date ranges, JSON-safe, for run parameters and model metadata."""

        def rng(d: tuple[pd.Timestamp, ...]) -> str:
            # A refit (churn.modeling.refit) has no test window of its own.
            return f"{min(d).date()}..{max(d).date()} ({len(d)} dates)" if d else "none"

        return {
            "fit_as_of": rng(self.fit_dates),
            "valid_as_of": rng(self.valid_dates),
            "test_as_of": rng(self.test_dates),
            "gap_days": str(self.gap_days),
        }


def out_of_time_split(
    frame: pd.DataFrame,
    training: TrainingSettings,
    snapshots: SnapshotSettings,
    *,
    drop_latest: int = 0,
) -> OutOfTimeSplit:
    """Split the labelled snapshot dates of ``frame`` into fit, validation and test windows.

    Parameters
    ----------
    frame
        Training frame with ``as_of`` and ``label`` (NaN = censored, ignored).
    training, snapshots
        Window sizes, thinning, horizon and lead.
    drop_latest
        Pretend the newest ``drop_latest`` labelled dates do not exist (rolling backtest).

    Raises
    ------
    ChurnError
        When the history is too short for the three windows and the two gaps.
    """
    dates = pd.DatetimeIndex(sorted(labelled(frame)["as_of"].unique()))
    if drop_latest:
        dates = dates[:-drop_latest] if drop_latest < len(dates) else dates[:0]
    gap = pd.Timedelta(days=snapshots.lead_days + snapshots.horizon_days)
    n_test, n_valid = training.test_snapshots, training.valid_snapshots
    need = (
        f"{n_test} test + {n_valid} validation snapshot dates, two gaps of {gap.days} days "
        "(lead + horizon) and some training dates"
    )
    if len(dates) < n_test + 1:
        raise ChurnError(
            f"only {len(dates)} labelled snapshot dates; out-of-time training needs {need}. "
            "Use a longer history or lower training.test_snapshots / valid_snapshots."
        )
    test = dates[-n_test:]
    # Leakage guard: a validation row's label window [as_of+L, as_of+L+H) must end by the first
    # test date, or early stopping and calibration would peek at test-period churn.
    valid_pool = dates[dates + gap <= test[0]]
    valid = valid_pool[-n_valid:]
    if len(valid) < n_valid:
        raise ChurnError(
            f"{len(dates)} labelled snapshot dates ({dates[0].date()}..{dates[-1].date()}) are "
            f"not enough for {need}. Use a longer history or lower the window sizes."
        )
    # Same guard between the fitted rows and the validation window.
    fit_pool = dates[dates + gap <= valid[0]]
    if len(fit_pool) == 0:
        raise ChurnError(
            f"no snapshot dates left for training before {valid[0].date()}: {need}. "
            "Use a longer history or lower the window sizes."
        )
    every = max(int(training.train_every), 1)
    fit = fit_pool[::-1][::every][::-1]
    return OutOfTimeSplit(
        fit_dates=tuple(fit),
        valid_dates=tuple(valid),
        test_dates=tuple(test),
        gap_days=gap.days,
    )


def lightgbm_params(training: TrainingSettings, overrides: dict[str, Any] | None = None) -> dict:
    """LightGBM parameters: the configured ones, the seed and the thread count (default 1:
    OpenMP busy-waiting made 2 threads 30x slower on a shared 2-core machine)."""
    params = {**training.lightgbm, **(overrides or {})}
    params.setdefault("objective", "binary")
    params.setdefault("verbose", -1)
    params["seed"] = training.seed
    params["num_threads"] = training.num_threads
    params["deterministic"] = True
    params["metric"] = "binary_logloss"
    return params


def _xy(rows: pd.DataFrame, features: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    return rows.loc[:, features], rows["label"].to_numpy(dtype=float)


def fit_booster(
    fit: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    training: TrainingSettings,
    *,
    params: dict[str, Any] | None = None,
    num_boost_round: int | None = None,
    early_stopping_rounds: int | None = None,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[lgb.Booster, int]:
    """Fit LightGBM on ``fit``, stopping early on ``valid``'s log loss; ``init``: log-odds of
    the fit and valid rows to boost from (a hybrid's offset; not stored in the booster).

    Returns the booster (trimmed to its best iteration when saved) and the best iteration.
    """
    X, y = _xy(fit, features)
    Xv, yv = _xy(valid, features)
    if len(np.unique(y)) < 2:
        raise ChurnError(
            f"the training window has {int(y.sum())} churners in {len(y)} rows: both classes "
            "are needed. Use a longer history or a longer horizon."
        )
    start, start_valid = init if init is not None else (None, None)
    weight = fit[WEIGHT_COLUMN].to_numpy(dtype=float) if WEIGHT_COLUMN in fit else None
    dtrain = lgb.Dataset(
        X, y, weight=weight, init_score=start, categorical_feature="auto", free_raw_data=True
    )
    dvalid = lgb.Dataset(Xv, yv, init_score=start_valid, reference=dtrain)
    stop = early_stopping_rounds or training.early_stopping_rounds
    booster = lgb.train(
        lightgbm_params(training, params),
        dtrain,
        num_boost_round=num_boost_round or training.num_boost_round,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(stop, verbose=False)],
    )
    best = int(booster.best_iteration or booster.current_iteration())
    # Keep only the trees that early stopping chose, so predict() and the saved file agree.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    return booster, best


def fit_kind(
    kind: str,
    fit: pd.DataFrame,
    valid: pd.DataFrame,
    features: list[str],
    training: TrainingSettings,
    **booster_kw: Any,
) -> tuple[lgb.Booster, LinearOffset | None, int]:
    """``(booster, offset, best iteration)`` of model kind ``kind`` (``churn.modeling.hybrid``)
    fitted on ``fit`` and stopped early on ``valid``; the offset is fitted on ``fit`` only."""
    if kind not in KINDS:
        raise ChurnError(f"unknown model kind {kind!r}; use one of {list(KINDS)}")
    if kind == "lightgbm":
        booster, best = fit_booster(fit, valid, features, training, **booster_kw)
        return booster, None, best
    offset = LinearOffset(linear_features(fit, features), seed=training.seed)
    offset.fit(fit, fit["label"].to_numpy(dtype=float))
    init = (offset.logit(fit), offset.logit(valid))
    if kind == "logistic":
        booster, _ = fit_booster(fit, valid, features, training, num_boost_round=1, init=init)
        return zero_booster(booster), offset, 0
    booster, best = fit_booster(fit, valid, features, training, init=init, **booster_kw)
    return booster, offset, best


@dataclass
class TrainResult:
    """A trained, calibrated model and the windows it was built from."""

    model: ChurnModel
    split: OutOfTimeSplit
    features: list[str]
    best_iteration: int
    params: dict[str, Any]
    row_counts: dict[str, int] = field(default_factory=dict)


def train_model(
    frame: pd.DataFrame,
    settings: Settings,
    *,
    split: OutOfTimeSplit | None = None,
    params: dict[str, Any] | None = None,
    num_boost_round: int | None = None,
    early_stopping_rounds: int | None = None,
    kind: str = "lightgbm",
) -> TrainResult:
    """Train the validated model: fit, early-stop and calibrate out of time.

    Parameters
    ----------
    frame
        ``churn.dataset.build_training_frame`` output: customer_id, as_of, label, features.
    settings
        Snapshot (horizon, lead) and training settings.
    split
        Windows to use; default ``out_of_time_split(frame, ...)``.
    params, num_boost_round, early_stopping_rounds
        Overrides of the configured LightGBM settings (tuning, cheap backtests).
    kind
        ``lightgbm``, ``hybrid`` or ``logistic`` (:func:`fit_kind`).

    Returns
    -------
    TrainResult
        ``result.model`` scores any frame with the feature columns. Test rows are not touched.
    """
    tr, snap = settings.training, settings.snapshots
    split = split or out_of_time_split(frame, tr, snap)
    features = feature_columns(frame)
    if not features:
        raise ChurnError("the training frame has no feature columns (numeric or category)")
    fit, valid = split.part(frame, "fit"), split.part(frame, "valid")
    log.info(
        "training on %d rows (%s), early stopping and calibration on %d rows (%s)",
        len(fit),
        split.describe()["fit_as_of"],
        len(valid),
        split.describe()["valid_as_of"],
    )
    booster, offset, best = fit_kind(
        kind, fit, valid, features, tr, params=params, num_boost_round=num_boost_round,
        early_stopping_rounds=early_stopping_rounds,
    )  # fmt: skip
    categorical = [c for c in features if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    unfitted = ChurnModel(booster, Calibrator(tr.calibration), features, snap.horizon_days,
                          {"categorical_features": categorical}, offset)  # fmt: skip
    # Plain LightGBM keeps its exact path (the demo's figures); a kind with an offset adds it.
    raw_valid = (
        booster.predict(valid.loc[:, features]) if offset is None else unfitted.predict_raw(valid)
    )
    calibrator = Calibrator(tr.calibration).fit(raw_valid, valid["label"].to_numpy(dtype=float))
    test, censored = len(split.part(frame, "test")), int(frame["label"].isna().sum())
    counts = {"fit": len(fit), "valid": len(valid), "test": test, "censored": censored}
    used = lightgbm_params(tr, params)
    model = ChurnModel(
        booster=booster,
        calibrator=calibrator,
        feature_names=features,
        horizon_days=snap.horizon_days,
        metadata={
            **split.describe(),
            "lead_days": snap.lead_days,
            "best_iteration": best,
            "categorical_features": categorical,
            "calibration": tr.calibration,
            "deployed_model": DEPLOYED_MODEL,
            "model_kind": kind,
            "rows": counts,
            "lightgbm_params": {k: v for k, v in used.items() if _json_scalar(v)},
        },
        offset=offset,
    )
    return TrainResult(model, split, features, best, used, counts)


def feature_importance(booster: lgb.Booster, features: list[str]) -> pd.DataFrame:
    """``feature``, ``gain`` and ``splits`` of each feature, by descending gain."""
    return pd.DataFrame(
        {
            "feature": features,
            "gain": booster.feature_importance("gain"),
            "splits": booster.feature_importance("split"),
        }
    ).sort_values("gain", ascending=False)


def _json_scalar(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None


def cheap_settings(settings: Settings) -> Settings:
    """Faster settings (a higher learning rate, fewer rounds) for quick experiments only: a
    backtest run with them describes another model than the one reported and deployed."""
    tr = settings.training
    lgbm = {**tr.lightgbm, "learning_rate": max(float(tr.lightgbm.get("learning_rate", 0.05)), 0.1)}
    training = tr.model_copy(
        update={
            "lightgbm": lgbm,
            "num_boost_round": min(tr.num_boost_round, 300),
            "early_stopping_rounds": min(tr.early_stopping_rounds, 30),
        }
    )
    return settings.model_copy(update={"training": training})


def backtest(
    frame: pd.DataFrame,
    settings: Settings,
    *,
    windows: int | None = None,
    cheap: bool = False,
    on_window: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Rolling out-of-time backtest: retrain for each of ``windows`` earlier test windows.

    Window 0 is the latest test window; window w ends ``w * test_snapshots`` dates earlier, so the
    windows do not overlap. Windows that the history cannot support are skipped with a log line.
    Each window is trained with ``settings`` exactly as the reported model is (``cheap=True``:
    :func:`cheap_settings`, for quick experiments only), so the backtest's spread describes
    the model that is deployed.

    Returns
    -------
    DataFrame
        One row per window: ``window``, ``test_start``, ``test_end``, ``n_rows``, ``churn_rate``
        and the metrics of ``churn.evaluation.evaluate`` (calibrated probabilities).
    """
    used = cheap_settings(settings) if cheap else settings
    tr = used.training
    n = windows if windows is not None else tr.backtest_windows
    rows = []
    for w in range(n):
        try:
            split = out_of_time_split(frame, tr, used.snapshots, drop_latest=w * tr.test_snapshots)
            result = train_model(frame, used, split=split)
        except ChurnError as exc:
            log.info("backtest window %d skipped: %s", w, exc)
            break
        test = split.part(frame, "test")
        p = result.model.predict_proba(test)
        metrics = evaluate(
            test["label"].to_numpy(dtype=float),
            p,
            as_of=test["as_of"].to_numpy(),
            capacity_k=evaluation_capacity(test, tr.capacity_k),
        )
        rows.append(
            {
                "window": w,
                "test_start": min(split.test_dates),
                "test_end": max(split.test_dates),
                "best_iteration": result.best_iteration,
                **metrics,
            }
        )
        if on_window is not None:
            on_window(w)
    return pd.DataFrame(rows)


def backtest_summary(table: pd.DataFrame) -> dict[str, float]:
    """Stable metric names for the backtest: mean, std and min of ROC AUC and PR AUC, and each
    window's ROC AUC (``backtest_w{w}_roc_auc``)."""
    if table.empty:
        return {}
    out: dict[str, float] = {"backtest_windows": float(len(table))}
    for m in ("roc_auc", "pr_auc", "top_decile_lift"):
        vals = table[m].astype(float)
        out[f"backtest_{m}_mean"] = float(vals.mean())
        out[f"backtest_{m}_std"] = float(vals.std(ddof=0))
        out[f"backtest_{m}_min"] = float(vals.min())
    for _, row in table.iterrows():
        out[f"backtest_w{int(row['window'])}_roc_auc"] = float(row["roc_auc"])
    return out


def tune(
    frame: pd.DataFrame,
    settings: Settings,
    *,
    n_trials: int | None = None,
    timeout_s: float | None = None,
    on_trial: Callable[[int, float], None] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Tune LightGBM with Optuna under a fixed budget, scored on the validation window only.

    The score is the validation log loss of the early-stopped booster (a proper scoring rule,
    so it rewards ranking and calibration together). The test window is never scored here: the
    split is computed and its test dates are simply not used, so tuning cannot overfit them.

    Returns
    -------
    (best_params, trials)
        ``best_params`` to put under ``training.lightgbm`` in the config; ``trials`` one row
        per trial with its parameters, value and best iteration.
    """
    import optuna

    tr, snap = settings.training, settings.snapshots
    split = out_of_time_split(frame, tr, snap)
    features = feature_columns(frame)
    fit, valid = split.part(frame, "fit"), split.part(frame, "valid")
    yv = valid["label"].to_numpy(dtype=float)

    def objective(trial: optuna.Trial) -> float:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 128, log=True),
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "min_child_samples": trial.suggest_int("min_child_samples", 10, 400, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
        }
        booster, best = fit_booster(fit, valid, features, tr, params=params)
        trial.set_user_attr("best_iteration", best)
        p = booster.predict(valid.loc[:, features])
        value = float(evaluate(yv, p)["log_loss"])
        if on_trial is not None:
            on_trial(trial.number, value)
        return value

    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=tr.seed)
    )
    study.optimize(objective, n_trials=n_trials or tr.tune_trials, timeout=timeout_s)
    trials = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs", "state"))
    best = dict(study.best_params)
    if not math.isfinite(study.best_value):
        raise ChurnError("tuning found no trial with a finite validation loss")
    return best, trials
