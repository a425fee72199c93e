"""Plays recorded: checked with clear errors, merged idempotently, read back onto the list."""

from __future__ import annotations

import sys
from datetime import datetime

import pandas as pd
import pytest

from churn import cli
from churn.actions import (
    ActionsError,
    check_actions,
    empty_actions,
    mark_play_status,
    merge_actions,
    workbook_actions,
)
from churn.settings import ScoringSettings

PLAYS = [*ScoringSettings().playbook.values(), ScoringSettings().default_play]
ESCALATE = ScoringSettings().playbook["service experience"]
RENEWAL = ScoringSettings().playbook["commercial"]
NOW = pd.Timestamp("2024-06-01")


def _raw(**over) -> pd.DataFrame:
    rows = {
        "customer_id": ["c1", "c2"],
        "play": [ESCALATE, RENEWAL.upper()],
        "owner": ["Ann", "Bob"],
        "started_at": ["2024-05-06", "2024-05-06"],
        "status": ["In progress", "done"],
        "outcome": [None, "renewed"],
        "closed_at": [None, "2024-05-20"],
        "note": [None, " called twice "],
    }
    rows.update(over)
    return pd.DataFrame(rows)


def _check(raw):
    return check_actions(raw, customers=["c1", "c2"], plays=PLAYS, source="a.csv", now=NOW)


def test_a_good_file_is_normalised():
    rows = _check(_raw())
    assert list(rows["status"]) == ["in progress", "done"]
    assert rows.loc[1, "play"] == RENEWAL  # matched regardless of case
    assert rows.loc[1, "note"] == "called twice"
    assert rows.loc[1, "closed_at"] == pd.Timestamp("2024-05-20")


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"customer_id": ["c1", "c9"]}, "customer_id: 1 row (3; e.g. 'c9') not in the customers"),
        (
            {"play": ["Send flowers", ESCALATE]},
            "play: 1 row (2; e.g. 'Send flowers') not in the playbook",
        ),
        ({"status": ["started", "done"]}, "status: 1 row (2; e.g. 'started') unknown; use one of"),
        (
            {"closed_at": [None, "2024-05-01"]},
            "closed_at: 1 row (3; e.g. '2024-05-01') before started_at",
        ),
        (
            {"started_at": ["soon", "2024-05-06"]},
            "started_at: 1 row (2; e.g. 'soon') empty or not a date",
        ),
        (
            {"closed_at": ["2024-05-07", "2024-05-20"]},
            "set while the status is planned or in progress",
        ),
        ({"started_at": ["2024-07-01", "2024-05-06"]}, "after today (2024-06-01)"),
    ],
)
def test_each_bad_row_is_named_with_how_to_fix_it(over, message):
    with pytest.raises(ActionsError) as info:
        _check(_raw(**over))
    assert message in str(info.value)
    assert "nothing was recorded" in str(info.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ActionsError) as info:
        _check(_raw(customer_id=["c9", "c2"], status=["x", "done"]))
    assert len(info.value.problems) == 2


def test_a_file_without_a_required_column_is_refused():
    with pytest.raises(ActionsError, match="missing column"):
        _check(_raw().drop(columns="status"))


def test_recording_twice_adds_and_changes_nothing():
    rows = _check(_raw())
    table, added, changed = merge_actions(empty_actions(), rows)
    assert (added, changed) == (2, 0)
    again, added, changed = merge_actions(table, rows)
    assert (added, changed) == (0, 0)
    pd.testing.assert_frame_equal(again, table)
    # The same play closed a week later: one change, no new row.
    closed = _check(_raw(status=["done", "done"], closed_at=["2024-05-27", "2024-05-20"]))
    table, added, changed = merge_actions(table, closed)
    assert (added, changed, len(table)) == (0, 1, 2)
    assert table.set_index("customer_id").loc["c1", "status"] == "done"


def test_a_returned_workbook_gives_the_rows_with_a_status():
    sheet = pd.DataFrame(
        {
            "Rank": [1, 2, 3],
            "Customer ID": ["c1", "c2", "c3"],
            "Recommended play": [ESCALATE, RENEWAL, ESCALATE],
            "Status": ["in progress", None, " "],
            "Outcome": [None, None, None],
        }
    )
    rows = workbook_actions(sheet, "Ann", pd.Timestamp("2024-05-06"))
    assert list(rows["customer_id"]) == ["c1"]
    assert rows.loc[0, "owner"] == "Ann" and rows.loc[0, "started_at"] == pd.Timestamp("2024-05-06")
    assert workbook_actions(sheet.drop(columns="Status"), "Ann", None).empty


def test_a_customer_with_an_open_play_is_marked_on_the_list():
    rows = _check(_raw())
    actions, _, _ = merge_actions(empty_actions(), rows)
    scores = pd.DataFrame({"customer_id": ["c1", "c2", "c3"]})
    marked = mark_play_status(scores, actions, pd.Timestamp("2024-05-13"))
    # c1 in progress; c2's play was done (closed after the week, but its outcome is recorded).
    assert marked["play_status"].tolist()[0] == "in progress"
    assert marked.loc[1, "play_status"] == "in progress"  # still open on 2024-05-13
    assert pd.isna(marked.loc[2, "play_status"])
    later = mark_play_status(scores, actions, pd.Timestamp("2024-05-27"))
    assert later.loc[0, "play_status"] == "in progress" and pd.isna(later.loc[1, "play_status"])
    before = mark_play_status(scores, actions, pd.Timestamp("2024-05-06"))
    assert before["play_status"].isna().all()  # nothing had started strictly before as_of


# --- churn record ------------------------------------------------------------------------------


def _dataset(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "signup_date": ["2023-01-01", "2023-01-01"],
            "churn_date": [None, None],
        }
    ).to_csv(folder / "customers.csv", index=False)
    return folder


def _run(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["churn", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return info.value.code


def test_churn_record_adds_once_and_says_what_it_did(tmp_path, monkeypatch, capsys):
    data = _dataset(tmp_path)
    src = tmp_path / "plays.csv"
    _raw().to_csv(src, index=False)
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(src)) == 0
    assert "Recorded 2 new and 0 changed" in capsys.readouterr().out
    first = (data / "actions.csv").read_bytes()
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(src)) == 0
    assert "Nothing new" in capsys.readouterr().out
    assert (data / "actions.csv").read_bytes() == first


def test_churn_record_refuses_a_bad_file_with_exit_2_and_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    data = _dataset(tmp_path)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    _raw().to_csv(good, index=False)
    _raw(customer_id=["c1", "nobody"], status=["in progress", "won"]).to_csv(bad, index=False)
    code = _run(monkeypatch, "record", "--data", str(data), "--from", str(good), "--from", str(bad))
    err = capsys.readouterr().err
    assert code == 2
    assert "not in the customers table" in err and "'won'" in err and "Traceback" not in err
    assert not (data / "actions.csv").exists()  # the good file was not recorded either
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(tmp_path / "no.csv")) == 2


def test_churn_record_reads_a_returned_owner_workbook(tmp_path, monkeypatch, capsys):
    import io

    from openpyxl import load_workbook

    from churn.outputs.excel import render_workbook

    data = _dataset(tmp_path)
    rows = pd.DataFrame(
        {
            "rank": [1, 2],
            "customer_id": ["c1", "c2"],
            "name": ["Acme", "Beta"],
            "arr": [1000.0, 2000.0],
            "churn_probability": [0.6, 0.4],
            "recommended_play": [ESCALATE, RENEWAL],
        }
    )
    book = load_workbook(
        io.BytesIO(render_workbook(rows, "Ann Lee", pd.Timestamp("2024-05-06"), 3, "#,##0"))
    )
    ws = book["At risk"]
    # The generated workbook carries the columns churn record reads back, with dropdowns.
    col = {c.value: c.column for c in ws[1]}
    assert {"Status", "Outcome", "Started", "Closed", "Note"} <= set(col)
    ws.cell(row=2, column=col["Status"], value="in progress")  # c2 left blank: not worked yet
    ws.cell(row=2, column=col["Note"], value="called the CFO")
    path = tmp_path / "ann-lee.xlsx"
    book.save(path)
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(path)) == 0
    assert "Recorded 1 new" in capsys.readouterr().out
    table = pd.read_csv(data / "actions.csv", dtype=str)
    assert table.loc[0, "customer_id"] == "c1" and table.loc[0, "owner"] == "Ann Lee"
    assert table.loc[0, "play"] == ESCALATE and table.loc[0, "started_at"].startswith("2024-05-06")
    assert table.loc[0, "note"] == "called the CFO" and len(table) == 1
    # Returned again with the play done: the same play (same start) is changed, not added.
    ws.cell(row=2, column=col["Status"], value="done")
    ws.cell(row=2, column=col["Outcome"], value="saved")
    ws.cell(row=2, column=col["Closed"], value=datetime(2024, 5, 20))
    book.save(path)
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(path)) == 0
    assert "0 new and 1 changed" in capsys.readouterr().out
    table = pd.read_csv(data / "actions.csv", dtype=str)
    assert len(table) == 1 and table.loc[0, "status"] == "done"
    assert table.loc[0, "outcome"] == "saved" and table.loc[0, "closed_at"].startswith("2024-05-20")


def test_a_returned_row_whose_recommended_play_changed_is_a_new_action(
    tmp_path, monkeypatch, capsys
):
    import io

    from openpyxl import load_workbook

    from churn.outputs.excel import render_workbook

    data = _dataset(tmp_path)
    src = tmp_path / "plays.csv"
    _raw(
        customer_id=["c1"],
        play=[ESCALATE],
        owner=["Ann"],
        started_at=["2024-05-06"],
        status=["in progress"],
        outcome=[None],
        closed_at=[None],
        note=[None],
    ).to_csv(src, index=False)
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(src)) == 0
    # Next week c1's open escalation is marked (Started pre-filled with its start), but the
    # recommended play is now the renewal conversation.
    rows = pd.DataFrame(
        {
            "rank": [1],
            "customer_id": ["c1"],
            "recommended_play": [RENEWAL],
            "play_status": ["in progress"],
            "play_started_at": [pd.Timestamp("2024-05-06")],
        }
    )
    book = load_workbook(
        io.BytesIO(render_workbook(rows, "Ann", pd.Timestamp("2024-05-13"), 3, "#"))
    )
    ws = book["At risk"]
    col = {c.value: c.column for c in ws[1]}
    assert ws.cell(row=2, column=col["Started"]).value == datetime(2024, 5, 6)
    ws.cell(row=2, column=col["Status"], value="planned")
    path = tmp_path / "ann.xlsx"
    book.save(path)
    capsys.readouterr()
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(path)) == 0
    assert "Recorded 1 new and 0 changed" in capsys.readouterr().out
    table = pd.read_csv(data / "actions.csv", dtype=str).set_index("play")
    assert table.loc[ESCALATE, "status"] == "in progress"  # the old play is left as it was
    assert table.loc[ESCALATE, "started_at"].startswith("2024-05-06")
    assert table.loc[RENEWAL, "status"] == "planned"
    assert table.loc[RENEWAL, "started_at"].startswith("2024-05-13")  # started this week
    assert _run(monkeypatch, "record", "--data", str(data), "--from", str(path)) == 0
    assert "Nothing new" in capsys.readouterr().out  # a rerun adds nothing
