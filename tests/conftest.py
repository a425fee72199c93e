"""Shared test data: one tiny-dataset factory that goes through the real mapping and validation.

Tests that need a dataset of a few customers write it as literal rows with the contract's column
names and get back validated ``Tables``, the same object ``churn.data.load_dataset`` returns for
files, so a test never builds a ``Tables`` that validation would have refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churn.contract import Tables

#: Two customers, signed up a year before the tests' usual as_of, still customers.
DEFAULT_CUSTOMERS: tuple[dict[str, Any], ...] = (
    {"customer_id": "c1", "signup_date": "2023-01-01", "churn_date": None, "plan": "pro"},
    {"customer_id": "c2", "signup_date": "2023-01-01", "churn_date": None, "plan": "basic"},
)


def make_tables(
    customers: Sequence[Mapping[str, Any]] = DEFAULT_CUSTOMERS,
    *,
    interactions: Sequence[Mapping[str, Any]] | None = None,
    nps: Sequence[Mapping[str, Any]] | None = None,
    usage: Sequence[Mapping[str, Any]] | None = None,
    extraction_date: str = "2024-06-01",
) -> Tables:
    """Validated tables from literal rows (dates as ISO strings, as they would arrive in a CSV)."""
    from churn.data import DatasetConfig, tables_from_frames

    frames = {
        "customers": pd.DataFrame(list(customers)),
        "interactions": None if interactions is None else pd.DataFrame(list(interactions)),
        "nps": None if nps is None else pd.DataFrame(list(nps)),
        "usage": None if usage is None else pd.DataFrame(list(usage)),
    }
    config = DatasetConfig(extraction_date=pd.Timestamp(extraction_date))
    return tables_from_frames(frames, config)


@pytest.fixture
def tiny_tables() -> Callable[..., Tables]:
    """The factory :func:`make_tables`, as a fixture."""
    return make_tables


@pytest.fixture(scope="session")
def small_model():
    """A small LightGBM churn model trained on synthetic snapshots: ``(TrainResult, frame)``."""
    from churn.modeling import train_model
    from churn.settings import Settings, TrainingSettings

    rng = np.random.default_rng(0)
    dates = pd.date_range("2023-01-02", periods=40, freq="W-MON")
    n = 150
    seg = rng.choice(["SMB", "Ent"], n)
    parts = []
    for d in dates:
        x = rng.normal(size=n)
        y = (rng.random(n) < 1 / (1 + np.exp(-(x - 1 + (seg == "SMB"))))).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "as_of": d,
                    "label": y,
                    "x": x,
                    "seg": pd.Categorical(seg),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    tr = TrainingSettings(num_threads=1, num_boost_round=50)
    settings = Settings(
        training=tr.model_copy(update={"lightgbm": {**tr.lightgbm, "min_child_samples": 20}})
    )
    return train_model(frame, settings), frame


def simulated_scoring_model(root, *, seed: int, mess_rate: float | None = None):
    """A 300-customer simulated dataset and a tiny model trained on its own features.

    Returns ``(tables, model, as_of, data_folder)``: ``as_of`` is the latest complete week, the
    model was fitted on three earlier weekly snapshots (one thread), for tests that score a week.
    """
    import lightgbm as lgb

    from churn import dataset
    from churn.data import load_dataset
    from churn.modeling import Calibrator, ChurnModel
    from churn.simulate import simulate, write_dataset
    from churn.spine import latest_complete_week

    extra = {} if mess_rate is None else {"mess_rate": mess_rate}
    data = write_dataset(simulate(300, seed=seed, months=12, **extra), root / "data")
    tables = load_dataset(data)
    as_of = latest_complete_week(tables.extraction_date)
    dates = [as_of - pd.Timedelta(weeks=w) for w in (20, 16, 12)]
    frame = pd.concat([dataset.build_scoring_frame(tables, d) for d in dates], ignore_index=True)
    churn = frame["customer_id"].map(tables.customers.set_index("customer_id")["churn_date"])
    y = ((churn >= frame["as_of"]) & (churn < frame["as_of"] + pd.Timedelta(days=90))).astype(int)
    feats = [c for c in frame.columns if c not in ("customer_id", "as_of")]
    cats = [c for c in feats if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    booster = lgb.train(
        {"objective": "binary", "num_threads": 1, "verbose": -1, "num_leaves": 7, "seed": 1},
        lgb.Dataset(frame[feats], y),
        num_boost_round=30,
    )
    calibrator = Calibrator("sigmoid").fit(booster.predict(frame[feats]), y)
    meta = {"run_id": "run-1", "model_version": "7", "categorical_features": cats}
    return tables, ChurnModel(booster, calibrator, feats, 90, meta), as_of, data


@pytest.fixture(scope="session")
def scoring_model_factory():
    """The factory :func:`simulated_scoring_model`, as a fixture."""
    return simulated_scoring_model
