"""The feature catalogue: what every feature means, its driver family, and how to say it.

Account teams read reasons, not column names. ``render_reason`` turns a customer's own feature
values into a true plain-English sentence ("NPS fell from 9 to 4", "Renewal in 23 days"). When
a value is missing the sentence says so plainly ("No NPS response on record") rather than
inventing a statement. Generated names (per channel, category, usage metric) are resolved by
their registry template, so the catalogue works on any dataset. Everything here is read from
``churn.features.registry``; the sentences themselves live in ``churn.features.reasons``.

The family names are fixed: the scoring playbook maps exactly these four to a play.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.features.registry import (
    ACTIVITY_WINDOWS,
    FAMILIES,
    INTERACTION_WINDOWS,
    REGISTRY,
    Feature,
    FeatureColumn,
    expand,
    lookup,
)

if TYPE_CHECKING:
    from churn.features.engine import FeatureSpec

__all__ = [
    "FAMILIES",
    "FeatureInfo",
    "as_extracted_features",
    "catalogue_frame",
    "feature_catalogue",
    "registry_frame",
    "render_reason",
]


@dataclass(frozen=True)
class FeatureInfo:
    """One catalogue entry.

    Parameters
    ----------
    name
        Feature column name.
    family
        One of ``FAMILIES``.
    description
        Plain-English meaning of the value.
    reason_template
        The shape of the sentence ``render_reason`` writes, for documentation.
    kind
        ``"behaviour"`` (may be a reason) or ``"context"`` (an account attribute).
    risk_direction
        +1 when a higher value means more risk, -1 less risk, ``None`` unknown.
    """

    name: str
    family: str
    description: str
    reason_template: str
    kind: str = "behaviour"
    risk_direction: int | None = None


def _info(column: FeatureColumn) -> FeatureInfo:
    f = column.feature
    return FeatureInfo(
        column.name,
        f.family,
        column.description,
        f.reason_template,
        column.kind,
        f.risk_direction,
    )


def feature_catalogue(names: Iterable[str]) -> dict[str, FeatureInfo]:
    """Catalogue entries for ``names`` (generated names such as ``int_cat_complaint_90d`` too).

    Raises
    ------
    KeyError
        For a name no registry entry matches.
    """
    return {name: _info(lookup(name)) for name in names}


def render_reason(name: str, row: Mapping[str, Any], direction: int) -> str:
    """A true plain-English sentence about feature ``name`` for one customer.

    Parameters
    ----------
    name
        Feature name.
    row
        The customer's feature values (a dict or a pandas Series); related features in the same
        row are used where a statement needs them (``nps_delta`` reads ``nps_previous`` and
        ``nps_last``).
    direction
        +1 if the feature raises this customer's risk, -1 if it lowers it. The sentence states
        the customer's values either way; it never claims a change that did not happen, and a
        missing value gives a neutral sentence ("No NPS response on record").

    Returns
    -------
    str
    """
    column = lookup(name)
    return column.feature.render(name, row, direction, column.groups)


def catalogue_frame(names: Iterable[str]) -> pd.DataFrame:
    """The catalogue of ``names`` as a frame (name, family, description, reason_template)."""
    rows = [vars(info) for info in feature_catalogue(names).values()]
    return pd.DataFrame(rows, columns=["name", "family", "description", "reason_template"])


def _window(days: int | None) -> str:
    return "" if days is None else str(days)


def _timing(feature: Feature, spec: FeatureSpec | None = None) -> str:
    history = None if spec is None else spec.history
    return "as extracted" if feature.is_as_extracted(history) else "point in time"


def as_extracted_features(names: Iterable[str], spec: FeatureSpec | None = None) -> list[str]:
    """The columns among ``names`` whose value is today's extract for every past ``as_of``.

    With ``spec``, an attribute the data's ``account_history`` dates (``spec.history``) is
    point in time, not as extracted; without, every attribute declared ``as_extracted`` is.
    """
    history = None if spec is None else spec.history
    return [n for n in names if lookup(n).feature.is_as_extracted(history)]


def registry_frame(spec: FeatureSpec | None = None) -> pd.DataFrame:
    """The registry as a table: one row per column of ``spec``, or per entry without one.

    Parameters
    ----------
    spec
        With a spec, the exact columns ``build_features`` produces for it (templates expanded,
        in output order); without, the registry's entries with their name templates.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``family``, ``kind``, ``window`` (days; empty when unbounded or static, the
        spec's windows for a template over them), ``table``, ``risk_direction`` (+1, -1 or
        empty), ``timing`` ("point in time", or "as extracted" for account attributes taken
        from today's extract for every past date: with a spec, those its ``account_history``
        does not date) and ``description``.
    """
    cols = ["name", "family", "kind", "window", "table", "risk_direction", "timing", "description"]
    rows: list[dict[str, Any]] = []
    if spec is not None:
        for c in expand(spec):
            f = c.feature
            rows.append(
                dict(
                    name=c.name, family=f.family, kind=c.kind, window=_window(c.window),
                    table=f.table, risk_direction=f.risk_direction, timing=_timing(f, spec),
                    description=c.description,
                )
            )  # fmt: skip
    else:
        for f in REGISTRY:
            window = (
                "/".join(map(str, INTERACTION_WINDOWS))
                if "window" in f.loop
                else "/".join(map(str, ACTIVITY_WINDOWS))
                if "span" in f.loop
                else _window(f.window)
            )
            kind = f"{f.kind} (seat metrics: context)" if f.context_when else f.kind
            rows.append(
                dict(
                    name=f.name, family=f.family, kind=kind, window=window, table=f.table,
                    risk_direction=f.risk_direction, timing=_timing(f), description=f.description,
                )
            )  # fmt: skip
    frame = pd.DataFrame(rows, columns=cols)
    frame["risk_direction"] = frame["risk_direction"].astype("Int64")
    return frame
