"""``churn score --data STATIC_CONFIG``: a file of customers scored with a registered static model.

load the rows to score (the held-out rows of ``static.holdout``, else every row; the label may
be absent) -> the registered ``churn-static-<dataset>`` model (latest version, or
``--model NAME@alias`` / ``NAME/VERSION``) -> scores corrected for a declared sampling, tiers,
reasons from TreeSHAP (``churn.scoring.score_customers``) -> what changed since the previous
folder under the same root -> the week's files (``churn.outputs``), written atomically to
``<root>/<as_of>/``. A static table has no time axis: ``as_of`` is the day of the run unless
given, and the page's horizon is 0 days (the label's own meaning, e.g. "left last month").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from churn.pipelines import tracking
from churn.pipelines.static_models import load_static_model, render_static_reason


def run_score_static(
    data: Path,
    *,
    model: str | None = None,
    as_of: str | None = None,
    out: Path = Path("data/at_risk"),
    config: Path | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """Score the rows of a static dataset config and write the week folder (module doc).

    Returns a ``churn.pipelines.score.ScoreResult``.
    """
    from churn.outputs import (
        build_week_files,
        headline,
        previous_week_folder,
        read_week,
        week_folder,
        write_week_atomically,
    )
    from churn.pipelines.score import ScoreResult
    from churn.scoring import (
        account_details,
        at_risk_list,
        compare_with_previous,
        score_customers,
    )
    from churn.settings import load_settings
    from churn.static_table import load_static

    uri = tracking_uri or tracking.default_tracking_uri()
    rows = load_static(data, scoring=True)
    scorer = load_static_model(rows.name, model, uri)
    if rows.holdout is not None:
        rows = rows.subset(rows.holdout)
    when = pd.Timestamp(as_of or pd.Timestamp.now().date()).as_unit("ns")
    scoring = load_settings(config).scoring.model_copy(update={"priority": "probability"})
    ids = rows.customer_id.astype(str)
    scorable = rows.features.assign(customer_id=ids.to_numpy(), as_of=when)
    families = {f: f for f in scorer.feature_names}
    scores, contributions, excluded = score_customers(
        scorer,
        scorable,
        account_details(pd.DataFrame({"customer_id": ids})),
        scoring,
        families=families,
        render=render_static_reason,
        calibrate=scorer.calibrate,
    )
    previous = previous_week_folder(out, when)
    prev_list, prev_scores = read_week(previous) if previous else (None, None)
    listed = compare_with_previous(
        at_risk_list(scores), prev_list, prev_scores, scoring.change_tolerance
    )
    parts = {"listed": listed, "scores": scores, "excluded": excluded, "active": len(scorable)}
    week = _week(rows, scorer, when, scoring, parts, contributions, previous, prev_list)
    files = build_week_files(week)
    folder = write_week_atomically(files, week_folder(out, when))
    return ScoreResult(folder, when, headline(week), listed, week.excluded, tuple(sorted(files)))


def _week(
    rows: Any,
    scorer: Any,
    when: pd.Timestamp,
    scoring: Any,
    parts: dict[str, Any],
    contributions: pd.DataFrame,
    previous: Path | None,
    prev_list: pd.DataFrame | None,
) -> Any:
    """The ``churn.outputs.WeekData`` of the scored rows (``parts``: listed, scores, excluded
    and the count of rows, ``active``)."""
    from churn.explain import global_drivers
    from churn.outputs import WeekData
    from churn.pipelines.lineage import static_fingerprint
    from churn.scoring import dropped_off

    families = {f: f for f in scorer.feature_names}
    info = {**scorer.metadata, "name": scorer.metadata["model_name"], "horizon_days": 0}
    week = WeekData(
        as_of=when,
        horizon_days=0,
        at_risk=parts["listed"],
        scores=parts["scores"],
        excluded=parts["excluded"].assign(name=None, account_owner=None),
        active=parts["active"],
        drivers=global_drivers(contributions),
        families=families,
        model=info | {"n_features": len(families)},
        data_hash=static_fingerprint(rows),
        reasons_per_customer=scoring.reasons_per_customer,
        priority=scoring.priority,
        currency_format=scoring.currency_format,
        previous_as_of=previous.name if previous else None,
        dropped=dropped_off(parts["listed"], prev_list),
        drivers_n=len(contributions),
        settings=scoring.model_dump(),
    )
    return week
