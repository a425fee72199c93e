"""Behaviour of a model trained on simulated data: directions, metric floors, the oracle.

One small simulated dataset is generated, loaded through the real loader, turned into the real
training frame and trained on once per module (about half a minute on one core).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from churn.modeling import roc_auc
from churn.settings import Settings, TrainingSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    from churn.simulate import simulate, write_dataset

    out = tmp_path_factory.mktemp("sim") / "data"
    write_dataset(simulate(1500, seed=11, mess_rate=0.0), out)
    return out


@pytest.fixture(scope="module")
def settings() -> Settings:
    tr = TrainingSettings(num_threads=1, backtest_windows=0)
    return Settings(
        training=tr.model_copy(update={"lightgbm": {**tr.lightgbm, "learning_rate": 0.1}})
    )


@pytest.fixture(scope="module")
def trained(simulated, settings):
    from churn.modeling import train_model
    from churn.pipelines.inputs import load_training_frame

    tables, frame, _ = load_training_frame(simulated, settings, progress=False)
    result = train_model(frame, settings)
    test = result.split.part(frame, "test")
    return result, frame, test, tables


def _risk_change(model, rows: pd.DataFrame, changed: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(changed) - model.predict_proba(rows)


def _columns(frame: pd.DataFrame, prefix: str, suffix: str = "") -> list[str]:
    return [c for c in frame.columns if c.startswith(prefix) and c.endswith(suffix)]


def _assert_raises_risk(delta: np.ndarray) -> None:
    # On average and for most customers; trees are step functions, so some rows sit on a
    # flat part of the response and do not move.
    assert delta.mean() > 0, f"mean change in risk {delta.mean():.4f}"
    # A move below a millionth of a probability point is float noise from the calibrator's
    # arithmetic, not a customer getting safer or riskier.
    moved = np.abs(delta) > 1e-6
    riskier, safer = (moved & (delta > 0)).mean(), (moved & (delta < 0)).mean()
    assert riskier > safer, f"more customers got safer ({safer:.1%}) than riskier ({riskier:.1%})"


def test_a_detractor_nps_raises_risk(trained):
    result, _, test, _ = trained
    rows = test[test["nps_last"] >= 9].head(400)
    assert len(rows) > 50
    changed = rows.assign(nps_last=2.0)
    if "nps_last_category" in rows:
        changed["nps_last_category"] = pd.Categorical(
            ["detractor"] * len(rows), categories=rows["nps_last_category"].cat.categories
        )
    if "nps_min_180d" in rows:
        changed["nps_min_180d"] = np.fmin(rows["nps_min_180d"], 2.0)
    _assert_raises_risk(_risk_change(result.model, rows, changed))


def test_falling_usage_raises_risk(trained):
    result, _, test, _ = trained
    rows = test.head(400)
    changed = rows.copy()
    # Usage fell by 60% over the last 30 days: activity metrics, their 30d/90d ratios and seat
    # utilisation drop together; licensed seats (capacity, not activity) stay as they were.
    activity = [
        c
        for c in rows.columns
        if c.startswith("util_")
        and (c.endswith("_30d") or c.endswith("_ratio_30d_90d"))
        and "seats_licensed" not in c
    ]
    assert "util_seat_utilisation_30d" in activity
    for col in activity:
        changed[col] = rows[col] * 0.4
    _assert_raises_risk(_risk_change(result.model, rows, changed))


def test_open_complaints_raise_risk(trained):
    result, _, test, _ = trained
    rows = test[test["int_open_complaints_14d"].fillna(0) == 0].head(400)
    changed = rows.copy()
    changed["int_open_complaints_14d"] = 2.0
    for col in ("int_open_tickets", *_columns(rows, "int_cat_complaint_")):
        changed[col] = rows[col].fillna(0) + 2.0
    _assert_raises_risk(_risk_change(result.model, rows, changed))


def test_model_beats_both_baselines_on_the_test_window(trained):
    from churn.modeling import LogisticBaseline, health_score_proba

    result, frame, test, _ = trained
    y = test["label"].to_numpy()
    train = result.split.part(frame, "train")
    logreg = LogisticBaseline(result.features).fit(train, train["label"].to_numpy())
    model_auc = roc_auc(y, result.model.predict_proba(test))
    assert model_auc > roc_auc(y, health_score_proba(test))
    assert model_auc > roc_auc(y, logreg.predict_proba(test))


def _best_single_feature(test: pd.DataFrame, features: list[str]) -> tuple[float, float]:
    """The best ROC AUC and top-decile lift any one numeric feature reaches on ``rows``, each
    oriented the way that suits it on these very rows (a generous bar for the model)."""
    from churn.modeling import top_decile_lift

    y = test["label"].to_numpy()
    best_auc = best_lift = 0.0
    for col in features:
        if isinstance(test[col].dtype, pd.CategoricalDtype):
            continue
        x = pd.to_numeric(test[col], errors="coerce")
        x = x.fillna(x.median()).to_numpy(dtype=float)
        auc = roc_auc(y, x)
        best_auc = max(best_auc, auc, 1 - auc)
        best_lift = max(best_lift, top_decile_lift(y, x if auc >= 0.5 else -x))
    return best_auc, best_lift


def test_metric_floors_sit_above_the_best_single_feature(trained):
    from churn.modeling import evaluate

    result, _, test, _ = trained
    m = evaluate(
        test["label"].to_numpy(),
        result.model.predict_proba(test),
        as_of=test["as_of"],
        capacity_k=50,
    )
    # Measured on this dataset: the best single feature reaches AUC 0.741 and lift 3.71
    # (int_sentiment_mean_90d); the model 0.802 and 4.49. Floors between the two, with margin
    # both ways, and a relative check that survives changes to the simulator.
    best_auc, best_lift = _best_single_feature(test, result.features)
    assert m["roc_auc"] >= 0.77 and m["roc_auc"] >= best_auc + 0.03
    assert m["top_decile_lift"] >= 4.0 and m["top_decile_lift"] >= best_lift + 0.3


def _well_calibrated(y: np.ndarray, p: np.ndarray) -> bool:
    from churn.modeling import calibration_intercept_slope, evaluate

    # Relative to the churn rate: at ~5% churn an absolute ECE <= 0.03 passes p x 0.3.
    intercept, _ = calibration_intercept_slope(y, p)
    return evaluate(y, p)["ece"] <= 0.35 * y.mean() and abs(intercept) <= 0.4


def test_calibration_floor_catches_probabilities_scaled_by_0_3_or_1_8(trained):
    result, _, test, _ = trained
    y, p = test["label"].to_numpy(dtype=float), result.model.predict_proba(test)
    assert _well_calibrated(y, p)
    assert not _well_calibrated(y, p * 0.3)
    assert not _well_calibrated(y, np.clip(p * 1.8, 0, 1))


def test_model_approaches_but_does_not_beat_the_oracle(trained, simulated, settings):
    """At most the truth (more means a feature leaks the future), and at least 90% of it."""
    from churn.modeling import ORACLE_LEAK_RATIO, oracle_scores
    from churn.pipelines.inputs import load_oracle

    result, _, test, _ = trained
    oracle = oracle_scores(load_oracle(simulated / "ground_truth"), test, settings.snapshots)
    ok = np.isfinite(oracle)
    y = test["label"].to_numpy()[ok]
    ratio = roc_auc(y, result.model.predict_proba(test)[ok]) / roc_auc(y, oracle[ok])
    assert ratio <= ORACLE_LEAK_RATIO, f"model/oracle ROC AUC {ratio:.3f}: leakage"
    assert ratio >= 0.90
