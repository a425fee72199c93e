"""What a play can save: each customer's expected effect of the play, learned from outcomes.

Ranking by risk contacts the customers most likely to leave; ranking by uplift contacts those a
play can save (Ascarza 2018, "Retention futility"). Once enough weeks have matured, the week
folders hold both arms of an experiment: customers sent to their owners (treated) and the
control group held out (``churn.control``), each with their features at that week's as_of and
whether they churned within the horizon (``churn.pipelines.uplift`` builds those rows).

- :class:`TwoModelUplift`: the two-model (T-learner) estimate on LightGBM: one churn model on the
  treated rows, one on the control rows; a customer's **effect** is
  ``P(churn | treated, x) - P(churn | control, x)``: the change in churn probability within the
  horizon the play is expected to cause (negative = the play helps, positive = it backfires).
  Intention to treat, as ``churn impact``: "treated" is "sent to the owner", whatever the owner
  did, so compliance is part of the effect. The features are the churn model's, as known at the
  week's as_of, plus the recommended play (:func:`with_play`).
- :func:`check_evidence`: the minimum-evidence rule: at least ``min_per_arm`` treated and
  ``min_per_arm`` control outcomes, else no model and a sentence saying why.
- :func:`expected_arr_saved`: THE definition of what the list ranks by under
  ``scoring.rank_by: uplift``: ``-effect x ARR``.
- :func:`qini_curve` (observed outcomes, Radcliffe's Qini) and :func:`gain_curve` (known true
  effects, as on the simulator): how good a ranking is at finding those a play saves.

Pure: arrays and frames in, arrays and frames out; nothing read or written here.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

#: Small trees with large leaves: each arm's model sees a few hundred to a few thousand rows.
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 7,
    "max_depth": 4,
    "min_child_samples": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "verbose": -1,
    "num_threads": 1,
    "seed": 0,
}


#: The play is part of what the effect depends on: a workshop saves small accounts, an
#: executive call the large ones. It is a feature of the uplift model beside the churn model's.
PLAY_COLUMN = "recommended_play"


def with_play(X: pd.DataFrame, plays: pd.Series | np.ndarray) -> pd.DataFrame:
    """``X`` with the recommended play as a categorical column (the uplift model's input)."""
    text = pd.Series(np.asarray(plays, dtype=object), index=X.index).fillna("(none)").astype(str)
    return X.assign(**{PLAY_COLUMN: pd.Categorical(text)})


def check_evidence(treated: np.ndarray | pd.Series, min_per_arm: int) -> str | None:
    """``None`` when there are at least ``min_per_arm`` outcomes in each arm, else why not."""
    t = np.asarray(treated, dtype=bool)
    nt, nc = int(t.sum()), int((~t).sum())
    if min(nt, nc) >= min_per_arm:
        return None
    return (
        f"too little evidence for an uplift model: {nt} treated and {nc} control customers of "
        f"weeks whose horizon has passed; at least {min_per_arm} of each are needed "
        "(scoring.uplift_min_per_arm)"
    )


class TwoModelUplift:
    """Two-model (T-learner) uplift on LightGBM: ``effect = P(churn|treated) - P(churn|control)``.

    Parameters
    ----------
    params
        LightGBM parameters of both models (``DEFAULT_PARAMS`` when None).
    num_boost_round
        Trees per model.
    """

    def __init__(self, params: dict[str, Any] | None = None, num_boost_round: int = 150) -> None:
        self.params = params
        self.num_boost_round = num_boost_round

    def fit(
        self, X: pd.DataFrame, treated: np.ndarray | pd.Series, churned: np.ndarray | pd.Series
    ) -> TwoModelUplift:
        """Fit one churn model per arm. ``X``: features (numeric or pandas categorical)."""
        t = np.asarray(treated, dtype=bool)
        y = np.asarray(churned, dtype=float)
        if len(t) != len(X) or len(y) != len(X):
            raise ValueError("X, treated and churned must have the same number of rows")
        params = dict(DEFAULT_PARAMS if self.params is None else self.params)
        self.features_ = list(X.columns)
        self.models_ = {}
        for arm, mask in (("treated", t), ("control", ~t)):
            if not mask.any():
                raise ValueError(f"no {arm} rows to fit the {arm} model on")
            data = lgb.Dataset(X[mask], label=y[mask], free_raw_data=True)
            self.models_[arm] = lgb.train(params, data, num_boost_round=self.num_boost_round)
        return self

    def predict_arms(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(P(churn | treated), P(churn | control))`` of each row."""
        X = X[self.features_]
        return (
            np.asarray(self.models_["treated"].predict(X), dtype=float),
            np.asarray(self.models_["control"].predict(X), dtype=float),
        )

    def predict_effect(self, X: pd.DataFrame) -> np.ndarray:
        """The play's expected change in churn probability (negative = it helps)."""
        p_treated, p_control = self.predict_arms(X)
        return p_treated - p_control


def expected_arr_saved(effect: np.ndarray | pd.Series, arr: np.ndarray | pd.Series) -> np.ndarray:
    """Expected ARR saved by the play: ``-effect x ARR`` (NaN where ARR is unknown).

    The one definition: the list's ``expected_arr_saved`` column, its order under
    ``rank_by: uplift``, and the bench's saved ARR all read it.
    """
    e = np.asarray(effect, dtype=float)
    a = pd.to_numeric(pd.Series(np.asarray(arr)), errors="coerce").to_numpy(dtype=float)
    return -e * a


def _order(score: np.ndarray) -> np.ndarray:
    """Highest score first; ties keep the input order (a stable sort), NaN last."""
    s = np.asarray(score, dtype=float)
    return np.argsort(-np.where(np.isnan(s), -np.inf, s), kind="stable")


def qini_curve(
    score: np.ndarray, treated: np.ndarray, outcome: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """Radcliffe's Qini curve of a ranking on observed outcomes, at 0, 1, ..., n contacted.

    ``outcome``: the good outcome (retained = 1), ``weight``: its value (ARR; 1 when None). At
    the top k: ``Q(k) = R_t(k) - R_c(k) * N_t(k) / N_c(k)`` (``R``: sum of weighted good
    outcomes, ``N``: customers, of each arm among the top k; ``Q(k) = R_t(k)`` while no control
    customer is among them): the good outcomes the play added among the top k, scaled to the
    treated count.
    """
    order = _order(score)
    t = np.asarray(treated, dtype=bool)[order]
    w = np.ones(len(t)) if weight is None else np.asarray(weight, dtype=float)[order]
    good = np.asarray(outcome, dtype=float)[order] * w
    r_t = np.concatenate([[0.0], np.cumsum(good * t)])
    r_c = np.concatenate([[0.0], np.cumsum(good * ~t)])
    n_t = np.concatenate([[0], np.cumsum(t)])
    n_c = np.concatenate([[0], np.cumsum(~t)])
    scale = np.divide(n_t, n_c, out=np.zeros(len(n_t)), where=n_c > 0)
    return r_t - r_c * scale


def gain_curve(score: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Cumulative true value (e.g. true ARR saved) of the top 0, 1, ..., n by ``score``.

    On the simulator every customer's true effect is known, so a ranking's worth at a budget
    of k contacts is simply what the k customers it puts first would have been saved.
    """
    v = np.asarray(value, dtype=float)[_order(score)]
    return np.concatenate([[0.0], np.cumsum(np.nan_to_num(v))])


def area_over_random(curve: np.ndarray) -> float:
    """Mean height of a gain or Qini curve above the random ranking's straight line."""
    n = len(curve) - 1
    if n <= 0:
        return 0.0
    line = curve[-1] * np.arange(n + 1) / n
    return float(np.mean(curve - line))
