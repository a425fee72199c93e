"""Spine, snapshot dates, churn dates and the training/scoring frames."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.contract import Tables, empty_table
from churn.dataset import active_spine, build_scoring_frame, build_training_frame, scoring_spine
from churn.errors import ChurnError
from churn.labels import churn_dates
from churn.settings import SnapshotSettings
from churn.spine import build_activity_spine, build_spine, snapshot_dates

T = pd.Timestamp


def customers(**cols: list[object]) -> pd.DataFrame:
    base = {
        "customer_id": ["a", "b", "c"],
        "signup_date": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-02-01"]),
        "churn_date": pd.to_datetime([None, "2024-01-22", None]),
    }
    base.update(cols)
    return pd.DataFrame(base)


def tables(cust: pd.DataFrame, extraction: str = "2024-06-01", **kw: object) -> Tables:
    return Tables(
        customers=cust,
        interactions=empty_table("interactions"),
        nps=empty_table("nps"),
        usage=empty_table("usage"),
        extraction_date=T(extraction),
        **kw,  # type: ignore[arg-type]
    )


def test_snapshot_dates_are_mondays_within_the_range():
    dates = snapshot_dates("2024-01-02", "2024-01-29")
    assert list(dates) == [T("2024-01-08"), T("2024-01-15"), T("2024-01-22"), T("2024-01-29")]
    assert dates.name == "as_of"


def test_snapshot_dates_never_start_before_start():
    assert snapshot_dates("2024-01-08 12:00", "2024-01-20")[0] == T("2024-01-15")


def test_snapshot_dates_reject_an_unknown_cadence():
    with pytest.raises(ChurnError, match="cadence"):
        snapshot_dates("2024-01-01", "2024-02-01", cadence="fortnightly")


def test_customer_signing_up_at_as_of_is_not_on_the_spine_yet():
    spine = build_spine(customers(), [T("2024-01-08")])
    assert list(spine["customer_id"]) == ["a"]


def test_customer_churning_at_as_of_is_still_on_the_spine_and_gone_after():
    spine = build_spine(customers(), [T("2024-01-22"), T("2024-01-29")])
    at = spine[spine["as_of"] == T("2024-01-22")]["customer_id"].tolist()
    after = spine[spine["as_of"] == T("2024-01-29")]["customer_id"].tolist()
    assert at == ["a", "b"]
    assert after == ["a"]


def test_spine_does_not_modify_customers():
    cust = customers()
    before = cust.copy()
    build_spine(cust, [T("2024-03-04")])
    pd.testing.assert_frame_equal(cust, before)


def test_duplicated_customers_are_a_user_error():
    cust = customers(customer_id=["a", "a", "c"])
    with pytest.raises(ChurnError, match="duplicated customer_id"):
        build_spine(cust, [T("2024-03-04")])


def test_churn_date_after_extraction_is_not_yet_known():
    cust = customers(churn_date=pd.to_datetime([None, "2024-07-01", "2024-03-01"]))
    dates = churn_dates(tables(cust))
    assert pd.isna(dates["b"]) and dates["c"] == T("2024-03-01")


def test_flag_churn_has_no_time_axis_for_snapshots():
    with pytest.raises(ChurnError, match="no time axis"):
        churn_dates(tables(customers(), churn_definition="flag"))


def test_date_churn_without_churn_date_column_says_how_to_fix():
    with pytest.raises(ChurnError, match="churn_date"):
        churn_dates(tables(customers().drop(columns=["churn_date"])))


def test_training_frame_has_labels_and_features_for_each_spine_row():
    snaps = SnapshotSettings(warmup_days=14, horizon_days=28)
    frame = build_training_frame(tables(customers()), snaps)
    assert frame["as_of"].min() == T("2024-01-15")
    assert frame["as_of"].max() == T("2024-05-27")
    assert list(frame.columns[:3]) == ["customer_id", "as_of", "label"]
    assert not frame.duplicated(["customer_id", "as_of"]).any()
    b = frame[frame["customer_id"] == "b"]
    # On the spine at 01-15 and at 01-22 (churning that very day), labelled churn both times.
    assert b["as_of"].tolist() == [T("2024-01-15"), T("2024-01-22")]
    assert b["label"].tolist() == [1.0, 1.0]
    # The last snapshots' windows run past the extraction: censored.
    assert frame[frame["as_of"] == T("2024-05-27")]["label"].isna().all()


def test_training_frame_refuses_a_history_shorter_than_the_warmup():
    with pytest.raises(ChurnError, match="warmup_days"):
        build_training_frame(tables(customers()), SnapshotSettings(warmup_days=400))


def test_scoring_after_extraction_is_refused():
    with pytest.raises(ChurnError, match="extraction"):
        build_scoring_frame(tables(customers()), "2024-06-02")


def test_scoring_frame_lists_current_customers_only():
    frame = build_scoring_frame(tables(customers()), "2024-06-01")
    assert frame["customer_id"].tolist() == ["a", "c"]


def activity(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """Activities as (customer_id, happened, known) rows."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "t": pd.to_datetime([r[1] for r in rows]),
            "known": pd.to_datetime([r[2] for r in rows]),
        }
    )


def test_activity_spine_keeps_customers_active_within_the_inactivity_days():
    acts = activity(("a", "2024-02-20", "2024-02-20"), ("c", "2024-03-01", "2024-03-01"))
    spine = build_activity_spine(customers(), [T("2024-03-04")], acts, inactivity_days=10)
    # a: 13 days silent; b: silent since signing up on 01-08; c: 3 days.
    assert spine["customer_id"].tolist() == ["c"]


def test_activity_spine_ignores_activity_known_only_at_or_after_as_of():
    acts = activity(("a", "2024-03-01", "2024-03-04"), ("c", "2024-03-01", "2024-03-03"))
    spine = build_activity_spine(customers(), [T("2024-03-04")], acts, inactivity_days=10)
    assert spine["customer_id"].tolist() == ["c"]


def test_activity_spine_needs_a_positive_inactivity_days():
    with pytest.raises(ChurnError, match="inactivity_days"):
        build_activity_spine(customers(), [T("2024-03-04")], activity(), inactivity_days=0)


def inactivity_tables(extraction: str = "2024-06-01") -> Tables:
    usage = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "date": pd.to_datetime(["2024-01-01", "2024-05-06", "2024-02-05", "2024-04-01"]),
            "logins": [3.0, 1.0, 2.0, 5.0],
        }
    )
    return Tables(
        customers=customers().drop(columns=["churn_date"]),
        interactions=empty_table("interactions"),
        nps=empty_table("nps"),
        usage=usage,
        extraction_date=T(extraction),
        usage_metrics=("logins",),
        churn_definition="inactivity",
        inactivity_days=28,
    )


def test_scoring_uses_the_same_spine_rule_as_training_for_inactivity_churn():
    tables = inactivity_tables()
    weeks = snapshot_dates("2024-02-05", "2024-05-27")
    training = active_spine(tables, weeks)
    for week in weeks:
        expected = training.loc[training["as_of"] == week, "customer_id"].tolist()
        assert scoring_spine(tables, week)["customer_id"].tolist() == expected
    # b signed up 01-08 and was silent 28 days on 02-05 (churned); their week [02-05, 02-12)
    # counts from 02-12 (known at its end, as the features see it: usage_visible_from), dated
    # at its end, for 28 days.
    b = training.loc[training["customer_id"] == "b", "as_of"]
    assert b.tolist() == [T("2024-02-12"), T("2024-02-19"), T("2024-02-26"), T("2024-03-04")]


def test_churn_by_date_spine_is_the_churn_date_rule():
    tables_ = tables(customers())
    dates = [T("2024-01-22"), T("2024-01-29")]
    pd.testing.assert_frame_equal(
        active_spine(tables_, dates),
        build_spine(tables_.customers, dates, churn_date=churn_dates(tables_)),
    )
