"""The week's list in context: what changed, the trend, the voice of the customer, who dropped off.

Reads the earlier week folders under the output root (``churn.outputs.past_week_scores``) and
wires the pure parts: ``churn.scoring`` (what changed, trend, dropped off) and ``churn.voice``
(latest NPS verbatim and complaint or open incident, as known at as_of).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from churn.contract import Tables
from churn.settings import ScoringSettings, Settings


def list_in_context(
    tables: Tables,
    scores: pd.DataFrame,
    excluded: pd.DataFrame,
    previous: tuple[pd.DataFrame | None, pd.DataFrame | None],
    as_of: pd.Timestamp,
    settings: Settings,
    out_root: Path,
    *,
    actions: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This week's list in context, and who dropped off it.

    ``previous`` is last week's (list, scores), either None; ``actions`` the recorded plays
    (``churn.pipelines.record.read_actions``), None when none. Returns the list (with the
    changes, ``what_changed``, ``probability_trend``, the voice columns and the open plays) and
    the dropped-off frame.
    """
    from churn.scoring import at_risk_list, compare_with_previous

    scoring = settings.scoring
    prev_list, prev_scores = previous
    listed = compare_with_previous(
        at_risk_list(scores), prev_list, prev_scores, scoring.change_tolerance
    )
    listed = with_open_plays(listed, actions, as_of)
    listed = _with_history_and_voice(
        tables, listed, prev_scores, as_of, scoring, out_root, settings.snapshots.cadence
    )
    dropped = named_dropped(tables, listed, prev_list, scores, excluded, as_of, scoring)
    return listed, dropped


def with_open_plays(
    listed: pd.DataFrame, actions: pd.DataFrame | None, as_of: pd.Timestamp
) -> pd.DataFrame:
    """``listed`` with ``play_status`` / ``play_started_at`` (``churn.actions.mark_play_status``).

    A customer new on the list whose recorded play is still open is not sent again as new: its
    change reads "in play" (an up or down against last week's list is kept).
    """
    from churn.actions import empty_actions, mark_play_status

    out = mark_play_status(listed, empty_actions() if actions is None else actions, as_of)
    if "change" in out.columns:
        in_play = out["play_status"].notna() & (out["change"] == "new")
        out["change"] = out["change"].where(~in_play, "in play")
    return out


def _with_history_and_voice(
    tables: Tables,
    listed: pd.DataFrame,
    previous_scores: pd.DataFrame | None,
    as_of: pd.Timestamp,
    scoring: ScoringSettings,
    out_root: Path,
    cadence: str,
) -> pd.DataFrame:
    """``listed`` with ``what_changed``, ``probability_trend`` and the voice columns."""
    from churn.outputs import past_week_scores
    from churn.scoring import TREND_WEEKS, probability_trend, what_changed
    from churn.voice import voice_of_customer

    out = listed.copy()
    out["what_changed"] = what_changed(out, previous_scores, scoring.reasons_per_customer)
    past = past_week_scores(out_root, as_of, cadence, TREND_WEEKS - 1)
    out["probability_trend"] = probability_trend(out, past)
    voice = voice_of_customer(
        tables,
        as_of,
        out["customer_id"].astype(str),
        scoring.complaint_categories,
        scoring.incident_categories,
    )
    for col in voice.columns:
        out[col] = voice[col].to_numpy()
    return out


def named_dropped(
    tables: Tables,
    listed: pd.DataFrame,
    previous_list: pd.DataFrame | None,
    scores: pd.DataFrame,
    excluded: pd.DataFrame,
    as_of: pd.Timestamp,
    scoring: ScoringSettings,
) -> pd.DataFrame:
    """Each customer on last week's list not on this week's, named, with why."""
    from churn.labels import churn_dates
    from churn.scoring import dropped_off

    if previous_list is None:
        return dropped_off(listed, None)
    dates = churn_dates(tables)
    churned = dates.index[dates.notna() & (dates < as_of)].astype(str)
    return dropped_off(listed, previous_list, scores, excluded, churned, scoring)
