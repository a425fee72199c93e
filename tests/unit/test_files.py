"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat

import pytest

from churn import _files
from churn._files import write_bytes_atomically, write_text_atomically


def test_a_write_creates_the_file_and_its_folders_readable_by_others(tmp_path):
    target = tmp_path / "a" / "b" / "list.csv"
    assert write_bytes_atomically(target, b"id\n1\n") == target
    assert target.read_bytes() == b"id\n1\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["list.csv"]  # no temporary file left behind


def test_a_write_replaces_the_old_content_whole(tmp_path):
    target = tmp_path / "page.html"
    target.write_text("old and much longer than the new content", encoding="utf-8")
    write_text_atomically(target, "new é")
    assert target.read_bytes() == "new é".encode()
    assert os.listdir(tmp_path) == ["page.html"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_write_leaves_the_old_content_and_no_partial_file(tmp_path, monkeypatch, failing):
    target = tmp_path / "at_risk.csv"
    target.write_bytes(b"old,complete\n")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    # The new bytes are already in the temporary file when fsync or the rename fails.
    monkeypatch.setattr(_files.os, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomically(target, b"new,half")
    monkeypatch.undo()

    assert target.read_bytes() == b"old,complete\n"
    assert os.listdir(tmp_path) == ["at_risk.csv"]


def test_a_write_that_fails_before_any_byte_leaves_no_file_at_all(tmp_path):
    target = tmp_path / "new.txt"
    with pytest.raises(TypeError):
        write_bytes_atomically(target, "text, not bytes")  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []
