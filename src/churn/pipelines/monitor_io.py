"""What ``churn monitor`` reads and writes outside the data: week folders, the champion's run,
and the figures logged back to that run (shell: files and MLflow)."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from churn.errors import ChurnError
from churn.pipelines import tracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Week:
    """One week folder written by ``churn score``."""

    as_of: pd.Timestamp
    manifest: dict[str, Any]
    scores: pd.DataFrame


@dataclass(frozen=True)
class Champion:
    """The deployed model and what its MLflow run says about its training."""

    model: Any
    version: str | None
    run_id: str | None
    split: dict[str, Any] = field(default_factory=dict)  # fit_as_of, valid_as_of, test_as_of
    test_roc_auc: float | None = None


def read_weeks(root: Path) -> list[Week]:
    """Every complete week folder under ``root`` (a ``manifest.json`` and ``scores.parquet``),
    oldest first; a damaged folder is named in a warning and skipped."""
    root = Path(root)
    if not root.is_dir():
        raise ChurnError(
            f"no week folders in {root}: run `churn score --as-of YYYY-MM-DD --out {root}` for "
            "the weeks to monitor, or pass --weeks"
        )
    weeks = []
    for entry in sorted(root.iterdir()):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.name) or not entry.is_dir():
            continue
        try:
            manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
            scores = pd.read_parquet(entry / "scores.parquet")
        except (OSError, ValueError) as exc:
            log.warning("week folder %s cannot be read (%s): left out", entry, exc)
            continue
        weeks.append(Week(pd.Timestamp(manifest.get("as_of", entry.name)), manifest, scores))
    if not weeks:
        raise ChurnError(f"{root} holds no complete week folder (YYYY-MM-DD/manifest.json)")
    return weeks


def load_champion_context(uri: str) -> Champion:
    """The champion model and its run's split parameters and test ROC AUC."""
    from mlflow import MlflowClient

    from churn.pipelines.champion import champion_version, load_champion

    model = load_champion(uri)
    version = champion_version(uri)
    meta = dict(model.metadata or {})
    split = {k: meta.get(k) for k in ("fit_as_of", "valid_as_of", "test_as_of")}
    auc = (meta.get("test_metrics") or {}).get("roc_auc")
    run_id = version.run_id if version is not None else meta.get("run_id")
    if run_id:
        # The run's parameters are the record of what it was trained on; metadata is the copy.
        # A refit's own windows are its deployed_* parameters (the plain ones are the validated
        # model's, whose test window the test ROC AUC comes from).
        params = MlflowClient(tracking_uri=uri).get_run(run_id).data.params
        for k in split:
            found = [params.get(f"deployed_{k}"), params.get(k)]
            split[k] = next((v for v in found if v and v != "None"), split[k])
    return Champion(model, str(version.version) if version else None, run_id, split, auc)


def log_to_champion_run(uri: str, run_id: str, report: dict[str, Any], folder: Path) -> None:
    """Each week's figures as metrics of the champion's run (``monitor.*``, one step per week,
    the step being the as_of in days since 1970 so a rerun lands on the same steps), the
    verdict as tags and the page and JSON as artefacts under ``monitoring/``."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    metrics = []
    for week in report["weeks"]:
        when = pd.Timestamp(week["as_of"])
        step, ms = int(when.value // 86_400_000_000_000), int(when.value // 1_000_000)
        for key, value in _week_figures(week).items():
            metrics.append(Metric(f"monitor.{key}", value, ms, step))
    client = MlflowClient(tracking_uri=uri)
    for start in range(0, len(metrics), 500):  # MLflow's batch limit is 1000 metrics
        client.log_batch(run_id, metrics=metrics[start : start + 500])
    rec = report["recommendation"]
    client.set_tag(run_id, "monitor_retrain", str(rec["retrain"]))
    client.set_tag(run_id, "monitor_reasons", "; ".join(rec["reasons"])[:4000] or "none")
    for name in ("monitor.json", "monitor.html"):
        client.log_artifact(run_id, str(folder / name), artifact_path="monitoring")


def _week_figures(week: dict[str, Any]) -> dict[str, float]:
    out = {f"expected_{k}": v for k, v in week["expected"].items()}
    realised = week.get("realised") or {}
    for key in ("list_precision", "list_recall", "precision_at_k", "roc_auc", "churn_rate"):
        if key in realised:
            out[f"realised_{key}"] = realised[key]["estimate"]
    if "predicted_rate" in realised:
        out["realised_predicted_rate"] = realised["predicted_rate"]
    drift = week.get("drift") or {}
    if drift:
        out["drift_flagged"] = float(len(drift["flagged"]))
        out["drift_max_psi"] = drift["max_psi"]
    return tracking.finite(out)
