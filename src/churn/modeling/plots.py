"""Evaluation figures. Pure: each function returns a matplotlib Figure and touches no file.

Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot state, no GUI backend),
except the SHAP beeswarm, which SHAP draws through pyplot; it is drawn on a figure created here
and detached from pyplot afterwards so that nothing leaks between calls.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from churn.modeling.evaluation import gains_curve, reliability_curve


def roc_pr_figure(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC and precision-recall curves of several scorers on one outcome vector."""
    y = np.asarray(y, dtype=float)
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    ax_roc, ax_pr = fig.subplots(1, 2)
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        ax_roc.plot(fpr, tpr, label=name)
        precision, recall, _ = precision_recall_curve(y, p)
        ax_pr.plot(recall, precision, label=name)
    ax_roc.plot([0, 1], [0, 1], ls=":", color="grey", label="random")
    ax_roc.set(
        title="ROC curve (out-of-time test window)",
        xlabel="False positive rate (share of stayers flagged)",
        ylabel="True positive rate (share of churners flagged)",
    )
    ax_pr.axhline(y.mean(), ls=":", color="grey", label=f"base rate {y.mean():.1%}")
    ax_pr.set(
        title="Precision-recall curve (out-of-time test window)",
        xlabel="Recall (share of churners flagged)",
        ylabel="Precision (share of flagged who churn)",
    )
    for ax in (ax_roc, ax_pr):
        ax.legend(loc="best", fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def calibration_figure(
    y: np.ndarray, probabilities: Mapping[str, np.ndarray], n_bins: int = 10
) -> Figure:
    """Reliability diagram with equal-mass bins: observed churn rate vs mean predicted."""
    fig = Figure(figsize=(5.8, 5.4), layout="constrained")
    ax = fig.subplots()
    top = 0.0
    for name, p in probabilities.items():
        curve = reliability_curve(y, p, n_bins)
        ax.plot(curve["mean_predicted"], curve["observed_rate"], marker="o", label=name)
        top = max(top, curve["mean_predicted"].max(), curve["observed_rate"].max())
    top = min(1.0, top * 1.05 + 0.01)
    ax.plot([0, top], [0, top], ls=":", color="grey", label="perfect calibration")
    ax.set(
        title=f"Calibration ({n_bins} equal-mass bins, test window)",
        xlabel="Mean predicted probability of churn in the horizon",
        ylabel="Observed churn rate",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def gains_figure(
    y: np.ndarray, scores: Mapping[str, np.ndarray], capacity_share: float | None = None
) -> Figure:
    """Cumulative gains: share of churners caught vs share of customers contacted."""
    fig = Figure(figsize=(5.8, 5.4), layout="constrained")
    ax = fig.subplots()
    for name, p in scores.items():
        g = gains_curve(y, p)
        ax.plot(100 * g["share_contacted"], 100 * g["share_captured"], label=name)
    ax.plot([0, 100], [0, 100], ls=":", color="grey", label="random")
    if capacity_share is not None:
        ax.axvline(100 * capacity_share, ls="--", color="black", lw=0.8, label="weekly capacity")
    ax.set(
        title="Cumulative gains (test window)",
        xlabel="Customers contacted, highest risk first (%)",
        ylabel="Churners captured (%)",
    )
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def backtest_figure(table: pd.DataFrame) -> Figure:
    """ROC AUC and PR AUC per rolling test window, oldest first."""
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    ax = fig.subplots()
    t = table.sort_values("test_start")
    labels = [f"{pd.Timestamp(s).date()}" for s in t["test_start"]]
    ax.plot(labels, t["roc_auc"], marker="o", label="ROC AUC")
    ax.plot(labels, t["pr_auc"], marker="s", label="PR AUC")
    ax.set(
        title="Rolling out-of-time backtest",
        xlabel="First as_of of the test window (date)",
        ylabel="Area under curve (0-1)",
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def shap_beeswarm_figure(
    contributions: pd.DataFrame, X: pd.DataFrame, max_display: int = 15
) -> Figure:
    """Global drivers: SHAP beeswarm from TreeSHAP log-odds contributions.

    Parameters
    ----------
    contributions
        ``ChurnModel.contributions(X)``: one column per feature plus ``bias``.
    X
        The feature values (categories are shown by their codes for colouring).
    """
    import matplotlib.pyplot as plt
    import shap

    features = [c for c in contributions.columns if c != "bias"]
    data = X.loc[:, features].copy()
    for c in features:
        if isinstance(data[c].dtype, pd.CategoricalDtype):
            data[c] = data[c].cat.codes.replace(-1, np.nan)
    explanation = shap.Explanation(
        values=contributions[features].to_numpy(dtype=float),
        base_values=contributions["bias"].to_numpy(dtype=float),
        data=data.to_numpy(dtype=float),
        feature_names=features,
    )
    fig = plt.figure(figsize=(9, 0.4 * min(max_display, len(features)) + 1.8))
    ax = fig.add_subplot()
    shap.plots.beeswarm(explanation, max_display=max_display, show=False, ax=ax, plot_size=None)
    ax.set_xlabel("SHAP value (impact on log-odds of churn)")
    ax.set_title("Global drivers of churn risk (test window)")
    fig.tight_layout()
    # Detach from pyplot: the caller owns the figure and nothing accumulates across calls.
    plt.close(fig)
    return fig
