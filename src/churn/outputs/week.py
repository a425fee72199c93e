"""One week's data, and every file of its folder rendered from it.

A week folder ``<root>/<as_of>/`` holds:

- ``at_risk.csv`` / ``at_risk.parquet``: the list, in priority order;
- ``scores.parquet``: every scored customer (score, tier, reasons), for analysts;
- ``excluded.csv``: active customers not scored, each with the reason;
- ``dropped_off.csv``: each customer on last week's list not on this week's, with why;
- ``owners/<owner>.xlsx``: one workbook per account owner with their customers on the list;
- ``report.html``: one self-contained page (inline CSS/JS, plot as base64 PNG);
- ``manifest.json``: as_of, model, data hash, the list rule and tier bands, counts (the play
  mix, dropped off by why) and each file's sha256.

Rendering (:func:`build_week_files`) is pure: frames in, ``{relative path: bytes}`` out, with no
timestamps inside any file (sorted JSON here; see ``excel`` and ``report`` for the others), so
the same week rendered twice is byte-identical. Writing it is ``churn.outputs.store``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.outputs.display import list_rule, tier_bands
from churn.outputs.excel import render_workbook
from churn.outputs.loop import loop_counts, loop_files
from churn.outputs.report import drivers_png, headline, render_report
from churn.outputs.tables import (
    list_frame,
    owner_file_names,
    owner_label,
    render_csv,
    render_parquet,
)
from churn.scoring import DROPPED_COLUMNS


@dataclass(frozen=True)
class WeekData:
    """Everything that goes into one week's folder (the output of scoring)."""

    as_of: pd.Timestamp
    horizon_days: int
    at_risk: pd.DataFrame
    scores: pd.DataFrame
    excluded: pd.DataFrame
    active: int
    drivers: pd.Series
    families: Mapping[str, str]
    model: Mapping[str, Any]
    data_hash: str
    reasons_per_customer: int = 3
    priority: str = "revenue_at_risk"
    currency_format: str = "#,##0"
    previous_as_of: str | None = None
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)
    drivers_n: int = 0
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: The list rule and the tier bands in plain words (``churn.scoring.list_rule_text``).
    list_rule: str = ""
    #: (tier, lower bound) pairs, highest first (``churn.scoring.tier_bands``).
    tier_bands: tuple[tuple[str, float], ...] = ()
    #: Customers per recommended play on the list (``churn.scoring.play_mix``).
    play_mix: Mapping[str, int] = field(default_factory=dict)
    # Closing the loop (issue 14): the week's alerts (churn.alerts.week_alerts) and the control
    # group held out of what is sent (churn.control.draw_control). Empty: no file, counts 0.
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    control: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: ``control.share`` the group was drawn with (None: no draw this week, no sentence).
    control_share: float | None = None


def build_week_files(week: WeekData) -> dict[str, bytes]:
    """Render every file of the week folder: ``{relative path: bytes}``, manifest last.

    Pure and deterministic: the same inputs give byte-identical files.
    """
    k = week.reasons_per_customer
    listed = list_frame(week.at_risk, k)
    files: dict[str, bytes] = {}
    files["at_risk.csv"] = render_csv(listed)
    files["at_risk.parquet"] = render_parquet(listed.assign(as_of=week.as_of))
    files["scores.parquet"] = render_parquet(week.scores)
    excluded = week.excluded.reindex(columns=["customer_id", "name", "account_owner", "reason"])
    files["excluded.csv"] = render_csv(excluded)
    files["dropped_off.csv"] = render_csv(week.dropped.reindex(columns=DROPPED_COLUMNS))

    names = owner_file_names(week.at_risk["account_owner"] if len(week.at_risk) else [])
    labels = (
        week.at_risk["account_owner"].map(owner_label)
        if len(week.at_risk)
        else pd.Series(dtype=object)
    )
    alerts = week.alerts if len(week.alerts.columns) else None
    alert_owners = alerts["account_owner"].map(owner_label) if alerts is not None else None
    for label, file_name in names.items():
        rows = week.at_risk[labels == label]
        files[f"owners/{file_name}"] = render_workbook(
            rows,
            label,
            week.as_of,
            k,
            week.currency_format,
            list_rule=list_rule(week),
            tier_bands=tier_bands(week),
            alerts=None if alerts is None else alerts[(alert_owners == label).to_numpy()],
        )

    files.update(loop_files(week))
    png = drivers_png(week.drivers, week.families) if len(week.drivers) and week.drivers_n else None
    files["report.html"] = render_report(week, png)
    files["manifest.json"] = render_manifest(week, files, names)
    return files


def render_manifest(
    week: WeekData, files: Mapping[str, bytes], owner_files: Mapping[str, str]
) -> bytes:
    """manifest.json: what the week is, where it came from, counts, and each file's sha256."""
    from churn.scoring import dropped_counts, excluded_counts, play_mix

    h = headline(week)
    manifest = {
        "as_of": week.as_of.date().isoformat(),
        "horizon_days": int(week.horizon_days),
        "model": {key: _jsonable(v) for key, v in week.model.items()},
        "data_hash": week.data_hash,
        "previous_as_of": week.previous_as_of,
        "priority": week.priority,
        "counts": {
            "active": int(week.active),
            "scored": len(week.scores),
            "listed": len(week.at_risk),
            "excluded": len(week.excluded),
            "excluded_by_reason": excluded_counts(week.excluded) if len(week.excluded) else {},
            "new": h["new"],
            "up": h["up"],
            "down": h["down"],
            "dropped_off": h["dropped_off"],
            "dropped_off_by_why": dropped_counts(week.dropped),
            **loop_counts(week),
        },
        "list_rule": week.list_rule,
        "tier_bands": [[name, _jsonable(bound)] for name, bound in week.tier_bands],
        "play_mix": dict(week.play_mix) if week.play_mix else play_mix(week.at_risk),
        "headline": {
            "arr_listed": _jsonable(round(h["arr_listed"], 2)),
            "revenue_at_risk_listed": _jsonable(round(h["revenue_at_risk"], 2)),
            "revenue_at_risk_all": _jsonable(round(h["revenue_at_risk_all"], 2)),
        },
        "owners": dict(sorted(owner_files.items())),
        "settings": {key: _jsonable(v) for key, v in week.settings.items()},
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())},
    }
    # allow_nan=False: NaN and Infinity are not JSON (_jsonable writes them as null).
    text = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False)
    return (text + "\n").encode("utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
