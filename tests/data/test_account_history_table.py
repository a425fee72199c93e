"""The optional account_history table through `churn validate`: read, mapped and checked with the
same clear messages as the other tables (table, column, rows, examples, how to fix)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from churn import cli

CUSTOMERS = """customer_id,signup_date,churn_date,plan,arr
C1,2024-01-05,,Pro,1200
C2,2024-02-01,2024-09-01,Starter,500
C3,2024-03-01,,Pro,3000
"""
HISTORY = """customer_id,valid_from,plan,arr,seats_licensed,contract_months
C1,2024-01-05,Enterprise,5000,50,12
C1,2024-06-01,Pro,1200,,
C2,2024-02-01,Pro,900,10,1
C2,2024-07-15,Starter,500,5,
C3,2024-03-01,Pro,3000,30,12
"""
USAGE = "customer_id,date,active_users\n" + "".join(
    f"{c},{d},3\n" for c in ("C1", "C2", "C3") for d in ("2024-12-02", "2024-12-09", "2024-12-16")
)
CONFIG = {"name": "tiny", "extraction_date": "2025-01-01", "usage": {"period": "week"}}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    for name, text in [("customers", CUSTOMERS), ("account_history", HISTORY), ("usage", USAGE)]:
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    (folder / "dataset.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return folder


def replace(old: str, new: str) -> Callable[[Path], None]:
    def corrupt(folder: Path) -> None:
        path = folder / "account_history.csv"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return corrupt


def add(line: str) -> Callable[[Path], None]:
    return replace("C3,2024-03-01", f"{line}\nC3,2024-03-01")


def run_validate(monkeypatch, capsys, folder: Path) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["churn", "validate", "--data", str(folder)])
    with pytest.raises(SystemExit) as info:
        cli.main()
    captured = capsys.readouterr()
    return info.value.code, captured.out + captured.err


ERROR, WARNING = 2, 0
CASES = [
    (
        "unknown-customer",
        add("C9,2024-05-01,Pro,100,1,\nC8,2024-05-01,Pro,100,1,"),
        ERROR,
        "account_history.customer_id",
        "reference customers not in customers (e.g. C9, C8)",
    ),
    (
        "valid-from-unparsable",
        replace("C1,2024-06-01", "C1,June first"),
        ERROR,
        "account_history.valid_from",
        "unparseable date (e.g. C1 'June first')",
    ),
    (
        "valid-from-missing",
        replace("C1,2024-06-01", "C1,"),
        ERROR,
        "account_history.valid_from",
        "no valid_from (e.g. C1)",
    ),
    (
        "duplicate-customer-and-valid-from",
        add("C1,2024-06-01,Starter,100,,"),
        ERROR,
        "account_history.valid_from",
        "share customer_id and valid_from with another row",
    ),
    (
        "negative-arr",
        replace("C1,2024-06-01,Pro,1200", "C1,2024-06-01,Pro,-1200"),
        ERROR,
        "account_history.arr",
        "negative arr",
    ),
    (
        "term-zero",
        replace("Enterprise,5000,50,12", "Enterprise,5000,50,0"),
        ERROR,
        "account_history.contract_months",
        "0 or less",
    ),
    (
        "seats-not-a-number",
        replace("Enterprise,5000,50,12", "Enterprise,5000,fifty,12"),
        ERROR,
        "account_history.seats_licensed",
        "non-numeric value",
    ),
    (
        "history-starts-after-signup",
        replace("C3,2024-03-01", "C3,2024-04-01"),
        WARNING,
        "account_history",
        "1 start after signup_date (e.g. C3)",
    ),
    (
        "scheduled-change",
        add("C1,2025-02-01,Starter,100,,"),
        WARNING,
        "account_history.valid_from",
        "kept as scheduled changes",
    ),
]


def test_the_base_dataset_with_a_history_is_valid_without_warnings(base, monkeypatch, capsys):
    code, out = run_validate(monkeypatch, capsys, base)
    assert code == 0, out
    warned = out.split("warnings", 1)[1] if "warnings" in out else ""
    assert "account_history" not in warned  # only the missing interactions and nps are noted
    assert "account_history" in out and "plan, arr, seats_licensed, contract_months" in out


@pytest.mark.parametrize(
    ("corrupt", "code", "where", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_history_is_an_error_or_a_warning_naming_table_and_column(
    base, tmp_path, monkeypatch, capsys, corrupt, code, where, words
):
    folder = tmp_path / "ds"
    shutil.copytree(base, folder)
    corrupt(folder)
    got, message = run_validate(monkeypatch, capsys, folder)
    assert "Traceback" not in message
    assert got == code, message
    assert where in message and words in message, message


def test_the_dataset_config_maps_the_history_file_and_columns(base, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "ds"
    shutil.copytree(base, folder)
    text = (folder / "account_history.csv").read_text(encoding="utf-8")
    (folder / "account_history.csv").unlink()
    (folder / "plan_changes.csv").write_text(text.replace("valid_from", "ChangedOn"))
    tables = {
        "account_history": {"file": "plan_changes.csv", "columns": {"valid_from": "ChangedOn"}}
    }
    (folder / "dataset.yaml").write_text(yaml.safe_dump({**CONFIG, "tables": tables}))
    code, out = run_validate(monkeypatch, capsys, folder)
    assert code == 0, out
    assert "account_history" in out and "5 rows" in out


def test_an_unknown_history_column_in_the_config_is_named(base, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "ds"
    shutil.copytree(base, folder)
    tables = {"account_history": {"columns": {"valid_form": "ChangedOn"}}}
    (folder / "dataset.yaml").write_text(yaml.safe_dump({**CONFIG, "tables": tables}))
    code, out = run_validate(monkeypatch, capsys, folder)
    assert code == ERROR
    assert "tables.account_history.columns" in out and "valid_from" in out


def test_without_a_history_file_nothing_is_warned(base, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "ds"
    shutil.copytree(base, folder)
    (folder / "account_history.csv").unlink()
    code, out = run_validate(monkeypatch, capsys, folder)
    assert code == 0 and "account_history" not in out
