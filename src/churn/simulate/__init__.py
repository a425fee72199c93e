"""The demo's simulated customer base, with its ground truth and oracle."""

from __future__ import annotations

from churn.simulate.core import (
    SimulatedDataset,
    annual_churn_rate,
    load_truth,
    oracle_probability,
    simulate,
    write_dataset,
)

__all__ = [
    "SimulatedDataset",
    "annual_churn_rate",
    "load_truth",
    "oracle_probability",
    "simulate",
    "write_dataset",
]
