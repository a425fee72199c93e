"""Voice of the customer is point-in-time: nothing known at or after as_of changes it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from churn.voice import VOICE_COLUMNS, voice_of_customer

US = pd.Timedelta(microseconds=1)


@pytest.fixture(scope="module")
def sim():
    from churn.data import DatasetConfig, tables_from_frames
    from churn.simulate import simulate
    from churn.spine import latest_complete_week

    data = simulate(250, seed=11, months=12, mess_rate=0.05)
    frames = {
        "customers": data.customers,
        "interactions": data.interactions,
        "nps": data.nps,
        "usage": data.usage,
    }
    tables = tables_from_frames(frames, DatasetConfig(extraction_date=data.extraction_date))
    as_of = latest_complete_week(tables.extraction_date) - pd.Timedelta(weeks=10)
    return tables, as_of


def _voice(tables, as_of):
    return voice_of_customer(tables, as_of, tables.customers["customer_id"])


def _later(rng, as_of, n):
    """n instants at or after as_of (as_of itself included)."""
    days = rng.integers(0, 60, n).astype("timedelta64[D]")
    return pd.to_datetime(as_of + pd.to_timedelta(days) + pd.to_timedelta(rng.integers(0, 2, n)))


def _rewrite_the_future(tables, as_of, seed):
    """Every record and value that became known at/after as_of redrawn; new ones appended."""
    rng = np.random.default_rng(seed)
    inter = tables.interactions.copy()
    rec = inter["recorded_at"].fillna(inter["timestamp"])
    unknown = ~(inter["resolved_at"].notna() & (np.maximum(inter["resolved_at"], rec) < as_of))
    # Later resolutions: resolved at any time at/after as_of, or never.
    new_res = _later(rng, as_of, int(unknown.sum()))
    inter.loc[unknown, "resolved_at"] = (
        pd.Series(new_res).where(rng.random(len(new_res)) < 0.5).to_numpy()
    )
    # Records that reached the data at/after as_of: anything about them may differ.
    late = rec >= as_of
    inter.loc[late, "category"] = rng.choice(["complaint", "incident"], int(late.sum()))
    inter.loc[late, "timestamp"] = as_of - pd.Timedelta(days=1)
    future = inter.sample(40, random_state=seed).assign(
        timestamp=_later(rng, as_of, 40), category="complaint", resolved_at=pd.NaT
    )
    future["recorded_at"] = future["timestamp"]
    inter = pd.concat([inter, future], ignore_index=True)

    nps = tables.nps.copy()
    t = nps["timestamp"]
    known = t.notna() & nps["score"].notna() & (np.maximum(t, nps["recorded_at"].fillna(t)) < as_of)
    later_answer = ~known & (nps["sent_at"] < as_of)
    when = _later(rng, as_of, int(later_answer.sum()))
    nps.loc[later_answer, "timestamp"] = when
    nps.loc[later_answer, "recorded_at"] = when
    nps.loc[later_answer, "score"] = rng.integers(0, 11, int(later_answer.sum())).astype(float)
    nps.loc[later_answer, "comment"] = "Written after the snapshot"
    extra = nps.sample(40, random_state=seed).assign(
        timestamp=_later(rng, as_of, 40), score=0.0, comment="A later verbatim"
    )
    extra["recorded_at"] = extra["timestamp"]
    extra["sent_at"] = extra["timestamp"]
    nps = pd.concat([nps, extra], ignore_index=True)
    return dataclasses.replace(tables, interactions=inter, nps=nps)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nothing_at_or_after_as_of_changes_the_voice_of_the_customer(sim, seed):
    tables, as_of = sim
    before = _voice(tables, as_of)
    assert before["last_nps_comment"].notna().sum() > 5  # the test has verbatims to protect
    assert (before["last_issue_status"] == "open").any()
    after = _voice(_rewrite_the_future(tables, as_of, seed), as_of)
    pd.testing.assert_frame_equal(before, after)


def _tables(interactions, nps, as_of):
    from churn.data import DatasetConfig, tables_from_frames

    customers = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "signup_date": ["2023-01-01", "2023-01-01"],
            "churn_date": [None, None],
        }
    )
    frames = {"customers": customers, "interactions": interactions, "nps": nps, "usage": None}
    config = DatasetConfig(extraction_date=as_of + pd.Timedelta(days=30))
    return tables_from_frames(frames, config)


def test_boundaries_of_the_verbatim_and_the_ticket_status():
    as_of = pd.Timestamp("2024-03-04")
    interactions = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2", "c2"],
            "timestamp": [
                as_of - pd.Timedelta(days=20),
                as_of - pd.Timedelta(days=3),
                as_of - pd.Timedelta(days=9),
                as_of,
            ],
            "channel": ["phone"] * 4,
            "category": ["Complaint", "incident", "incident", "complaint"],
            # c1's incident is resolved exactly at as_of: still open then.
            "resolved_at": [as_of - pd.Timedelta(days=1), as_of, as_of - US, None],
        }
    )
    nps = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2"],
            "timestamp": [as_of - pd.Timedelta(days=30), as_of, as_of - US],
            "score": [3.0, 10.0, 8.0],
            "comment": ["Support is slow", "Answered at as_of", None],
        }
    )
    voice = _voice(_tables(interactions, nps, as_of), as_of)
    c1, c2 = voice.loc["c1"], voice.loc["c2"]
    # The answer given at as_of is not known yet: the earlier verbatim is the latest.
    assert c1["last_nps_score"] == 3.0 and c1["last_nps_comment"] == "Support is slow"
    assert c2["last_nps_score"] == 8.0 and c2["last_nps_comment"] is None
    assert c1["last_issue_category"] == "incident" and c1["last_issue_status"] == "open"
    assert c1["last_issue_age_days"] == 3
    # c2: the incident was resolved before as_of (not shown); the complaint at as_of is unseen.
    assert c2["last_issue_category"] is None and pd.isna(c2["last_issue_at"])
    assert list(voice.columns) == VOICE_COLUMNS
