"""The week folder's files that close the loop (issue 14): ``alerts.csv`` and ``control.csv``.

Kept apart from ``churn.outputs.week`` so that the week folder only calls two functions:
:func:`loop_files` (the files, when the week has any) and :func:`loop_counts` (for the manifest).
"""

from __future__ import annotations

from typing import Any

from churn.alerts import ALERT_COLUMNS, alert_counts
from churn.control import CONTROL_COLUMNS
from churn.outputs.tables import render_csv


def loop_files(week: Any) -> dict[str, bytes]:
    """alerts.csv and control.csv of a ``WeekData``, each only when the week carries the frame."""
    files: dict[str, bytes] = {}
    if len(week.alerts.columns):
        files["alerts.csv"] = render_csv(week.alerts.reindex(columns=ALERT_COLUMNS))
    if len(week.control.columns):
        files["control.csv"] = render_csv(week.control.reindex(columns=CONTROL_COLUMNS))
    return files


def loop_counts(week: Any) -> dict[str, Any]:
    """Manifest counts: alerts (in all and per kind) and customers held out as the control."""
    by_kind = alert_counts(week.alerts) if len(week.alerts.columns) else {}
    return {"alerts": len(week.alerts), "alerts_by_kind": by_kind, "control": len(week.control)}
