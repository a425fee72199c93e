"""``churn record``: the plays the account teams ran, read back into the dataset's actions table.

Sources are the owners' returned workbooks (``owners/<owner>.xlsx`` of a week folder, with a
Status column filled in; Outcome, Started, Closed and Note when present) or CSV files with the
actions table's columns (``churn.contract.ACTIONS``). Every source is checked before anything is
written (``churn.actions.check_actions``): one problem anywhere and nothing is recorded (exit 2).
The table, ``<dataset folder>/actions.csv``, is then replaced atomically under a lock; a rerun
of the same sources adds and changes nothing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from churn.errors import ChurnError

log = logging.getLogger(__name__)

ACTIONS_FILE = "actions.csv"


@dataclass(frozen=True)
class RecordResult:
    """What ``churn record`` did."""

    path: Path
    added: int
    changed: int
    total: int
    read: dict[str, int]


def actions_path(data: Path) -> Path:
    """Where the dataset's actions table lives: ``actions.csv`` beside its tables."""
    data = Path(data)
    return (data if data.is_dir() else data.parent) / ACTIONS_FILE


def read_actions(path: Path) -> pd.DataFrame:
    """The recorded actions table (empty when none was recorded yet)."""
    from churn.actions import ACTION_COLUMNS, empty_actions

    if not Path(path).is_file():
        return empty_actions()
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = raw.reindex(columns=ACTION_COLUMNS).replace("", None)
    for c in ("started_at", "closed_at"):
        frame[c] = pd.to_datetime(frame[c], format="mixed").astype("datetime64[ns]")
    for c in ACTION_COLUMNS:
        if c not in ("started_at", "closed_at"):
            frame[c] = frame[c].astype("string")
    return frame


def _read_workbook(path: Path) -> tuple[pd.DataFrame, str | None, pd.Timestamp | None]:
    """The "At risk" sheet of a returned workbook, its owner and its week (front sheet)."""
    try:
        book = pd.read_excel(path, sheet_name=None, dtype=object)
        heads = pd.read_excel(path, sheet_name=None, dtype=object, header=None, nrows=12)
    except Exception as exc:  # a corrupt or foreign file: say which, without a traceback
        raise ChurnError(f"{path}: cannot be read as an Excel workbook ({exc})") from None
    sheet = book.get("At risk", next(iter(book.values())))
    # The front sheet ("Summary"; "About" in older workbooks) has no header row: key | value.
    front = heads.get("Summary", heads.get("About"))
    notes: dict[str, object] = {}
    if front is not None and front.shape[1] >= 2:
        notes = {str(k): v for k, v in front.iloc[:, :2].itertuples(index=False) if k == k}
    week = notes.get("Week (as_of)")
    as_of = pd.to_datetime(week, errors="coerce") if week is not None else None
    owner = notes.get("Owner")
    return sheet, (str(owner) if owner is not None else None), as_of


def _read_source(path: Path) -> tuple[pd.DataFrame, int, pd.Timestamp | None]:
    """Actions rows of one source (raw, as text), the file row number of its first row, and
    the week of a workbook (None for a CSV)."""
    from churn.actions import workbook_actions

    if not path.is_file():
        raise ChurnError(f"{path}: no such file; pass returned owner workbooks (.xlsx) or CSVs")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        sheet, owner, as_of = _read_workbook(path)
        return workbook_actions(sheet, owner, as_of), 2, as_of
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ChurnError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    return (
        pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).replace("", None),
        2,
        None,
    )


def run_record(
    data: Path,
    sources: list[Path],
    config: Path | None = None,
    now: pd.Timestamp | None = None,
) -> RecordResult:
    """The ``churn record`` command: check every source, then record them all or nothing."""
    from churn._files import exclusive_lock, write_bytes_atomically
    from churn.actions import ActionsError, check_actions, merge_actions, restart_changed_plays
    from churn.data import load_dataset
    from churn.settings import load_settings

    if not sources:
        raise ChurnError("nothing to record: pass --from with a returned workbook or a CSV")
    settings = load_settings(config)
    tables = load_dataset(data)
    plays = [*settings.scoring.playbook.values(), settings.scoring.default_play]
    customers = tables.customers["customer_id"].astype(str)
    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now().normalize()
    checked, problems, read = [], [], {}
    for source in map(Path, sources):
        raw, first, week = _read_source(source)
        try:
            rows = check_actions(
                raw, customers=customers, plays=plays, source=str(source), now=now, first_row=first
            )
        except ActionsError as exc:
            problems += [f"{source}: {p}" for p in exc.problems]
            continue
        checked.append((rows, week))
        read[str(source)] = len(rows)
    if problems:
        raise ActionsError(problems, f"{len(sources)} source(s)")
    target = actions_path(data)
    with exclusive_lock(target.with_name(".actions.lock"), f"the actions table {target}"):
        existing = read_actions(target)
        # A workbook row whose recommended play changed is a new action (not the old play's).
        incoming = pd.concat(
            [restart_changed_plays(r, existing, w) for r, w in checked], ignore_index=True
        )
        table, added, changed = merge_actions(existing, incoming)
        if added or changed:
            text = table.to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S")
            write_bytes_atomically(target, text.encode("utf-8"))
    log.info("actions: %d added, %d changed, %d in all (%s)", added, changed, len(table), target)
    return RecordResult(target, added, changed, len(table), read)
