"""Baselines the model must beat, scored on the same out-of-time windows.

1. **Health score**: the kind of rule customer-success platforms ship (Gainsight / ChurnZero style
   scorecards): risk points for a detractor NPS, falling usage, open complaints, silence on
   surveys, poor support experience, an imminent renewal. Points add up to a 0-100 risk score;
   bands red (>= 50), amber (>= 25) and green. It ranks customers by points, so it is compared on
   ranking metrics; its "probability" is just points / 100 and its calibration is not meant to
   be good. :data:`HEALTH_RULES` holds hand-set default points; the baseline in the model
   comparison uses the same rules with points fitted on the validation window
   (:func:`fit_health_rules`), so the model is measured against a fair card, not a straw man.
2. **Logistic regression**: a scikit-learn pipeline (median imputation with missing indicators,
   scaling, one-hot encoding of categories) on the same features as the model.

Rules name their feature as the feature registry declares it (a column name, or a template such
as ``util_{metric}_ratio_30d_90d`` whose first column in the frame is used), because feature names
belong to ``churn.features``; a rule whose feature is absent is skipped (and reported by
``health_rules_used``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

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


def _rule_hits(frame: pd.DataFrame, rules: tuple[HealthRule, ...]) -> dict[int, np.ndarray]:
    """Position of each rule whose feature exists -> whether each row triggers it."""
    columns = list(frame.columns)
    hits = {}
    for i, rule in enumerate(rules):
        col = _resolve(rule, columns)
        if col is None:
            continue
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            hits[i] = _OPS[rule.op](values, rule.threshold) & ~np.isnan(values)
    return hits


def health_score(frame: pd.DataFrame, rules: tuple[HealthRule, ...] = HEALTH_RULES) -> pd.DataFrame:
    """Risk points and band per row.

    Returns
    -------
    DataFrame
        Index of ``frame``; ``risk_points`` (0-100, higher = riskier), ``health`` (100 - points)
        and ``band`` ("red", "amber", "green"). A missing value scores no points: the scorecard,
        like the platforms', only reacts to signals it sees.
    """
    points = np.zeros(len(frame))
    for i, hit in _rule_hits(frame, rules).items():
        points += np.where(hit, rules[i].points, 0.0)
    points = np.clip(points, 0, 100)
    band = np.select([points >= 50, points >= 25], ["red", "amber"], default="green")
    return pd.DataFrame(
        {"risk_points": points, "health": 100 - points, "band": band}, index=frame.index
    )


def fit_health_rules(
    frame: pd.DataFrame,
    y: np.ndarray,
    rules: tuple[HealthRule, ...] = HEALTH_RULES,
    *,
    l2: float = 1e-3,
) -> tuple[HealthRule, ...]:
    """The scorecard with its points re-chosen on labelled rows (the validation window only).

    A hand-set scorecard is a weak straw man when its points ignore where the churn is (in the
    demo, renewals carry most of it and the default card gives them 5 of 100 points; fitted,
    they get ~21 and the card's test ROC AUC rises from 0.725 to 0.772). The rules
    and thresholds stay; the points become the coefficients of a logistic regression of ``y``
    on the rules' 0/1 indicators, constrained to be non-negative (a warning sign never lowers
    risk, as on the platforms), rescaled to sum to 100. A small L2 penalty ``l2`` (per row)
    keeps correlated rules from trading weight arbitrarily.

    Returns
    -------
    tuple of HealthRule
        ``rules`` with new ``points``; rules whose feature is absent keep theirs (they never
        fire). The default card when no rule carries signal (all coefficients 0).
    """
    from scipy.optimize import minimize

    y = np.asarray(y, dtype=float)
    hits = _rule_hits(frame, rules)
    if not hits or len(np.unique(y)) < 2:
        return rules
    X = np.column_stack([hits[i] for i in hits]).astype(float)
    n = len(y)

    def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = beta[0] + X @ beta[1:]
        mu = 1 / (1 + np.exp(-z))
        nll = np.sum(np.logaddexp(0, z) - y * z) / n + l2 * np.sum(beta[1:] ** 2)
        grad = np.r_[np.sum(mu - y), X.T @ (mu - y)] / n + np.r_[0.0, 2 * l2 * beta[1:]]
        return float(nll), grad

    rate = y.mean()
    start = np.r_[np.log(rate / (1 - rate)), np.zeros(X.shape[1])]
    bounds = [(None, None)] + [(0.0, None)] * X.shape[1]
    coef = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds).x[1:]
    if coef.sum() <= 0:
        log.warning("no health rule carries signal on the fitting rows: default points kept")
        return rules
    points = dict(zip(hits, 100 * coef / coef.sum(), strict=True))
    return tuple(
        replace(rule, points=float(points[i])) if i in points else rule
        for i, rule in enumerate(rules)
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

    def fit(
        self, frame: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None = None
    ) -> LogisticBaseline:
        """Fit on the feature columns of ``frame`` and outcomes ``y`` (rows weighted by
        ``weight`` when given: a thinned training spine's negatives stand for several)."""
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
        fit_params = {} if weight is None else {"model__sample_weight": np.asarray(weight, float)}
        self.pipeline_.fit(
            _logreg_frame(X, self.categorical_), np.asarray(y, dtype=float), **fit_params
        )
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(churn) for each row."""
        X = _logreg_frame(frame.loc[:, self.features], self.categorical_)
        return self.pipeline_.predict_proba(X)[:, 1]


# --- purchase logs: recency alone and BG/NBD ------------------------------------------------

#: Days-since-last-activity columns, most direct first; the recency baseline uses the first one
#: the frame has with values.
RECENCY_FEATURES: tuple[str, ...] = ("util_days_since_active", "int_days_since_contact")
#: Published BG/NBD parameters on the CDNOW sample's 39-week calibration period (Fader, Hardie
#: & Lee 2005, "Counting your customers the easy way", Marketing Science 24(2), time in weeks).
FHL_2005_CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGNBD_SKIPPED = "BG/NBD skipped: pymc-marketing is not installed (pip install -e '.[bench]')"


def recency_feature(frame: pd.DataFrame) -> str | None:
    """The recency column of ``frame`` (see :data:`RECENCY_FEATURES`), or ``None``."""
    return next((c for c in RECENCY_FEATURES if c in frame and frame[c].notna().any()), None)


def recency_baseline(train: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> np.ndarray | None:
    """Recency alone: a logistic regression on days since the last activity, fitted on the
    training rows (monotone, so its ranking is recency's); ``None`` without a recency column."""
    col = recency_feature(train)
    if col is None:
        return None
    model = LogisticBaseline([col], seed=seed).fit(train, train["label"].to_numpy(dtype=float))
    return model.predict_proba(test)


def bgnbd_rfm(frame: pd.DataFrame, unit_days: float = 7.0) -> pd.DataFrame:
    """BG/NBD's summary per row, in ``unit_days`` (weeks): ``frequency`` x (repeat active
    periods), ``recency`` t_x (first to last), ``T`` (first to as_of), from the ``act_*``
    features and recency, all known before as_of."""
    needed = ["act_periods_total", "act_days_since_first", "util_days_since_active"]
    missing = [c for c in needed if c not in frame]
    if missing:
        raise KeyError(f"BG/NBD needs the lifetime-activity features {missing}")
    first = frame["act_days_since_first"].to_numpy(dtype=float)
    last = frame["util_days_since_active"].to_numpy(dtype=float)
    x = np.maximum(frame["act_periods_total"].to_numpy(dtype=float) - 1, 0)
    ok = np.isfinite(first) & np.isfinite(last)
    return pd.DataFrame(
        {
            "frequency": np.where(ok, x, 0.0),
            "recency": np.where(ok & (x > 0), (first - last) / unit_days, 0.0),
            "T": np.where(ok, first / unit_days, 0.0),
        },
        index=frame.index,
    )


def bgnbd_p_no_purchase(
    params: dict[str, float], rfm: pd.DataFrame, t: float
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form BG/NBD (Fader, Hardie & Lee 2005): ``(P(alive at T), P(no purchase in
    (T, T + t]))`` per row.

    P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)) (FHL
    eq. 13). A customer alive at T buys at rate lambda ~ Gamma(r + x, alpha + T) (the posterior
    given the history), with no chance to drop out before the next purchase, so
    P(none in t | alive) = ((alpha + T) / (alpha + T + t))^(r + x); a dead one never buys:
    P(none) = 1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + t))^(r + x).
    """
    r, alpha, a, b = (float(params[k]) for k in ("r", "alpha", "a", "b"))
    x, tx, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(
            x > 0, a / (b + x - 1) * np.exp((r + x) * np.log((alpha + T) / (alpha + tx))), 0.0
        )
    alive = 1.0 / (1.0 + odds)
    stay_quiet = np.exp((r + x) * np.log((alpha + T) / (alpha + T + t)))
    return alive, 1.0 - alive + alive * stay_quiet


def bgnbd_pymc(rfm: pd.DataFrame, t: float) -> tuple[np.ndarray, dict[str, float]]:
    """BG/NBD fitted by pymc-marketing (MAP, its default priors) on ``rfm``; its own
    ``expected_probability_no_purchase(t)`` per row, and the fitted parameters.

    Raises
    ------
    ImportError
        When pymc-marketing is not installed (it is in the ``bench`` extra only).
    """
    from pymc_marketing.clv import BetaGeoModel

    data = rfm.reset_index(drop=True).assign(customer_id=np.arange(len(rfm)))
    model = BetaGeoModel(data=data[["customer_id", "frequency", "recency", "T"]])
    model.fit(method="map", progressbar=False)
    post = getattr(model.fit_result, "posterior", model.fit_result)
    params = {k: float(post[k].mean()) for k in ("r", "alpha", "a", "b")}
    none = model.expected_probability_no_purchase(t=t, data=data)
    p = none.mean(dim=[d for d in none.dims if d != "customer_id"]).to_numpy()
    return np.asarray(p, dtype=float), params


def bgnbd_baseline(test: pd.DataFrame, horizon_days: int) -> tuple[dict[str, np.ndarray], dict]:
    """BG/NBD's P(no purchase in the horizon) for the test rows, fitted on their own histories
    before as_of (no label is read), with pymc-marketing when importable.

    Returns
    -------
    (scores, info)
        ``scores``: ``"pymc"``, pymc-marketing's ``expected_probability_no_purchase``, and
        ``"fhl"``, :func:`bgnbd_p_no_purchase` at the same parameters; empty when skipped.
        ``info``: ``note`` (why skipped, or what was fitted), ``params`` and the largest gap
        between the two for customers with and without a repeat purchase. pymc-marketing
        (0.19) keeps the "dropped out right after the first purchase" term for x = 0, which
        FHL's likelihood has only for x > 0 (its own P(alive) is 1 for x = 0).
    """
    try:
        import pymc_marketing  # noqa: F401
    except ImportError:
        return {}, {"note": BGNBD_SKIPPED}
    rfm = bgnbd_rfm(test)
    t = horizon_days / 7.0
    p, params = bgnbd_pymc(rfm, t)
    _, closed = bgnbd_p_no_purchase(params, rfm, t)
    repeat = rfm["frequency"].to_numpy() > 0
    gap = np.abs(p - closed)
    return {"pymc": p, "fhl": closed}, {
        "note": f"BG/NBD (pymc-marketing, MAP), P(no purchase in {t:g} weeks)",
        "params": params,
        "max_abs_diff_closed_form_repeat_buyers": float(gap[repeat].max(initial=0.0)),
        "max_abs_diff_closed_form_one_time_buyers": float(gap[~repeat].max(initial=0.0)),
    }


def fit_bgnbd_mle(rfm: pd.DataFrame) -> dict[str, float]:
    """BG/NBD parameters by maximum likelihood (FHL 2005 eq. 6), to check a fit against the
    published ones; scipy only."""
    from scipy.optimize import minimize
    from scipy.special import gammaln

    x, tx, T = (rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))

    def nll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + tx), -np.inf
            )
        return -float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))

    fit = minimize(nll, np.zeros(4), method="Nelder-Mead", options={"maxiter": 4000})
    return dict(zip(("r", "alpha", "a", "b"), map(float, np.exp(fit.x)), strict=True))
