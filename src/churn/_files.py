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
import os
import tempfile
from pathlib import Path

#: Permissions of a written file: readable by others (the files are meant to be shared), where
#: ``mkstemp`` alone would make it private.
FILE_MODE = 0o644


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            # On disk before the rename: after a crash the new name never points at lost data.
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


__all__ = ["FILE_MODE", "fsync_dir", "write_bytes_atomically", "write_text_atomically"]
