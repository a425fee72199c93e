"""What changed since last week: moves on the list, who dropped off and why, the trend.

Pure assembly over frames the shell read from earlier week folders (``churn.outputs.store``):

- :func:`compare_with_previous`: new / up / down / same, with last week's rank and probability;
- :func:`dropped_off`: each customer on last week's list not on this week's, named, with
  ``why`` (:data:`DROPPED_WHY`);
- :func:`what_changed`: for a customer new on the list or moved up, the reason whose size grew
  most since last week, as a sentence;
- :func:`probability_trend`: the customer's probability over the past weeks, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from churn.scoring.listing import above_floor
from churn.settings import ScoringSettings

#: Why a customer left the list (``excluded: <reason>`` carries the exclusion's reason too).
WHY_CHURNED = "churned"
WHY_BELOW_FLOOR = "below the floor"
WHY_INACTIVE = "no longer active"
WHY_DISPLACED = "displaced by capacity"
WHY_EXCLUDED = "excluded"
DROPPED_WHY = (WHY_CHURNED, WHY_BELOW_FLOOR, WHY_INACTIVE, WHY_DISPLACED, WHY_EXCLUDED)
DROPPED_COLUMNS = [
    "customer_id",
    "name",
    "account_owner",
    "arr",
    "previous_rank",
    "previous_probability",
    "churn_probability",
    "why",
]
#: Weeks in ``probability_trend`` (this week included).
TREND_WEEKS = 8


def compare_with_previous(
    current: pd.DataFrame,
    previous_list: pd.DataFrame | None,
    previous_scores: pd.DataFrame | None,
    tolerance: float = 0.01,
) -> pd.DataFrame:
    """Add what changed since last week's list to this week's list.

    Columns added: ``change`` ("new": not on last week's list; "up"/"down": probability moved
    by at least ``tolerance``; "same"), ``previous_rank`` (on last week's list),
    ``previous_probability`` (last week's score, from last week's scores when the customer was
    scored but not listed) and ``probability_change`` (this week minus last week, in probability).
    With no previous week every customer is "new" and the previous columns are empty.
    """
    out = current.copy()
    prev_list = previous_list if previous_list is not None else pd.DataFrame()
    prev_scores = previous_scores if previous_scores is not None else pd.DataFrame()
    prev_p = pd.Series(dtype=float)
    if {"customer_id", "churn_probability"} <= set(prev_scores.columns):
        prev_p = prev_scores.set_index(prev_scores["customer_id"].astype(str))["churn_probability"]
    if {"customer_id", "churn_probability"} <= set(prev_list.columns):
        listed_p = prev_list.set_index(prev_list["customer_id"].astype(str))["churn_probability"]
        prev_p = pd.concat([listed_p, prev_p[~prev_p.index.isin(listed_p.index)]])
    prev_rank = pd.Series(dtype=float)
    if {"customer_id", "rank"} <= set(prev_list.columns):
        prev_rank = prev_list.set_index(prev_list["customer_id"].astype(str))["rank"]
    ids = out["customer_id"].astype(str)
    out["previous_rank"] = ids.map(prev_rank).astype(float).to_numpy()
    out["previous_probability"] = ids.map(prev_p).astype(float).to_numpy()
    out["probability_change"] = out["churn_probability"] - out["previous_probability"]
    change = np.where(
        out["probability_change"] >= tolerance,
        "up",
        np.where(out["probability_change"] <= -tolerance, "down", "same"),
    ).astype(object)
    change[out["previous_rank"].isna().to_numpy()] = "new"
    out["change"] = change
    return out


def _by_id(frame: pd.DataFrame | None, column: str) -> pd.Series:
    if frame is None or not {"customer_id", column} <= set(frame.columns):
        return pd.Series(dtype=object)
    return frame.drop_duplicates("customer_id").set_index(frame["customer_id"].astype(str))[column]


def dropped_off(
    current: pd.DataFrame,
    previous_list: pd.DataFrame | None,
    scores: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    churned: Iterable[str] = (),
    settings: ScoringSettings | None = None,
) -> pd.DataFrame:
    """Each customer on last week's list who is not on this week's, named, with ``why``.

    Parameters
    ----------
    current
        This week's list (``customer_id``).
    previous_list
        Last week's list (``customer_id``, ``rank``, ``churn_probability``, name, owner, ARR).
    scores, excluded
        This week's scored customers and excluded ones (``customer_id``, ``reason``).
    churned
        Customers known to have churned before this week's as_of.
    settings
        The list's settings (the floor), to tell "below the floor" from "displaced by capacity".

    Returns
    -------
    DataFrame
        :data:`DROPPED_COLUMNS`, in last week's rank order. ``why``: "churned"; "excluded:
        <reason>" (active but not scored); "below the floor" (scored under the probability
        floor: recovered); "displaced by capacity" (above the floor, but its owner's or the
        list's places went to customers ahead of it); "no longer active" (otherwise: not active
        at as_of without a known churn date, e.g. churn by inactivity).
    """
    if previous_list is None or "customer_id" not in previous_list.columns:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DROPPED_COLUMNS})
    prev = previous_list.assign(customer_id=previous_list["customer_id"].astype(str))
    gone = prev[~prev["customer_id"].isin(current["customer_id"].astype(str))]
    if "rank" in gone.columns:
        gone = gone.sort_values("rank", kind="stable")
    ids = gone["customer_id"]
    out = pd.DataFrame({"customer_id": ids.to_numpy()})
    for col in ("name", "account_owner"):
        out[col] = gone[col].to_numpy() if col in gone else None
    for col, source in (
        ("arr", "arr"),
        ("previous_rank", "rank"),
        ("previous_probability", "churn_probability"),
    ):
        values = gone[source] if source in gone else pd.Series(np.nan, index=gone.index)
        out[col] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    scored = scores if scores is not None else pd.DataFrame(columns=["customer_id"])
    p_now = _by_id(scored, "churn_probability")
    out["churn_probability"] = ids.map(p_now).astype(float).to_numpy()
    floor_ok = _by_id(
        scored.assign(_ok=above_floor(scored, settings or ScoringSettings()))
        if len(scored)
        else None,
        "_ok",
    )
    reason = _by_id(excluded, "reason")
    churned_set = {str(c) for c in churned}
    why = []
    for cid in ids:
        if cid in churned_set:
            why.append(WHY_CHURNED)
        elif cid in reason.index:
            why.append(f"{WHY_EXCLUDED}: {reason[cid]}")
        elif cid in floor_ok.index:
            why.append(WHY_DISPLACED if bool(floor_ok[cid]) else WHY_BELOW_FLOOR)
        else:
            why.append(WHY_INACTIVE)
    out["why"] = pd.Series(why, dtype=object)
    return out[DROPPED_COLUMNS]


def dropped_counts(dropped: pd.DataFrame) -> dict[str, int]:
    """Dropped-off customers per kind of ``why`` (for the manifest)."""
    if "why" not in dropped.columns or not len(dropped):
        return {}
    kinds = dropped["why"].astype(str).str.split(":").str[0]
    return {str(k): int(v) for k, v in kinds.value_counts().sort_index().items()}


def _reason_effects(row: pd.Series, k: int) -> dict[str, tuple[str, float]]:
    """feature -> (sentence, effect) of one row's reasons."""
    out: dict[str, tuple[str, float]] = {}
    for i in range(1, k + 1):
        feat = row.get(f"reason_{i}_feature")
        effect = row.get(f"reason_{i}_effect")
        if isinstance(feat, str) and feat and effect is not None and pd.notna(effect):
            out[feat] = (str(row.get(f"reason_{i}") or ""), float(effect))
    return out


def what_changed(listed: pd.DataFrame, previous_scores: pd.DataFrame | None, k: int) -> pd.Series:
    """For a customer new on the list or moved up: the reason that grew most since last week.

    Compares this week's reasons (``reason_i_feature`` / ``reason_i_effect``, in probability)
    with the same customer's reasons in last week's scores (a feature that was not among them
    counts as 0 points then). The sentence is the reason's own, with its growth:
    "3 complaints open for more than 14 days (new since last week, +12 pts)" or
    "... (up 5 pts since last week)". Empty for customers who did not move up, whose reasons
    all shrank, or without a previous week; "Not scored last week" for one with no score then.
    """
    out = pd.Series("", index=listed.index, dtype=object, name="what_changed")
    if previous_scores is None or "customer_id" not in previous_scores.columns or not len(listed):
        return out
    prev = previous_scores.drop_duplicates("customer_id")
    prev = prev.set_index(prev["customer_id"].astype(str))
    change = listed["change"] if "change" in listed.columns else pd.Series("new", listed.index)
    for idx, row in listed.iterrows():
        if change[idx] not in ("new", "up"):
            continue
        cid = str(row["customer_id"])
        if cid not in prev.index:
            out[idx] = "Not scored last week"
            continue
        before = _reason_effects(prev.loc[cid], k)
        best = None
        for feat, (text, effect) in _reason_effects(row, k).items():
            grew = effect - before.get(feat, ("", 0.0))[1]
            if round(100 * grew) >= 1 and (best is None or grew > best[2]):
                best = (text, feat not in before, grew)
        if best is not None:
            text, is_new, grew = best
            pts = round(100 * grew)
            out[idx] = (
                f"{text} (new since last week, +{pts} pts)"
                if is_new
                else f"{text} (up {pts} pts since last week)"
            )
    return out


def _fmt_trend(p: float) -> str:
    return "-" if p is None or not np.isfinite(p) else f"{p:.3f}"


def probability_trend(
    listed: pd.DataFrame, past: Sequence[pd.DataFrame | None], weeks: int = TREND_WEEKS
) -> pd.Series:
    """Each customer's probability over the past weeks and this one, oldest first.

    Parameters
    ----------
    listed
        This week's customers (``customer_id``, ``churn_probability``).
    past
        The earlier weeks' scores, oldest first, one per week on the cadence (``None`` for a
        week without a folder); only the last ``weeks - 1`` are used, and leading weeks before
        the first folder found are left out.

    Returns
    -------
    Series of str
        Space-separated probabilities with 3 decimals, "-" for a week without a score; the
        last value is this week's (``probability_trend``).
    """
    past = list(past)[-(weeks - 1) :] if weeks > 1 else []
    while past and past[0] is None:
        past.pop(0)
    ids = listed["customer_id"].astype(str)
    columns = [ids.map(_by_id(frame, "churn_probability")).astype(float) for frame in past]
    columns.append(listed["churn_probability"].astype(float))
    values = np.column_stack([c.to_numpy(dtype=float) for c in columns])
    text = [" ".join(_fmt_trend(v) for v in row) for row in values]
    return pd.Series(text, index=listed.index, dtype=object, name="probability_trend")
