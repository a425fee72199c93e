"""Baselines the model must beat, scored on the same out-of-time windows.

1. **Health score**: the kind of rule customer-success platforms ship (Gainsight / ChurnZero style
   scorecards): risk points for a detractor NPS, falling usage, open complaints, silence on
   surveys, poor support experience, an imminent renewal. Points add up to a 0-100 risk score;
   bands red (>= 50), amber (>= 25) and green. It ranks customers by points, so it is compared on
   ranking metrics; its "probability" is just points / 100 and its calibration is not meant to
   be good.
2. **Logistic regression**: a scikit-learn pipeline (median imputation with missing indicators,
   scaling, one-hot encoding of categories) on the same features as the model.

Rules name their feature as the feature registry declares it (a column name, or a template such
as ``util_{metric}_ratio_30d_90d`` whose first column in the frame is used), because feature names
belong to ``churn.features``; a rule whose feature is absent is skipped (and reported by
``health_rules_used``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn.features import entry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HealthRule:
    """``points`` of risk when the first column of registry ``feature`` satisfies ``op threshold``.

    ``feature`` is a registry name or template (``churn.features.REGISTRY``); ``where`` narrows a
    template to the columns whose placeholders take one of the given values.
    """

    name: str
    feature: str
    op: str  # "<=", "<", ">=", ">"
    threshold: float
    points: float
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()


#: The default scorecard. A template's columns are tried in the order of the frame.
HEALTH_RULES: tuple[HealthRule, ...] = (
    HealthRule("detractor NPS", "nps_last", "<=", 6, 30),
    HealthRule("NPS dropped", "nps_delta", "<=", -2, 10),
    HealthRule("usage declining", "util_{metric}_ratio_30d_90d", "<", 0.8, 25),
    HealthRule("usage trending down", "util_{metric}_slope_90d", "<", 0, 5),
    HealthRule("no recent activity", "util_days_since_active", ">", 30, 10),
    HealthRule("open complaint", "int_open_complaints_{age}d", ">=", 1, 20),
    HealthRule(
        "recent complaints",
        "int_cat_{category}_{window}d",
        ">=",
        1,
        10,
        where=(("category", ("complaint", "complaints")), ("window", ("90",))),
    ),
    HealthRule("poor support CSAT", "int_csat_mean_90d", "<=", 2.5, 10),
    HealthRule("no recent survey response", "nps_days_since_response", ">", 180, 10),
    HealthRule("surveys ignored", "nps_response_rate_365d", "<", 0.5, 5),
    HealthRule("renewal within 90 days", "acct_days_to_renewal", "<=", 90, 5),
)

_OPS = {
    "<=": np.less_equal,
    "<": np.less,
    ">=": np.greater_equal,
    ">": np.greater,
}


def _resolve(rule: HealthRule, columns: list[str]) -> str | None:
    feature = entry(rule.feature)
    for col in columns:
        got = feature.match(col)
        if got is not None and all(got.get(k) in allowed for k, allowed in rule.where):
            return col
    return None


def health_rules_used(
    columns: list[str], rules: tuple[HealthRule, ...] = HEALTH_RULES
) -> dict[str, str]:
    """Rule name -> feature column it reads, for the rules whose feature exists."""
    used = {}
    for rule in rules:
        col = _resolve(rule, list(columns))
        if col is not None:
            used[rule.name] = col
    return used


def health_score(frame: pd.DataFrame, rules: tuple[HealthRule, ...] = HEALTH_RULES) -> pd.DataFrame:
    """Risk points and band per row.

    Returns
    -------
    DataFrame
        Index of ``frame``; ``risk_points`` (0-100, higher = riskier), ``health`` (100 - points)
        and ``band`` ("red", "amber", "green"). A missing value scores no points: the scorecard,
        like the platforms', only reacts to signals it sees.
    """
    columns = list(frame.columns)
    points = np.zeros(len(frame))
    for rule in rules:
        col = _resolve(rule, columns)
        if col is None:
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            hit = _OPS[rule.op](values, rule.threshold) & ~np.isnan(values)
        points += np.where(hit, rule.points, 0.0)
    points = np.clip(points, 0, 100)
    band = np.select([points >= 50, points >= 25], ["red", "amber"], default="green")
    return pd.DataFrame(
        {"risk_points": points, "health": 100 - points, "band": band}, index=frame.index
    )


def health_score_proba(
    frame: pd.DataFrame, rules: tuple[HealthRule, ...] = HEALTH_RULES
) -> np.ndarray:
    """The health score as a score in [0, 1] (points / 100), for the shared metrics."""
    return health_score(frame, rules)["risk_points"].to_numpy() / 100.0


def _logreg_frame(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    out = X.copy()
    for c in categorical:
        # Strings with an explicit "missing" level: one-hot encoders choke on pandas NA.
        out[c] = out[c].astype("object").where(out[c].notna(), "missing").astype(str)
    numeric = [c for c in out.columns if c not in categorical]
    out[numeric] = out[numeric].astype(float).replace([np.inf, -np.inf], np.nan)
    return out


@dataclass
class LogisticBaseline:
    """Logistic regression on the model's features (imputation, scaling, one-hot)."""

    features: list[str]
    seed: int = 0
    C: float = 1.0

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> LogisticBaseline:
        """Fit on the feature columns of ``frame`` and outcomes ``y``."""
        X = frame.loc[:, self.features]
        self.categorical_ = [
            c for c in self.features if isinstance(X[c].dtype, pd.CategoricalDtype)
        ]
        numeric = [c for c in self.features if c not in self.categorical_]
        # Columns that are entirely missing in training carry nothing and break the imputer.
        numeric = [c for c in numeric if X[c].notna().any()]
        pre = ColumnTransformer(
            [
                (
                    "num",
                    Pipeline(
                        [
                            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    numeric,
                ),
                (
                    "cat",
                    OneHotEncoder(handle_unknown="ignore", min_frequency=20),
                    self.categorical_,
                ),
            ]
        )
        self.pipeline_ = Pipeline(
            [
                ("pre", pre),
                ("model", LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)),
            ]
        )
        self.pipeline_.fit(_logreg_frame(X, self.categorical_), np.asarray(y, dtype=float))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(churn) for each row."""
        X = _logreg_frame(frame.loc[:, self.features], self.categorical_)
        return self.pipeline_.predict_proba(X)[:, 1]
