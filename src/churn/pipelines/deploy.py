"""Which model ``churn train`` deploys, and the champion/challenger gate it must pass (shell).

The validated model's test metrics are what ``churn train`` reports. By default
(``training.deploy: refit``) the model registered and deployed is its refit on the labels known
at the extraction date, calibrated on the latest labelled window (``churn.modeling.refit``):
replaying weeks on the demo (``bench/refit_policy.py``) it ranked and calibrated the weeks after
its training better than the validated model (README, "What make train reports").

The gate compares the deployed models on the new test window: the new one against the champion
re-scored on the same rows. A refit's trees learned only labels whose window closed before that
window opens (its fit dates lie one gap before its calibration window, which is the test
window), so neither booster has seen the test period's churn; their calibrators are monotone,
which moves ROC AUC only through ties.
"""

from __future__ import annotations

import logging
from typing import Any

from churn.errors import ChurnError
from churn.pipelines import champion
from churn.settings import Settings

log = logging.getLogger(__name__)


def deploy(frame: Any, settings: Settings, validated: Any, cutoff: object) -> Any:
    """The ``TrainResult`` to register: the validated one, or its refit at ``cutoff``."""
    from churn.modeling.refit import refit_model

    if settings.training.deploy == "validated":
        return validated
    return refit_model(frame, settings, validated, cutoff)


def describe_deployed(metadata: dict[str, Any]) -> str:
    """One line on what the deployed model was fitted on (run tag, CLI summary)."""
    if metadata.get("deployed_model") != "refit":
        return (
            "validated: fitted on the fit window, early-stopped and calibrated on the "
            "validation window; the model the test metrics describe"
        )
    return (
        f"refit: the validated settings ({metadata.get('best_iteration')} trees) fitted on "
        f"{metadata.get('fit_as_of')}, calibrated on {metadata.get('valid_as_of')} (the latest "
        f"labelled window; labels known at {metadata.get('trained_through')}); the test metrics "
        "are the validated model's"
    )


def deployed_params(metadata: dict[str, Any]) -> dict[str, Any]:
    """Run parameters saying what the deployed model was fitted on, beside the validated
    model's windows (``fit_as_of`` ...: where the test metrics come from)."""
    keys = ("fit_as_of", "valid_as_of", "trained_through")
    return {
        "deployed_model": metadata["deployed_model"],
        **{f"deployed_{k}": metadata.get(k) for k in keys},
    }


def log_validated_model(run: Any) -> None:
    """Beside a deployed refit, the validated model the test metrics describe, as artefacts
    ``validated_model/model.txt`` (LightGBM's text format) and ``validated_model/churn_model.json``
    (``ChurnModel.to_metadata``), so its test figures can be reproduced (notebook 02)."""
    import mlflow

    from churn.pipelines import tracking
    from churn.pipelines.lineage import model_metadata

    if run.deployed is None or run.deployed is run.result:
        return
    validated = run.result.model
    validated.metadata.update(model_metadata(run))
    mlflow.log_text(validated.booster.model_to_string(), "validated_model/model.txt")
    stored = tracking.json_safe(validated.to_metadata())
    mlflow.log_dict(stored, "validated_model/churn_model.json")


def _challenger_auc(cmp: Any, model: Any) -> float | None:
    """The deployed model's ROC AUC on the test rows, when it is not the validated model."""
    from churn.modeling import roc_auc

    if model.metadata.get("deployed_model") != "refit":
        return None
    auc = roc_auc(cmp.y, model.predict_proba(cmp.test))
    if hasattr(cmp, "extras"):  # logged as the run's deployed_test_roc_auc: the gate's number
        cmp.extras["deployed_test_roc_auc"] = auc
    return auc


def gate(uri: str, cmp: Any, model: Any, tr: Any, force: bool, probe: Any) -> tuple:
    """Champion/challenger on THIS test window: the champion re-scored on the same rows (its
    logged metrics came from another window), then the gate on ``model`` (the deployed one).
    ``(champion_before, promoted, outcome)``. A run the leak probe refuses is neither judged
    nor promoted."""
    from churn import modeling as m

    before, champion_auc, incomparable = champion.champion_version(uri), None, ""
    if probe.refused:
        return before, False, f"rejected: leak suspected: {probe.finding()}"
    usable = before is not None
    if usable:
        try:
            champion_model = champion.load_champion(uri)
        except champion.BrokenRegistryError as exc:
            # A champion that cannot be loaded cannot score next week either: the gate judges
            # the new model as if there were none, so a retrain repairs the registry.
            log.warning(
                "champion version %s is broken and will be replaced: %s", before.version, exc
            )
            usable = False
        except ChurnError as exc:
            incomparable = f"the champion cannot score the new test frame ({exc})"
        else:
            champion_auc, incomparable = m.rescore_champion(cmp, champion_model, model.horizon_days)
    promoted, outcome = m.judge(
        cmp,
        champion_auc,
        has_champion=usable,
        incomparable=incomparable,
        force=force,
        tolerance=tr.gate_tolerance,
        challenger_metric=_challenger_auc(cmp, model),
    )
    return before, promoted, outcome
