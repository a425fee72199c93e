"""``churn score``: the weekly at-risk list, end to end (the thin shell around the pure parts).

load the dataset -> the champion model -> active customers at as_of (``churn.spine.build_spine``)
-> features with the SAME code as training (``churn.dataset.build_scoring_frame``) -> feature-set
check -> scores, tiers, reasons, plays (``churn.scoring``, ``churn.explain``) -> what changed since
the previous week folder under the same root -> files rendered (``churn.outputs``) and written
atomically to ``<root>/<as_of>/``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.settings import Settings

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


def latest_complete_week(extraction_date: pd.Timestamp, cadence: str = "W-MON") -> pd.Timestamp:
    """The last snapshot date (midnight on the cadence, Mondays by default) not after extraction.

    Features at that as_of see only records strictly before it, all of which are in the data.
    """
    end = pd.Timestamp(extraction_date).normalize()
    return pd.Timestamp(pd.date_range(end=end, periods=1, freq=cadence)[0]).as_unit("ns")


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


def feature_spec(model: Any) -> Any:
    """The feature spec stored with the model (so scoring builds its exact columns), or None.

    Data-dependent columns (interaction channels/categories, usage metrics, category levels)
    are derived from the data when the model carries no spec; a mismatch is then caught by the
    feature-set check with the differing names.
    """
    from churn.features import FeatureSpec

    raw = (getattr(model, "metadata", None) or {}).get("feature_spec")
    return FeatureSpec.from_dict(raw) if raw else None


def score_week(
    tables: Tables,
    model: Any,
    as_of: pd.Timestamp | str,
    settings: Settings,
    out_root: Path = DEFAULT_ROOT,
    *,
    progress: bool = False,
) -> ScoreResult:
    """Score every customer active at ``as_of`` and write the week folder under ``out_root``.

    Parameters
    ----------
    tables
        The validated dataset (``churn.loading.load_dataset``).
    model
        The champion ``ChurnModel``.
    as_of
        The snapshot instant; must not be after the data's extraction date.
    settings
        Run settings; ``settings.scoring`` cuts the list.
    out_root
        Root of the week folders; the previous week's list is read from here too.
    progress
        Show a rich progress bar over the steps.

    Returns
    -------
    ScoreResult
    """
    from churn import dataset, labels, spine
    from churn.explain import global_drivers
    from churn.features import catalogue
    from churn.outputs import (
        WeekData,
        build_week_files,
        previous_week_folder,
        read_week,
        week_folder,
        write_week_atomically,
    )
    from churn.pipelines.tracking import tables_fingerprint
    from churn.scoring import (
        account_details,
        at_risk_list,
        check_feature_set,
        check_scoring_settings,
        compare_with_previous,
        dropped_off,
        score_customers,
        split_scorable,
    )

    scoring = settings.scoring
    check_scoring_settings(scoring)
    as_of = pd.Timestamp(as_of).as_unit("ns")
    if as_of > tables.extraction_date:
        raise ChurnError(
            f"as_of {as_of.date()} is after the data's extraction date "
            f"{tables.extraction_date.date()}: nothing after extraction is known. Pass an "
            "earlier --as-of (or leave it out for the latest complete week)."
        )
    horizon = int(getattr(model, "horizon_days", settings.snapshots.horizon_days))
    if horizon != settings.snapshots.horizon_days:
        log.warning(
            "the champion predicts %d days ahead, the config says %d: the list uses the model's "
            "horizon",
            horizon,
            settings.snapshots.horizon_days,
        )

    steps = ["active customers", "features", "scores and reasons", "files"]
    with _Steps(steps, progress) as step:
        step("active customers")
        # The same definition of "active" as the scoring frame (and training): churn dates from
        # churn_dates(), so inactivity-defined churn and censoring apply here too.
        active = spine.build_spine(tables.customers, [as_of], churn_date=labels.churn_dates(tables))
        step("features")
        frame = dataset.build_scoring_frame(tables, as_of, spec=feature_spec(model))
        check_feature_set(model.feature_names, list(frame.columns))
        scorable, excluded = split_scorable(active, frame, tuple(scoring.required_features))
        step("scores and reasons")
        info = catalogue.feature_catalogue(list(model.feature_names))
        families = {name: fi.family for name, fi in info.items()}
        accounts = account_details(tables.customers, as_of)
        calibrate = getattr(getattr(model, "calibrator", None), "transform", None)
        scores, contributions, unscored = score_customers(
            model,
            scorable,
            accounts,
            scoring,
            families=families,
            render=catalogue.render_reason,
            calibrate=calibrate,
        )
        excluded = pd.concat([excluded, unscored], ignore_index=True)
        excluded = excluded.merge(
            accounts[["customer_id", "name", "account_owner"]], on="customer_id", how="left"
        ).sort_values("customer_id", kind="stable", ignore_index=True)
        if len(scores) + len(excluded) != len(active):
            # A bug, not a user error: the list would silently lose customers.
            raise RuntimeError(
                f"scored ({len(scores)}) + excluded ({len(excluded)}) != active ({len(active)})"
            )

        previous = previous_week_folder(out_root, as_of)
        prev_list, prev_scores = read_week(previous) if previous else (None, None)
        listed = compare_with_previous(
            at_risk_list(scores), prev_list, prev_scores, scoring.change_tolerance
        )
        step("files")
        week = WeekData(
            as_of=as_of,
            horizon_days=horizon,
            at_risk=listed,
            scores=scores,
            excluded=excluded,
            active=len(active),
            drivers=global_drivers(contributions),
            families=families,
            model=model_info(model),
            data_hash=tables_fingerprint(tables),
            reasons_per_customer=scoring.reasons_per_customer,
            priority=scoring.priority,
            currency_format=scoring.currency_format,
            previous_as_of=previous.name if previous else None,
            dropped=dropped_off(listed, prev_list),
            drivers_n=len(contributions),
            settings=dataclasses.asdict(scoring),
        )
        files = build_week_files(week)
        folder = write_week_atomically(files, week_folder(out_root, as_of))

    from churn.outputs import headline

    return ScoreResult(
        folder=folder,
        as_of=as_of,
        headline=headline(week),
        at_risk=listed,
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
    from churn.pipelines.tracking import load_champion
    from churn.settings import load_settings

    settings = load_settings(config)
    # The model first: with no champion there is nothing to do, and the message says what to run.
    model = load_champion(tracking_uri)
    tables = load_dataset(data)
    if as_of:
        try:
            when = pd.Timestamp(as_of)
        except ValueError as exc:
            raise ChurnError(f"--as-of {as_of!r} is not a date; use YYYY-MM-DD") from exc
    else:
        when = latest_complete_week(tables.extraction_date, settings.snapshots.cadence)
        log.info("scoring the latest complete week: as_of %s", when.date())
    return score_week(tables, model, when, settings, out or DEFAULT_ROOT, progress=progress)


class _Steps:
    """A rich progress bar over named steps (or nothing when disabled)."""

    def __init__(self, steps: list[str], enabled: bool) -> None:
        self.steps = steps
        self.enabled = enabled
        self._progress = None
        self._task = None
        self._done = 0

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("scoring: {task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(self.steps[0], total=len(self.steps))
        return self

    def __call__(self, name: str) -> None:
        log.debug("scoring step: %s", name)
        if self._progress is not None:
            self._progress.update(self._task, description=name, completed=self.steps.index(name))

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=len(self.steps))
            self._progress.__exit__(*exc)
