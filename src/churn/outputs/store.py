"""Week folders on disk: written all or nothing, recovered after a kill, read back.

Writing (:func:`write_week_atomically`) puts the whole week into a hidden temporary folder next
to the target (each file through ``churn._files``) and swaps it into place at the very end (an
atomic directory exchange on Linux, two renames elsewhere), so a process killed mid-write leaves
the previous complete folder and never a half-written list that someone might send to an
account team.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from churn._files import exclusive_lock, fsync_dir, write_bytes_atomically
from churn.errors import ChurnError

log = logging.getLogger(__name__)

#: Sleep this many seconds between files while writing a week (tests kill a slowed write).
WRITE_DELAY_ENV = "CHURN_WRITE_DELAY_S"
_TMP_MARK = ".tmp-"
_OLD_MARK = ".old-"
#: One writer at a time per output root: a second `churn score` for any week waits for the first.
LOCK_NAME = ".churn-write.lock"
#: How long a second writer waits for the first before giving up (seconds).
LOCK_WAIT_ENV = "CHURN_LOCK_WAIT_S"


def week_folder(root: Path, as_of: pd.Timestamp) -> Path:
    return Path(root) / pd.Timestamp(as_of).date().isoformat()


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def recover_week_folders(root: Path) -> None:
    """Clean up after a killed write: drop temporary folders, restore a half-swapped week.

    Hidden ``.<week>.tmp-*`` folders are incomplete writes (deleted). A ``.<week>.old-*`` folder
    whose week folder is missing means a kill between the two renames of the non-Linux swap: it
    is the previous complete week and is put back.
    """
    root = Path(root)
    if not root.is_dir():
        return
    for entry in sorted(root.iterdir()):
        if not entry.name.startswith("."):
            continue
        if _TMP_MARK in entry.name:
            shutil.rmtree(entry, ignore_errors=True)
        elif _OLD_MARK in entry.name:
            week = root / entry.name[1:].split(_OLD_MARK)[0]
            if week.exists():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                os.rename(entry, week)


def write_week_atomically(files: Mapping[str, bytes], target: Path) -> Path:
    """Write ``files`` as the folder ``target``, all or nothing, one writer at a time.

    Everything is written into a hidden temporary folder next to ``target`` (same file system,
    so the final rename is atomic), flushed to disk, and only then swapped with the previous
    folder. A kill at any point leaves either the previous complete folder or the new complete
    one, and at most a hidden temporary folder that the next write removes. The whole write
    holds an exclusive lock on the output root (``.churn-write.lock``): a second run waits
    (``CHURN_LOCK_WAIT_S`` seconds, default 600) instead of deleting the first one's temporary
    folder, so two runs for the same week leave one complete week.

    Set the environment variable ``CHURN_WRITE_DELAY_S`` to sleep between files (tests kill a
    deliberately slowed write).

    Raises
    ------
    ChurnError
        When the output cannot be written (a file where the folder should be, no permission, a
        full disk), naming the path and the reason; nothing partial is left behind.
    """
    target = Path(target)
    root = target.parent
    try:
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(root))
        root.mkdir(parents=True, exist_ok=True)
        wait = float(os.environ.get(LOCK_WAIT_ENV) or 600)
        with exclusive_lock(root / LOCK_NAME, f"the week folders in {root}", wait_s=wait):
            # With the lock held no other writer is alive in this root, so every temporary
            # folder here belongs to a killed run and may go.
            recover_week_folders(root)
            _write_and_swap(files, target)
    except OSError as exc:
        where = exc.filename or target
        raise ChurnError(
            f"cannot write the week folder {target}: {where}: {exc.strerror or exc}; "
            "choose another --out, free disk space or fix the permissions"
        ) from None
    log.info("wrote %d files to %s", len(files), target)
    return target


def _write_and_swap(files: Mapping[str, bytes], target: Path) -> None:
    root = target.parent
    delay = float(os.environ.get(WRITE_DELAY_ENV) or 0)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_MARK}", dir=root))
    try:
        os.chmod(tmp, 0o755)
        for rel, data in files.items():
            path = (tmp / rel).resolve()
            # Paths are built by this module, but a name must never escape the folder.
            if tmp.resolve() not in path.parents:
                raise ValueError(f"refusing to write {rel!r} outside the week folder")
            write_bytes_atomically(path, data)
            if delay:
                time.sleep(delay)
        for sub in sorted({p.parent for p in tmp.rglob("*")} | {tmp}):
            fsync_dir(sub)
    except BaseException:
        # A failed write (full disk, ...) must not leave a hidden folder that keeps the disk full.
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not target.exists():
        os.rename(tmp, target)
    elif _exchange(tmp, target):
        shutil.rmtree(tmp)  # now holds the previous week
    else:
        old = root / f".{target.name}{_OLD_MARK}{os.getpid()}"
        os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(root)


def previous_week_folder(root: Path, as_of: pd.Timestamp) -> Path | None:
    """The latest complete week folder under ``root`` strictly before ``as_of`` (or None)."""
    root = Path(root)
    if not root.is_dir():
        return None
    best: tuple[pd.Timestamp, Path] | None = None
    for entry in root.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            when = pd.Timestamp(entry.name)
        except ValueError:
            continue
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry.name):
            continue
        if when < as_of and (entry / "manifest.json").exists() and (best is None or when > best[0]):
            best = (when, entry)
    return best[1] if best else None


def read_week(folder: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """A previous week's list and scores (either may be None if the file is absent).

    A damaged previous week must not block this week: it is named in a warning and this week is
    compared with nothing.
    """
    try:
        return _read_week(Path(folder))
    except (OSError, ValueError) as exc:
        log.warning(
            "previous week %s cannot be read (%s): this week is compared with nothing", folder, exc
        )
        return None, None


def _read_week(folder: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    lst = (
        pd.read_parquet(folder / "at_risk.parquet")
        if (folder / "at_risk.parquet").exists()
        else None
    )
    scores = (
        pd.read_parquet(folder / "scores.parquet") if (folder / "scores.parquet").exists() else None
    )
    if lst is not None and (folder / "control.csv").exists():
        # The week's list is what was sent plus the control group held out of it: a customer
        # held out last week was listed, so this week they are not "new" (nor silently gone).
        control = pd.read_csv(folder / "control.csv", dtype={"customer_id": str})
        if len(control):
            control = control.reindex(columns=lst.columns.intersection(control.columns))
            lst = pd.concat([lst, control], ignore_index=True).sort_values("rank", kind="stable")
            lst = lst.reset_index(drop=True)
    return lst, scores


def past_week_scores(
    root: Path, as_of: pd.Timestamp, cadence: str, weeks: int
) -> list[pd.DataFrame | None]:
    """The scores (``customer_id``, ``churn_probability``) of the ``weeks`` weeks before
    ``as_of`` on the cadence, oldest first; ``None`` for a week with no complete folder.

    Only a folder with a manifest counts (a complete week); an unreadable scores file is
    named in a warning and read as no week, so the trend never blocks this week's list.
    """
    step = pd.tseries.frequencies.to_offset(cadence)
    dates = [pd.Timestamp(as_of) - i * step for i in range(weeks, 0, -1)]
    out: list[pd.DataFrame | None] = []
    for when in dates:
        folder = week_folder(root, when)
        path = folder / "scores.parquet"
        if not (folder / "manifest.json").exists() or not path.exists():
            out.append(None)
            continue
        try:
            out.append(pd.read_parquet(path, columns=["customer_id", "churn_probability"]))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("week %s: scores cannot be read (%s); its trend value is '-'", folder, exc)
            out.append(None)
    return out
