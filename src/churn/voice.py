"""Voice of the customer: the latest NPS verbatim and the latest complaint or open incident.

What the contact centre heard, beside the reasons, as it was known at ``as_of`` (the same
visibility rule as the features, ``churn.features.engine``):

- **NPS**: the latest *answered* survey whose answer was given and recorded strictly before
  ``as_of`` (``max(timestamp, recorded_at) < as_of``): its score, answer time and verbatim
  (``comment``, empty when the customer wrote none). A survey answered at or after ``as_of`` is
  pending then and shows nothing new.
- **Issue**: the latest interaction opened and recorded strictly before ``as_of`` that is a
  complaint (open or resolved) or an incident still open at ``as_of``. Its status is "resolved"
  only if the resolution happened and reached the data before ``as_of``
  (``max(resolved_at, recorded_at) < as_of``), otherwise "open"; its age is whole days from
  opening to ``as_of``.

Pure: tables in, a frame out. Nothing at or after ``as_of`` can change a value here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from churn.contract import Tables

VOICE_COLUMNS = [
    "last_nps_score",
    "last_nps_at",
    "last_nps_comment",
    "last_issue_category",
    "last_issue_at",
    "last_issue_status",
    "last_issue_age_days",
]
OPEN, RESOLVED = "open", "resolved"


def _ts(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    return pd.to_datetime(frame[column], errors="coerce")


def _latest(frame: pd.DataFrame, at: str) -> pd.DataFrame:
    """The row with the latest ``at`` per customer (ties: the last in input order)."""
    ordered = frame.assign(_pos=np.arange(len(frame))).sort_values(
        ["customer_id", at, "_pos"], kind="stable"
    )
    return ordered.drop_duplicates("customer_id", keep="last").set_index("customer_id")


def last_nps(nps: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per customer: score, time and verbatim of the latest answer known before ``as_of``."""
    t = _ts(nps, "timestamp")
    known = np.maximum(t, _ts(nps, "recorded_at").fillna(t))
    score = pd.to_numeric(nps.get("score"), errors="coerce")
    seen = t.notna() & score.notna() & (t < as_of) & (known < as_of)
    rows = pd.DataFrame(
        {
            "customer_id": nps.loc[seen, "customer_id"].astype(str),
            "last_nps_score": score[seen].astype(float),
            "last_nps_at": t[seen],
            "last_nps_comment": _comments(nps.loc[seen]),
        }
    )
    return _latest(rows, "last_nps_at")


def _comments(nps: pd.DataFrame) -> pd.Series:
    if "comment" not in nps.columns:
        return pd.Series(None, index=nps.index, dtype=object)
    text = nps["comment"].astype(object).where(nps["comment"].notna(), None)
    clean = [str(c).strip() if c is not None else "" for c in text]
    return pd.Series([c or None for c in clean], index=nps.index, dtype=object)


def _slugs(values: Iterable[str]) -> set[str]:
    return {str(v).strip().lower() for v in values}


def last_issue(
    interactions: pd.DataFrame,
    as_of: pd.Timestamp,
    complaints: Sequence[str] = ("complaint",),
    incidents: Sequence[str] = ("incident",),
) -> pd.DataFrame:
    """Per customer: the latest complaint or open incident known before ``as_of``."""
    t = _ts(interactions, "timestamp")
    rec = _ts(interactions, "recorded_at").fillna(t)
    seen = t.notna() & (t < as_of) & (rec < as_of)
    resolved_at = _ts(interactions, "resolved_at")
    resolved = resolved_at.notna() & (np.maximum(resolved_at, rec) < as_of)
    category = interactions.get("category", pd.Series("", index=interactions.index))
    kind = category.astype(object).where(category.notna(), "").astype(str).str.strip().str.lower()
    is_complaint = kind.isin(_slugs(complaints))
    is_open_incident = kind.isin(_slugs(incidents)) & ~resolved
    pick = seen & (is_complaint | is_open_incident)
    rows = pd.DataFrame(
        {
            "customer_id": interactions.loc[pick, "customer_id"].astype(str),
            "last_issue_category": category[pick].astype(object),
            "last_issue_at": t[pick],
            "last_issue_status": np.where(resolved[pick], RESOLVED, OPEN).astype(object),
            "last_issue_age_days": ((as_of - t[pick]).dt.total_seconds() // 86400).astype(float),
        }
    )
    return _latest(rows, "last_issue_at")


def voice_of_customer(
    tables: Tables,
    as_of: pd.Timestamp,
    customer_ids: Iterable[str],
    complaints: Sequence[str] = ("complaint",),
    incidents: Sequence[str] = ("incident",),
) -> pd.DataFrame:
    """:data:`VOICE_COLUMNS` for ``customer_ids`` (index, in that order) at ``as_of``.

    Customers with no answered survey or no such issue get empty values (NaN / NaT / None).
    """
    as_of = pd.Timestamp(as_of)
    ids = pd.Index([str(c) for c in customer_ids], name="customer_id")
    nps = last_nps(tables.nps, as_of).reindex(ids)
    issue = last_issue(tables.interactions, as_of, complaints, incidents).reindex(ids)
    out = pd.concat([nps, issue], axis=1)
    for col in ("last_nps_comment", "last_issue_category", "last_issue_status"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    for col in ("last_nps_at", "last_issue_at"):
        out[col] = pd.to_datetime(out[col]).astype("datetime64[ns]")
    return out[VOICE_COLUMNS]
