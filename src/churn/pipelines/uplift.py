"""``scoring.rank_by: uplift`` in ``churn score``: the uplift model of the matured past weeks.

The week folders under the output root hold what each week sent (``at_risk.csv``: treated) and
held out (``control.csv``: control). For a week scored at ``as_of``, the weeks whose horizon ended
by then (``as_of_w + horizon <= as_of``) have known outcomes: one unit per customer, at the first
such week (``churn.impact.listed_units``, as ``churn impact`` counts them); their features at
``as_of_w`` come from the scoring feature code (``churn.dataset.build_outcome_frame``). With enough
of both arms (``scoring.uplift_min_per_arm``) a two-model uplift (``churn.uplift``) is fitted
and estimates this week's customers' effect of the play; below that the week is ranked by risk
and a warning says why (the manifest's settings then say ``rank_by: risk``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.settings import ScoringSettings, Settings

log = logging.getLogger(__name__)

#: (features of the scored customers, their recommended plays) -> effect on churn probability.
Effect = Callable[[pd.DataFrame, pd.Series], np.ndarray]


def outcome_rows(
    tables: Tables, model: Any, as_of: pd.Timestamp, out_root: Path
) -> pd.DataFrame | None:
    """Matured treated and control customers of the week folders, with features and outcome."""
    from churn.dataset import build_outcome_frame
    from churn.impact import listed_units
    from churn.pipelines.impact import read_week_arms

    try:
        weeks = read_week_arms(out_root)
    except ChurnError:
        return None  # no week folder yet: nothing to learn from
    earlier = [w for w in weeks if pd.Timestamp(w["as_of"]) < as_of]
    # Outcomes known at as_of: listed_units keeps the weeks whose horizon ended by its third
    # argument; churn in [as_of_w, as_of_w + horizon) is then all before as_of.
    units = listed_units(earlier, tables.customers, as_of)
    if not len(units):
        return None
    return build_outcome_frame(tables, units, spec=model.feature_spec)


def fit_week_uplift(
    tables: Tables, model: Any, as_of: pd.Timestamp, scoring: ScoringSettings, out_root: Path
) -> tuple[Effect | None, str | None]:
    """``(effect, None)`` with the fitted model's effect function, or ``(None, why not)``."""
    from churn.uplift import TwoModelUplift, check_evidence, with_play

    rows = outcome_rows(tables, model, pd.Timestamp(as_of), Path(out_root))
    if rows is None:
        return None, (
            f"too little evidence for an uplift model: no week in {out_root} has passed its "
            "horizon yet"
        )
    why = check_evidence(rows["treated"], scoring.uplift_min_per_arm)
    if why:
        return None, why
    X = with_play(model.prepare(rows), rows["recommended_play"])
    fitted = TwoModelUplift().fit(X, rows["treated"], rows["churned"])
    log.info(
        "uplift model fitted on %d treated and %d control outcomes",
        int(rows["treated"].sum()),
        int((~rows["treated"]).sum()),
    )
    return (lambda X, plays: fitted.predict_effect(with_play(model.prepare(X), plays))), None


def week_ranking(
    tables: Tables, model: Any, as_of: pd.Timestamp, settings: Settings, out_root: Path
) -> tuple[ScoringSettings, Effect | None]:
    """The scoring settings the week is cut with, and the effect function under uplift.

    ``rank_by: risk``: the settings as they are, no effect. ``rank_by: uplift`` without enough
    evidence: a warning and the settings with ``rank_by: risk`` (so the list rule, page and
    manifest say what the list was really ranked by).
    """
    scoring = settings.scoring
    if scoring.rank_by != "uplift":
        return scoring, None
    effect, why = fit_week_uplift(tables, model, as_of, scoring, out_root)
    if effect is None:
        log.warning("scoring.rank_by is uplift but the list is ranked by risk this week: %s", why)
        return scoring.model_copy(update={"rank_by": "risk"}), None
    return scoring, effect
