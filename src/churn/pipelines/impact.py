"""``churn impact``: treated vs control customers of every week whose horizon has passed.

Reads the week folders (``at_risk.csv``: sent to the owners; ``control.csv``: held out), the
dataset (who churned, when), computes ``churn.impact.measure_impact`` and writes ``impact.json``
and ``impact.html`` together, atomically. On simulated data with plays (``ground_truth/plays``)
the simulator's true effect is put beside the estimate.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from churn.errors import ChurnError

log = logging.getLogger(__name__)

DEFAULT_WEEKS = Path("data/at_risk")
DEFAULT_OUT = Path("data/impact")


@dataclass(frozen=True)
class ImpactResult:
    folder: Path
    report: dict[str, Any]


def read_week_arms(root: Path) -> list[dict[str, Any]]:
    """Each week folder's as_of, horizon, sent list and control group, oldest first."""
    root = Path(root)
    if not root.is_dir():
        raise ChurnError(f"no week folders in {root}: run `churn score` first, or pass --weeks")
    weeks = []
    for entry in sorted(root.iterdir()):
        if not (re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.name) and entry.is_dir()):
            continue
        try:
            manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
            sent = pd.read_csv(entry / "at_risk.csv", dtype={"customer_id": str})
            control_file = entry / "control.csv"
            control = (
                pd.read_csv(control_file, dtype={"customer_id": str})
                if control_file.is_file()
                else None
            )
        except (OSError, ValueError) as exc:
            log.warning("week folder %s cannot be read (%s): left out", entry, exc)
            continue
        weeks.append(
            {
                "as_of": pd.Timestamp(manifest.get("as_of", entry.name)),
                "horizon_days": int(manifest["horizon_days"]),
                "sent": sent,
                "control": control,
            }
        )
    if not weeks:
        raise ChurnError(f"{root} holds no complete week folder (YYYY-MM-DD/manifest.json)")
    return weeks


def run_impact(
    data: Path, weeks: Path | None = None, out: Path | None = None, config: Path | None = None
) -> ImpactResult:
    """The ``churn impact`` command: read, measure, write impact.json and impact.html."""
    from churn.data import load_dataset
    from churn.impact import measure_impact, render_json, render_page
    from churn.outputs import write_week_atomically
    from churn.settings import load_settings

    settings = load_settings(config).control
    found = read_week_arms(weeks or DEFAULT_WEEKS)
    tables = load_dataset(data)
    report = measure_impact(
        found,
        tables.customers,
        tables.extraction_date,
        min_customers=settings.min_customers,
        resamples=settings.bootstrap_resamples,
        seed=settings.seed,
    )
    report = with_truth(report, true_effect(Path(data), found, tables.extraction_date))
    files = {"impact.json": render_json(report), "impact.html": render_page(report)}
    folder = write_week_atomically(files, Path(out or DEFAULT_OUT))
    return ImpactResult(folder, report)


def with_truth(report: dict[str, Any], truth: dict[str, Any] | None) -> dict[str, Any]:
    """The report with the simulator's true effect overall and beside each by-group figure."""
    if truth is None:
        return report
    truth = dict(truth)
    by = truth.pop("by", {})
    report = {**report, "truth": truth}
    for group, levels in report["by"].items():
        for level, figures in levels.items():
            figures["truth"] = by.get(group, {}).get(level)
    return report


def true_effect(data: Path, weeks: list[dict[str, Any]], extraction) -> dict[str, Any] | None:
    """The simulator's true effect of the plays over the treated units, when the data has it.

    Units as in ``churn.impact.listed_units``; a treated unit without a simulated play (listed
    first as control, or before the plays were simulated) has effect 0. ``by``: the same mean
    per play, tier and segment (the groups of ``churn.impact.GROUPS``), beside each estimate.
    """
    from churn.impact import GROUPS, listed_units

    folder = data if data.is_dir() else data.parent
    path = folder / "ground_truth" / "plays.parquet"
    if not path.is_file():
        return None
    truth = pd.read_parquet(path)[["customer_id", "as_of", "true_effect"]]
    truth["as_of"] = pd.to_datetime(truth["as_of"]).astype("datetime64[ns]")
    nobody = pd.DataFrame({"customer_id": pd.Series(dtype=str), "churn_date": pd.NaT})
    units = listed_units(weeks, nobody, extraction)
    treated = units[units["arm"] == "treated"][["customer_id", "as_of", *GROUPS]]
    treated = treated.assign(as_of=pd.to_datetime(treated["as_of"]).astype("datetime64[ns]"))
    keyed = treated.merge(truth, on=["customer_id", "as_of"], how="left")
    if not len(keyed):
        return None
    keyed["true_effect"] = keyed["true_effect"].fillna(0.0)
    by = {
        group: {
            str(level): {"mean_effect_on_churn": float(part.mean()), "customers": len(part)}
            for level, part in keyed.groupby(
                keyed[group].astype(object).fillna("(none)").astype(str)
            )["true_effect"]
        }
        for group in GROUPS
    }
    return {
        "mean_effect_on_churn": float(keyed["true_effect"].mean()),
        "customers": len(keyed),
        "by": by,
        "meaning": "the simulator's average change in churn probability within the horizon "
        "caused by the plays, over the treated customers (what the difference estimates)",
    }
