"""The trained model as the rest of the product sees it: a LightGBM booster plus a calibrator.

``ChurnModel`` is what scoring and explanations build on. It holds only JSON-safe state besides
the booster (whose own text format is the artefact), so nothing here is ever pickled: the
registered MLflow model is LightGBM's native file plus the calibrator and the feature list as
JSON metadata (see ``churn.tracking``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from churn.errors import ChurnError
from churn.modeling.hybrid import LinearOffset, hybrid_logit

if TYPE_CHECKING:
    from churn.features import FeatureSpec

log = logging.getLogger(__name__)

CALIBRATION_METHODS = ("isotonic", "sigmoid")

#: Probabilities are clipped away from 0 and 1 before taking logits, so Platt scaling never sees
#: an infinite input.
_EPS = 1e-6
#: Isotonic regression is a step function: on its flat steps many customers would share one
#: probability and the weekly list would be cut among ties arbitrarily. Adding this much of the
#: raw score keeps the map strictly increasing, so the calibrated ranking is the model's ranking,
#: while moving no probability by more than 1e-6 (far below any calibration error we can measure).
_TIE_BREAK = 1e-6
#: Calibrated probabilities stay within [floor, 1 - floor].
PROBABILITY_FLOOR = 1e-3


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


class Calibrator:
    """Maps the booster's raw probability to a calibrated probability of churn.

    Fitted out of time: on predictions for a validation window the booster never trained on.

    Parameters
    ----------
    method
        ``"isotonic"`` (monotone step function, the default: no shape assumption, needs a few
        thousand validation rows) or ``"sigmoid"`` (Platt scaling: a logistic fit on the logit of
        the raw probability; two parameters, robust on small windows).
    """

    def __init__(self, method: str = "isotonic") -> None:
        if method not in CALIBRATION_METHODS:
            raise ChurnError(
                f"training.calibration is {method!r}; use one of {list(CALIBRATION_METHODS)} "
                "in the config file"
            )
        self.method = method

    def fit(self, p: np.ndarray, y: np.ndarray) -> Calibrator:
        """Learn the map from raw probabilities ``p`` to observed outcomes ``y`` (0/1)."""
        p = np.asarray(p, dtype=float)
        y = np.asarray(y, dtype=float)
        if len(np.unique(y)) < 2:
            raise ChurnError(
                "the validation window has only one class, so the model cannot be calibrated: "
                "use more valid_snapshots or a longer history"
            )
        if self.method == "isotonic":
            iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            iso.fit(p, y)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=float)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=float)
        else:
            # Large C: Platt scaling is meant to be an unregularised two-parameter fit.
            lr = LogisticRegression(C=1e6, max_iter=1000)
            lr.fit(_logit(p).reshape(-1, 1), y)
            self.a_ = float(lr.coef_[0, 0])
            self.b_ = float(lr.intercept_[0])
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw probabilities ``p``."""
        p = np.asarray(p, dtype=float)
        if self.method == "isotonic":
            if not hasattr(self, "x_"):
                raise RuntimeError("Calibrator is not fitted")
            step = np.interp(p, self.x_, self.y_)
            unit = (step + _TIE_BREAK * np.clip(p, 0.0, 1.0)) / (1.0 + _TIE_BREAK)
        else:
            if not hasattr(self, "a_"):
                raise RuntimeError("Calibrator is not fitted")
            unit = 1.0 / (1.0 + np.exp(-(self.a_ * _logit(p) + self.b_)))
        # An isotonic step with no churner in it maps to exactly 0: no model can promise that a
        # customer will certainly stay (or leave), and a 0 makes log loss infinite. Squeezing
        # (rather than clipping) into [floor, 1 - floor] keeps the map strictly increasing.
        return PROBABILITY_FLOOR + (1.0 - 2.0 * PROBABILITY_FLOOR) * unit

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (lists and floats only)."""
        if self.method == "isotonic":
            return {"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
        return {"method": "sigmoid", "a": self.a_, "b": self.b_}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Calibrator:
        """Rebuild a fitted calibrator from ``to_dict`` output."""
        cal = cls(state["method"])
        if cal.method == "isotonic":
            cal.x_ = np.asarray(state["x"], dtype=float)
            cal.y_ = np.asarray(state["y"], dtype=float)
        else:
            cal.a_ = float(state["a"])
            cal.b_ = float(state["b"])
        return cal

    def __repr__(self) -> str:
        return f"Calibrator(method={self.method!r})"


@dataclass
class ChurnModel:
    """A booster, its calibrator and what it needs to score a frame.

    Attributes
    ----------
    booster
        LightGBM binary classifier. Its model file stores the categories of every categorical
        feature (``pandas_categorical``), so frames built at scoring time are remapped to the
        training codes however their own categories are ordered.
    calibrator
        Map from the booster's probability to a calibrated P(churn within ``horizon_days``).
    feature_names
        Columns the booster expects, in order.
    horizon_days
        Label horizon the model was trained for.
    metadata
        JSON-safe facts: run_id, model_version, train/test as_of ranges, settings, metrics.
    offset
        The linear model the trees were boosted from (``churn.modeling.hybrid``: kinds
        ``hybrid`` and ``logistic``), or ``None`` for plain LightGBM. Its log-odds add to the
        trees' in every prediction and contribution.
    """

    booster: lgb.Booster
    calibrator: Calibrator
    feature_names: list[str]
    horizon_days: int
    metadata: dict[str, Any] = field(default_factory=dict)
    offset: LinearOffset | None = None

    @property
    def kind(self) -> str:
        """``lightgbm``, ``hybrid`` or ``logistic`` (``churn.modeling.hybrid.KINDS``)."""
        return str(self.metadata.get("model_kind", "lightgbm" if self.offset is None else "hybrid"))

    @property
    def feature_spec(self) -> FeatureSpec | None:
        """The feature spec the model was trained on (its data-dependent columns), or ``None``.

        Weekly scoring builds exactly these columns from next week's data with it.
        """
        from churn.features import FeatureSpec

        raw = self.metadata.get("feature_spec")
        return FeatureSpec.from_dict(raw) if raw else None

    @property
    def categorical_features(self) -> dict[str, list[Any]]:
        """Categorical feature -> categories seen in training (from the booster's model file)."""
        # Training records the names; LightGBM records the categories in the same order.
        names = self.metadata.get("categorical_features") or []
        cats = self.booster.pandas_categorical or []
        return {n: list(c) for n, c in zip(names, cats, strict=False)}

    def prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns of ``X``, in training order and training dtypes.

        Raises
        ------
        ChurnError
            If ``X`` lacks a feature the model was trained on.
        """
        missing = [c for c in self.feature_names if c not in X.columns]
        if missing:
            raise ChurnError(
                f"the feature frame lacks {len(missing)} column(s) the model was trained on "
                f"({', '.join(missing[:10])}{'...' if len(missing) > 10 else ''}); the features "
                "changed since training: retrain with `make train`"
            )
        out = X.loc[:, self.feature_names].copy()
        cats = self.categorical_features
        for col in self.feature_names:
            if col in cats:
                # Strings (or categories in another order) become the training categories;
                # an unseen value becomes missing, which the trees route like any NaN.
                out[col] = pd.Categorical(out[col].astype("object"), categories=cats[col])
            elif not pd.api.types.is_numeric_dtype(out[col]):
                out[col] = pd.to_numeric(out[col], errors="coerce")
        return out

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated probability of churn: the booster's, from the offset's log-odds plus
        the trees' when there is an offset."""
        if self.offset is None:
            return np.asarray(self.booster.predict(self.prepare(X)), dtype=float)
        return 1.0 / (1.0 + np.exp(-hybrid_logit(self.booster, self.offset, X, self.prepare(X))))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn within ``horizon_days`` of each row's as_of."""
        return self.calibrator.transform(self.predict_raw(X))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions in log-odds of the *raw* booster score.

        Each row sums (with ``bias``) to the logit of ``predict_raw``. Calibration is a monotone
        map applied afterwards, so signs and order of contributions carry over; magnitudes in
        probability terms do not, and callers must convert honestly if they show them.
        """
        values = self.booster.predict(self.prepare(X), pred_contrib=True)
        out = pd.DataFrame(
            np.asarray(values, dtype=float),
            index=X.index,
            columns=[*self.feature_names, "bias"],
        )
        if self.offset is not None:
            # A linear model's exact SHAP values (independent features) add to TreeSHAP's.
            out[self.offset.features] += self.offset.terms(X)
            out["bias"] += self.offset.intercept_
        return out

    def to_metadata(self) -> dict[str, Any]:
        """Everything but the booster, JSON-safe: stored beside the LightGBM model file."""
        out = {
            "calibrator": self.calibrator.to_dict(),
            "feature_names": list(self.feature_names),
            "horizon_days": int(self.horizon_days),
            "metadata": self.metadata,
        }
        if self.offset is not None:
            out["offset"] = self.offset.to_dict()
        return out

    @classmethod
    def from_parts(cls, booster: lgb.Booster, stored: dict[str, Any], **extra: Any) -> ChurnModel:
        """Rebuild from a booster and ``to_metadata`` output (plus metadata overrides)."""
        return cls(
            booster=booster,
            calibrator=Calibrator.from_dict(stored["calibrator"]),
            feature_names=list(stored["feature_names"]),
            horizon_days=int(stored["horizon_days"]),
            metadata={**dict(stored.get("metadata") or {}), **extra},
            offset=LinearOffset.from_dict(stored["offset"]) if stored.get("offset") else None,
        )
