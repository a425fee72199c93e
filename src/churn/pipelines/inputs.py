"""What training reads: the dataset and its training frame, and (optionally) the oracle's truth."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.settings import Settings

log = logging.getLogger(__name__)


def dataset_root(data: Path) -> Path:
    """The dataset folder (``data`` itself, or the folder of a dataset YAML)."""
    data = Path(data)
    return data if data.is_dir() else data.parent


def load_training_frame(
    data: Path, settings: Settings, *, progress: bool = True
) -> tuple[Tables, pd.DataFrame, Any]:
    """Load and validate the dataset, then build the labelled snapshot frame and its spec
    (features on the settings' ``engine``)."""
    from churn.data import load_dataset
    from churn.dataset import build_training_frame
    from churn.features import FeatureSpec, as_extracted_features, feature_names
    from churn.modeling.subsample import thin_training_spine

    tables = load_dataset(data)
    # The spec fixes the data-dependent columns (top channels, categories, metrics). It travels
    # with the model so that weekly scoring builds exactly these columns from next week's data.
    spec = FeatureSpec.from_tables(tables)
    frame = build_training_frame(
        tables,
        settings.snapshots,
        progress=progress,
        spec=spec,
        thin=lambda spine: thin_training_spine(spine, settings.training, settings.snapshots),
        engine=settings.engine,
    )
    extracted = as_extracted_features(feature_names(spec), spec)
    if extracted:
        log.warning(
            "%s are taken from the customers table as extracted today, for every past snapshot "
            "too (no account_history table dates these attributes): a customer who downgraded "
            "before leaving shows today's plan and ARR. `churn catalogue` marks them 'as "
            "extracted'; an account_history table (docs/bring-your-own-data.md) makes them "
            "point in time.",
            ", ".join(extracted),
        )
    return tables, frame, spec


def load_oracle(oracle: Path | None) -> Any:
    """The simulator's ground truth from its ``ground_truth/`` folder (or the dataset folder
    holding one); ``None`` without ``oracle``, said in one log line."""
    if oracle is None:
        log.info("no oracle given (--oracle): the comparison has no oracle column")
        return None
    from churn.simulate import load_truth

    folder = Path(oracle)
    if not folder.is_dir():
        raise ChurnError(
            f"--oracle {folder} is not a folder: pass the simulator's truth folder, e.g. "
            "data/raw/demo/ground_truth"
        )
    # load_truth reads <dataset>/ground_truth: accept that folder or the dataset above it.
    return load_truth(folder.parent if (folder / "params.json").exists() else folder)
