"""The week store under pressure: two writers, a full disk, a file in the way, a damaged week."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from churn.errors import ChurnError
from churn.outputs import store

N_FILES = 8

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from churn.outputs.store import write_week_atomically
    tag = sys.argv[2].encode()
    files = {f"f{i:02d}.txt": tag for i in range(int(sys.argv[3]))}
    files["manifest.json"] = tag
    write_week_atomically(files, Path(sys.argv[1]))
    """
)


def _writer(target: Path, tag: str, delay: float) -> subprocess.Popen:
    env = {**os.environ, store.WRITE_DELAY_ENV: str(delay)}
    args = [sys.executable, "-c", WRITER, str(target), tag, str(N_FILES)]
    return subprocess.Popen(args, env=env)


def test_two_writers_of_one_week_leave_one_complete_week(tmp_path):
    target = tmp_path / "2025-12-29"
    first = _writer(target, "first", delay=0.5)  # slower than the second one starts
    deadline = time.monotonic() + 30
    # Start the second writer while the first is mid-write (its hidden folder exists).
    while not any(p.name.startswith(".2025-12-29.tmp-") for p in tmp_path.iterdir()):
        assert time.monotonic() < deadline, "the first writer never started"
        time.sleep(0.02)
    second = _writer(target, "second", delay=0.0)
    assert first.wait(60) == 0 and second.wait(60) == 0
    files = sorted(p.name for p in target.iterdir())
    assert len(files) == N_FILES + 1, files
    contents = {p.read_bytes() for p in target.iterdir()}
    assert contents == {b"second"}, "the later writer's week, whole"
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_a_full_disk_leaves_the_previous_week_and_no_hidden_folder(tmp_path, monkeypatch):
    target = tmp_path / "2025-12-29"
    store.write_week_atomically({"a.txt": b"old", "b.txt": b"old"}, target)
    calls = []

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return Path(path).write_bytes(data)

    monkeypatch.setattr(store, "write_bytes_atomically", full_disk)
    with pytest.raises(ChurnError, match="No space left on device"):
        store.write_week_atomically({"a.txt": b"new", "b.txt": b"new"}, target)
    assert (target / "a.txt").read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".2025")] == []


def test_a_file_where_the_output_folder_should_be_is_a_clear_error(tmp_path):
    blocker = tmp_path / "at_risk"
    blocker.write_text("not a folder")
    with pytest.raises(ChurnError, match="not a folder"):
        store.write_week_atomically({"a.txt": b"x"}, blocker / "2025-12-29")


def test_a_damaged_previous_week_is_compared_with_nothing(tmp_path, caplog):
    week = tmp_path / "2025-12-22"
    week.mkdir()
    (week / "at_risk.parquet").write_bytes(b"this is not parquet")
    assert store.read_week(week) == (None, None)
    assert "cannot be read" in caplog.text


def test_last_weeks_control_group_counts_as_listed_when_reading_the_previous_week(tmp_path):
    """A customer held out last week was on last week's list: the previous list is what was
    sent plus control.csv, so this week they are compared (not "new"), in rank order."""
    import pandas as pd

    week = tmp_path / "2025-12-22"
    week.mkdir()
    sent = pd.DataFrame(
        {"rank": [1, 3], "customer_id": ["C1", "C3"], "churn_probability": [0.9, 0.7]}
    )
    sent.to_parquet(week / "at_risk.parquet")
    pd.DataFrame(
        {"rank": [2], "customer_id": ["C2"], "churn_probability": [0.8], "stratum": ["high"]}
    ).to_csv(week / "control.csv", index=False)
    listed, _ = store.read_week(week)
    assert listed["customer_id"].tolist() == ["C1", "C2", "C3"]
    assert listed.columns.tolist() == ["rank", "customer_id", "churn_probability"]
