"""Weekly alerts: the right events, with owner and due date, and nothing known at/after as_of."""

from __future__ import annotations

import dataclasses

import pandas as pd
from conftest import make_tables  # tests/ is on sys.path (rootdir conftest, no __init__)

from churn.alerts import ALERT_COLUMNS, alert_counts, week_alerts
from churn.settings import AlertSettings

AS_OF = pd.Timestamp("2024-05-06")

CUSTOMERS = (
    {"customer_id": "c1", "signup_date": "2023-01-01", "name": "Acme", "account_owner": "Ann"},
    {"customer_id": "c2", "signup_date": "2023-01-01", "name": "Beta", "account_owner": "Bob"},
    {
        "customer_id": "c3",
        "signup_date": "2023-01-01",
        "churn_date": "2024-04-01",
        "name": "Gone",
        "account_owner": "Bob",
    },
)
NPS = [
    # c1: a detractor with a verbatim, 4 days before as_of -> alert
    {"customer_id": "c1", "timestamp": "2024-05-02 10:00", "score": 3, "comment": "Too slow"},
    # c2: a passive -> none; c2: a detractor a month ago -> outside the window
    {"customer_id": "c2", "timestamp": "2024-05-03 10:00", "score": 7, "comment": None},
    {"customer_id": "c2", "timestamp": "2024-04-01 10:00", "score": 2, "comment": None},
    # c3 churned before as_of: no alert for a customer who left
    {"customer_id": "c3", "timestamp": "2024-05-01 10:00", "score": 0, "comment": None},
]
INTERACTIONS = [
    # c2: a complaint opened 20 days before, resolved after as_of -> still open at as_of
    {
        "customer_id": "c2",
        "timestamp": "2024-04-16 09:00",
        "channel": "phone",
        "category": "complaint",
        "resolved_at": "2024-05-20 09:00",
    },
    # c1: a complaint resolved before as_of -> none; a how-to left open -> not a category
    {
        "customer_id": "c1",
        "timestamp": "2024-04-10 09:00",
        "channel": "email",
        "category": "complaint",
        "resolved_at": "2024-04-12 09:00",
    },
    {
        "customer_id": "c1",
        "timestamp": "2024-04-10 09:00",
        "channel": "email",
        "category": "how-to",
        "resolved_at": None,
    },
]


def _usage(weeks: int = 16) -> list[dict]:
    rows = []
    for i in range(weeks):
        date = AS_OF - pd.Timedelta(weeks=weeks - i)
        recent = date >= AS_OF - pd.Timedelta(days=28)
        rows.append({"customer_id": "c1", "date": date.date().isoformat(), "logins": 50.0})
        # c2's usage drops from 40 to 10 a period in the last four weeks
        rows.append(
            {"customer_id": "c2", "date": date.date().isoformat(), "logins": 10.0 if recent else 40}
        )
    return rows


def _tables(nps=NPS, interactions=INTERACTIONS, usage=None):
    return make_tables(
        CUSTOMERS,
        nps=nps,
        interactions=interactions,
        usage=_usage() if usage is None else usage,
        extraction_date="2024-06-30",
    )


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "risk_tier": ["high", "low"],
            "churn_probability": [0.7, 0.1],
            "days_to_renewal": [30.0, 10.0],
        }
    )


def test_each_kind_of_alert_names_customer_owner_and_due_date():
    alerts = week_alerts(_tables(), AS_OF, AlertSettings(), _scores())
    assert list(alerts.columns) == ALERT_COLUMNS
    got = sorted(zip(alerts["customer_id"], alerts["kind"], strict=True))
    assert got == [
        ("c1", "detractor"),
        ("c1", "renewal"),
        ("c2", "open_ticket"),
        ("c2", "usage_drop"),
    ]
    detractor = alerts[alerts["kind"] == "detractor"].iloc[0]
    assert "3/10" in detractor["detail"] and "Too slow" in detractor["detail"]
    assert detractor["account_owner"] == "Ann" and detractor["name"] == "Acme"
    assert (alerts["due_date"] == AS_OF + pd.Timedelta(days=3)).all()
    ticket = alerts[alerts["kind"] == "open_ticket"].iloc[0]
    assert "19 days" in ticket["detail"]
    # Only the high-risk customer's renewal is an alert, on the renewal date.
    renewal = alerts[alerts["kind"] == "renewal"].iloc[0]
    assert renewal["event_date"] == AS_OF + pd.Timedelta(days=30)
    assert alert_counts(alerts) == {
        "detractor": 1,
        "open_ticket": 1,
        "usage_drop": 1,
        "renewal": 1,
    }


def test_settings_move_the_thresholds():
    settings = AlertSettings(open_days=30, detractor_days=60, usage_drop_share=0.9, due_days=7)
    alerts = week_alerts(_tables(), AS_OF, settings)
    got = sorted(zip(alerts["customer_id"], alerts["kind"], strict=True))
    # c2's older detractor now counts; the 20-day complaint and the 75% drop no longer do.
    assert got == [("c1", "detractor"), ("c2", "detractor")]
    assert (alerts["due_date"] == AS_OF + pd.Timedelta(days=7)).all()


def _late_versions():
    """The same data, plus or changed only by what became known at or after as_of."""
    late_nps = [
        *NPS,
        # answered before as_of but recorded at as_of: not known yet
        {
            "customer_id": "c2",
            "timestamp": "2024-05-05 10:00",
            "score": 1,
            "comment": "x",
            "recorded_at": "2024-05-06 00:00",
        },
        {"customer_id": "c2", "timestamp": "2024-05-06 00:00", "score": 0, "comment": "at as_of"},
    ]
    late_inter = [dict(r) for r in INTERACTIONS]
    # the c2 complaint is resolved exactly at as_of: still open at as_of
    late_inter[0]["resolved_at"] = "2024-05-06 00:00"
    late_inter.append(
        {
            "customer_id": "c1",
            "timestamp": "2024-04-01 09:00",
            "channel": "phone",
            "category": "incident",
            "resolved_at": None,
            "recorded_at": "2024-05-07 00:00",
        }
    )
    late_usage = _usage()
    for r in late_usage:
        r["recorded_at"] = (pd.Timestamp(r["date"]) + pd.Timedelta(days=7)).isoformat()
    # c1's last two periods are rewritten to 0 but only recorded at as_of, and the period
    # starting at as_of (ending after it) is 0 too: neither may be seen.
    for r in late_usage:
        if r["customer_id"] == "c1" and pd.Timestamp(r["date"]) >= AS_OF - pd.Timedelta(days=14):
            r.update(logins=0.0, recorded_at=AS_OF.isoformat())
    late_usage.append({"customer_id": "c1", "date": "2024-05-06", "logins": 0.0})
    return late_nps, late_inter, late_usage


def test_alerts_use_only_what_was_known_strictly_before_as_of():
    settings = AlertSettings()
    base = week_alerts(_tables(), AS_OF, settings)
    late_nps, late_inter, late_usage = _late_versions()
    late = week_alerts(_tables(late_nps, late_inter, late_usage), AS_OF, settings)
    pd.testing.assert_frame_equal(base, late)


def test_a_late_value_is_seen_the_week_after_it_became_known():
    # The guard above must not be vacuous: a week later the late records do change the alerts.
    late_nps, late_inter, late_usage = _late_versions()
    later = AS_OF + pd.Timedelta(days=7)
    settings = AlertSettings()
    alerts = week_alerts(_tables(late_nps, late_inter, late_usage), later, settings)
    before = week_alerts(_tables(), later, settings)
    assert len(alerts) != len(before)
    kinds = set(zip(alerts["customer_id"], alerts["kind"], strict=True))
    assert ("c1", "open_ticket") in kinds  # the incident recorded late
    assert ("c2", "open_ticket") not in kinds  # the resolution is known by now


def test_no_data_gives_an_empty_frame_with_the_columns():
    tables = make_tables(CUSTOMERS, extraction_date="2024-06-30")
    tables = dataclasses.replace(tables)
    alerts = week_alerts(tables, AS_OF, AlertSettings())
    assert list(alerts.columns) == ALERT_COLUMNS and alerts.empty
    assert alert_counts(alerts) == dict.fromkeys(
        ("detractor", "open_ticket", "usage_drop", "renewal"), 0
    )
