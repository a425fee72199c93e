"""The date a weekly list is for: written one way, on the cadence, inside what the data reaches.

Pure rules, used by ``churn score`` before anything is computed. The list for ``as_of`` is
written to the folder ``<as_of>/``, becomes next week's comparison base, and is read by account
teams as "this Monday's list", so a date that is ambiguous, off the cadence or outside the data
must be refused with the date to use, not guessed.
"""

from __future__ import annotations

import logging
import re

import pandas as pd

from churn.contract import Tables
from churn.errors import ChurnError

log = logging.getLogger(__name__)

#: Warn when the newest record is this many days before as_of: every customer looks silent.
STALE_DAYS = 30


def parse_as_of(text: str, cadence: str = "W-MON") -> pd.Timestamp:
    """``--as-of`` as a snapshot date: ISO ``YYYY-MM-DD`` only, on the cadence (a Monday).

    ``01/12/2025`` could be either of two dates and pandas guesses; a time of day or an offset
    would build a list at another instant than the week's and overwrite the Monday folder; a
    Wednesday would become next week's comparison base. All are refused with the date to use.
    """
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise ChurnError(
            f"--as-of {text!r} is not a date written YYYY-MM-DD (e.g. 2025-12-29); day/month "
            "orders are ambiguous and a time of day is not a snapshot"
        )
    try:
        when = pd.Timestamp(text.strip())
    except ValueError:
        raise ChurnError(f"--as-of {text!r} is not a calendar date") from None
    on_cadence = pd.date_range(end=when, periods=1, freq=cadence)[0]
    if on_cadence != when:
        raise ChurnError(
            f"--as-of {when.date()} ({when.day_name()}) is not a snapshot date of the cadence "
            f"{cadence!r}: use {on_cadence.date()} ({on_cadence.day_name()}), the one before it"
        )
    return pd.Timestamp(when).as_unit("ns")


def check_reach(tables: Tables, as_of: pd.Timestamp) -> None:
    """Refuse an ``as_of`` the data does not reach; warn when it is long after the newest record.

    After the extraction nothing is known; at or before the first event record every feature
    would be empty; long after the newest record every customer looks silent.
    """
    if as_of > tables.extraction_date:
        raise ChurnError(
            f"as_of {as_of.date()} is after the data's extraction date "
            f"{tables.extraction_date.date()}: nothing after extraction is known. Pass an "
            "earlier --as-of (or leave it out for the latest complete week)."
        )
    first, last = tables.event_range()
    if first is not None and as_of <= first:
        raise ChurnError(
            f"as_of {as_of.date()} is not after the first event record ({first.date()}): no "
            "interaction, survey or usage would be visible, so the list would rank customers "
            "on account facts alone. Pass a later --as-of."
        )
    if last is not None and (as_of - last).days > STALE_DAYS:
        log.warning(
            "the newest event record (%s) is %d days before as_of %s: every customer looks "
            "silent; check the extract or pass an earlier --as-of",
            last.date(),
            (as_of - last).days,
            as_of.date(),
        )
