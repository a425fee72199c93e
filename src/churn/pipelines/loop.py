"""Closing the loop in ``churn score`` (issue 14): the week's alerts and its control group.

Called by ``churn.pipelines.score`` between the list and the files, in two lines: the alerts
come from the tables as known before as_of (``churn.alerts``), the control group is drawn from
the list (``churn.control``) and removed from what is sent to the owners.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pandas as pd

from churn.contract import Tables
from churn.settings import Settings

log = logging.getLogger(__name__)


def close_the_loop(
    tables: Tables,
    as_of: pd.Timestamp,
    settings: Settings,
    scores: pd.DataFrame,
    listed: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(alerts, sent, control)`` of the week: ``sent`` is the list without the control group."""
    from churn.alerts import week_alerts
    from churn.control import draw_control

    alerts = week_alerts(tables, as_of, settings.alerts, scores)
    sent, control = draw_control(listed, as_of, settings.control.share, settings.control.seed)
    log.info(
        "%d alerts; %d of %d listed customers held out as the control group",
        len(alerts),
        len(control),
        len(listed),
    )
    return alerts, sent, control


def with_loop(week: Any, alerts: pd.DataFrame, control: pd.DataFrame) -> Any:
    """The ``WeekData`` with its alerts and control group."""
    return dataclasses.replace(week, alerts=alerts, control=control)
