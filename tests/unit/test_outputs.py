"""The week's files: safe text, deterministic bytes, atomic writes that survive a real kill."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from churn.outputs import (
    WeekData,
    build_week_files,
    neutralise_formula,
    owner_file_names,
    previous_week_folder,
    read_week,
    recover_week_folders,
    render_csv,
    slugify,
    week_folder,
    write_week_atomically,
)
from churn.outputs.store import LOCK_NAME

AS_OF = pd.Timestamp("2025-06-02")
EVIL_NAME = '=HYPERLINK("http://evil.example","x")'


def _at_risk(
    names=("Acme", EVIL_NAME, "<script>alert(1)</script>"), owners=("Ann", "../../etc", "CON")
):
    n = len(names)
    p = np.linspace(0.8, 0.3, n)
    arr = np.array([50_000.0, 20_000.0, np.nan])[:n]
    frame = pd.DataFrame(
        {
            "rank": np.arange(1, n + 1),
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "name": list(names),
            "account_owner": list(owners),
            "segment": ["SMB"] * n,
            "plan": ["Pro"] * n,
            "arr": arr,
            "churn_probability": p,
            "risk_tier": ["high" if x >= 0.5 else "medium" for x in p],
            "revenue_at_risk": p * arr,
            "days_to_renewal": [23.0, np.nan, -4.0][:n],
            "reason_1": ["NPS fell from 9 to 4", "-2 logins: usage fell", "Renewal in 23 days"][:n],
            "reason_1_direction": ["raises risk"] * n,
            "reason_1_family": ["sentiment", "product adoption", "commercial"][:n],
            "reason_1_effect": [0.12, 0.004, 0.05][:n],
            "reason_2": ["2 complaints open for more than 14 days", None, None][:n],
            "reason_2_direction": ["raises risk", None, None][:n],
            "reason_2_family": ["service experience", None, None][:n],
            "reason_2_effect": [0.03, np.nan, np.nan][:n],
            "reason_3": [None] * n,
            "reason_3_direction": [None] * n,
            "reason_3_family": [None] * n,
            "reason_3_effect": [np.nan] * n,
            "main_driver": ["sentiment", "product adoption", "commercial"][:n],
            "recommended_play": ["Executive call", "Adoption workshop", "Renewal conversation"][:n],
            "change": ["up", "new", "down"][:n],
            "previous_rank": [2.0, np.nan, 1.0][:n],
            "previous_probability": [0.6, np.nan, 0.5][:n],
            "probability_change": [0.2, np.nan, -0.2][:n],
        }
    )
    for c in frame.columns:
        if frame[c].dtype != float and c not in ("rank",):
            frame[c] = frame[c].astype(object)
    return frame


def _week(at_risk=None, previous_as_of="2025-05-26"):
    at_risk = _at_risk() if at_risk is None else at_risk
    scores = at_risk.drop(columns=["rank", "change", "previous_rank", "previous_probability"])
    excluded = pd.DataFrame(
        {
            "customer_id": ["C900"],
            "name": ["+cmd|' /C calc'!A0"],
            "account_owner": ["Ann"],
            "reason": ["missing required data: acct_tenure_days"],
        }
    )
    return WeekData(
        as_of=AS_OF,
        horizon_days=90,
        at_risk=at_risk,
        scores=scores,
        excluded=excluded,
        active=len(scores) + 1,
        drivers=pd.Series({"nps_last": 0.4, "util_ratio": 0.2, "acct_arr": 0.1}),
        families={
            "nps_last": "sentiment",
            "util_ratio": "product adoption",
            "acct_arr": "commercial",
        },
        model={"name": "churn", "version": "3", "run_id": "abc"},
        data_hash="d" * 64,
        previous_as_of=previous_as_of,
        dropped=pd.DataFrame({"customer_id": ["C777"]}),
        drivers_n=len(scores),
        settings={"tiers": [["high", 0.5], ["medium", 0.25], ["low", 0.0]]},
    )


@pytest.fixture(scope="module")
def files():
    return build_week_files(_week())


# ------------------------------------------------------------------ contents


def test_week_has_every_promised_file(files):
    assert {
        "at_risk.csv",
        "at_risk.parquet",
        "scores.parquet",
        "excluded.csv",
        "report.html",
        "manifest.json",
    } <= set(files)
    owners = [f for f in files if f.startswith("owners/")]
    assert sorted(owners) == ["owners/ann.xlsx", "owners/con_.xlsx", "owners/etc.xlsx"]


def test_rendering_twice_gives_byte_identical_files(files):
    again = build_week_files(_week())
    assert set(again) == set(files)
    for name in files:
        assert again[name] == files[name], name


def test_manifest_has_counts_that_add_up_and_each_files_sha256(files):
    manifest = json.loads(files["manifest.json"])
    counts = manifest["counts"]
    assert counts["active"] == counts["scored"] + counts["excluded"]
    assert counts["excluded_by_reason"] == {"missing required data": 1}
    assert manifest["as_of"] == "2025-06-02"
    assert manifest["model"]["run_id"] == "abc" and manifest["data_hash"] == "d" * 64
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest
    assert "manifest.json" not in manifest["files"]


def test_list_csv_and_parquet_hold_the_same_rows_in_priority_order(files):
    csv = pd.read_csv(io.BytesIO(files["at_risk.csv"]))
    parquet = pd.read_parquet(io.BytesIO(files["at_risk.parquet"]))
    assert (
        csv["customer_id"].tolist() == parquet["customer_id"].tolist() == ["C000", "C001", "C002"]
    )
    assert csv["rank"].tolist() == [1, 2, 3]
    assert {
        "churn_probability",
        "risk_tier",
        "revenue_at_risk",
        "reason_1_family",
        "change",
    } <= set(csv.columns)


# ------------------------------------------------------------------ text safety


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_is_prefixed_with_a_quote(text):
    assert neutralise_formula(text) == "'" + text


def test_plain_text_and_numbers_are_left_alone():
    assert neutralise_formula("Acme - east") == "Acme - east"
    assert neutralise_formula(-3.5) == -3.5


def test_csv_neutralises_formulas_in_text_but_keeps_negative_numbers():
    frame = pd.DataFrame({"name": [EVIL_NAME, "ok"], "probability_change": [-0.25, 0.1]})
    text = render_csv(frame).decode()
    assert "'=HYPERLINK" in text
    assert "\n-0.25\n" not in text and ",-0.25\n" in text
    assert "\n=HYPERLINK" not in text and ",=" not in text


def test_excluded_csv_neutralises_names(files):
    assert b"'+cmd" in files["excluded.csv"]


def test_html_escapes_names_and_makes_no_external_requests(files):
    html = files["report.html"].decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for attr in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert attr not in html
    assert 'src="data:image/png;base64,' in html


@pytest.mark.parametrize(
    ("owner", "slug"),
    [
        ("../../etc/passwd", "etc-passwd"),
        ("a/b\\c", "a-b-c"),
        ("CON", "con_"),
        ("nul", "nul_"),
        ("Com1", "com1_"),
        ("", "unassigned"),
        ("..", "unassigned"),
        ("Zoë Müller", "zoe-muller"),
    ],
)
def test_owner_names_become_safe_file_names(owner, slug):
    assert slugify(owner) == slug
    assert "/" not in slugify(owner) and "\\" not in slugify(owner)


def test_owner_file_names_are_unique_and_missing_owners_are_grouped():
    names = owner_file_names(["Ann", "ann", "ANN!", None, float("nan"), "  "])
    assert len(set(names.values())) == len(names) == 4
    assert names["Unassigned"] == "unassigned.xlsx"
    # Names that slugify alike each get their own name's hash, never a counter by sort order.
    assert all(re.fullmatch(r"ann-[0-9a-f]{8}\.xlsx", names[o]) for o in ("Ann", "ann", "ANN!"))
    assert owner_file_names(["Ann", "ann"])["ann"] == names["ann"]


# ------------------------------------------------------------------ Excel


def test_owner_workbook_is_readable_formatted_and_safe(files):
    wb = load_workbook(io.BytesIO(files["owners/etc.xlsx"]))
    ws = wb["At risk"]
    header = [c.value for c in ws[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    assert ws.freeze_panes == "D2"  # rank, customer ID and name stay in view
    assert ws.cell(2, col["Customer"]).value == "'" + EVIL_NAME  # text, not a formula
    assert ws.cell(2, col["Customer"]).data_type == "s"
    fmt = ws.cell(2, col["Churn probability"]).number_format
    assert fmt.endswith(";0%") and '">99%"' in fmt  # a percentage that never rounds to 100%
    assert ws.cell(2, col["ARR"]).number_format == "#,##0"
    reasons = ws.cell(2, col["Why at risk"])
    assert reasons.alignment.wrap_text
    assert reasons.value == "• -2 logins: usage fell"
    assert ws.column_dimensions["K"].width >= 40
    assert wb.properties.created == wb.properties.modified == pd.Timestamp(AS_OF).to_pydatetime()


def test_each_owner_workbook_holds_only_their_customers(files):
    wb = load_workbook(io.BytesIO(files["owners/ann.xlsx"]))
    ids = [r[1] for r in wb["At risk"].iter_rows(min_row=2, values_only=True)]
    assert ids == ["C000"]


def test_long_reasons_get_tall_rows_so_they_read_without_scrolling():
    long = _at_risk(names=("A",), owners=("Ann",))
    long["reason_1"] = ["x" * 200]
    long["reason_2"] = ["y" * 200]
    files = build_week_files(_week(long))
    ws = load_workbook(io.BytesIO(files["owners/ann.xlsx"]))["At risk"]
    assert ws.row_dimensions[2].height >= 15 * 6


def test_workbook_zip_entries_carry_no_clock(files):
    with zipfile.ZipFile(io.BytesIO(files["owners/ann.xlsx"])) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


# ------------------------------------------------------------------ atomic writes


def test_writing_a_week_then_rewriting_it_gives_identical_files(tmp_path, files):
    target = write_week_atomically(files, tmp_path / "2025-06-02")
    first = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    write_week_atomically(build_week_files(_week()), target)
    second = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert first == second
    # No leftovers but the writers' lock file (kept: deleting a lock file races with its users).
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME, "2025-06-02"]


def test_rewriting_replaces_the_whole_previous_folder(tmp_path):
    target = tmp_path / "w"
    write_week_atomically({"a.txt": b"1", "old.txt": b"x"}, target)
    write_week_atomically({"a.txt": b"2"}, target)
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert (target / "a.txt").read_bytes() == b"2"


def test_a_file_name_cannot_escape_the_week_folder(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        write_week_atomically({"../escape.txt": b"x"}, tmp_path / "w")
    assert not (tmp_path / "escape.txt").exists()


_SLOW_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from churn.outputs import write_week_atomically
    files = {f"file_{i:02d}.csv": b"new,%d\\n" % i for i in range(20)}
    write_week_atomically(files, Path(sys.argv[1]))
    """
)


def test_a_write_killed_midway_leaves_the_previous_complete_week(tmp_path):
    target = tmp_path / "2025-06-02"
    old = {f"file_{i:02d}.csv": b"old,%d\n" % i for i in range(5)}
    write_week_atomically(old, target)

    env = {**os.environ, "CHURN_WRITE_DELAY_S": "0.2"}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target)], env=env)
    try:
        # Wait until the new week is half written (some files in the temporary folder), then kill.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            tmp = [p for p in tmp_path.iterdir() if p.name.startswith(".2025-06-02.tmp-")]
            if tmp and len(list(tmp[0].iterdir())) >= 3:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the slowed writer never started writing")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The week folder is exactly the previous complete state: no new or partial file in it.
    assert {p.name: p.read_bytes() for p in target.iterdir()} == old
    # The half-written temporary folder is hidden, and the next write clears it away.
    visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert visible == ["2025-06-02"]
    recover_week_folders(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME, "2025-06-02"]


def test_a_kill_between_the_two_renames_is_recovered(tmp_path):
    # Where directories cannot be exchanged atomically, the previous week is parked as .old:
    # if the process dies before the new one is in place, the next run restores it.
    parked = tmp_path / ".2025-06-02.old-123"
    parked.mkdir()
    (parked / "a.csv").write_bytes(b"previous")
    recover_week_folders(tmp_path)
    assert (tmp_path / "2025-06-02" / "a.csv").read_bytes() == b"previous"
    assert not parked.exists()


# ------------------------------------------------------------------ previous week


def test_previous_week_is_the_latest_complete_folder_before_as_of(tmp_path, files):
    for week in ("2025-05-19", "2025-05-26", "2025-06-09"):
        write_week_atomically(files, tmp_path / week)
    (tmp_path / "2025-05-31").mkdir()  # no manifest: an incomplete or foreign folder
    (tmp_path / ".2025-05-30.tmp-x").mkdir()
    (tmp_path / "notes").mkdir()
    assert previous_week_folder(tmp_path, AS_OF) == tmp_path / "2025-05-26"
    assert previous_week_folder(tmp_path, pd.Timestamp("2025-05-19")) is None
    lst, scores = read_week(tmp_path / "2025-05-26")
    assert lst["customer_id"].tolist() == ["C000", "C001", "C002"]
    assert len(scores) == 3


def test_week_folder_is_named_by_the_as_of_date(tmp_path):
    assert week_folder(tmp_path, pd.Timestamp("2025-06-02")) == Path(tmp_path) / "2025-06-02"


def test_probability_change_is_shown_in_points_not_percent(files):
    ws = load_workbook(io.BytesIO(files["owners/ann.xlsx"]))["At risk"]
    header = [c.value for c in ws[1]]
    cell = ws.cell(2, header.index("Probability change (points)") + 1)
    assert cell.value == pytest.approx(20.0)  # 0.6 -> 0.8
    assert "pts" in cell.number_format


def test_probabilities_near_certainty_are_not_shown_as_certain():
    from churn.outputs import _fmt_pct

    assert _fmt_pct(0.999) == ">99%"
    assert _fmt_pct(0.001) == "<1%"
    assert _fmt_pct(0.37) == "37%"
