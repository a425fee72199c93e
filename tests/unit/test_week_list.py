"""The week's list in context: dropped off and why, what changed, the trend from past folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churn.outputs import past_week_scores
from churn.scoring import (
    DROPPED_COLUMNS,
    dropped_counts,
    dropped_off,
    probability_trend,
    what_changed,
)
from churn.settings import ScoringSettings

AS_OF = pd.Timestamp("2025-06-02")


def test_each_customer_who_dropped_off_is_named_with_why():
    previous_list = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "F"],
            "rank": [1, 2, 3, 4, 5, 6],
            "name": ["Acme", "Bolt", "Cork", "Dune", "Echo", "Fern"],
            "account_owner": ["Ann", "Ann", "Bob", "Bob", "Cy", "Cy"],
            "arr": [1_143_800.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "churn_probability": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        }
    )
    current = pd.DataFrame({"customer_id": ["F"]})
    scores = pd.DataFrame({"customer_id": ["C", "D", "F"], "churn_probability": [0.10, 0.40, 0.45]})
    excluded = pd.DataFrame({"customer_id": ["E"], "reason": ["missing required data: nps"]})
    out = dropped_off(current, previous_list, scores, excluded, ["A"], ScoringSettings())
    assert list(out.columns) == DROPPED_COLUMNS
    assert out["customer_id"].tolist() == ["A", "B", "C", "D", "E"]
    assert out["why"].tolist() == [
        "churned",
        "no longer active",
        "below the floor",
        "displaced by capacity",
        "excluded: missing required data: nps",
    ]
    assert out.loc[0, "name"] == "Acme" and out.loc[0, "arr"] == 1_143_800.0
    assert out["previous_rank"].tolist() == [1, 2, 3, 4, 5]
    assert np.isnan(out.loc[0, "churn_probability"]) and out.loc[3, "churn_probability"] == 0.4
    assert dropped_counts(out) == {
        "below the floor": 1,
        "churned": 1,
        "displaced by capacity": 1,
        "excluded": 1,
        "no longer active": 1,
    }


def test_the_floor_for_dropped_off_is_the_displayed_probability():
    # 0.2496 is shown as "25%": at the floor, so it was displaced, not below it.
    previous_list = pd.DataFrame({"customer_id": ["A"], "rank": [1], "churn_probability": [0.3]})
    scores = pd.DataFrame({"customer_id": ["A"], "churn_probability": [0.2496]})
    out = dropped_off(pd.DataFrame({"customer_id": []}), previous_list, scores)
    assert out["why"].tolist() == ["displaced by capacity"]


def _reasons(ids, *reasons):
    """A frame of customers with reasons given as [(sentence, feature, effect), ...] each."""
    rows = []
    for cid, rs in zip(ids, reasons, strict=True):
        row = {"customer_id": cid}
        for i, (text, feat, effect) in enumerate(rs, start=1):
            row |= {f"reason_{i}": text, f"reason_{i}_feature": feat, f"reason_{i}_effect": effect}
        rows.append(row)
    return pd.DataFrame(rows)


def test_what_changed_names_the_reason_that_grew_most_since_last_week():
    listed = _reasons(
        ["A", "B", "C", "D", "E"],
        [("3 complaints open", "int_open", 0.15), ("NPS fell from 9 to 4", "nps_delta", 0.06)],
        [("Seat use 4%", "util_seat", 0.10)],
        [("No activity for 30 days", "util_days", 0.20)],
        [("Seat use 4%", "util_seat", 0.10)],
        [("Seat use 4%", "util_seat", 0.10)],
    ).assign(change=["up", "new", "same", "up", "new"])
    previous = _reasons(
        ["A", "B", "C", "D"],
        [("1 complaint open", "int_open", 0.03), ("NPS fell from 9 to 4", "nps_delta", 0.05)],
        [("Seat use 10%", "util_seat", 0.04)],
        [("No activity for 2 days", "util_days", 0.01)],
        [("Seat use 4%", "util_seat", 0.12)],
    )
    out = what_changed(listed, previous, k=2)
    assert out.tolist() == [
        "3 complaints open (up 12 pts since last week)",
        "Seat use 4% (up 6 pts since last week)",
        "",  # not moved up
        "",  # moved up, but its reason shrank
        "Not scored last week",
    ]
    previous_b = previous.copy()
    previous_b.loc[1, "reason_1_feature"] = "other"
    assert what_changed(listed, previous_b, k=2)[1] == "Seat use 4% (new since last week, +10 pts)"
    assert (what_changed(listed, None, k=2) == "").all()


def _week(root, when, probabilities):
    folder = root / when.date().isoformat()
    folder.mkdir(parents=True)
    scores = pd.DataFrame(
        {"customer_id": list(probabilities), "churn_probability": list(probabilities.values())}
    )
    scores.to_parquet(folder / "scores.parquet")
    (folder / "manifest.json").write_text(json.dumps({"as_of": when.date().isoformat()}))


def test_the_trend_is_read_from_the_past_week_folders_oldest_first(tmp_path):
    week = pd.Timedelta(weeks=1)
    _week(tmp_path, AS_OF - 4 * week, {"A": 0.1, "B": 0.2})
    _week(tmp_path, AS_OF - 3 * week, {"A": 0.15})
    # 2 weeks ago: no folder. 1 week ago: a folder without manifest (a killed write): no week.
    (tmp_path / (AS_OF - week).date().isoformat()).mkdir()
    _week(tmp_path, AS_OF - 9 * week, {"A": 0.9})  # beyond the 8 weeks: not shown
    past = past_week_scores(tmp_path, AS_OF, "W-MON", 7)
    assert len(past) == 7 and past[-1] is None and past[-2] is None
    listed = pd.DataFrame({"customer_id": ["A", "B", "C"], "churn_probability": [0.3, 0.25, 0.5]})
    trend = probability_trend(listed, past)
    assert trend.tolist() == [
        "0.100 0.150 - - 0.300",
        "0.200 - - - 0.250",
        "- - - - 0.500",
    ]
    assert all(len(t.split()) <= 8 for t in trend)
    # With no earlier week at all, the trend is this week's value alone.
    assert probability_trend(listed, [None] * 7).tolist() == ["0.300", "0.250", "0.500"]


def test_a_trend_of_eight_weeks_keeps_the_latest_seven_past_ones():
    listed = pd.DataFrame({"customer_id": ["A"], "churn_probability": [0.9]})
    past = [pd.DataFrame({"customer_id": ["A"], "churn_probability": [i / 10]}) for i in range(9)]
    assert probability_trend(listed, past).iloc[0] == (
        "0.200 0.300 0.400 0.500 0.600 0.700 0.800 0.900"
    )


@pytest.mark.parametrize("unreadable", [b"not parquet", None])
def test_a_damaged_past_week_shows_a_dash_and_does_not_block(tmp_path, unreadable):
    folder = tmp_path / (AS_OF - pd.Timedelta(weeks=1)).date().isoformat()
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    if unreadable is not None:
        (folder / "scores.parquet").write_bytes(unreadable)
    assert past_week_scores(tmp_path, AS_OF, "W-MON", 3) == [None, None, None]


# ------------------------------------------------------------------ a simulated week, end to end


@pytest.fixture(scope="module")
def demo(tmp_path_factory, scoring_model_factory):
    return scoring_model_factory(tmp_path_factory.mktemp("week-list"), seed=4, mess_rate=0.0)


def _spread(model):
    """The demo model with a calibrator that spreads its (tiny) scores over 10-90%."""
    from churn.modeling import Calibrator, ChurnModel

    calibrator = Calibrator.from_dict({"method": "sigmoid", "a": 1.0, "b": 4.5})
    return ChurnModel(model.booster, calibrator, model.feature_names, 90, model.metadata)


def _settings(capacity):
    from churn.settings import Settings

    scoring = ScoringSettings(
        min_probability=0.15,
        capacity_per_owner=capacity,
        list_size=None,
    )
    return Settings(scoring=scoring)


@pytest.mark.slow
def test_a_simulated_week_keeps_the_list_rule_and_names_who_dropped_off(demo, tmp_path):
    import dataclasses

    from churn.pipelines.score import score_week
    from churn.scoring import DROPPED_WHY, list_rule_text

    tables, model, as_of, _ = demo
    model = _spread(model)
    # Every third account has no ARR: none of them may be dropped for it.
    customers = tables.customers.copy()
    customers.loc[customers.index % 3 == 0, "arr"] = np.nan
    tables = dataclasses.replace(tables, customers=customers)
    last_week = as_of - pd.Timedelta(weeks=1)
    score_week(tables, model, last_week, _settings(3), tmp_path)
    result = score_week(tables, model, as_of, _settings(2), tmp_path)
    folder = result.folder
    scores = pd.read_parquet(folder / "scores.parquet")
    rank = {"high": 0, "medium": 1, "low": 2}
    assert scores["listed"].sum() > 10 and scores["risk_tier"].nunique() >= 2
    for owner, owned in scores.groupby(scores["account_owner"].fillna("")):
        listed, waiting = owned[owned["listed"]], owned[~owned["listed"]]
        assert len(listed) <= 2, owner
        if len(listed) and len(waiting):
            # No lower tier on the list while a higher tier of the same owner waits.
            assert listed["risk_tier"].map(rank).max() <= waiting["risk_tier"].map(rank).min()
    unknown = scores[scores["arr"].isna() & (scores["churn_probability"] >= 0.15)]
    assert unknown["listed"].any()  # unknown ARR is not silently dropped
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["list_rule"] == list_rule_text(_settings(2).scoring)
    assert manifest["tier_bands"] == [["high", 0.5], ["medium", 0.25], ["low", 0.0]]
    assert sum(manifest["play_mix"].values()) == manifest["counts"]["listed"]

    dropped = pd.read_csv(folder / "dropped_off.csv", dtype={"customer_id": str})
    last = folder.parent / last_week.date().isoformat()
    before = pd.read_csv(last / "at_risk.csv")
    if (last / "control.csv").exists():  # last week's list: what was sent plus the control group
        before = pd.concat([before, pd.read_csv(last / "control.csv")], ignore_index=True)
    now = pd.read_csv(folder / "at_risk.csv")
    # The control group is on the list (held out of what is sent), so not dropped off it.
    held = pd.read_csv(folder / "control.csv") if (folder / "control.csv").exists() else now[:0]
    gone = set(before["customer_id"]) - set(now["customer_id"]) - set(held["customer_id"])
    assert set(dropped["customer_id"]) == gone and len(gone) > 0
    assert dropped["why"].str.split(":").str[0].isin(DROPPED_WHY).all()
    assert (dropped["why"] == "displaced by capacity").any()  # capacity went from 3 to 2
    assert manifest["counts"]["dropped_off"] == len(dropped)
    # The list's context columns: trend of two weeks for returning customers, voice columns.
    returning = result.at_risk[result.at_risk["change"] != "new"]
    assert returning["probability_trend"].str.split().str.len().eq(2).all()
    assert now["last_nps_score"].notna().any()
