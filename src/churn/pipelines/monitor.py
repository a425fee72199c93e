"""``churn monitor``: did the past lists come true, has the data moved, is the champion stale?

week folders (``churn score``) + the dataset -> per week: labels with the training code once
the horizon has passed (``churn.labels``), features with the scoring code (``churn.dataset``)
against those of the champion's latest labelled window -> ``churn.monitoring`` (estimates, realised
figures, drift, staleness, advice) -> ``monitor.json`` + ``monitor.html`` written all or nothing
-> the figures logged to the champion's MLflow run (``churn.pipelines.monitor_io``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn._progress import progress_bar
from churn.contract import Tables
from churn.pipelines.monitor_io import Champion, Week
from churn.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_WEEKS = Path("data/at_risk")
DEFAULT_OUT = Path("data/monitoring")


@dataclass(frozen=True)
class MonitorResult:
    folder: Path
    report: dict[str, Any]


def feature_frame(tables: Tables, dates: list[pd.Timestamp], spec: Any) -> pd.DataFrame:
    """Features of every customer active at each of ``dates`` (the scoring code, so the
    reference and the week are built exactly as the model saw them)."""
    from churn import dataset
    from churn.features import build_features

    spine = dataset.active_spine(tables, dates)
    return build_features(spine, tables, spec=spec)


def _labels(week: Week, tables: Tables, settings: Settings) -> pd.Series | None:
    """0/1/NaN per scored customer once the week's label window has ended, else None."""
    from churn.labels import attach_labels

    horizon = int(week.manifest.get("horizon_days") or settings.snapshots.horizon_days)
    lead = settings.snapshots.lead_days
    end = week.as_of + pd.Timedelta(days=lead + horizon)
    if end > pd.Timestamp(tables.extraction_date):
        return None
    spine = week.scores[["customer_id", "as_of"]]
    return attach_labels(spine, tables, horizon, lead)["label"]


def monitor_weeks(
    tables: Tables, champ: Champion, weeks: list[Week], settings: Settings, *, progress=False
) -> dict[str, Any]:
    """The monitoring report of ``weeks`` (pure apart from building labels and features)."""
    import churn.monitoring as mon
    from churn.features import feature_catalogue

    names = list(champ.model.feature_names)
    info = feature_catalogue(names)
    words = {n: f.description for n, f in info.items()}
    kinds = {n: f.kind for n, f in info.items()}
    ms = settings.monitoring
    ref_dates = mon.reference_dates(champ.split, ms.reference_snapshots, settings.snapshots.cadence)
    spec = champ.model.feature_spec
    reference = feature_frame(tables, ref_dates, spec) if ref_dates else None
    entries = []
    with progress_bar("monitoring weeks", len(weeks), progress) as bar:
        for week in weeks:
            drift = None
            if reference is not None:
                current = feature_frame(tables, [week.as_of], spec)
                args = dict(bins=ms.psi_bins, psi_threshold=ms.psi_threshold)
                args.update(missing_threshold=ms.missing_threshold, flag_context=ms.flag_context)
                drift = mon.feature_drift(
                    reference, current, names, descriptions=words, kinds=kinds, **args
                )
            labels = _labels(week, tables, settings)
            entries.append(
                mon.week_entry(week.as_of, week.manifest, week.scores, labels, drift, settings)
            )
            bar.advance()
    stale = mon.staleness(mon.training_end(champ.split), weeks[-1].as_of, ms)
    return {
        "champion": {
            "version": champ.version,
            "run_id": champ.run_id,
            "test_roc_auc": champ.test_roc_auc,
            **champ.split,
        },
        "extraction_date": pd.Timestamp(tables.extraction_date).isoformat(),
        "capacity_k": settings.training.capacity_k,
        "reference_dates": [d.date().isoformat() for d in ref_dates],
        "weeks": entries,
        "staleness": stale,
        "recommendation": mon.recommend(entries, stale, champ.test_roc_auc, ms),
        "thresholds": ms.model_dump(),
    }


def run_monitor(
    data: Path,
    weeks: Path | None = None,
    out: Path | None = None,
    config: Path | None = None,
    tracking_uri: str | None = None,
    *,
    progress: bool = True,
    log_to_mlflow: bool = True,
) -> MonitorResult:
    """The ``churn monitor`` command: read, monitor, write the folder, log to MLflow."""
    from churn.data import load_dataset
    from churn.monitoring import render_json, render_page
    from churn.outputs import write_week_atomically
    from churn.pipelines import tracking
    from churn.pipelines.monitor_io import load_champion_context, log_to_champion_run, read_weeks
    from churn.settings import load_settings

    settings = load_settings(config)
    uri = tracking_uri or tracking.default_tracking_uri()
    found = read_weeks(weeks or DEFAULT_WEEKS)
    champ = load_champion_context(uri)
    tables = load_dataset(data)
    report = monitor_weeks(tables, champ, found, settings, progress=progress)
    files = {"monitor.json": render_json(report), "monitor.html": render_page(report)}
    # The week store's all-or-nothing write: a page and a JSON that always belong together.
    folder = write_week_atomically(files, Path(out or DEFAULT_OUT))
    if log_to_mlflow and champ.run_id:
        log_to_champion_run(uri, champ.run_id, report, folder)
    return MonitorResult(folder, report)
