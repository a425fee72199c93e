"""Foreign and hostile text: every owner gets a file of their own, and no control character or
bidi override in the input reaches a file or the terminal.

Owner files are named from the owner alone: the same owner has the same file name whatever other
owners are on that week's list (a routing rule or a mail merge keyed on file names keeps working).
Control characters (NUL, ESC, C1) and bidi overrides and isolates are stripped once, at
validation, from every text column, with one warning per column.
"""

from __future__ import annotations

import io
import re
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from churn import cli
from churn.outputs import owner_file_names

#: Sets the terminal's title (OSC 0), then a right-to-left override and a pop.
OSC = "\x1b]0;pwned\x07"
RLO, PDF, LRI, PDI = "\u202e", "\u202c", "\u2066", "\u2069"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

FOREIGN_OWNERS = [
    ("cyrillic", "Иван Петров"),
    ("cyrillic-2", "Ольга Смирнова"),
    ("arabic", "محمد علي"),
    ("arabic-2", "فاطمة الزهراء"),
    ("cjk", "王伟"),
    ("cjk-2", "李娜"),
    ("japanese", "佐藤 花子"),
    ("korean", "김민준"),
    ("emoji", "🚀"),
    ("emoji-2", "🦄🌈"),
    ("mixed", "Иван Smith"),
    ("mixed-2", "Ольга Smith"),
]
OWNERS = [owner for _, owner in FOREIGN_OWNERS]
#: Two weeks with different owner sets: the names of the owners on both must not move.
WEEK_1 = [*OWNERS[::2], "Ann", "Zoë Müller", None]
WEEK_2 = [*OWNERS[1::2], *OWNERS[:4], "ann", "Ann", "Bob"]


@pytest.mark.parametrize("owner", OWNERS, ids=[i for i, _ in FOREIGN_OWNERS])
def test_a_foreign_owner_name_gets_its_own_stable_file_name(owner):
    alone = owner_file_names([owner])[owner]
    weeks = [owner_file_names(w).get(owner) for w in (WEEK_1, WEEK_2, list(reversed(OWNERS)))]
    assert not alone.startswith("unassigned")
    assert re.fullmatch(r"[a-z0-9_-]+\.xlsx", alone)
    assert all(name in (None, alone) for name in weeks)
    assert alone == owner_file_names([f"  {owner} "])[owner]  # the same owner, padded


@pytest.mark.parametrize("week", [WEEK_1, WEEK_2, OWNERS], ids=["week-1", "week-2", "all"])
def test_owner_file_names_are_distinct_within_a_week(week):
    names = owner_file_names(week)
    assert len(set(names.values())) == len(names)


def test_a_readable_part_of_a_name_is_kept_beside_the_hash():
    names = owner_file_names(OWNERS)
    assert re.fullmatch(r"smith-[0-9a-f]{8}\.xlsx", names["Иван Smith"])
    assert re.fullmatch(r"owner-[0-9a-f]{8}\.xlsx", names["王伟"])
    assert owner_file_names(["Zoë Müller", "Straße"]) == {
        "Straße": "strasse.xlsx",
        "Zoë Müller": "zoe-muller.xlsx",
    }


# --- control characters and bidi overrides: stripped once, at validation ------------------------

HOSTILE = [
    ("osc", f"Acme{OSC} Ltd", "Acme Ltd"),
    ("bidi-override", f"Invoice {RLO}fdp.exe{PDF}", "Invoice fdp.exe"),
    ("bidi-isolate", f"{LRI}Smith{PDI}", "Smith"),
    ("nul", "Ann\x00 Lee", "Ann Lee"),
    ("c1-csi", "Bob\x9b31m Ray", "Bob Ray"),
    ("tab-and-newline-kept", "two\tparts\nand lines", "two\tparts\nand lines"),
]


@pytest.mark.parametrize(("raw", "clean"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_unsafe_characters_are_stripped_from_every_text_column(tiny_tables, raw, clean):
    day = {"signup_date": "2023-01-01", "churn_date": None}
    tables = tiny_tables(
        [
            {"customer_id": "c1", **day, "name": raw, "account_owner": raw},
            {"customer_id": "c2", **day, "segment": raw},
        ],
        interactions=[
            {"customer_id": "c2", "timestamp": "2024-01-02", "channel": raw, "category": "billing"}
        ],
    )
    c = tables.customers.set_index("customer_id")
    assert (c.at["c1", "name"], c.at["c1", "account_owner"], c.at["c2", "segment"]) == (clean,) * 3
    assert tables.interactions["channel"].tolist() == [clean]
    warned = [w for w in tables.warnings if "control or bidi" in w]
    if raw == clean:
        assert warned == []
        return
    # One warning per column, with table, column, count and an example row.
    assert sorted(warned) == [
        "customers.account_owner: 1 row with control or bidi-override characters, removed "
        "(e.g. c1).",
        "customers.name: 1 row with control or bidi-override characters, removed (e.g. c1).",
        "customers.segment: 1 row with control or bidi-override characters, removed (e.g. c2).",
        "interactions.channel: 1 row with control or bidi-override characters, removed (e.g. c2).",
    ]


def test_an_unsafe_customer_id_is_stripped_in_every_table_alike(tiny_tables):
    tables = tiny_tables(
        [{"customer_id": f"c{RLO}1", "signup_date": "2023-01-01", "churn_date": None}],
        usage=[
            {"customer_id": f"c{RLO}1", "date": d, "logins": 3}
            for d in ("2024-01-01", "2024-01-08", "2024-01-15")
        ],
    )
    assert tables.customers["customer_id"].tolist() == ["c1"]
    assert tables.usage["customer_id"].tolist() == ["c1"] * 3
    assert any(w.startswith("usage.customer_id: 3 rows with control") for w in tables.warnings)


# --- end to end: no output file and no terminal line carries them -------------------------------


def _texts(files: dict[str, bytes]) -> dict[str, str]:
    """Every file of a week folder as text: workbooks unzipped, Parquet read back as CSV."""
    out: dict[str, str] = {}
    for path, data in files.items():
        if path.endswith(".xlsx"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                out[path] = "".join(z.read(n).decode("utf-8") for n in z.namelist())
        elif path.endswith(".parquet"):
            out[path] = pd.read_parquet(io.BytesIO(data)).to_csv()
        else:
            out[path] = data.decode("utf-8")
    return out


@pytest.fixture(scope="module")
def hostile_week(tmp_path_factory, scoring_model_factory):
    """The simulated dataset with hostile and foreign names and owners, validated and scored."""
    from churn.data import load_dataset
    from churn.pipelines.score import score_week
    from churn.settings import ScoringSettings, Settings

    root = tmp_path_factory.mktemp("hostile")
    _, model, as_of, data = scoring_model_factory(root, seed=3, mess_rate=0.0)
    path = Path(data) / "customers.csv"
    customers = pd.read_csv(path, dtype=str, keep_default_na=False)
    for i, (_, owner) in enumerate(FOREIGN_OWNERS):
        rows = customers.index % len(FOREIGN_OWNERS) == i
        customers.loc[rows, "account_owner"] = owner + (OSC if i % 2 else RLO)
    customers.loc[customers.index % 3 == 0, "name"] = f"Evil{OSC} {RLO}gpj.exe{PDF} Ltd"
    customers.to_csv(path, index=False)
    tables = load_dataset(data)
    # The tiny test model's scores sit below the default floor; a floor of 0 lists the top ones.
    settings = Settings(scoring=ScoringSettings(min_probability=0.0))
    result = score_week(tables, model, as_of, settings, root / "out")
    files = {
        str(p.relative_to(result.folder)): p.read_bytes()
        for p in result.folder.rglob("*")
        if p.is_file()
    }
    return tables, result, files, data


@pytest.mark.slow
def test_hostile_names_reach_no_output_file(hostile_week):
    tables, result, files, _ = hostile_week
    assert sum("control or bidi" in w for w in tables.warnings) == 2  # name and account_owner
    texts = _texts(files)
    assert "at_risk.csv" in texts and "report.html" in texts
    leaked = {path: UNSAFE.findall(text) for path, text in texts.items() if UNSAFE.search(text)}
    assert leaked == {}
    assert "Evil" in texts["at_risk.csv"]  # the readable rest of the name is still there
    owner_files = [p for p in files if p.startswith("owners/")]
    assert not any(re.search(r"unassigned-\d", p) for p in owner_files)
    listed = set(result.at_risk["account_owner"])
    expected = owner_file_names(o for o in OWNERS if o in listed)
    assert sorted(owner_files) == sorted(f"owners/{f}" for f in expected.values())


@pytest.mark.slow
def test_hostile_names_reach_no_terminal_line(hostile_week, monkeypatch, capsys):
    from churn.pipelines import score as score_module

    _, result, _, data = hostile_week
    monkeypatch.setattr(sys, "argv", ["churn", "validate", "--data", str(data)])
    with pytest.raises(SystemExit) as info:
        cli.main()
    validated = capsys.readouterr()
    assert info.value.code == 0
    assert "control or bidi-override characters, removed" in validated.out
    # The CLI guards the screen on its own too: names re-injected past validation are stripped.
    raw = result.at_risk.assign(name=f"Evil{OSC}{RLO}", reason_1=f"[red]{OSC}[/red]")
    monkeypatch.setattr(score_module, "run_score", lambda *a, **k: _replace(result, raw))
    monkeypatch.setattr(sys, "argv", ["churn", "score", "--data", str(data)])
    with pytest.raises(SystemExit):
        cli.main()
    scored = capsys.readouterr()
    for text in (validated.out, validated.err, scored.out, scored.err):
        assert not UNSAFE.search(text), repr(text)
    assert "Evil" in scored.out and "[red]" in scored.out


def _replace(result, at_risk):
    from dataclasses import replace

    return replace(result, at_risk=at_risk)
