"""churn impact: intervals from the literature, one unit per customer, plain verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.impact import listed_units, measure_impact, newcombe, relative_risk, render_page, wilson


def test_wilson_and_newcombe_match_the_published_examples():
    # Newcombe (1998), Statistics in Medicine 17: 81/263 -> Wilson 0.2553 to 0.3662;
    # 56/70 vs 48/80 -> difference 0.2000, hybrid score interval 0.0524 to 0.3339.
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    d, low, high = newcombe(56, 70, 48, 80)
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)


def test_relative_risk_interval_brackets_the_estimate_and_survives_empty_cells():
    rr, low, high = relative_risk(10, 100, 20, 100)
    assert rr == pytest.approx(0.5) and low < 0.5 < high
    rr, low, high = relative_risk(0, 50, 5, 50)
    assert np.isfinite([rr, low, high]).all() and low < rr < high


def _week(as_of, sent, control, arr=1000.0):
    def frame(ids):
        return pd.DataFrame(
            {
                "customer_id": ids,
                "arr": arr,
                "recommended_play": "Call",
                "risk_tier": "high",
                "segment": "SMB",
            }
        )

    return {
        "as_of": pd.Timestamp(as_of),
        "horizon_days": 90,
        "sent": frame(sent),
        "control": frame(control),
    }


def test_a_customer_counts_once_in_the_arm_of_the_first_matured_week():
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            # a churns inside its first week's horizon; b after it (not churned); c at as_of
            "churn_date": pd.to_datetime(["2024-02-01", "2024-05-01", "2024-01-08", None]),
        }
    )
    weeks = [
        _week("2024-01-08", ["a", "b"], ["c"]),
        _week("2024-01-15", ["c"], ["a"]),  # c again, now treated: still control
        _week("2024-06-03", ["d"], []),  # horizon not passed at extraction: left out
    ]
    units = listed_units(weeks, customers, pd.Timestamp("2024-07-01")).set_index("customer_id")
    assert sorted(units.index) == ["a", "b", "c"]
    assert units.loc["c", "arm"] == "control" and units.loc["a", "arm"] == "treated"
    assert units["churned"].to_dict() == {"a": True, "b": False, "c": True}


def test_too_little_data_is_said_plainly():
    customers = pd.DataFrame({"customer_id": ["a", "b"], "churn_date": pd.NaT})
    report = measure_impact(
        [_week("2024-01-08", ["a"], ["b"])], customers, pd.Timestamp("2024-07-01"), resamples=10
    )
    assert report["overall"]["verdict"].startswith("Too little data to conclude: 1 treated and 1")
    assert "Too little data" in render_page(report).decode()


def test_a_real_effect_is_found_and_its_interval_covers_it():
    rng = np.random.default_rng(1)
    n = 4000
    ids = [f"c{i}" for i in range(n)]
    control = rng.random(n) < 0.1
    # True churn 30% without the play, 20% with it: an effect of -10 points.
    churned = rng.random(n) < np.where(control, 0.30, 0.20)
    customers = pd.DataFrame(
        {"customer_id": ids, "churn_date": np.where(churned, pd.Timestamp("2024-02-01"), pd.NaT)}
    )
    ids = np.asarray(ids)
    week = _week("2024-01-08", list(ids[~control]), list(ids[control]))
    report = measure_impact([week], customers, pd.Timestamp("2024-07-01"), resamples=50)
    d = report["overall"]["difference"]
    assert d["low"] < -0.10 < d["high"] and d["high"] < 0
    assert report["overall"]["verdict"].startswith("The plays lowered churn by")
    assert report["overall"]["arr_retained"]["difference"] > 0
    assert report["by"]["segment"]["SMB"]["treated"]["customers"] == int((~control).sum())


def test_churn_impact_reads_week_folders_and_writes_page_and_json(tmp_path, monkeypatch, capsys):
    import json
    import sys

    from churn import cli

    data = tmp_path / "ds"
    data.mkdir()
    ids = [f"c{i}" for i in range(8)]
    pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": "2023-01-01",
            "churn_date": ["2024-02-01", None] * 4,
        }
    ).to_csv(data / "customers.csv", index=False)
    (data / "dataset.yaml").write_text("extraction_date: '2024-07-01'\n")
    week = tmp_path / "weeks" / "2024-01-08"
    week.mkdir(parents=True)
    (week / "manifest.json").write_text(json.dumps({"as_of": "2024-01-08", "horizon_days": 90}))
    frame = pd.DataFrame({"customer_id": ids, "arr": 100.0, "recommended_play": "Call"})
    frame.iloc[:6].to_csv(week / "at_risk.csv", index=False)
    frame.iloc[6:].to_csv(week / "control.csv", index=False)
    (tmp_path / "weeks" / "notes").mkdir()  # not a week folder: ignored
    out = tmp_path / "impact"
    argv = ["churn", "impact", "--data", str(data), "--weeks", str(week.parent), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "6 treated and 2 control customers" in text and "Too little data" in text
    report = json.loads((out / "impact.json").read_text())
    assert report["overall"]["treated"]["churned"] == 3
    assert (out / "impact.html").read_bytes().startswith(b"<!doctype html>")
