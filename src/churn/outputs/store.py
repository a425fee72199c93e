"""Week folders on disk: written all or nothing, recovered after a kill, read back.

Writing (:func:`write_week_atomically`) puts the whole week into a hidden temporary folder next
to the target (each file through ``churn._files``) and swaps it into place at the very end (an
atomic directory exchange on Linux, two renames elsewhere), so a process killed mid-write leaves
the previous complete folder and never a half-written list that someone might send to an
account team.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from churn._files import fsync_dir, write_bytes_atomically

log = logging.getLogger(__name__)

#: Sleep this many seconds between files while writing a week (tests kill a slowed write).
WRITE_DELAY_ENV = "CHURN_WRITE_DELAY_S"
_TMP_MARK = ".tmp-"
_OLD_MARK = ".old-"


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
    """Write ``files`` as the folder ``target``, all or nothing.

    Everything is written into a hidden temporary folder next to ``target`` (same file system,
    so the final rename is atomic), flushed to disk, and only then swapped with the previous
    folder. A kill at any point leaves either the previous complete folder or the new complete
    one, and at most a hidden temporary folder that the next write removes.

    Set the environment variable ``CHURN_WRITE_DELAY_S`` to sleep between files (tests kill a
    deliberately slowed write).
    """
    target = Path(target)
    root = target.parent
    root.mkdir(parents=True, exist_ok=True)
    recover_week_folders(root)
    delay = float(os.environ.get(WRITE_DELAY_ENV) or 0)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{_TMP_MARK}", dir=root))
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
    log.info("wrote %d files to %s", len(files), target)
    return target


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
    """A previous week's list and scores (either may be None if the file is absent)."""
    folder = Path(folder)
    lst = (
        pd.read_parquet(folder / "at_risk.parquet")
        if (folder / "at_risk.parquet").exists()
        else None
    )
    scores = (
        pd.read_parquet(folder / "scores.parquet") if (folder / "scores.parquet").exists() else None
    )
    return lst, scores
