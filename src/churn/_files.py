"""Atomic file writes: the one place that writes a file so that no reader sees half of it.

A file is written to a hidden temporary file in the same folder (same file system, so the rename
is atomic), flushed and fsynced, and only then renamed over the target. A process killed at any
point leaves either the old complete file or the new complete one, never a half-written list or
page; a failed write removes its temporary file and leaves the old content as it was.

Folders written as a whole (the week folder of ``churn.outputs``) build on these: they write
every file into a temporary folder and swap the folder into place themselves.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from churn.errors import ChurnError

if TYPE_CHECKING:
    import pandas as pd

#: Permissions of a written file: readable by others (the files are meant to be shared), where
#: ``mkstemp`` alone would make it private.
FILE_MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on a clean exit it is fsynced and renamed
    over ``path``, on an exception removed (``path`` left as it was). For writers that need a
    file name of their own (a Parquet writer streaming row groups)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            # On disk before the rename: after a crash the new name never points at lost data.
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename.

    Parameters
    ----------
    path
        The file to create or replace; missing parent folders are created.
    data
        The file's full content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_parquet_frames(frames: Iterable[pd.DataFrame], path: str | Path) -> tuple[int, int]:
    """Write ``frames`` (same columns) atomically to one Parquet file, a row group or more
    each, so that only one frame is in memory at a time. Returns (rows, columns).

    Raises
    ------
    ChurnError
        ``frames`` is empty.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = width = 0
    with atomic_path(path) as tmp:
        writer = None
        try:
            for frame in frames:
                schema = writer.schema if writer is not None else None
                table = pa.Table.from_pandas(frame, preserve_index=False, schema=schema)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                rows, width = rows + len(frame), frame.shape[1]
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ChurnError("no feature rows to write")
    return rows, width


def write_text_atomically(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`write_bytes_atomically`)."""
    return write_bytes_atomically(path, text.encode(encoding))


def fsync_dir(path: str | Path) -> None:
    """Flush a folder's entries (its renames) to disk; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class LockedError(ChurnError):
    """Another churn process holds the lock and did not let go in time."""


@contextlib.contextmanager
def exclusive_lock(path: str | Path, what: str, wait_s: float = 600.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the block.

    ``fcntl.flock``: the kernel releases the lock when its holder exits, even after ``kill -9``,
    so a crashed run never leaves a stale lock behind. A second process waits up to ``wait_s``
    seconds, then fails with a message naming the holder.

    Parameters
    ----------
    path
        The lock file.
    what
        What the lock protects, for the messages ("the week folders in data/at_risk").
    wait_s
        How long to wait for another holder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = Path(path).read_text(encoding="utf-8", errors="replace").strip()
                    raise LockedError(
                        f"another churn process ({holder or 'unknown pid'}) is writing {what} "
                        f"and did not finish within {wait_s:.0f} s; wait for it and run again"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


__all__ = [
    "FILE_MODE",
    "LockedError",
    "exclusive_lock",
    "fsync_dir",
    "write_bytes_atomically",
    "write_text_atomically",
]
