"""Who is on the list, and the rule in plain words: tiers, the floor, capacity, order.

The list rule (``ScoringSettings``, defined once; :func:`list_rule_text` says it in words):

1. **Floor**: a customer whose probability *as displayed* (whole percent, :func:`shown_probability`)
   is below ``min_probability`` is not listed.
2. **Order**: tier first (highest first), then ``priority`` within the tier (revenue at risk, or
   probability), then probability, then customer_id. A customer with unknown ARR is ordered as
   if at the median ARR of the scored customers: a high-probability account is never dropped
   silently because its ARR is missing (its ``revenue_at_risk`` stays empty).
3. **Capacity**: customers are taken in that order while their owner has fewer than
   ``capacity_per_owner`` and the list fewer than ``list_size``.

So no lower-tier customer takes a place while a higher-tier customer of the same owner waits:
within an owner, places go strictly in tier order.

With ``rank_by: uplift`` (and an uplift model, ``churn.uplift``; without one the pipeline falls
back to "risk"), the floor and capacity stay, and step 2 becomes: **expected ARR saved**
(``churn.uplift.expected_arr_saved``: the play's estimated change in churn probability x ARR,
unknown ARR counted as the median) highest first, then probability, then customer_id; the tier
is shown but does not order, since a high-risk customer the play cannot help would otherwise
take the place of one it can save. A customer whose expected ARR saved is not positive (the
play is expected to do nothing, or to backfire) is not listed.

Tiers are assigned from the displayed probability, so a customer shown as "50%" is in the tier
that starts at 50%: the tier, the floor and the page's percentage cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churn.settings import ScoringSettings
from churn.uplift import expected_arr_saved

#: Probabilities are shown (and tiered, and compared with the floor) in whole percent.
SHOWN_DECIMALS = 2
#: The owner group of customers without an account owner (one shared capacity).
NO_OWNER = "Unassigned"


def shown_probability(probability: pd.Series | np.ndarray | float) -> np.ndarray:
    """The probability as displayed: rounded to whole percent (0.495 -> 0.50, half to even).

    The ONE rounding behind the tier, the floor and ``churn.outputs.format_probability``.
    """
    p = np.asarray(probability, dtype=float)
    return np.round(p * 100.0) / 100.0


def assign_tiers(probability: pd.Series, tiers: Sequence[tuple[str, float]]) -> pd.Series:
    """Risk tier of each probability: the first tier (highest first) its DISPLAYED value reaches."""
    p = shown_probability(probability.to_numpy(dtype=float))
    out = np.full(len(p), None, dtype=object)
    for name, bound in reversed(list(tiers)):
        out[p >= bound] = name
    return pd.Series(out, index=probability.index, name="risk_tier", dtype=object)


def _pct(bound: float) -> str:
    return f"{100 * bound:.0f}%"


def tier_bands_text(tiers: Sequence[tuple[str, float]]) -> str:
    """The tier bands in words: "high 50% and above; medium 25% to 49%; low below 25%"."""
    parts = []
    ordered = list(tiers)
    for i, (name, bound) in enumerate(ordered):
        upper = ordered[i - 1][1] if i else None
        if upper is None:
            parts.append(f"{name} {_pct(bound)} and above")
        elif bound <= 0:
            parts.append(f"{name} below {_pct(upper)}")
        else:
            parts.append(f"{name} {_pct(bound)} to {100 * upper - 1:.0f}%")
    return "; ".join(parts)


def by_uplift(scores: pd.DataFrame, settings: ScoringSettings) -> bool:
    """Whether the list goes by expected ARR saved: ``rank_by: uplift`` and an effect known."""
    return settings.rank_by == "uplift" and "uplift_effect" in scores.columns


def list_rule_text(settings: ScoringSettings) -> str:
    """The list rule and the tier bands, in plain words (for the page, workbooks, manifest)."""
    limits = []
    if settings.capacity_per_owner is not None:
        limits.append(f"at most {settings.capacity_per_owner} per account owner")
    if settings.list_size is not None:
        limits.append(
            f"{settings.list_size} in all" if limits else f"at most {settings.list_size} in all"
        )
    limit = " and ".join(limits) if limits else "with no limit on the number"
    floor = (
        f"Customers with a churn probability of {_pct(settings.min_probability)} or "
        f"more (as shown), {limit}."
    )
    if settings.rank_by == "uplift":
        return (
            f"{floor} Places go by expected ARR saved (the play's estimated effect on churn x "
            "ARR, from treated vs control outcomes of past weeks; unknown ARR counts as the "
            "median ARR), highest first; a customer the play is not expected to save is not "
            f"listed. Tiers are shown, not used to order: {tier_bands_text(settings.tiers)}."
        )
    order = (
        "revenue at risk (probability x ARR; unknown ARR counts as the median ARR)"
        if settings.priority == "revenue_at_risk"
        else "churn probability"
    )
    tiers = ", then ".join(name for name, _ in settings.tiers)
    return (
        f"{floor} Places go by risk tier first ({tiers}), then by {order}, so "
        "no lower-tier customer takes a place while a higher-tier customer of the same owner "
        f"waits. Tiers: {tier_bands_text(settings.tiers)}."
    )


def _typical_arr(scores: pd.DataFrame) -> pd.Series:
    """ARR with unknown values as the median ARR of the scored customers (for ordering only)."""
    arr = pd.to_numeric(scores["arr"], errors="coerce").astype(float)
    return arr.fillna(float(arr.median()) if arr.notna().any() else 0.0)


def saved_key(scores: pd.DataFrame) -> pd.Series:
    """Expected ARR saved for ordering under ``rank_by: uplift`` (unknown ARR = the median)."""
    return pd.Series(
        expected_arr_saved(scores["uplift_effect"], _typical_arr(scores)), scores.index
    )


def owner_groups(owners: pd.Series) -> pd.Series:
    """The capacity group of each customer: the owner's name, blank or missing -> "Unassigned"."""
    text = owners.astype(object).where(owners.notna(), None)
    out = [str(o).strip() if o is not None else "" for o in text]
    return pd.Series([o or NO_OWNER for o in out], index=owners.index, dtype=object)


def order_for_list(scores: pd.DataFrame, settings: ScoringSettings) -> pd.DataFrame:
    """Scores in list order: tier (highest first), priority, probability, customer_id (under
    ``rank_by: uplift`` with ``uplift_effect``: expected ARR saved, probability, customer_id).

    ``scores`` carries ``risk_tier``, ``churn_probability``, ``revenue_at_risk`` and ``arr``.
    """
    tier_rank = {name: i for i, (name, _) in enumerate(settings.tiers)}
    tier = scores["risk_tier"].map(tier_rank).fillna(len(tier_rank))
    if by_uplift(scores, settings):
        key, tier = saved_key(scores), 0  # see the module docstring: tiers do not order
    elif settings.priority == "revenue_at_risk":
        key = scores["churn_probability"] * _typical_arr(scores)
    else:
        key = scores["churn_probability"]
    frame = scores.assign(_tier=tier, _key=key)
    frame = frame.sort_values(
        ["_tier", "_key", "churn_probability", "customer_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    return frame.drop(columns=["_tier", "_key"]).reset_index(drop=True)


def above_floor(scores: pd.DataFrame, settings: ScoringSettings) -> pd.Series:
    """Whether each customer's displayed probability reaches the floor (``min_probability``)."""
    shown = shown_probability(scores["churn_probability"].to_numpy(dtype=float))
    return pd.Series(shown >= settings.min_probability, index=scores.index)


def listed_mask(scores: pd.DataFrame, settings: ScoringSettings) -> pd.Series:
    """Who is on the list (the module docstring's rule); ``scores`` in :func:`order_for_list`."""
    take = above_floor(scores, settings)
    if by_uplift(scores, settings):
        take &= (saved_key(scores) > 0).to_numpy()
    if settings.capacity_per_owner is not None:
        owners = scores.get("account_owner")
        owner = owner_groups(owners) if owners is not None else pd.Series(NO_OWNER, scores.index)
        place = take.astype(int).groupby(owner).cumsum()
        take &= place <= settings.capacity_per_owner
    if settings.list_size is not None:
        take &= take.astype(int).cumsum() <= settings.list_size
    return take.rename("listed")


def at_risk_list(scores: pd.DataFrame) -> pd.DataFrame:
    """The listed customers, in list order, with ``rank`` 1..n on the list."""
    listed = scores[scores["listed"]].reset_index(drop=True)
    listed.insert(0, "rank", np.arange(1, len(listed) + 1))
    return listed


def play_mix(listed: pd.DataFrame) -> dict[str, int]:
    """Customers per recommended play on the list (for the manifest), largest first."""
    if "recommended_play" not in listed.columns or not len(listed):
        return {}
    plays = listed["recommended_play"].dropna().astype(str)
    counts = plays.value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (-int(kv[1]), kv[0]))
    return {str(k): int(v) for k, v in ordered}


def tier_bands(settings: ScoringSettings) -> tuple[tuple[str, float], ...]:
    """The tier bands as (name, lower bound) pairs, highest first (the settings' one definition)."""
    return tuple((str(n), float(b)) for n, b in settings.tiers)


def whole_percent_problems(settings: ScoringSettings) -> list[str]:
    """Tier bounds and the floor must be whole percents, or display and tier could disagree."""
    values: Mapping[str, float] = {
        **{f"scoring.tiers[{name}]": b for name, b in settings.tiers},
        "scoring.min_probability": settings.min_probability,
    }
    return [
        f"{key} is {v!r}; use a whole percent (e.g. {round(v, 2)}): probabilities are shown "
        "and tiered in whole percent"
        for key, v in values.items()
        if abs(v * 100 - round(v * 100)) > 1e-9
    ]
