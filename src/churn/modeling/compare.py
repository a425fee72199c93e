"""The model beside its baselines, the oracle and the champion, on ONE out-of-time test window.

Every scorer is evaluated on the same rows with the same metric functions, so the numbers in the
comparison table can be read side by side:

- ``lightgbm`` (calibrated) and ``lightgbm_uncalibrated``: the new model;
- ``baseline_rule`` (the health-score rule, its points re-chosen on the validation window) and
  ``baseline_logreg`` (logistic regression on the training rows): what a model must beat to be
  worth having;
- ``baseline_recency`` (days since the last activity alone), ``baseline_bgnbd`` (BG/NBD's
  P(no purchase in the horizon), pymc-marketing) and ``baseline_bgnbd_fhl`` (the same from
  Fader, Hardie & Lee's closed form): purchase logs, when the caller passes them (``extra``);
- ``oracle``: the simulator's true churn probabilities, only when the caller passes them (the
  ceiling no model can honestly pass);
- ``champion``: the deployed model re-scored on these rows (metrics logged at the champion's own
  training time came from another window and are not comparable).

The model and both baselines also get 95% intervals from a bootstrap over *customers*
(``churn.modeling.uncertainty``), and the model's lead over each baseline a paired interval on
the same resamples: the test window holds few distinct churners, each seen in several weekly
snapshots, so its point metrics alone overstate what is known.

Pure: scores in, metrics out. Loading the champion and the truth is the shell's work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError
from churn.modeling.baselines import (
    HEALTH_RULES,
    HealthRule,
    LogisticBaseline,
    fit_health_rules,
    health_rules_used,
    health_score_proba,
)
from churn.modeling.evaluation import (
    comparison_table,
    evaluate,
    expected_calibration_error,
    roc_auc,
)
from churn.modeling.training import WEIGHT_COLUMN, TrainResult, evaluation_capacity
from churn.modeling.uncertainty import Interval, bootstrap_intervals
from churn.settings import SnapshotSettings, TrainingSettings

log = logging.getLogger(__name__)

#: Scorer names in the comparison table, in display order.
MODEL = "lightgbm"
MODEL_RAW = "lightgbm_uncalibrated"
RULE = "baseline_rule"
LOGREG = "baseline_logreg"
ORACLE = "oracle"
CHAMPION = "champion"
RECENCY = "baseline_recency"
BGNBD = "baseline_bgnbd"
BGNBD_FHL = "baseline_bgnbd_fhl"

#: Metric-name prefix of each scorer in the run's metrics.
METRIC_PREFIXES: tuple[tuple[str, str], ...] = (
    ("test", MODEL),
    ("test_uncalibrated", MODEL_RAW),
    ("baseline_rule", RULE),
    ("baseline_logreg", LOGREG),
    ("baseline_recency", RECENCY),
    ("baseline_bgnbd", BGNBD),
    ("baseline_bgnbd_fhl", BGNBD_FHL),
    ("oracle", ORACLE),
    ("champion_test", CHAMPION),
)

#: Scorers that get bootstrap intervals; the model's lead over the baselines is paired.
INTERVAL_SCORERS: tuple[str, ...] = (MODEL, RULE, LOGREG, RECENCY, BGNBD)
#: The baselines a model must match, for "the strongest baseline".
BASELINES: tuple[str, ...] = (RULE, LOGREG, RECENCY, BGNBD, BGNBD_FHL)
#: Most training rows the logistic baseline is fitted on (a seeded sample beyond): ~80 linear
#: coefficients are pinned down long before; 1.5M rows took 12-20 s and several GB of copies.
LOGREG_MAX_ROWS = 250_000


@dataclass
class Comparison:
    """Scores and metrics of every scorer on one test window.

    Parameters
    ----------
    test
        The labelled test rows.
    y
        Their labels.
    scores
        Probabilities per scorer (the oracle's are 0 where it is undefined).
    results
        Metrics per scorer (``churn.modeling.evaluate``), in display order.
    oracle_ratio
        Model / oracle ROC AUC on the rows where the oracle exists; ``None`` without an oracle.
    intervals
        :func:`churn.modeling.uncertainty.bootstrap_intervals` of :data:`INTERVAL_SCORERS`
        (``"lightgbm-baseline_logreg"``: the paired difference); empty until
        :meth:`add_intervals`.
    extras
        Other run metrics by their final name (the constant prediction's ECE, the default
        health card's test ROC AUC, the fitted card's points, customer counts).
    """

    test: pd.DataFrame
    y: np.ndarray
    arr: np.ndarray | None
    capacity_k: int
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    oracle_ratio: float | None = None
    intervals: dict[str, dict[str, Interval]] = field(default_factory=dict)
    extras: dict[str, float] = field(default_factory=dict)

    def score(self, name: str, p: np.ndarray) -> None:
        """Add scorer ``name`` with probabilities ``p`` on the test rows, and its metrics."""
        self.scores[name] = p
        self.results[name] = evaluate(
            self.y,
            p,
            arr=self.arr,
            as_of=self.test["as_of"].to_numpy(),
            capacity_k=self.capacity_k,
        )

    def table(self) -> pd.DataFrame:
        """Metric x scorer table (``churn.modeling.comparison_table``)."""
        return comparison_table(self.results)

    def metrics(self) -> dict[str, float]:
        """Flat metric names for the run: ``test_roc_auc``, ``oracle_ece``, ..."""
        out: dict[str, float] = {}
        for prefix, name in METRIC_PREFIXES:
            if name in self.results:
                out.update({f"{prefix}_{k}": v for k, v in self.results[name].items()})
        if self.oracle_ratio is not None:
            out["model_oracle_ratio"] = self.oracle_ratio
        return {**out, **self.interval_metrics(), **self.extras}

    def add_intervals(self, n_resamples: int, seed: int) -> None:
        """Customer-bootstrap intervals of the model and baselines (none if ``n_resamples``
        is 0)."""
        scores = {k: self.scores[k] for k in INTERVAL_SCORERS if k in self.scores}
        if n_resamples <= 0 or MODEL not in scores:
            return
        self.intervals = bootstrap_intervals(
            self.y,
            scores,
            self.test["customer_id"].to_numpy(),
            as_of=self.test["as_of"].to_numpy(),
            capacity_k=self.capacity_k,
            n_resamples=n_resamples,
            seed=seed,
            reference=MODEL,
        )
        self.extras["bootstrap_resamples"] = float(n_resamples)

    def interval_metrics(self) -> dict[str, float]:
        """``test_roc_auc_ci_low``/``_ci_high`` per scorer prefix, and the paired differences
        ``diff_roc_auc_vs_baseline_logreg`` with ``_ci_low``/``_ci_high``."""
        out: dict[str, float] = {}
        prefixes = dict((name, prefix) for prefix, name in METRIC_PREFIXES)
        for name, metrics in self.intervals.items():
            if "-" in name:
                other = name.split("-", 1)[1]
                for m, ci in metrics.items():
                    key = f"diff_{m}_vs_{prefixes[other]}"
                    out.update(
                        {key: ci.estimate, f"{key}_ci_low": ci.low, f"{key}_ci_high": ci.high}
                    )
            else:
                for m, ci in metrics.items():
                    key = f"{prefixes[name]}_{m}"
                    out.update({f"{key}_ci_low": ci.low, f"{key}_ci_high": ci.high})
        return out


def arr_for(rows: pd.DataFrame, tables: Tables) -> np.ndarray | None:
    """Each row's customer ARR, or ``None`` when the customers table has none."""
    customers = tables.customers
    if "arr" not in customers.columns or customers["arr"].isna().all():
        return None
    arr = customers.drop_duplicates("customer_id").set_index("customer_id")["arr"]
    return rows["customer_id"].map(arr).to_numpy(dtype=float)


def oracle_scores(truth: Any, rows: pd.DataFrame, snapshots: SnapshotSettings) -> np.ndarray:
    """True churn probabilities of ``rows`` from the simulator's ground truth (NaN: undefined)."""
    from churn.simulate import oracle_probability

    return np.asarray(
        oracle_probability(
            truth,
            rows[["customer_id", "as_of"]],
            snapshots.horizon_days,
            lead_days=snapshots.lead_days,
        ),
        dtype=float,
    )


def compare_on_test(
    result: TrainResult,
    frame: pd.DataFrame,
    tables: Tables,
    training: TrainingSettings,
    oracle: np.ndarray | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> Comparison:
    """The new model, both baselines and (when given) the oracle on the test window.

    Parameters
    ----------
    result
        ``train_model`` output; its split names the test rows.
    frame
        The training frame the model was trained from.
    tables
        The dataset (ARR for the ARR-weighted metrics).
    training
        ``capacity_k`` (customers a team can call per week), ``seed`` (of the logistic
        baseline and the bootstrap) and ``bootstrap_resamples``.
    oracle
        True probabilities of the test rows (:func:`oracle_scores`), or ``None``.
    extra
        More baselines' scores of the test rows by scorer name (``RECENCY``, ``BGNBD``, ...).
    """
    test = result.split.part(frame, "test")
    y = test["label"].to_numpy(dtype=float)
    k = evaluation_capacity(test, training.capacity_k)
    cmp = Comparison(test, y, arr_for(test, tables), k)
    model = result.model
    raw = {MODEL: model.predict_proba(test), MODEL_RAW: model.predict_raw(test)}
    rules = fitted_health_rules(result.split.part(frame, "valid"))
    raw[RULE] = health_score_proba(test, rules)
    train = result.split.mask(frame, "train")
    weights = frame[WEIGHT_COLUMN].to_numpy()[train] if WEIGHT_COLUMN in frame else None
    logreg = logistic_baseline(frame, train, result.features, training.seed)
    raw[LOGREG] = logreg.predict_proba(test)
    raw.update(extra or {})
    for name, p in raw.items():
        cmp.score(name, p)
    train_rate = float(np.average(frame["label"].to_numpy(dtype=float)[train], weights=weights))
    cmp.extras.update(
        {
            "train_churn_rate": train_rate,
            "test_ece_constant": expected_calibration_error(y, np.full(len(y), train_rate)),
            "baseline_rule_default_roc_auc": roc_auc(y, health_score_proba(test)),
            **rule_points_metrics(rules, list(test.columns)),
            "test_customers": float(test["customer_id"].nunique()),
            "test_churned_customers": float(test.loc[y == 1, "customer_id"].nunique()),
        }
    )
    stands_for = float(test[WEIGHT_COLUMN].max()) if WEIGHT_COLUMN in test and len(test) else 1.0
    if stands_for > 1:  # a hashed sample of customers was evaluated (churn.modeling.subsample)
        cmp.extras.update(test_customer_share=1.0 / stands_for, test_capacity_k=float(k))
    cmp.add_intervals(training.bootstrap_resamples, training.seed)
    if oracle is not None:
        add_oracle(cmp, oracle)
    return cmp


def logistic_baseline(
    frame: pd.DataFrame, train: np.ndarray, features: list[str], seed: int
) -> LogisticBaseline:
    """The logistic baseline fitted on the training rows (``train``: a mask of ``frame``), with
    their weights; on a seeded sample of :data:`LOGREG_MAX_ROWS` of them beyond that many
    (uniform, so the weighted fit stays unbiased). Only the rows it fits on are copied."""
    rows = np.flatnonzero(train)
    if len(rows) > LOGREG_MAX_ROWS:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=LOGREG_MAX_ROWS, replace=False))
        log.info("logistic baseline fitted on %d of %d training rows", len(rows), train.sum())
    fit = frame.iloc[rows]
    weight = fit[WEIGHT_COLUMN].to_numpy() if WEIGHT_COLUMN in fit else None
    return LogisticBaseline(features, seed=seed).fit(
        fit, fit["label"].to_numpy(dtype=float), weight
    )


def activity_baselines(
    frame: pd.DataFrame, split: Any, horizon_days: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Recency alone and BG/NBD on the test rows of a purchase log, for ``compare_on_test``'s
    ``extra``: ``(scores by scorer, BG/NBD info)``; BG/NBD is left out (info says why) without
    pymc-marketing or without the lifetime-activity features."""
    from churn.modeling.baselines import bgnbd_baseline, recency_baseline

    test, train = split.part(frame, "test"), split.part(frame, "train")
    extra: dict[str, np.ndarray] = {}
    recency = recency_baseline(train, test, seed=seed)
    if recency is not None:
        extra[RECENCY] = recency
    if "act_periods_total" not in test:
        return extra, {"note": "BG/NBD skipped: no lifetime-activity features"}
    bg, info = bgnbd_baseline(test, horizon_days)
    if bg:
        extra[BGNBD], extra[BGNBD_FHL] = bg["pymc"], bg["fhl"]
    return extra, info


def strongest_baseline(cmp: Comparison, metric: str = "roc_auc") -> tuple[str, float]:
    """The baseline with the highest ``metric`` on the test rows, and its value."""
    got = {k: cmp.results[k][metric] for k in BASELINES if k in cmp.results}
    name = max(got, key=lambda k: (np.nan_to_num(got[k], nan=-np.inf), k))
    return name, float(got[name])


def fitted_health_rules(valid: pd.DataFrame) -> tuple[HealthRule, ...]:
    """The health card with its points chosen on the validation rows (never the test rows)."""
    return fit_health_rules(valid, valid["label"].to_numpy(dtype=float), HEALTH_RULES)


def rule_points_metrics(rules: tuple[HealthRule, ...], columns: list[str]) -> dict[str, float]:
    """``baseline_rule_points_<rule>`` (spaces as underscores) for each rule of the card whose
    feature is among ``columns`` (the others never fire)."""
    used = health_rules_used(columns, rules)
    return {
        f"baseline_rule_points_{r.name.replace(' ', '_')}": float(r.points)
        for r in rules
        if r.name in used
    }


def add_oracle(cmp: Comparison, oracle: np.ndarray) -> None:
    """Add the oracle's metrics and the model / oracle ratio to ``cmp``."""
    # The oracle has no latent state for a few rows (e.g. a customer leaving exactly at as_of);
    # compare model and oracle on the rows where both exist.
    ok = np.isfinite(oracle)
    if not ok.all():
        log.warning("oracle undefined for %d of %d test rows", (~ok).sum(), len(ok))
    y = cmp.y
    cmp.results[ORACLE] = evaluate(
        y[ok],
        oracle[ok],
        arr=None if cmp.arr is None else cmp.arr[ok],
        as_of=cmp.test["as_of"].to_numpy()[ok],
        capacity_k=cmp.capacity_k,
    )
    cmp.results[ORACLE]["n_rows"] = float(ok.sum())
    cmp.scores[ORACLE] = np.where(ok, oracle, 0.0)
    cmp.oracle_ratio = roc_auc(y[ok], cmp.scores[MODEL][ok]) / cmp.results[ORACLE]["roc_auc"]


def rescore_champion(cmp: Comparison, champion: Any, horizon_days: int) -> tuple[float | None, str]:
    """Score the current champion on the same test rows.

    Returns
    -------
    (champion_auc, incomparable)
        The champion's test ROC AUC (``None`` when it cannot be compared), and why not ("" if
        it could): another horizon, or features the new test frame lacks.
    """
    if champion.horizon_days != horizon_days:
        return None, (
            f"the champion predicts {champion.horizon_days} days ahead, this model {horizon_days}"
        )
    try:
        p = champion.predict_proba(cmp.test)
    except ChurnError as exc:
        return None, f"the champion cannot score the new test frame ({exc})"
    cmp.score(CHAMPION, p)
    return cmp.results[CHAMPION]["roc_auc"], ""


def comparison_figures(
    cmp: Comparison, result: TrainResult, backtest: pd.DataFrame, training: TrainingSettings
) -> dict[str, Any]:
    """The run's plots by artefact path: ROC/PR, calibration, gains, backtest, SHAP beeswarm.

    Matplotlib figures; the shell logs them. ``backtest`` may be empty (no backtest plot).
    """
    from churn.modeling import plots

    tr, model, test, y = training, result.model, cmp.test, cmp.y
    curves = {k: v for k, v in cmp.scores.items() if k in (MODEL, RULE, LOGREG, ORACLE)}
    per_week = max(len(test) / len(result.split.test_dates), 1)  # rows evaluated per week
    out = {
        "plots/roc_pr.png": plots.roc_pr_figure(y, curves),
        "plots/calibration.png": plots.calibration_figure(
            y, {"calibrated": cmp.scores[MODEL], "uncalibrated": cmp.scores[MODEL_RAW]}
        ),
        "plots/gains.png": plots.gains_figure(y, curves, capacity_share=cmp.capacity_k / per_week),
    }
    if not backtest.empty:
        out["plots/backtest.png"] = plots.backtest_figure(backtest)
    sample = test.sample(min(tr.shap_sample, len(test)), random_state=tr.seed)
    out["plots/shap_beeswarm.png"] = plots.shap_beeswarm_figure(
        model.contributions(sample), model.prepare(sample)
    )
    return out
