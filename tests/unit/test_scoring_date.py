"""The date a weekly list is for: one way to write it, on the cadence, inside the data."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.errors import ChurnError
from churn.scoring_date import check_reach, parse_as_of


def test_an_iso_monday_is_the_snapshot():
    assert parse_as_of("2025-12-29") == pd.Timestamp("2025-12-29")


@pytest.mark.parametrize(
    "text",
    ["01/12/2025", "22/12/2025", "2025-12-29 15:00", "2025-12-29T00:00+02:00", "next monday"],
)
def test_anything_but_yyyy_mm_dd_is_refused(text):
    with pytest.raises(ChurnError, match="YYYY-MM-DD"):
        parse_as_of(text)


def test_a_wednesday_is_refused_with_the_monday_before():
    with pytest.raises(ChurnError, match=r"Wednesday.*use 2025-12-29 \(Monday\)"):
        parse_as_of("2025-12-31")


def test_an_impossible_date_is_refused():
    with pytest.raises(ChurnError, match="not a calendar date"):
        parse_as_of("2025-02-30")


def _tables(tiny_tables):
    return tiny_tables(
        interactions=[
            {
                "customer_id": "c1",
                "timestamp": "2024-01-10",
                "channel": "email",
                "category": "how-to",
            },
            {
                "customer_id": "c2",
                "timestamp": "2024-05-20",
                "channel": "chat",
                "category": "billing",
            },
        ],
        extraction_date="2024-12-30",
    )


def test_before_the_first_event_record_is_refused(tiny_tables):
    with pytest.raises(ChurnError, match="first event record"):
        check_reach(_tables(tiny_tables), pd.Timestamp("2024-01-08"))


def test_after_the_extraction_is_refused(tiny_tables):
    with pytest.raises(ChurnError, match="extraction date"):
        check_reach(_tables(tiny_tables), pd.Timestamp("2025-01-06"))


def test_long_after_the_newest_record_warns(tiny_tables, caplog):
    check_reach(_tables(tiny_tables), pd.Timestamp("2024-12-23"))
    assert "newest event record (2024-05-20)" in caplog.text
    caplog.clear()
    check_reach(_tables(tiny_tables), pd.Timestamp("2024-06-03"))
    assert caplog.text == ""
