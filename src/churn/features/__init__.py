"""Point-in-time features: one registry, the engine that computes them, the catalogue."""

from __future__ import annotations

from churn.features.catalogue import (
    FAMILIES,
    FeatureInfo,
    as_extracted_features,
    catalogue_frame,
    feature_catalogue,
    registry_frame,
    render_reason,
)
from churn.features.engine import (
    FeatureSpec,
    activity_columns,
    build_features,
    iter_features,
    usage_visible_from,
)
from churn.features.registry import (
    ACCOUNT_CONTEXT,
    BEHAVIOUR,
    CONTEXT,
    FEATURE_SETS,
    REGISTRY,
    Feature,
    FeatureColumn,
    entry,
    expand,
    feature_names,
    lookup,
    select,
)

__all__ = [
    "usage_visible_from",
    "as_extracted_features",
    "ACCOUNT_CONTEXT",
    "BEHAVIOUR",
    "CONTEXT",
    "FAMILIES",
    "FEATURE_SETS",
    "REGISTRY",
    "Feature",
    "FeatureColumn",
    "FeatureInfo",
    "FeatureSpec",
    "activity_columns",
    "build_features",
    "catalogue_frame",
    "entry",
    "expand",
    "feature_names",
    "feature_catalogue",
    "iter_features",
    "lookup",
    "registry_frame",
    "render_reason",
    "select",
]
