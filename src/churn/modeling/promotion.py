"""The champion/challenger gate: pure decisions, no MLflow (the shell stores what they say)."""

from __future__ import annotations

import logging
import math

from churn.modeling.compare import MODEL, ORACLE, Comparison
from churn.modeling.leakage import ORACLE_LEAK_RATIO, oracle_finding

log = logging.getLogger(__name__)


def gate(challenger_metric: float, champion_metric: float | None, tolerance: float = 0.0) -> bool:
    """Champion/challenger gate: promote if the challenger is no worse than the champion.

    Both metrics must be higher-is-better and measured on the SAME out-of-time test rows.

    Parameters
    ----------
    challenger_metric
        The new model's metric. NaN never passes.
    champion_metric
        The current champion's metric on the same rows; ``None`` (no champion, or it cannot be
        scored) passes any finite challenger.
    tolerance
        How much worse the challenger may be and still pass (noise allowance).
    """
    if challenger_metric is None or not math.isfinite(challenger_metric):
        return False
    if champion_metric is None or not math.isfinite(champion_metric):
        return True
    return challenger_metric >= champion_metric - tolerance


def decide_promotion(
    challenger_metric: float,
    champion_metric: float | None,
    *,
    has_champion: bool,
    incomparable: str = "",
    force: bool = False,
    tolerance: float = 0.0,
    oracle_ratio: float | None = None,
) -> tuple[bool, str]:
    """Whether the new model becomes champion, and the outcome in words (logged as a tag).

    Parameters
    ----------
    challenger_metric, champion_metric
        Test ROC AUC of the new model and of the champion re-scored on the same rows.
    has_champion
        Whether a champion exists at all.
    incomparable
        Why the champion could not be scored on the new test frame ("" if it could); then the
        gate cannot judge and only ``force`` promotes.
    force
        Promote whatever the gate says (the outcome still records what it said).
    tolerance
        Passed to :func:`gate`.
    oracle_ratio
        Model / oracle ROC AUC on simulated data. Above ``ORACLE_LEAK_RATIO`` the model beats
        the truth, which only leakage explains, so it is not promoted without ``force``.
    """
    verdict = "forced: " if force else "kept champion: "
    if oracle_ratio is not None and oracle_ratio > ORACLE_LEAK_RATIO:
        # The words of the leak probe (churn.modeling.leakage), which refuses such a run.
        return force, ("forced: " if force else "rejected: ") + oracle_finding(oracle_ratio)
    if not has_champion:
        passed = gate(challenger_metric, None, tolerance)
        return passed or force, "promoted: first model" if passed else verdict + "no valid AUC"
    if incomparable:
        return force, verdict + incomparable
    if gate(challenger_metric, champion_metric, tolerance):
        return True, (
            f"promoted: test ROC AUC {challenger_metric:.4f} >= champion "
            f"{champion_metric:.4f} - {tolerance}"
        )
    return force, verdict + (
        f"test ROC AUC {challenger_metric:.4f} < champion {champion_metric:.4f} - {tolerance}"
    )


def judge(
    comparison: Comparison,
    champion_metric: float | None,
    *,
    has_champion: bool,
    incomparable: str = "",
    force: bool = False,
    tolerance: float = 0.0,
    challenger_metric: float | None = None,
) -> tuple[bool, str]:
    """:func:`decide_promotion` on a test-window comparison: the new model's ROC AUC against
    the champion's on the same rows, and its ratio to the oracle's (warned about when the model
    beats the truth). ``challenger_metric``: the deployed model's test ROC AUC when it is not the
    validated model of the comparison (a refit); ``None``: the validated model's."""
    auc = comparison.results[MODEL]["roc_auc"] if challenger_metric is None else challenger_metric
    ratio = comparison.oracle_ratio
    if ratio is not None and ratio > ORACLE_LEAK_RATIO:
        log.warning(
            "%s (ROC AUC %.3f vs oracle %.3f); see evaluation/leak_probe.csv in the run",
            oracle_finding(ratio),
            auc,
            comparison.results[ORACLE]["roc_auc"],
        )
    return decide_promotion(
        auc,
        champion_metric,
        has_champion=has_champion,
        incomparable=incomparable,
        force=force,
        tolerance=tolerance,
        oracle_ratio=ratio,
    )
