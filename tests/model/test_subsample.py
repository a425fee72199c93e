"""Thinning the training spine to a budget keeps every evaluated row and the probabilities' level."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.modeling import train_model
from churn.modeling.subsample import date_roles, thin_training_spine
from churn.settings import Settings, TrainingSettings


def _frame(n: int = 600, weeks: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
    parts = []
    for d in dates:
        x = rng.normal(size=n)
        p = 1 / (1 + np.exp(-(1.5 * x - 3.0)))  # ~8% churn
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "as_of": d,
                    "label": (rng.random(n) < p).astype(float),
                    "x": x,
                    "z": rng.normal(size=n),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[frame["as_of"] > dates[-13], "label"] = np.nan  # censored, as a real spine has
    return frame


def _settings() -> Settings:
    tr = TrainingSettings(num_threads=1, num_boost_round=60)
    return Settings(training=tr.model_copy(update={"lightgbm": {**tr.lightgbm, "num_leaves": 7}}))


def test_under_budget_the_spine_is_returned_untouched():
    frame = _frame(n=50, weeks=40)
    s = _settings()
    assert thin_training_spine(frame, s.training, s.snapshots, budget_rows=10**9) is frame


def test_thinning_keeps_every_evaluated_row_and_weights_the_thinned_negatives():
    frame, s = _frame(), _settings()
    fitted, evaluated = date_roles(frame, s.training, s.snapshots)
    thin = thin_training_spine(frame, s.training, s.snapshots, budget_rows=len(frame) // 4)
    assert len(thin) < 0.7 * len(frame)
    on_evaluated = frame[frame["as_of"].isin(list(evaluated))]
    kept = thin[thin["as_of"].isin(list(evaluated))]
    assert len(kept) == len(on_evaluated) and (kept["weight"] == 1.0).all()
    assert thin["label"].isna().sum() == frame["label"].isna().sum()  # censored kept
    assert (thin["label"] == 1).sum() == (
        frame[frame["as_of"].isin(list(fitted | evaluated))]["label"] == 1
    ).sum()
    thinned = thin[thin["weight"] > 1]
    assert len(thinned) > 0 and (thinned["label"] == 0).all()
    assert not thinned["as_of"].isin(list(evaluated)).any()
    # The same rows every run (a hash, not a random draw).
    again = thin_training_spine(frame, s.training, s.snapshots, budget_rows=len(frame) // 4)
    pd.testing.assert_frame_equal(thin, again)


def test_thinned_training_stays_calibrated_in_the_large():
    frame, s = _frame(), _settings()
    full = train_model(frame, s)
    thin = thin_training_spine(frame, s.training, s.snapshots, budget_rows=len(frame) // 4)
    assert thin["weight"].max() > 2
    model = train_model(thin, s)
    test = model.split.part(thin, "test")
    observed = test["label"].mean()
    # Calibration in the large on the (never thinned) test window: within 1.5 points of the
    # observed rate and of the model fitted on every row.
    p_thin = model.model.predict_proba(test).mean()
    p_full = full.model.predict_proba(full.split.part(frame, "test")).mean()
    assert abs(p_thin - observed) < 0.015
    assert abs(p_thin - p_full) < 0.015
    # The weights carry the level: the raw booster on the validation window, before the
    # calibrator, is near the observed rate too (unweighted: 0.54 against 0.10 here).
    valid = model.split.part(thin, "valid")
    raw = model.model.booster.predict(valid[model.features]).mean()
    assert abs(raw - valid["label"].mean()) < 0.02


def test_the_logistic_baseline_fits_the_weights_of_a_thinned_spine():
    from churn.modeling.baselines import LogisticBaseline

    frame, s = _frame(), _settings()
    thin = thin_training_spine(frame, s.training, s.snapshots, budget_rows=len(frame) // 4)
    rows = thin[thin["label"].notna()]
    y = rows["label"].to_numpy()
    weighted = LogisticBaseline(["x", "z"]).fit(rows, y, rows["weight"].to_numpy())
    plain = LogisticBaseline(["x", "z"]).fit(rows, y)
    full = frame[frame["label"].notna()]
    rate = full["label"].mean()
    assert abs(weighted.predict_proba(full).mean() - rate) < 0.01
    assert plain.predict_proba(full).mean() > rate + 0.01  # what ignoring the weights costs
