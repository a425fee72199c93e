"""Large CSVs are parsed by Arrow: the loaded dataset and every message must be pandas' own.

``readers.ARROW_MIN_BYTES`` is set to 0 so that small files take the Arrow path; each case loads
the same files twice (Arrow, then pandas alone) and compares the tables, warnings and problems.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churn.data import load_dataset, readers
from churn.data.validation import DataValidationError
from churn.simulate import simulate, write_dataset


def _load_both(
    folder: Path, monkeypatch: pytest.MonkeyPatch, by_arrow: list | None = None
) -> tuple[object, object]:
    """``load_dataset`` with Arrow, then with pandas only: each a Tables or the error's lines.

    ``by_arrow`` collects the column names of each frame Arrow parsed (in the first load)."""
    read = readers._read_csv_arrow

    def spy(*args, **kwargs):
        frame = read(*args, **kwargs)
        if frame is not None and by_arrow is not None:
            by_arrow.append(list(frame.columns))
        return frame

    monkeypatch.setattr(readers, "_read_csv_arrow", spy)
    outcomes = []
    for threshold in (0, 2**62):
        monkeypatch.setattr(readers, "ARROW_MIN_BYTES", threshold)
        try:
            outcomes.append(load_dataset(folder))
        except DataValidationError as exc:
            outcomes.append(str(exc))
    return outcomes[0], outcomes[1]


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sim = simulate(300, seed=5, months=6, mess_rate=0.05)
    return write_dataset(sim, tmp_path_factory.mktemp("messy") / "data")


def test_arrow_frame_is_the_pandas_frame(messy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The raw frame, before validation: same dtypes and values, dates left as text when the
    # column is not one Arrow may parse.
    monkeypatch.setattr(readers, "ARROW_MIN_BYTES", 0)
    for table in ("customers", "interactions", "nps", "usage"):
        path = messy / f"{table}.csv"
        pandas_frame = pd.read_csv(path, dtype={"customer_id": "str"})
        arrow_frame = readers._read_csv_arrow(
            Path(path), "customer_id", {"sep": ",", "encoding": "utf-8-sig"}, set()
        )
        assert arrow_frame is not None, table
        pd.testing.assert_frame_equal(arrow_frame, pandas_frame, check_exact=True)


def test_messy_dataset_loads_identically(messy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_arrow: list = []
    arrow, pandas_only = _load_both(messy, monkeypatch, by_arrow)
    assert len(by_arrow) == 5, "every table (account_history too) should have been parsed by Arrow"
    assert arrow.warnings == pandas_only.warnings
    assert any("duplicating another row" in w for w in arrow.warnings)
    for table in ("customers", "interactions", "nps", "usage"):
        pd.testing.assert_frame_equal(arrow.table(table), pandas_only.table(table))


def _lines(index: int, change):
    """An edit of line ``index`` of a file's text (0 is the header)."""

    def edit(text: str) -> str:
        lines = text.split("\n")
        lines[index] = change(lines[index])
        return "\n".join(lines)

    return edit


def _last_field(value: str):
    return _lines(40, lambda line: line.rsplit(",", 1)[0] + "," + value)


@pytest.mark.parametrize(
    ("table", "edit"),
    [
        # A date that is not ISO 8601: Arrow reads the column as text, pandas reports it.
        ("interactions", _last_field("04/03/2024 10:00")),
        # An offset on one timestamp only: the time-zone problem, not a silent shift.
        ("interactions", _lines(7, lambda line: line + "+02:00")),
        # A repeated header name (pandas renames the copy, Arrow cannot).
        ("customers", _lines(0, lambda line: line + ",arr")),
        # Text in a number column; a missing-value marker only pandas had ("None").
        ("usage", _last_field("lots")),
        ("usage", _last_field("None")),
        # Blank lines at the end; a row with a field too many.
        ("nps", lambda text: text + "\n\n"),
        ("nps", _lines(3, lambda line: line + ",extra")),
    ],
)
def test_edited_files_give_pandas_messages(
    messy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, edit
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for file in messy.iterdir():
        if file.is_file():
            (folder / file.name).write_bytes(file.read_bytes())
    path = folder / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    edited = edit(text)
    assert edited != text, "the edit must change the file"
    path.write_text(edited, encoding="utf-8")
    arrow, pandas_only = _load_both(folder, monkeypatch)
    if isinstance(pandas_only, str):
        assert arrow == pandas_only
        return
    assert arrow.warnings == pandas_only.warnings
    for name in ("customers", "interactions", "nps", "usage"):
        pd.testing.assert_frame_equal(arrow.table(name), pandas_only.table(name))
