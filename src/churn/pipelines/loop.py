"""Closing the loop in ``churn score`` (issue 14): the week's alerts and its control group.

Called by ``churn.pipelines.score`` on the week's data, in one line: the alerts come from the
tables as known before as_of (``churn.alerts``), the control group is drawn from the list
(``churn.control``) and taken out of what is sent to the owners (list, workbooks, page).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from churn.contract import Tables
from churn.settings import Settings

log = logging.getLogger(__name__)


def close_the_loop(tables: Tables, settings: Settings, week: Any) -> Any:
    """The ``WeekData`` with its alerts and control group, and ``at_risk`` = what is sent."""
    from churn.alerts import week_alerts
    from churn.control import draw_control
    from churn.scoring import play_mix

    alerts = week_alerts(tables, week.as_of, settings.alerts, week.scores)
    listed = week.at_risk
    sent, control = draw_control(listed, week.as_of, settings.control.share, settings.control.seed)
    log.info(
        "%d alerts; %d of %d listed customers held out as the control group",
        len(alerts),
        len(control),
        len(listed),
    )
    share = settings.control.share
    # The play mix is what is sent: the control group runs no play.
    return dataclasses.replace(
        week,
        at_risk=sent,
        alerts=alerts,
        control=control,
        control_share=share,
        play_mix=play_mix(sent),
    )
