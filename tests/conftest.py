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
