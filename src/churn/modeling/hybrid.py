"""Model kinds beyond plain LightGBM: a linear offset the trees boost from, or the offset alone.

Trees are flat outside the range they were trained on. A purchase log evaluated at a later date
is exactly that case (CDNOW: 70% of the test customers have a recency no training snapshot saw),
where a linear model keeps extrapolating. So the fixed-as_of protocol can deploy three kinds,
chosen on a validation fold before ``as_of`` (``churn.modeling.selection``):

- ``lightgbm``: the booster alone;
- ``hybrid``: :class:`LinearOffset` (logistic regression on the numeric features) as LightGBM's
  ``init_score``, so the trees fit what the linear model misses; its log-odds are the offset's
  plus the trees' (:func:`hybrid_logit`), and early stopping can leave the trees almost empty;
- ``logistic``: the offset alone, stored as a hybrid whose single tree outputs 0
  (:func:`zero_booster`), so every kind is one LightGBM file plus JSON (no pickle).

The offset is plain numbers (medians, means, scales, coefficients), so it travels in the model's
JSON metadata, and it explains itself additively: coefficient x standardised value per feature,
which adds to TreeSHAP's values for the hybrid's contributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from churn.errors import ChurnError

#: Model kinds, in the order ties are broken on validation (the simplest that is as good wins).
KINDS: tuple[str, ...] = ("logistic", "hybrid", "lightgbm")


def _numeric(X: pd.DataFrame, features: list[str]) -> np.ndarray:
    cols = [pd.to_numeric(X[c], errors="coerce").to_numpy(dtype=float) for c in features]
    out = np.column_stack(cols) if cols else np.empty((len(X), 0))
    return np.where(np.isfinite(out), out, np.nan)


@dataclass
class LinearOffset:
    """Logistic regression on numeric features: median imputation with a missing indicator per
    feature that had gaps in training, standardisation, L2-penalised coefficients (``C``).

    Contributions per feature (its value's and its indicator's terms) and ``bias`` add up to
    :meth:`logit`; each term is 0 on average over the fitting rows (standardised values), so
    they are the exact SHAP values of a linear model with independent features.
    """

    features: list[str]
    C: float = 1.0
    seed: int = 0

    def fit(self, frame: pd.DataFrame, y: np.ndarray) -> LinearOffset:
        """Fit on the ``features`` of ``frame`` (those with a value somewhere) and labels ``y``."""
        raw = _numeric(frame, self.features)
        keep = ~np.isnan(raw).all(axis=0)
        self.features, raw = (
            [f for f, k in zip(self.features, keep, strict=True) if k],
            raw[:, keep],
        )
        if not self.features:
            raise ChurnError("the linear offset has no numeric feature with a value")
        self.median_ = np.nanmedian(raw, axis=0)
        self.indicator_ = np.isnan(raw).any(axis=0)
        Z = self._design(raw, fit=True)
        lr = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        lr.fit(Z, np.asarray(y, dtype=float))
        self.coef_, self.intercept_ = lr.coef_[0].astype(float), float(lr.intercept_[0])
        return self

    def _design(self, raw: np.ndarray, fit: bool = False) -> np.ndarray:
        miss = np.isnan(raw)
        full = np.column_stack([np.where(miss, self.median_, raw), miss[:, self.indicator_]])
        if fit:
            self.mean_ = full.mean(axis=0)
            scale = full.std(axis=0)
            self.scale_ = np.where(scale > 0, scale, 1.0)
        return (full - self.mean_) / self.scale_

    def terms(self, X: pd.DataFrame) -> np.ndarray:
        """Per row, each feature's term (value + its missing indicator), in ``features`` order."""
        Z = self._design(_numeric(X, self.features)) * self.coef_
        n = len(self.features)
        out = Z[:, :n].copy()
        out[:, np.flatnonzero(self.indicator_)] += Z[:, n:]
        return out

    def logit(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of churn for each row of ``X``."""
        return self.intercept_ + self.terms(X).sum(axis=1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state."""
        return {
            "features": list(self.features),
            "C": self.C,
            "median": self.median_.tolist(),
            "indicator": self.indicator_.tolist(),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> LinearOffset:
        """Rebuild from :meth:`to_dict` output."""
        out = cls(list(state["features"]), C=float(state["C"]))
        out.median_ = np.asarray(state["median"], dtype=float)
        out.indicator_ = np.asarray(state["indicator"], dtype=bool)
        out.mean_ = np.asarray(state["mean"], dtype=float)
        out.scale_ = np.asarray(state["scale"], dtype=float)
        out.coef_ = np.asarray(state["coef"], dtype=float)
        out.intercept_ = float(state["intercept"])
        return out


def linear_features(X: pd.DataFrame, features: list[str]) -> list[str]:
    """The offset's features: the model's non-categorical ones (categories stay with the trees)."""
    return [c for c in features if not isinstance(X[c].dtype, pd.CategoricalDtype)]


def zero_booster(booster: lgb.Booster) -> lgb.Booster:
    """``booster``'s first tree with every leaf set to 0: a LightGBM model that adds nothing,
    so the offset alone is stored and scored like any other kind."""
    out = lgb.Booster(model_str=booster.model_to_string(num_iteration=1))
    for leaf in range(out.dump_model()["tree_info"][0]["num_leaves"]):
        out.set_leaf_output(0, leaf, 0.0)
    return lgb.Booster(model_str=out.model_to_string())


def hybrid_logit(booster: lgb.Booster, offset: LinearOffset | None, X: pd.DataFrame,
                 X_trees: pd.DataFrame) -> np.ndarray:  # fmt: skip
    """Log-odds: the trees' raw score on ``X_trees`` plus the offset's on ``X`` (if any)."""
    trees = np.asarray(booster.predict(X_trees, raw_score=True), dtype=float)
    return trees if offset is None else trees + offset.logit(X)
