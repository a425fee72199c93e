"""Plays recorded: the optional ``actions`` table, checked, merged and read back onto the list.

``churn record`` reads the owners' returned workbooks (or a CSV with the table's columns) into
``<dataset folder>/actions.csv`` (``churn.contract.ACTIONS``). Here, pure and over frames:

- :func:`workbook_actions`: the rows of one returned workbook (its "At risk" sheet as a frame)
  that carry a status, as actions rows (play = the recommended play, owner = the workbook's
  owner, started_at = its week unless a Started column says otherwise);
- :func:`check_actions`: every problem at once (missing column, unknown customer, unknown play or
  status, unreadable date, closed before started, closed while still open, started in the
  future), each naming the file, the rows and how to fix it, as one :class:`ActionsError`;
- :func:`merge_actions`: the table updated with new rows; idempotent: a row is keyed by
  (customer_id, play, started_at), so recording the same file twice adds and changes nothing;
- :func:`restart_changed_plays`: a returned workbook's row whose play is not the customer's
  recorded play of that start is a new action, started at the workbook's week;
- :func:`mark_play_status`: the list's customers with a play still open at as_of, marked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from churn.contract import ACTION_OPEN_STATUSES, ACTION_STATUSES, ACTIONS
from churn.errors import ChurnError

ACTION_COLUMNS = [c.name for c in ACTIONS.columns]
KEY = ["customer_id", "play", "started_at"]
#: Suggested outcomes (the owner workbook's dropdown); the column stays free text.
ACTION_OUTCOMES: tuple[str, ...] = ("saved", "renewed", "downgraded", "lost", "no answer")
_TEXT = ["owner", "outcome", "note"]
_DATES = ["started_at", "closed_at"]
#: Workbook headers (lower case) -> actions columns. The list's own headers come first.
WORKBOOK_HEADERS = {
    "customer id": "customer_id",
    "customer_id": "customer_id",
    "recommended play": "play",
    "play": "play",
    "status": "status",
    "outcome": "outcome",
    "started": "started_at",
    "started at": "started_at",
    "started_at": "started_at",
    "closed": "closed_at",
    "closed at": "closed_at",
    "closed_at": "closed_at",
    "note": "note",
    "notes": "note",
    "owner": "owner",
}


class ActionsError(ChurnError):
    """An actions file (or workbook) cannot be recorded; every problem is one line."""

    def __init__(self, problems: Sequence[str], source: str) -> None:
        self.problems = tuple(problems)
        n = len(self.problems)
        head = f"{source}: {n} problem{'s' * (n != 1)}, nothing was recorded:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


def empty_actions() -> pd.DataFrame:
    """The actions table with no rows, its columns and dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in ACTION_COLUMNS})
    for c in _DATES:
        frame[c] = pd.Series(dtype="datetime64[ns]")
    return frame


def _clean_status(s: pd.Series) -> pd.Series:
    text = s.astype("string").str.strip().str.lower()
    return text.str.replace(r"[_\-]+", " ", regex=True).str.replace(r"\s+", " ", regex=True)


def _rows(mask: pd.Series | np.ndarray, frame: pd.DataFrame, col: str, first_row: int) -> str:
    """ "rows 2, 5 (e.g. 'x', 'y')": spreadsheet row numbers (header = first_row - 1)."""
    idx = np.flatnonzero(np.asarray(mask))
    where = ", ".join(str(first_row + i) for i in idx[:5]) + (" ..." if len(idx) > 5 else "")
    shown = ", ".join(repr(str(v)) for v in frame[col].to_numpy()[idx[:3]])
    return f"{len(idx)} row{'s' * (len(idx) != 1)} ({where}; e.g. {shown})"


def check_actions(
    raw: pd.DataFrame,
    *,
    customers: Iterable[str],
    plays: Iterable[str],
    source: str,
    now: pd.Timestamp | None = None,
    first_row: int = 2,
) -> pd.DataFrame:
    """The rows of an actions file, normalised (columns ``ACTION_COLUMNS``), or every problem.

    ``customers``: the dataset's customer_ids; ``plays``: the playbook's plays (matched without
    regard to case); ``now``: no play may start after it; ``first_row``: the file's row number of
    the first data row, for messages.

    Raises
    ------
    ActionsError
        Naming each problem with its rows and how to fix it; nothing is returned then.
    """
    missing = [c for c in ACTIONS.required_columns if c not in raw.columns]
    if missing:
        raise ActionsError(
            [
                f"missing column(s) {', '.join(missing)}; the columns are {', '.join(ACTION_COLUMNS)}"
            ],
            source,
        )
    frame = raw.reindex(columns=ACTION_COLUMNS).reset_index(drop=True)
    problems: list[str] = []
    ids = frame["customer_id"].astype("string").str.strip()
    frame["customer_id"] = ids
    unknown = ids.isna() | ~ids.isin(set(map(str, customers)))
    if unknown.any():
        problems.append(
            f"customer_id: {_rows(unknown, frame, 'customer_id', first_row)} not in the "
            "customers table; check the id (or load the dataset the list was made from)"
        )
    canon = {p.strip().lower(): p for p in plays}
    play = frame["play"].astype("string").str.strip()
    frame["play"] = play.str.lower().map(canon)
    bad = frame["play"].isna()
    if bad.any():
        problems.append(
            f"play: {_rows(bad, raw.reset_index(drop=True), 'play', first_row)} not in the "
            f"playbook; use one of: {'; '.join(sorted(canon.values()))}"
        )
    frame["status"] = _clean_status(frame["status"])
    bad = ~frame["status"].isin(ACTION_STATUSES)
    if bad.any():
        problems.append(
            f"status: {_rows(bad, raw.reset_index(drop=True), 'status', first_row)} unknown; "
            f"use one of: {', '.join(ACTION_STATUSES)}"
        )
    problems += _check_dates(frame, raw.reset_index(drop=True), now, first_row)
    if problems:
        raise ActionsError(problems, source)
    for c in _TEXT:
        text = frame[c].astype("string").str.strip()
        frame[c] = text.where(text != "")
    return frame[ACTION_COLUMNS].astype({c: "str" for c in ["customer_id", "play", "status"]})


def _check_dates(
    frame: pd.DataFrame, raw: pd.DataFrame, now: pd.Timestamp | None, first_row: int
) -> list[str]:
    """Parse started_at / closed_at in place; the problems with them."""
    problems = []
    for c in _DATES:
        given = raw[c].notna() & (raw[c].astype("string").str.strip() != "")
        parsed = pd.to_datetime(raw[c], errors="coerce", format="mixed")
        bad = given & parsed.isna()
        if c == "started_at":
            bad = bad | ~given
        if bad.any():
            problems.append(
                f"{c}: {_rows(bad, raw, c, first_row)} "
                + ("empty or " if c == "started_at" else "")
                + "not a date; write it as YYYY-MM-DD"
            )
        frame[c] = parsed.astype("datetime64[ns]")
    before = frame["closed_at"] < frame["started_at"]
    if before.any():
        problems.append(
            f"closed_at: {_rows(before, raw, 'closed_at', first_row)} before started_at; "
            "a play cannot end before it starts"
        )
    open_closed = frame["status"].isin(ACTION_OPEN_STATUSES) & frame["closed_at"].notna()
    if open_closed.any():
        problems.append(
            f"closed_at: {_rows(open_closed, raw, 'closed_at', first_row)} set while the status "
            "is planned or in progress; set the status to done or not done, or clear closed_at"
        )
    if now is not None:
        future = frame["started_at"] > now
        if future.any():
            problems.append(
                f"started_at: {_rows(future, raw, 'started_at', first_row)} after today "
                f"({pd.Timestamp(now).date()}); a play is recorded once it started"
            )
    return problems


def workbook_actions(
    sheet: pd.DataFrame, owner: str | None, as_of: pd.Timestamp | None
) -> pd.DataFrame:
    """Actions rows of one returned workbook's "At risk" sheet (headers as written there).

    Only rows whose Status cell is filled are plays; without a Status column there are none.
    The play is the row's Play (or Recommended play), the owner the workbook's, and the start
    the workbook's week unless a Started column gives it.
    """
    renamed = sheet.rename(columns=lambda h: WORKBOOK_HEADERS.get(str(h).strip().lower(), h))
    renamed = renamed.loc[:, ~renamed.columns.duplicated()]
    if "status" not in renamed.columns:
        return empty_actions()
    status = renamed["status"].astype("string").str.strip()
    rows = renamed[status.notna() & (status != "")].copy()
    if "owner" not in rows.columns:
        rows["owner"] = owner
    if "started_at" not in rows.columns:
        rows["started_at"] = as_of
    rows["started_at"] = rows["started_at"].where(rows["started_at"].notna(), as_of)
    return rows.reindex(columns=ACTION_COLUMNS).reset_index(drop=True)


def restart_changed_plays(
    rows: pd.DataFrame, existing: pd.DataFrame, week: pd.Timestamp | None
) -> pd.DataFrame:
    """Rows of a returned workbook whose play changed become new actions started at its week.

    The workbook pre-fills Started with the start of the customer's open play, so that a Status
    filled in updates that play. When this week's recommended play is another one, the row is
    a new action: its start is the workbook's week, not the old play's start (the old play is
    left as it was). Rows whose (customer, start) has no recorded play are unchanged.
    """
    if week is None or not len(rows) or not len(existing):
        return rows
    recorded = existing.groupby(["customer_id", "started_at"])["play"].agg(frozenset)
    keys = pd.MultiIndex.from_arrays([rows["customer_id"], rows["started_at"]])
    plays = recorded.reindex(keys).to_numpy()
    changed = np.array(
        [
            isinstance(p, frozenset) and play not in p
            for p, play in zip(plays, rows["play"], strict=True)
        ],
        dtype=bool,
    )
    changed &= (rows["started_at"] < pd.Timestamp(week)).to_numpy()
    out = rows.copy()
    out.loc[changed, "started_at"] = pd.Timestamp(week)
    return out


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a == b).fillna(False) | (a.isna() & b.isna())


def merge_actions(existing: pd.DataFrame, incoming: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """``(table, added, changed)``: ``incoming`` recorded into ``existing``.

    A row is one (customer_id, play, started_at): a new key is added, a known one whose status,
    outcome, closed_at, owner or note differ is changed (the incoming values win), an identical
    one is left alone, so a rerun adds and changes nothing. Within ``incoming`` the last row of a
    key wins. The table comes back sorted by key.
    """
    incoming = incoming.drop_duplicates(KEY, keep="last")
    old = existing.set_index(KEY)
    new = incoming.set_index(KEY)
    known = new.index.isin(old.index)
    added = int((~known).sum())
    common = new[known]
    before = old.loc[common.index, common.columns]
    differs = ~pd.concat([_same(common[c], before[c]) for c in common.columns], axis=1).all(axis=1)
    changed = int(differs.sum())
    table = pd.concat([old[~old.index.isin(new.index)], new]).reset_index()
    table = table.reindex(columns=ACTION_COLUMNS)
    table = table.sort_values(KEY, kind="stable", ignore_index=True)
    return table, added, changed


def mark_play_status(
    scores: pd.DataFrame, actions: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """``scores`` with ``play_status`` and ``play_started_at``: the customer's latest play
    started before as_of and still open then ("planned" / "in progress"), else empty.

    Open at as_of: started before it, and neither closed before it nor recorded as done / not
    done (a status known today; the table has no history of statuses, so a play closed later
    without a closed_at counts as closed). The list shows these customers as already being
    worked on rather than as new.
    """
    as_of = pd.Timestamp(as_of)
    a = actions[actions["started_at"] < as_of]
    still_open = a["status"].isin(ACTION_OPEN_STATUSES) | (a["closed_at"] >= as_of)
    a = a[still_open & ~(a["closed_at"] < as_of)]
    latest = a.sort_values(["started_at", "play"], kind="stable").drop_duplicates(
        "customer_id", keep="last"
    )
    status = latest["status"].where(latest["status"].isin(ACTION_OPEN_STATUSES), "in progress")
    found = pd.DataFrame(
        {
            "customer_id": latest["customer_id"].astype(str).to_numpy(),
            "play_status": status.astype(object).to_numpy(),
            "play_started_at": latest["started_at"].astype("datetime64[ns]").to_numpy(),
        }
    )
    out = scores.copy()
    ids = pd.DataFrame({"customer_id": scores["customer_id"].astype(str).to_numpy()})
    joined = ids.merge(found, on="customer_id", how="left")
    out["play_status"] = joined["play_status"].to_numpy()
    out["play_started_at"] = joined["play_started_at"].to_numpy()
    return out
