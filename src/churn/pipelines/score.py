"""``churn score``: the weekly at-risk list, end to end (the thin shell around the pure parts).

load the dataset -> the champion model -> active customers at as_of, built once
(``churn.dataset.scoring_spine``) -> features on that spine with the SAME code as training
(``churn.dataset.build_scoring_frame``) -> feature-set check -> scores, tiers, reasons, plays
(``churn.pipelines.week``; ``rank_by: uplift``: ordered by ``churn.pipelines.uplift``) -> the
list in context: what changed since the previous week folder under the same root, the trend,
the voice, who dropped off and why (``churn.pipelines.week_context``) -> files rendered
(``churn.outputs``) and written atomically to ``<root>/<as_of>/``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn._progress import progress_bar
from churn.contract import Tables
from churn.pipelines.loop import close_the_loop
from churn.pipelines.uplift import week_ranking
from churn.pipelines.week import check_week, score_scorable, week_data
from churn.pipelines.week_context import list_in_context
from churn.scoring_date import parse_as_of
from churn.settings import Settings
from churn.spine import latest_complete_week

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("data/at_risk")


@dataclass(frozen=True)
class ScoreResult:
    """What a scoring run produced (for the CLI summary and for tests)."""

    folder: Path
    as_of: pd.Timestamp
    headline: dict[str, Any]
    at_risk: pd.DataFrame
    excluded: pd.DataFrame
    files: tuple[str, ...]


def score_week(
    tables: Tables,
    model: Any,
    as_of: pd.Timestamp | str,
    settings: Settings,
    out_root: Path = DEFAULT_ROOT,
    *,
    progress: bool = False,
    actions: pd.DataFrame | None = None,
) -> ScoreResult:
    """Score every customer active at ``as_of`` and write the week folder under ``out_root``.

    Parameters
    ----------
    tables, model
        The validated dataset (``churn.data.load_dataset``) and the champion ``ChurnModel``.
    as_of
        The snapshot instant; must not be after the data's extraction date.
    settings
        Run settings; ``settings.scoring`` cuts the list.
    out_root, progress
        Root of the week folders (the previous week's list is read from here too); whether
        to show a rich progress bar over the steps.
    actions
        The recorded plays (``<data>/actions.csv``); their open plays are marked on the list.
    """
    from churn import dataset
    from churn.outputs import (
        build_week_files,
        headline,
        previous_week_folder,
        read_week,
        week_folder,
        write_week_atomically,
    )
    from churn.scoring import check_feature_set, check_scoring_settings, split_scorable

    check_scoring_settings(settings.scoring)
    as_of = pd.Timestamp(as_of).as_unit("ns")
    horizon = check_week(tables, model, as_of, settings)
    scoring, uplift = week_ranking(tables, model, as_of, settings, out_root)
    with progress_bar("scoring", 4, progress) as bar:
        bar.step("active customers")
        # Built once: the active customers are both the list's denominator and the spine of
        # the features (the same definition of "active" as training).
        active = dataset.scoring_spine(tables, as_of)
        bar.step("features")
        spec, engine = model.feature_spec, settings.engine  # the model's columns, the set engine
        frame = dataset.build_scoring_frame(tables, as_of, spec=spec, spine=active, engine=engine)
        check_feature_set(model.feature_names, list(frame.columns))
        scorable, excluded = split_scorable(active, frame, tuple(scoring.required_features))
        bar.step("scores and reasons")
        scores, contributions, excluded, families = score_scorable(
            tables, model, as_of, scoring, scorable, excluded, len(active), uplift
        )
        previous = previous_week_folder(out_root, as_of)
        prev = read_week(previous) if previous else (None, None)
        ctx = (tables, scores, excluded, prev, as_of, settings, out_root)
        listed, dropped = list_in_context(*ctx, actions=actions)
        bar.step("files")
        parts = {"listed": listed, "scores": scores, "excluded": excluded, "active": len(active)}
        parts.update(contributions=contributions, families=families, dropped=dropped)
        week = week_data(tables, model, as_of, horizon, scoring, parts, previous)
        # Issue 14: the week's alerts, and its control group held out of what is sent.
        week = close_the_loop(tables, settings, week)
        files = build_week_files(week)
        folder = write_week_atomically(files, week_folder(out_root, as_of))
    return ScoreResult(
        folder=folder,
        as_of=as_of,
        headline=headline(week),
        at_risk=week.at_risk,
        excluded=excluded,
        files=tuple(sorted(files)),
    )


def run_score(
    data: Path,
    as_of: str | None = None,
    out: Path | None = None,
    config: Path | None = None,
    tracking_uri: str | None = None,
    progress: bool = True,
) -> ScoreResult:
    """The ``churn score`` command: load data, settings and the champion, then :func:`score_week`."""
    from churn.data import load_dataset
    from churn.pipelines.champion import load_champion
    from churn.pipelines.record import actions_path, read_actions
    from churn.settings import load_settings

    settings = load_settings(config)
    # The model first: with no champion there is nothing to do, and the message says what to run.
    model = load_champion(tracking_uri)
    tables = load_dataset(data)
    if as_of:
        when = parse_as_of(as_of, settings.snapshots.cadence)
    else:
        when = latest_complete_week(tables.extraction_date, settings.snapshots.cadence)
        log.info("scoring the latest complete week: as_of %s", when.date())
    actions = read_actions(actions_path(data))  # empty when no play was recorded yet
    root = out or DEFAULT_ROOT
    return score_week(tables, model, when, settings, root, progress=progress, actions=actions)
