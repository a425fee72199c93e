"""Weekly scoring: every active customer scored (or excluded with a reason), tiered and ranked.

Pure functions over DataFrames; the shell (``churn.pipelines.score``) loads the data and the
champion model, builds the features with the same code as training and writes the files.

The list
--------
Each scored customer gets the calibrated probability of churning within the model's horizon,
a risk tier (``ScoringSettings.tiers``, the ONE definition of the tiers, applied to the
probability as displayed), the revenue at risk (probability x ARR, the expected ARR lost) and a
priority rank. Who is listed is ``churn.scoring.listing``: a probability floor, capacity per
owner and overall, tier first and then priority (revenue at risk by default: the money a team
can save is probability x ARR, so within a tier a 40% risk on a 500k account comes before a 45%
risk on a 2k one). Ties break by probability, then customer_id, so the order is deterministic.

Who is not scored
-----------------
Every customer active at ``as_of`` (``churn.spine.build_spine``: signed up before as_of and not
churned before it) is either scored or listed in ``excluded`` with a reason; the counts add up.
Being new (short tenure) or having no events yet is NOT a reason: the model has seen such
customers in training and their score is as meaningful as anyone's. What genuinely cannot be
scored:

- ``no feature row``: the feature build returned no row for an active customer;
- ``missing required data``: a feature listed in ``ScoringSettings.required_features`` is
  missing (by default tenure, i.e. no usable signup_date);
- ``no probability``: the model returned a non-finite probability.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.explain import Renderer, reason_rules, recommend_play, top_reasons
from churn.scoring.listing import (
    assign_tiers,
    listed_mask,
    order_for_list,
    whole_percent_problems,
)
from churn.settings import ScoringSettings
from churn.uplift import expected_arr_saved

log = logging.getLogger(__name__)

KEY_COLUMNS = ("customer_id", "as_of")
ACCOUNT_COLUMNS = ("name", "account_owner", "segment", "plan", "arr")
PRIORITIES = ("revenue_at_risk", "probability")
REASON_SCOPES = ("all", "listed")
RANK_BY = ("risk", "uplift")
#: The point-in-time feature the list's days_to_renewal column is read from.
RENEWAL_FEATURE = "acct_days_to_renewal"

EXCLUDED_NO_FEATURES = "no feature row: the feature build returned nothing for this customer"
EXCLUDED_NO_PROBABILITY = "no probability: the model returned a non-finite score"


class FeatureMismatchError(ChurnError):
    """The model was trained on a different feature set than the code builds today."""


class ScoringModel(Protocol):
    """What scoring needs from ``churn.model.ChurnModel``."""

    feature_names: list[str]
    horizon_days: int
    metadata: dict

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame: ...


def check_scoring_settings(settings: ScoringSettings) -> None:
    """Refuse settings the list cannot be cut with, saying which key to fix."""
    problems = []
    if settings.priority not in PRIORITIES:
        problems.append(f"scoring.priority is {settings.priority!r}; use one of {PRIORITIES}")
    if settings.rank_by not in RANK_BY:
        problems.append(f"scoring.rank_by is {settings.rank_by!r}; use one of {RANK_BY}")
    if settings.reasons_scope not in REASON_SCOPES:
        problems.append(
            f"scoring.reasons_scope is {settings.reasons_scope!r}; use one of {REASON_SCOPES}"
        )
    bounds = [b for _, b in settings.tiers]
    if not bounds or bounds != sorted(bounds, reverse=True) or min(bounds) > 0:
        problems.append(
            "scoring.tiers must be (name, lower bound) pairs, highest bound first, the last "
            f"with bound 0 so every probability has a tier; got {list(settings.tiers)}"
        )
    if (settings.list_size or 0) < 0 or settings.reasons_per_customer < 1:
        problems.append("scoring.list_size must be >= 0 and reasons_per_customer >= 1")
    problems += whole_percent_problems(settings)
    if problems:
        raise ChurnError("invalid scoring settings: " + "; ".join(problems))


def check_feature_set(model_features: Sequence[str], frame_columns: Sequence[str]) -> None:
    """Refuse to score when the model's features and the code's features differ.

    A model trained on another version of the feature code would silently score nonsense (a
    missing column becomes all-missing, a renamed one is ignored), so the differences are named.

    Raises
    ------
    FeatureMismatchError
        Naming the features the model expects but the code does not build, and vice versa.
    """
    built = [c for c in frame_columns if c not in KEY_COLUMNS]
    missing = [f for f in model_features if f not in set(built)]
    extra = [f for f in built if f not in set(model_features)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(
                f"the model expects {len(missing)} feature(s) the code does not build: "
                + ", ".join(missing)
            )
        if extra:
            parts.append(
                f"the code builds {len(extra)} feature(s) the model was not trained on: "
                + ", ".join(extra)
            )
        raise FeatureMismatchError(
            "the champion model's feature set differs from the feature code: "
            + "; ".join(parts)
            + ". Retrain with `make train` (or score with the code version the model was "
            "trained with)."
        )


def split_scorable(
    active: pd.DataFrame, frame: pd.DataFrame, required_features: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the feature frame into rows that can be scored and active customers that cannot.

    Parameters
    ----------
    active
        Every customer active at as_of (``customer_id`` column): the spine.
    frame
        The scoring frame (customer_id, as_of, features).
    required_features
        Features that must be known to score a customer.

    Returns
    -------
    scorable : DataFrame
        Rows of ``frame`` for active customers with all required features, in customer_id order.
    excluded : DataFrame
        ``customer_id``, ``reason`` for every other active customer.
    """
    missing_cols = [f for f in required_features if f not in frame.columns]
    if missing_cols:
        raise ChurnError(
            f"scoring.required_features names {missing_cols}, which the feature code does not "
            "build; remove them from the config or use feature names from `churn features`."
        )
    active_ids = pd.Index(active["customer_id"].astype(str).unique())
    rows = frame[frame["customer_id"].isin(active_ids)]
    # A customer with two feature rows would get two scores: keep the first, deterministically.
    rows = rows.drop_duplicates("customer_id", keep="first")
    excluded = [
        pd.DataFrame(
            {
                "customer_id": active_ids.difference(pd.Index(rows["customer_id"])).to_list(),
                "reason": EXCLUDED_NO_FEATURES,
            }
        )
    ]
    if required_features:
        lacking = rows[list(required_features)].isna()
        bad = lacking.any(axis=1)
        if bad.any():
            names = lacking[bad].apply(lambda r: ", ".join(r.index[r.to_numpy()]), axis=1)
            excluded.append(
                pd.DataFrame(
                    {
                        "customer_id": rows.loc[bad, "customer_id"].to_numpy(),
                        "reason": ("missing required data: " + names).to_numpy(),
                    }
                )
            )
            rows = rows[~bad]
    excluded_frame = pd.concat(excluded, ignore_index=True)
    excluded_frame["customer_id"] = excluded_frame["customer_id"].astype(str)
    excluded_frame = excluded_frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    scorable = rows.sort_values("customer_id", kind="stable").reset_index(drop=True)
    return scorable, excluded_frame


def account_details(customers: pd.DataFrame) -> pd.DataFrame:
    """Account columns for the list: name, owner, segment, plan and ARR.

    Days to renewal is not taken from here (see :func:`renewal_days`): the customers table's
    ``contract_end_date`` is today's extract, while the reasons read the point-in-time feature.
    """
    out = pd.DataFrame({"customer_id": customers["customer_id"].astype(str)})
    for col in ACCOUNT_COLUMNS:
        if col in customers.columns:
            out[col] = customers[col].to_numpy()
        else:
            out[col] = np.nan if col == "arr" else None
    out["arr"] = pd.to_numeric(out["arr"], errors="coerce").astype(float)
    return out.drop_duplicates("customer_id").reset_index(drop=True)


def renewal_days(scorable: pd.DataFrame) -> pd.Series:
    """Days to renewal of each scorable row: its ``acct_days_to_renewal`` feature at as_of.

    The ONE source of the list's ``days_to_renewal`` column and of the "Renewal in N days"
    sentence (rounded to whole days the same way), so column and reason always agree. All NaN
    when the dataset has no contract term (the feature is not built): then the column is empty.
    """
    if RENEWAL_FEATURE not in scorable.columns:
        return pd.Series(np.nan, index=scorable.index, name="days_to_renewal", dtype=float)
    days = pd.to_numeric(scorable[RENEWAL_FEATURE], errors="coerce").astype(float)
    return days.round().rename("days_to_renewal")


def score_customers(
    model: ScoringModel,
    scorable: pd.DataFrame,
    accounts: pd.DataFrame,
    settings: ScoringSettings,
    *,
    families: Mapping[str, str],
    render: Renderer,
    calibrate=None,
    uplift=None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Score every scorable customer, with tiers, revenue at risk, reasons and the play.

    Parameters
    ----------
    model
        The champion (``ChurnModel``).
    scorable
        Rows from :func:`split_scorable` (customer_id, as_of, the model's features).
    accounts
        :func:`account_details` of the customers table (days to renewal come from
        ``scorable``: :func:`renewal_days`).
    settings
        Scoring settings (tiers, playbook, list size, priority, reasons).
    families, render
        Feature -> driver family, and the reason renderer (``churn.catalogue``).
    calibrate
        The model's calibrator (``model.calibrator.transform``), so reason effects are in
        calibrated-probability points.
    uplift
        ``rank_by: uplift`` only: ``(features, recommended plays) ->`` each customer's expected
        effect of the play on churn (``churn.pipelines.uplift``); adds ``uplift_effect`` and
        ``expected_arr_saved``, which then order and cut the list (reasons for everyone).

    Returns
    -------
    scores : DataFrame
        One row per scored customer in priority order, with ``priority_rank`` (1 = first),
        probability, tier, revenue at risk, reasons and play (reasons empty for customers outside
        the list when ``reasons_scope`` is "listed").
    contributions : DataFrame
        The TreeSHAP log-odds of the customers whose reasons were computed (for global drivers).
    unscored : DataFrame
        ``customer_id``, ``reason`` for rows whose probability was not finite.
    """
    check_scoring_settings(settings)
    X = scorable[list(model.feature_names)]
    probability = np.asarray(model.predict_proba(X), dtype=float)
    finite = np.isfinite(probability)
    unscored = pd.DataFrame(
        {"customer_id": scorable.loc[~finite, "customer_id"].astype(str).to_numpy()}
    )
    unscored["reason"] = EXCLUDED_NO_PROBABILITY

    scores = pd.DataFrame(
        {
            "customer_id": scorable["customer_id"].astype(str).to_numpy(),
            "as_of": scorable["as_of"].to_numpy(),
            "churn_probability": probability,
            "days_to_renewal": renewal_days(scorable).to_numpy(),
        }
    )[finite].reset_index(drop=True)
    X = X[finite].reset_index(drop=True)
    scores = scores.merge(accounts, on="customer_id", how="left", validate="one_to_one")
    scores["risk_tier"] = assign_tiers(scores["churn_probability"], settings.tiers)
    scores["revenue_at_risk"] = scores["churn_probability"] * scores["arr"]
    scores = order_for_list(scores, settings)
    scores["priority_rank"] = np.arange(1, len(scores) + 1)
    scores["listed"] = listed_mask(scores, settings)
    ids = scorable.loc[finite, "customer_id"].astype(str).to_numpy()
    # Under uplift the effect depends on the play, which comes from the reasons: reasons (and
    # plays) for every scored customer first, then the list is cut by expected ARR saved.
    first = settings if uplift is None else settings.model_copy(update={"reasons_scope": "all"})
    scores, contributions = _with_reasons(
        scores, X, ids, model, first, families=families, render=render, calibrate=calibrate
    )
    if uplift is not None:
        scores = _by_uplift(scores, X, ids, uplift, settings)
    return scores, contributions, unscored


def _by_uplift(
    scores: pd.DataFrame, X: pd.DataFrame, ids: np.ndarray, uplift, settings: ScoringSettings
) -> pd.DataFrame:
    """``scores`` with ``uplift_effect`` and ``expected_arr_saved``, re-ordered and re-cut."""
    X_ordered = X.set_index(ids).loc[scores["customer_id"]].reset_index(drop=True)
    out = scores.reset_index(drop=True)
    out["uplift_effect"] = np.asarray(uplift(X_ordered, out["recommended_play"]), dtype=float)
    out["expected_arr_saved"] = expected_arr_saved(out["uplift_effect"], out["arr"])
    out = order_for_list(out.drop(columns=["priority_rank", "listed"]), settings)
    out["priority_rank"] = np.arange(1, len(out) + 1)
    out["listed"] = listed_mask(out, settings)
    return out


def _with_reasons(
    scores: pd.DataFrame,
    X: pd.DataFrame,
    ids: np.ndarray,
    model: ScoringModel,
    settings: ScoringSettings,
    *,
    families: Mapping[str, str],
    render: Renderer,
    calibrate=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``scores`` (priority order) joined with reasons and play, and the contributions used.

    ``X`` holds the model's features of the scored rows in scoring order, ``ids`` their
    customer_ids; they are reordered to match ``scores``.
    """
    # Reasons: for everyone (analysts read scores.parquet) or only the listed customers.
    want = np.ones(len(scores), bool) if settings.reasons_scope == "all" else scores["listed"]
    want = np.asarray(want, dtype=bool)
    X_ordered = X.set_index(ids).loc[scores["customer_id"]]
    X_ordered.index = scores.index
    X_reason = X_ordered[want]
    contributions = model.contributions(X_reason)
    contributions.index = X_reason.index
    # Medians for the direction rule come from every scored customer, not only the listed ones.
    rules = reason_rules(list(X.columns), X, settings.min_reason_points)
    reasons = top_reasons(
        contributions,
        X_reason,
        families,
        render,
        k=settings.reasons_per_customer,
        calibrate=calibrate,
        rules=rules,
    )
    scores = scores.join(reasons)
    for col in reasons.columns:
        if reasons[col].dtype == object:
            # Customers without reasons (outside the list) get None, not NaN, in text columns.
            scores[col] = scores[col].astype(object).where(scores[col].notna(), None)
    scores["recommended_play"] = recommend_play(
        scores["main_driver"], settings.playbook, settings.default_play
    )
    scores.loc[~want, "recommended_play"] = None
    return scores, contributions


def excluded_counts(excluded: pd.DataFrame) -> dict[str, int]:
    """Excluded customers per reason, for the manifest (reason kinds, not per-feature detail)."""
    kinds = excluded["reason"].astype(str).str.split(":").str[0]
    counts: dict[str, Any] = kinds.value_counts().sort_index().to_dict()
    return {str(k): int(v) for k, v in counts.items()}
