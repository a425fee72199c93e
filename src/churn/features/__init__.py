"""Point-in-time features: one registry, the engine that computes them, the catalogue."""

from __future__ import annotations

from churn.features.catalogue import FAMILIES, catalogue_frame, feature_catalogue, render_reason
from churn.features.engine import FeatureSpec, activity_columns, build_features, feature_names

__all__ = [
    "FAMILIES",
    "FeatureSpec",
    "activity_columns",
    "build_features",
    "catalogue_frame",
    "feature_catalogue",
    "feature_names",
    "render_reason",
]
