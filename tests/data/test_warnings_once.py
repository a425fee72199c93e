"""Each warning is shown once: in ``churn validate``'s summary, in an error's "also noted", or as
one log line of the command that loaded the data, never twice.

Run as real processes: the CLI's own logging setup is what printed them twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CUSTOMERS = """customer_id,name,signup_date,churn_date,contract_months,arr
C1,Acme\x1b]0;pwned\x07 Ltd,2024-01-05,,12,1200
C2,Other,2024-02-01,2024-09-01,1,50000
C3,Third,2024-03-01,,12,3000
C3,Third,2024-03-01,,12,3000
"""
WEEKS = ("2024-12-02", "2024-12-09", "2024-12-16", "2024-12-23")
USAGE = "customer_id,date,active_users\n" + "".join(
    f"{c},{d},{i + 1}\n" for c in ("C1", "C2", "C3") for i, d in enumerate(WEEKS)
)
#: What the dataset above is warned about: a duplicate row, spaces around an id, a name with an
#: escape sequence, and no extraction date.
WARNINGS = (
    "customers: dropped 1 row duplicating another row exactly (e.g. C3).",
    "usage.customer_id: 1 row with spaces around the id, stripped",
    "customers.name: 1 row with control or bidi-override characters, removed (e.g. C1).",
    "extraction_date is not set",
)


def write(folder: Path, *, error: bool) -> Path:
    folder.mkdir()
    customers = CUSTOMERS.replace(",1,50000", ",0,50000") if error else CUSTOMERS
    (folder / "customers.csv").write_text(customers, encoding="utf-8")
    usage = USAGE.replace("C2,2024-12-09", " C2 ,2024-12-09")
    (folder / "usage.csv").write_text(usage, encoding="utf-8")
    (folder / "dataset.yaml").write_text(yaml.safe_dump({"name": "w", "usage": {"period": "week"}}))
    return folder


def churn(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_WAIT_POLICY": "passive"}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "churn.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("error", [False, True], ids=["summary", "error"])
def test_validate_shows_each_warning_once(tmp_path, error):
    done = churn("validate", "--data", str(write(tmp_path / "ds", error=error)))
    output = done.stdout + done.stderr
    assert done.returncode == (2 if error else 0), output
    assert "Traceback" not in output
    for warning in WARNINGS:
        assert output.count(warning) == 1, (warning, output)
    if error:
        assert "customers.contract_months" in done.stderr
        assert "Also noted (handled automatically):" in done.stderr
    assert "\x1b" not in output


def test_a_command_that_loads_the_data_logs_each_warning_once(tmp_path):
    data = write(tmp_path / "ds", error=False)
    out = tmp_path / "features.parquet"
    done = churn("features", "--data", str(data), "--as-of", "2024-12-23", "--out", str(out))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for warning in WARNINGS:
        assert output.count(warning) == 1, (warning, output)
    assert "\x1b" not in output
