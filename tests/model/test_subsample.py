"""Thinning the training spine to a budget: evaluated rows by whole customers, probabilities' level kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.modeling import compare_on_test, train_model
from churn.modeling import subsample as sub
from churn.modeling.subsample import date_roles, thin_training_spine
from churn.modeling.training import evaluation_capacity
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
    assert thin["label"].notna().all()  # censored rows: no window fits or evaluates on them
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


@pytest.fixture
def few_evaluated(monkeypatch):
    """A floor of 150 evaluated customers, so a 600-customer spine can be sampled."""
    monkeypatch.setattr(sub, "MIN_EVALUATED_CUSTOMERS", 150)


def test_over_budget_evaluated_dates_keep_whole_customers_weighted(few_evaluated):
    frame, s = _frame(), _settings()
    fitted, evaluated = date_roles(frame, s.training, s.snapshots)
    reported = sub.reported_dates(frame, s.training, s.snapshots)
    thin = thin_training_spine(frame, s.training, s.snapshots, budget_rows=len(frame) // 5)
    assert len(thin) < len(frame) // 5 * 1.05
    on_eval = thin[thin["as_of"].isin(list(evaluated))]
    # The same customers on every date of a role: the bootstrap resamples them whole.
    per_date = on_eval.groupby("as_of")["customer_id"].apply(frozenset)
    rep = per_date[per_date.index.isin(list(reported))]
    backtest = per_date[~per_date.index.isin(list(reported))]
    assert rep.nunique() == 1 and backtest.nunique() == 1
    # The reported split keeps about twice the backtest's customers, a superset of them.
    share, share_bt = len(rep.iloc[0]) / 600, len(backtest.iloc[0]) / 600
    assert 150 / 600 <= share < 0.9 and backtest.iloc[0] <= rep.iloc[0]
    assert 1.6 < share / share_bt < 2.5
    weight = on_eval.groupby(on_eval["as_of"].isin(list(reported)))["weight"].mean()
    assert weight[True] == pytest.approx(1 / share, rel=0.1)
    assert weight[False] == pytest.approx(1 / share_bt, rel=0.1)
    # Fit-only dates are thinned as before, not sampled by customer.
    fit_only = thin[thin["as_of"].isin(list(fitted - evaluated))]
    assert fit_only["customer_id"].nunique() > len(rep.iloc[0])
    # The capacity of a sampled week stands for the whole week's.
    test = on_eval[on_eval["as_of"].isin(list(reported))]
    assert evaluation_capacity(test, 100) == round(100 / test["weight"].max())
    assert evaluation_capacity(frame, 100) == 100


def test_customer_sampled_evaluation_stays_calibrated_and_honest(few_evaluated):
    from types import SimpleNamespace

    frame, s = _frame(n=1200), _settings()
    thin = thin_training_spine(frame, s.training, s.snapshots, budget_rows=len(frame) // 8)
    result = train_model(thin, s)
    test = result.split.part(thin, "test")
    assert test["weight"].max() > 1.5  # the test window was sampled
    assert abs(result.model.predict_proba(test).mean() - test["label"].mean()) < 0.015
    tables = SimpleNamespace(customers=pd.DataFrame({"customer_id": ["c0"]}))  # no ARR
    cmp = compare_on_test(result, thin, tables, s.training)
    assert cmp.capacity_k == evaluation_capacity(test, s.training.capacity_k) < 100
    assert cmp.metrics()["test_customer_share"] == pytest.approx(1 / test["weight"].max())
    full = compare_on_test(train_model(frame, s), frame, tables, s.training)
    ci, ci_full = cmp.intervals["lightgbm"]["roc_auc"], full.intervals["lightgbm"]["roc_auc"]
    # Fewer customers evaluated: a wider interval, not a narrower one.
    assert ci.high - ci.low > ci_full.high - ci_full.low
