"""The refit: the validated settings on the freshest labels known at the training cut-off, the
calibrator on the latest labelled window only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.modeling import refit as refit_module
from churn.modeling import train_model
from churn.modeling.refit import known_labels, refit_model, refit_split
from churn.settings import Settings, SnapshotSettings, TrainingSettings

FAST_LGB = {"learning_rate": 0.2, "num_leaves": 7, "min_child_samples": 20}


def synthetic_frame(n_customers: int, n_dates: int, seed: int) -> pd.DataFrame:
    """Weekly snapshots whose churn depends on NPS and usage."""
    rng = np.random.default_rng(seed)
    parts = []
    for d in pd.date_range("2023-01-02", periods=n_dates, freq="W-MON"):
        nps = rng.integers(0, 11, n_customers).astype(float)
        util = rng.lognormal(0, 0.3, n_customers)
        logit = -2.0 + 0.35 * np.clip(6 - nps, 0, None) - 2.0 * (util - 1)
        y = (rng.random(n_customers) < 1 / (1 + np.exp(-logit))).astype(float)
        ids = [f"c{i}" for i in range(n_customers)]
        parts.append(
            pd.DataFrame(
                {"customer_id": ids, "as_of": d, "label": y, "nps_last": nps, "util": util}
            )
        )
    return pd.concat(parts, ignore_index=True)


SETTINGS = Settings(
    snapshots=SnapshotSettings(horizon_days=28),
    training=TrainingSettings(
        test_snapshots=3, valid_snapshots=3, lightgbm=FAST_LGB, num_boost_round=60
    ),
)
GAP = pd.Timedelta(days=28)


@pytest.fixture(scope="module")
def frame():
    # Every row labelled: as if the labels after the cut-off had been filled in from later data.
    return synthetic_frame(n_customers=150, n_dates=40, seed=3)


@pytest.fixture(scope="module")
def validated(frame):
    cutoff = frame["as_of"].max()
    return train_model(known_labels(frame, cutoff, SETTINGS.snapshots), SETTINGS)


def test_known_labels_keep_only_windows_closed_by_the_cutoff(frame):
    cutoff = pd.Timestamp("2023-06-05")
    kept = known_labels(frame, cutoff, SETTINGS.snapshots)
    assert (kept["as_of"] + GAP <= cutoff).all()
    # The edge: a label window closing exactly at the cut-off is known, one day later is not.
    assert (kept["as_of"] == cutoff - GAP).any()
    assert not (kept["as_of"] > cutoff - GAP).any()


def test_the_refit_never_uses_labels_unknown_at_its_cutoff(frame, validated):
    cutoff = pd.Timestamp("2023-08-28")
    honest = frame.copy()
    unknown = honest["as_of"] + GAP > cutoff
    honest.loc[unknown, "label"] = np.nan
    # The leak: labels after the cut-off, made perfectly predictable from one feature.
    leaky = frame.copy()
    leaky.loc[unknown, "label"] = (leaky.loc[unknown, "nps_last"].fillna(10) < 5).astype(float)
    a = refit_model(honest, SETTINGS, validated, cutoff)
    b = refit_model(leaky, SETTINGS, validated, cutoff)
    assert max(a.split.valid_dates) + GAP <= cutoff
    rows = frame.loc[frame["as_of"] == frame["as_of"].max()]
    np.testing.assert_array_equal(a.model.predict_proba(rows), b.model.predict_proba(rows))
    assert a.model.metadata["trained_through"] == "2023-08-28"
    assert a.model.metadata["deployed_model"] == "refit"


def test_the_calibrator_is_fitted_on_the_latest_labelled_window_only(frame, validated, monkeypatch):
    cutoff = frame["as_of"].max()
    seen = []

    class Recording(refit_module.Calibrator):
        def fit(self, raw, y):
            seen.append(len(y))
            return super().fit(raw, y)

    monkeypatch.setattr(refit_module, "Calibrator", Recording)
    result = refit_model(frame, SETTINGS, validated, cutoff)
    known = pd.DatetimeIndex(
        sorted(known_labels(frame, cutoff, SETTINGS.snapshots)["as_of"].unique())
    )
    latest = tuple(known[-3:])
    assert result.split.valid_dates == latest
    assert seen == [int(frame["as_of"].isin(latest).sum())]
    # The trees never learned the churn the calibrator is fitted on: a gap before its window.
    assert max(result.split.fit_dates) + GAP <= latest[0]
    assert result.best_iteration == validated.best_iteration
    assert result.model.booster.num_trees() == validated.best_iteration


def test_the_refit_fits_with_the_thinned_rows_weights(frame, validated, monkeypatch):
    # A frame thinned over training.row_budget carries 1/r weights: the refit must use them, as
    # the validated model did, or its trees learn a churn rate r times too high.
    cutoff = frame["as_of"].max()
    thinned = frame.assign(weight=np.where(frame["label"] == 0, 4.0, 1.0))
    seen = []
    dataset = refit_module.lgb.Dataset

    def recording(*args, **kwargs):
        seen.append(kwargs.get("weight"))
        return dataset(*args, **kwargs)

    monkeypatch.setattr(refit_module.lgb, "Dataset", recording)
    result = refit_model(thinned, SETTINGS, validated, cutoff)
    fit = result.split.part(thinned, "fit")
    assert len(seen) == 1 and seen[0] is not None
    np.testing.assert_array_equal(seen[0], fit["weight"].to_numpy())
    recency = refit_model(thinned, SETTINGS, validated, cutoff, recency_half_life_days=30)
    assert recency.split == result.split
    age = (fit["as_of"].max() - fit["as_of"]).dt.days.to_numpy(dtype=float)
    np.testing.assert_allclose(seen[1], fit["weight"].to_numpy() * 0.5 ** (age / 30))


def test_a_refit_moves_the_training_end_forward(frame, validated):
    cutoff = frame["as_of"].max()
    result = refit_model(frame, SETTINGS, validated, cutoff)
    assert max(result.split.fit_dates) > max(validated.split.fit_dates)
    assert max(result.split.valid_dates) > max(validated.split.valid_dates)
    assert result.split.describe()["test_as_of"] == "none"


def test_too_short_a_history_to_refit_is_an_error(frame):
    with pytest.raises(ChurnError, match="too few to refit"):
        refit_split(frame, SETTINGS.training, SETTINGS.snapshots, frame["as_of"].min() + GAP)
