"""churn: every Monday, which customers are about to leave, why, and what to do about it.

The public API, in the order data flows (notebooks and scripts import from here)::

    raw tables -> load_dataset -> build_spine + attach_labels -> build_features
               -> train_model -> score_customers + top_reasons -> the weekly list

``build_training_frame`` and ``build_scoring_frame`` put spine, labels and features together: the
same feature code for training and for weekly scoring. Every name is loaded on first use, so
``import churn`` stays instant and has no side effects.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it.
_API: dict[str, str] = {
    # contract, settings, errors
    "Tables": "churn.contract",
    "ChurnError": "churn.errors",
    "Settings": "churn.settings",
    "load_settings": "churn.settings",
    "settings_from_dict": "churn.settings",
    # raw -> validated tables
    "load_config": "churn.data",
    "load_dataset": "churn.data",
    "summarize": "churn.data",
    # the simulator (the demo and the tests; the function itself is churn.simulate.simulate)
    "write_dataset": "churn.simulate",
    "load_truth": "churn.simulate",
    "oracle_probability": "churn.simulate",
    # spine, labels, features, frames
    "snapshot_dates": "churn.spine",
    "latest_complete_week": "churn.spine",
    "build_spine": "churn.spine",
    "build_activity_spine": "churn.spine",
    "churn_dates": "churn.labels",
    "activity_events": "churn.labels",
    "attach_labels": "churn.labels",
    "FeatureSpec": "churn.features",
    "build_features": "churn.features",
    "feature_catalogue": "churn.features",
    "catalogue_frame": "churn.features",
    "render_reason": "churn.features",
    "FAMILIES": "churn.features",
    "build_training_frame": "churn.dataset",
    "build_scoring_frame": "churn.dataset",
    "first_snapshot": "churn.dataset",
    "scoring_spine": "churn.dataset",
    "active_spine": "churn.dataset",
    # model
    "ChurnModel": "churn.modeling",
    "train_model": "churn.modeling",
    "evaluate": "churn.modeling",
    # scores and reasons
    "account_details": "churn.scoring",
    "split_scorable": "churn.scoring",
    "score_customers": "churn.scoring",
    "top_reasons": "churn.explain",
    "global_drivers": "churn.explain",
    # the registered champion (MLflow: part of the shell)
    "load_champion": "churn.pipelines.champion",
    "champion_version": "churn.pipelines.champion",
    "default_tracking_uri": "churn.pipelines.tracking",
    "NoChampionError": "churn.pipelines.champion",
    "tables_fingerprint": "churn.pipelines.lineage",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    # PEP 562: resolve a public name on first access; submodules (churn.analysis, ...) import
    # as usual.
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'churn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
