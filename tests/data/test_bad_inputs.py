"""Bad inputs through the real command line: each is an error naming table and column, or a warning.

One small valid dataset is written once per module; each case copies it, corrupts one thing and
runs ``churn validate --data DIR``. An error must exit 2 without a traceback (or a bare
"Aborted.") and name the table and column; a warning must exit 0 and say what it counted. Rule
used to decide: a value that cannot be true is an error, one that is possible but suspicious a
warning.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from churn import cli

CUSTOMERS = """customer_id,signup_date,churn_date,contract_months,arr
C1,2024-01-05,,12,1200
C2,2024-02-01,2024-09-01,1,50000
C3,2024-03-01,,12,3000
"""
INTERACTIONS = """customer_id,timestamp,channel,category,csat
C1,2024-05-01 10:00:00,email,billing,4
C2,2024-06-01 09:00:00,phone,complaint,1
C2,2024-06-02 09:00:00,chat,how-to,
"""
NPS = """customer_id,sent_at,timestamp,score
C1,2024-05-01,2024-05-03,9
C2,2024-06-01,,
"""
WEEKS = ("2024-12-02", "2024-12-09", "2024-12-16", "2024-12-23")
USAGE = "customer_id,date,active_users,logins\n" + "".join(
    f"{c},{d},{i + 1},{10 * i}\n" for c in ("C1", "C2", "C3") for i, d in enumerate(WEEKS)
)
CONFIG = {"name": "tiny", "extraction_date": "2025-01-01", "usage": {"period": "week"}}


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("base")
    for name, text in [
        ("customers", CUSTOMERS),
        ("interactions", INTERACTIONS),
        ("nps", NPS),
        ("usage", USAGE),
    ]:
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    (folder / "dataset.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return folder


# --- how to corrupt the base dataset --------------------------------------------------------------


def replace(table: str, old: str, new: str) -> Callable[[Path], None]:
    """Replace the first ``old`` in a table's CSV text."""

    def corrupt(folder: Path) -> None:
        path = folder / f"{table}.csv"
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {table}.csv"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return corrupt


def config(**changes) -> Callable[[Path], None]:
    def corrupt(folder: Path) -> None:
        (folder / "dataset.yaml").write_text(yaml.safe_dump({**CONFIG, **changes}))

    return corrupt


def usage_read(**read) -> Callable[[Path], None]:
    return config(tables={"usage": {"read": read}})


def monthly_usage(folder: Path) -> None:
    months = ("2024-09-01", "2024-10-01", "2024-11-01", "2024-12-01")
    text = "customer_id,date,active_users\n" + "".join(
        f"{c},{m},3\n" for c in ("C1", "C2") for m in months
    )
    (folder / "usage.csv").write_text(text)


def truncated_gzip(folder: Path) -> None:
    data = gzip.compress((folder / "usage.csv").read_bytes() * 50)
    (folder / "usage.csv.gz").write_bytes(data[: len(data) // 2])
    (folder / "usage.csv").unlink()


ERROR, WARNING = 2, 0

# id, corruption, exit code, "table.column" the message names, words it must hold
CASES = [
    ("arr-inf", replace("customers", "1200", "inf"), ERROR, "customers.arr", "infinite"),
    ("arr-1e308", replace("customers", "1200", "1e308"), ERROR, "customers.arr", "1e+308"),
    (
        "usage-inf",
        replace("usage", "C1,2024-12-09,2,10", "C1,2024-12-09,2,inf"),
        ERROR,
        "usage.logins",
        "infinite",
    ),
    (
        "contract-0",
        replace("customers", ",12,1200", ",0,1200"),
        ERROR,
        "customers.contract_months",
        "0 or less",
    ),
    (
        "contract-negative",
        replace("customers", ",12,1200", ",-12,1200"),
        ERROR,
        "customers.contract_months",
        "C1 -12",
    ),
    (
        "nps-7.5",
        replace("nps", "2024-05-03,9", "2024-05-03,7.5"),
        ERROR,
        "nps.score",
        "not a whole number",
    ),
    (
        "nps-na-answered",
        replace("nps", "2024-05-03,9", "2024-05-03,N/A"),
        WARNING,
        "nps.score",
        "1 row with an answer time but no score",
    ),
    (
        "signup-1900",
        replace("customers", "C1,2024-01-05", "C1,1900-01-01"),
        ERROR,
        "customers.signup_date",
        "placeholders such as 1900-01-01",
    ),
    (
        "signup-1965",
        replace("customers", "C1,2024-01-05", "C1,1965-01-01"),
        WARNING,
        "customers.signup_date",
        "before 1970",
    ),
    (
        "id-spaces",
        replace("usage", "C1,2024-12-02", " C1 ,2024-12-02"),
        WARNING,
        "usage.customer_id",
        "1 row with spaces around the id, stripped",
    ),
    (
        "id-case",
        replace("customers", "C3,", "c1,"),
        ERROR,
        "customers.customer_id",
        "only in upper/lower case",
    ),
    (
        "duplicate-column",
        replace(
            "customers", "churn_date,contract_months,arr\n", "churn_date,contract_months,arr,arr\n"
        ),
        ERROR,
        "customers.arr",
        "'arr' more than once",
    ),
    (
        "mixed-time-zones",
        replace("interactions", "2024-05-01 10:00:00", "2024-05-01 10:00:00+02:00"),
        ERROR,
        "interactions.timestamp",
        "time-zone-aware and naive timestamps mixed",
    ),
    (
        "week-declared-on-monthly-rows",
        monthly_usage,
        ERROR,
        "usage.date",
        "spaced by a month, but tables.usage.period (or usage.period) declares a week",
    ),
    (
        "extraction-2-years-late",
        config(extraction_date="2027-01-01"),
        WARNING,
        "extraction_date",
        "days after the latest record",
    ),
    (
        "extraction-10-years-late",
        config(extraction_date="2035-01-01"),
        ERROR,
        "dataset.extraction_date",
        "no data was extracted then",
    ),
    ("truncated-gzip", truncated_gzip, ERROR, "usage", "usage.csv.gz is truncated"),
    (
        "read-skiprows-text",
        usage_read(skiprows="many"),
        ERROR,
        "tables.usage.read.skiprows",
        "'many'",
    ),
    ("read-sep-number", usage_read(sep=5), ERROR, "tables.usage.read.sep", "not 5"),
    (
        "read-quotechar-two",
        usage_read(quotechar="ab"),
        ERROR,
        "tables.usage.read.quotechar",
        "one character",
    ),
    (
        "usage-thousands",
        replace("usage", "C1,2024-12-09,2,10", 'C1,2024-12-09,2,"1,234"'),
        ERROR,
        "usage.logins",
        "read: {thousands: ','}",
    ),
    (
        "arr-thousands",
        replace("customers", ",1200", ',"1,200"'),
        ERROR,
        "customers.arr",
        "read: {thousands: ','}",
    ),
]


def run_validate(monkeypatch, capsys, folder: Path) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["churn", "validate", "--data", str(folder)])
    with pytest.raises(SystemExit) as info:
        cli.main()
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_the_base_dataset_is_valid_without_warnings(base, monkeypatch, capsys):
    code, out, err = run_validate(monkeypatch, capsys, base)
    assert (code, err) == (0, "")
    assert "warnings" not in out


@pytest.mark.parametrize(
    ("corrupt", "code", "where", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_input_is_an_error_or_a_warning_naming_table_and_column(
    base, tmp_path, monkeypatch, capsys, corrupt, code, where, words
):
    folder = tmp_path / "ds"
    shutil.copytree(base, folder)
    corrupt(folder)
    before = sorted(p.name for p in folder.iterdir())
    got, out, err = run_validate(monkeypatch, capsys, folder)
    message = out + err
    assert "Traceback" not in message and "Aborted" not in message
    assert got == code, message
    assert where in message and words in message, message
    if code == ERROR:
        assert "does not meet the data contract" in err or "dataset config" in err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written
