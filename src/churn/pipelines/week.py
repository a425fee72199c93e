"""The parts of ``churn score`` between the features and the files: scores, reasons, exclusions
and the week's data for ``churn.outputs`` (wiring of ``churn.scoring`` and ``churn.explain``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from churn.contract import Tables
from churn.scoring_date import check_reach
from churn.settings import ScoringSettings, Settings

log = logging.getLogger(__name__)


def model_info(model: Any) -> dict[str, Any]:
    """Name, version and run id of the model, from its metadata (for the manifest and page)."""
    meta = dict(getattr(model, "metadata", {}) or {})
    return {
        "name": meta.get("model_name") or meta.get("registered_model_name") or "churn",
        "version": meta.get("model_version"),
        "run_id": meta.get("run_id"),
        "horizon_days": int(getattr(model, "horizon_days", 0) or 0),
        "n_features": len(getattr(model, "feature_names", []) or []),
    }


def score_scorable(
    tables: Tables,
    model: Any,
    as_of: pd.Timestamp,
    scoring: ScoringSettings,
    scorable: pd.DataFrame,
    excluded: pd.DataFrame,
    n_active: int,
    uplift: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """Scores, tiers and reasons of the scorable customers; every one not scored is excluded.

    Returns ``(scores, contributions, excluded, families)``; ``excluded`` carries each
    customer's name and account owner, sorted by customer_id. ``uplift``: the effect function
    of ``rank_by: uplift`` (``churn.pipelines.uplift.week_ranking``), None otherwise.
    """
    from churn.features import catalogue
    from churn.scoring import account_details, score_customers

    info = catalogue.feature_catalogue(list(model.feature_names))
    families = {name: fi.family for name, fi in info.items()}
    accounts = account_details(tables.customers)
    calibrate = getattr(getattr(model, "calibrator", None), "transform", None)
    scores, contributions, unscored = score_customers(
        model,
        scorable,
        accounts,
        scoring,
        families=families,
        render=catalogue.render_reason,
        calibrate=calibrate,
        uplift=uplift,
    )
    excluded = pd.concat([excluded, unscored], ignore_index=True)
    excluded = excluded.merge(
        accounts[["customer_id", "name", "account_owner"]], on="customer_id", how="left"
    ).sort_values("customer_id", kind="stable", ignore_index=True)
    if len(scores) + len(excluded) != n_active:
        # A bug, not a user error: the list would silently lose customers.
        raise RuntimeError(
            f"scored ({len(scores)}) + excluded ({len(excluded)}) != active ({n_active})"
        )
    return scores, contributions, excluded, families


def week_data(
    tables: Tables,
    model: Any,
    as_of: pd.Timestamp,
    horizon: int,
    scoring: ScoringSettings,
    parts: dict[str, Any],
    previous: Path | None,
) -> Any:
    """The ``churn.outputs.WeekData`` of one scored week.

    ``parts``: ``listed``, ``scores``, ``excluded``, ``contributions``, ``families``,
    ``active`` (the count of active customers) and ``dropped`` (named, with why).
    """
    from churn.explain import global_drivers
    from churn.outputs import WeekData
    from churn.pipelines.lineage import tables_fingerprint
    from churn.scoring import list_rule_text, play_mix, tier_bands

    listed, contributions = parts["listed"], parts["contributions"]
    return WeekData(
        as_of=as_of,
        horizon_days=horizon,
        at_risk=listed,
        scores=parts["scores"],
        excluded=parts["excluded"],
        active=parts["active"],
        drivers=global_drivers(contributions),
        families=parts["families"],
        model=model_info(model),
        data_hash=tables_fingerprint(tables),
        reasons_per_customer=scoring.reasons_per_customer,
        priority=scoring.priority,
        currency_format=scoring.currency_format,
        previous_as_of=previous.name if previous else None,
        dropped=parts["dropped"],
        drivers_n=len(contributions),
        settings=scoring.model_dump(),
        list_rule=list_rule_text(scoring),
        tier_bands=tier_bands(scoring),
        play_mix=play_mix(listed),
    )


def check_week(tables: Tables, model: Any, as_of: pd.Timestamp, settings: Settings) -> int:
    """The horizon the list uses (the model's), once ``as_of`` passed ``check_reach``."""
    check_reach(tables, as_of)
    horizon = int(getattr(model, "horizon_days", settings.snapshots.horizon_days))
    if horizon != settings.snapshots.horizon_days:
        log.warning(
            "the champion predicts %d days ahead, the config says %d: the list uses the model's "
            "horizon",
            horizon,
            settings.snapshots.horizon_days,
        )
    return horizon
