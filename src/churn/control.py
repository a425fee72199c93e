"""The control group: a share of each week's list held out, so the plays' effect can be measured.

Targeting the customers most likely to leave is not the same as targeting those a play can save
(Ascarza 2018: outreach raised churn for some). Only customers who were listed but *not*
contacted tell what would have happened without the play, so each week a share of the listed
customers (``control.share``, 10% by default) is held out: recorded in ``control.csv``, left out
of the owners' workbooks and of the page list.

The draw is
- **stratified** by risk tier and account owner: each (tier, owner) stratum holds out its share,
  rounded down or up (systematic sampling over the strata in a fixed order, so the total is the
  share of the whole list, to within one customer);
- **reproducible**: every customer's position inside its stratum is a hash of (seed, as_of,
  customer_id) and the start of the systematic walk a hash of (seed, as_of): the same week gives
  the same control group, whatever the order of the rows, and another week another draw.

Pure: the listed frame in, ``(sent, control)`` out.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

#: Columns of control.csv (those the list has).
CONTROL_COLUMNS = [
    "as_of",
    "rank",
    "customer_id",
    "name",
    "account_owner",
    "segment",
    "plan",
    "arr",
    "churn_probability",
    "risk_tier",
    "revenue_at_risk",
    "days_to_renewal",
    "recommended_play",
    "stratum",
]
UNASSIGNED = "Unassigned"


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts' text: the same parts, the same number."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def strata(listed: pd.DataFrame) -> pd.Series:
    """Each listed customer's stratum: ``"<risk tier> / <account owner>"``."""
    tier = listed.get("risk_tier", pd.Series("", index=listed.index)).fillna("").astype(str)
    owner = listed.get("account_owner", pd.Series(None, index=listed.index))
    owner = owner.astype(object).where(owner.notna() & (owner.astype(str).str.strip() != ""))
    return tier + " / " + owner.fillna(UNASSIGNED).astype(str)


def control_mask(
    listed: pd.DataFrame, as_of: pd.Timestamp, share: float, seed: int = 0
) -> pd.Series:
    """True for the customers held out this week (index of ``listed``); see the module."""
    if share <= 0 or not len(listed):
        return pd.Series(False, index=listed.index)
    day = pd.Timestamp(as_of).date().isoformat()
    ids = listed["customer_id"].astype(str)
    order = pd.DataFrame(
        {
            "stratum": strata(listed),
            "key": [_unit(seed, day, cid) for cid in ids],
            "customer_id": ids,
        },
        index=listed.index,
    ).sort_values(["stratum", "key", "customer_id"], kind="stable")
    start = _unit(seed, day)
    i = np.arange(len(order))
    # Systematic sampling: row i is drawn when the running total share*i + start crosses an
    # integer; every stratum (a run of consecutive rows) gets floor or ceil of its share.
    picked = np.floor(share * (i + 1) + start) > np.floor(share * i + start)
    return pd.Series(picked, index=order.index).reindex(listed.index)


def draw_control(
    listed: pd.DataFrame, as_of: pd.Timestamp, share: float, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the week's list into ``(sent, control)``; both keep the list's ``rank``.

    ``sent`` goes to the owners (workbooks, page, at_risk.csv), with every customer whose play
    is open; ``control`` (columns
    ``CONTROL_COLUMNS`` that the list has, plus ``stratum``) is held out and written to
    control.csv. The ranks of the sent list keep their gaps: the rank is the place on the whole
    list, so a held-out customer's place is known.
    """
    # A customer whose play is already open (``play_status``, churn.actions.mark_play_status)
    # is being treated: holding them out would put a treated customer in the control arm and
    # hide them from the owner working on them. The draw is among the others.
    in_play = (
        listed["play_status"].notna()
        if "play_status" in listed.columns
        else pd.Series(False, index=listed.index)
    )
    held = pd.Series(False, index=listed.index)
    held[~in_play] = control_mask(listed[~in_play], as_of, share, seed).to_numpy(dtype=bool)
    control = listed[held].assign(stratum=strata(listed)[held], as_of=pd.Timestamp(as_of))
    control = control.reindex(columns=[c for c in CONTROL_COLUMNS if c in control.columns])
    return listed[~held].reset_index(drop=True), control.reset_index(drop=True)


def control_summary(listed: int, control: pd.DataFrame, share: float) -> str:
    """One plain sentence for the team lead's page: how many were held out and why."""
    n = len(control)
    if share <= 0:
        return (
            "No control group this week (control.share is 0): the plays' effect cannot be measured."
        )
    return (
        f"{n} of the {listed} listed customers ({share:.0%} drawn at random within each risk tier "
        "and owner) are held out as this week's control group: they are not sent to their "
        "owners, so that churn impact can compare what happens with and without the plays."
    )
