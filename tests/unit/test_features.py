"""Feature values on tiny hand-made datasets, the catalogue and its reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.contract import Tables, empty_table
from churn.features import (
    FAMILIES,
    FeatureSpec,
    build_features,
    catalogue_frame,
    feature_catalogue,
    feature_names,
    render_reason,
)

AS_OF = pd.Timestamp("2024-03-04")
DAY = pd.Timedelta(days=1)


def dataset(**frames: pd.DataFrame) -> Tables:
    cust = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "signup_date": pd.to_datetime(["2023-03-04", "2024-01-01"]),
            "churn_date": pd.to_datetime([None, None]),
            "plan": ["pro", "basic"],
            "segment": ["SMB", "ENT"],
            "region": ["EU", "US"],
            "contract_months": [12.0, np.nan],
            # c2's term is unknown: a renewal derived from this date would be a leak.
            "contract_end_date": pd.to_datetime(["2024-03-27", "2024-03-20"]),
            "arr": [1200.0, 300.0],
        }
    )
    customers = frames.get("customers")
    cust = cust if customers is None else customers
    parts = {name: frames.get(name, empty_table(name)) for name in ("interactions", "nps")}
    usage = frames.get(
        "usage",
        pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "date": pd.Series([], dtype="datetime64[ns]"),
                "active_users": pd.Series([], dtype="float64"),
                "seats_licensed": pd.Series([], dtype="float64"),
            }
        ),
    )
    return Tables(
        customers=cust,
        usage=usage,
        extraction_date=pd.Timestamp("2024-06-01"),
        usage_metrics=("active_users", "seats_licensed"),
        **parts,
    )


def features(tables: Tables, as_of: pd.Timestamp = AS_OF) -> pd.DataFrame:
    spine = pd.DataFrame({"customer_id": ["c1", "c2"], "as_of": [as_of, as_of]})
    return build_features(spine, tables).set_index("customer_id")


def test_one_row_per_spine_row_in_the_same_order_and_index():
    spine = pd.DataFrame(
        {"customer_id": ["c2", "c1", "c2"], "as_of": [AS_OF, AS_OF, AS_OF - 7 * DAY]},
        index=[10, 11, 12],
    )
    out = build_features(spine, dataset())
    assert list(out.index) == [10, 11, 12]
    assert out["customer_id"].tolist() == ["c2", "c1", "c2"]
    assert list(out.columns[:2]) == ["customer_id", "as_of"]


def test_build_features_does_not_modify_its_inputs():
    tables = dataset()
    spine = pd.DataFrame({"customer_id": ["c1"], "as_of": [AS_OF]})
    before = (spine.copy(), tables.customers.copy())
    build_features(spine, tables)
    pd.testing.assert_frame_equal(spine, before[0])
    pd.testing.assert_frame_equal(tables.customers, before[1])


def test_account_features():
    f = features(dataset())
    assert f.loc["c1", "acct_tenure_days"] == 366
    # Annual term from the 2023-03-04 signup: the next anniversary is a year away.
    assert f.loc["c1", "acct_days_to_renewal"] == pytest.approx(2 * 365.25 - 366)
    assert list(f["acct_plan"].cat.categories) == ["basic", "pro"]
    assert f.loc["c2", "acct_segment"] == "ENT"


def test_days_to_renewal_is_missing_without_a_term_whatever_the_contract_end_date():
    f = features(dataset())
    assert np.isnan(f.loc["c2", "acct_days_to_renewal"])


def test_without_contract_months_renewal_features_are_left_out_with_one_warning(caplog):
    cust = dataset().customers.drop(columns=["contract_months"])
    tables = dataset(customers=cust)
    with caplog.at_level("WARNING", logger="churn.features.engine"):
        spec = FeatureSpec.from_tables(tables)
    assert not spec.has_contract_term
    assert "acct_days_to_renewal" not in feature_names(spec)
    said = [m for m in caplog.messages if "contract_months" in m]
    assert len(said) == 1 and "acct_days_to_renewal" in said[0]


def test_a_spec_stored_before_the_contract_switch_keeps_days_to_renewal():
    raw = FeatureSpec.from_tables(dataset()).to_dict()
    del raw["has_contract_term"]
    assert "acct_days_to_renewal" in feature_names(FeatureSpec.from_dict(raw))


def test_csat_and_sentiment_are_left_out_without_resolutions():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "timestamp": [AS_OF - DAY],
            "channel": ["phone"],
            "category": ["billing"],
            "csat": [3.0],
            "sentiment": [-0.5],
        }
    )
    names = feature_names(FeatureSpec.from_tables(dataset(interactions=inter)))
    assert "int_csat_mean_90d" not in names and "int_sentiment_mean_90d" not in names


def test_csat_and_sentiment_count_only_tickets_resolved_in_the_last_90_days():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1"] * 4,
            "timestamp": [AS_OF - k * DAY for k in (150, 100, 10, 5)],
            "channel": "phone",
            "category": "billing",
            "resolved_at": [AS_OF - k * DAY for k in (140, 80, 9, -1)],
            "csat": [5.0, 2.0, 4.0, 1.0],
            "sentiment": [0.9, -0.2, 0.6, -0.9],
        }
    )
    f = features(dataset(interactions=inter))
    # Resolved 140 days ago: outside the window. Still open at as_of: its rating and
    # sentiment were filled in later.
    assert f.loc["c1", "int_csat_mean_90d"] == pytest.approx(3.0)
    assert f.loc["c1", "int_sentiment_mean_90d"] == pytest.approx(0.2)


def test_interaction_counts_by_channel_category_and_window():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c2"],
            "timestamp": [AS_OF - 2 * DAY, AS_OF - 50 * DAY, AS_OF - 150 * DAY, AS_OF - DAY],
            "channel": ["phone", "email", "phone", "chat"],
            "category": ["complaint", "billing", "complaint", "how-to"],
        }
    )
    f = features(dataset(interactions=inter))
    assert f.loc["c1", ["int_tickets_30d", "int_tickets_90d", "int_tickets_180d"]].tolist() == [
        1,
        2,
        3,
    ]
    assert f.loc["c1", "int_cat_complaint_180d"] == 2
    assert f.loc["c1", "int_ch_email_90d"] == 1
    assert f.loc["c2", "int_ch_chat_30d"] == 1
    assert f.loc["c1", "int_days_since_contact"] == 2
    # 1 contact in the last 30 days vs 1 in the 90 before (rate 1/3 per 30 days), add-one.
    assert f.loc["c1", "int_trend_30d_90d"] == pytest.approx(2 / (1 / 3 + 1))


def test_nps_last_previous_delta_and_response_rate():
    nps = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1"],
            "timestamp": [AS_OF - 200 * DAY, AS_OF - 20 * DAY, pd.NaT],
            "score": [9.0, 4.0, np.nan],
            "sent_at": [AS_OF - 201 * DAY, AS_OF - 21 * DAY, AS_OF - 100 * DAY],
        }
    )
    f = features(dataset(nps=nps))
    assert f.loc["c1", ["nps_last", "nps_previous", "nps_delta"]].tolist() == [4.0, 9.0, -5.0]
    assert f.loc["c1", "nps_last_category"] == "detractor"
    assert f.loc["c1", "nps_min_180d"] == 4.0
    assert f.loc["c1", "nps_days_since_response"] == 20
    assert f.loc["c1", "nps_response_rate_365d"] == pytest.approx(2 / 3)
    assert np.isnan(f.loc["c2", "nps_last"]) and pd.isna(f.loc["c2", "nps_last_category"])


def test_usage_decline_shows_in_ratio_slope_and_seat_utilisation():
    starts = pd.date_range(AS_OF - 119 * DAY, AS_OF - 7 * DAY, freq="7D")
    active = np.where(starts >= AS_OF - 35 * DAY, 5.0, 10.0)
    usage = pd.DataFrame(
        {
            "customer_id": "c1",
            "date": starts,
            "active_users": active,
            "seats_licensed": 20.0,
            "recorded_at": starts + 6 * DAY,
        }
    )
    f = features(dataset(usage=usage))
    assert f.loc["c1", "util_active_users_30d"] == 5.0
    assert f.loc["c1", "util_active_users_ratio_30d_90d"] == pytest.approx(0.5)
    assert f.loc["c1", "util_active_users_slope_90d"] < 0
    assert f.loc["c1", "util_seat_utilisation_30d"] == pytest.approx(0.25)
    assert f.loc["c1", "util_days_since_active"] == 0
    assert np.isnan(f.loc["c2", "util_active_users_30d"])


def test_experience_balance_halves_after_one_half_life():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1", "c2"],
            "timestamp": [AS_OF - 60 * DAY, AS_OF - 120 * DAY],
            "channel": "phone",
            "category": "complaint",
        }
    )
    f = features(dataset(interactions=inter))
    assert f.loc["c1", "exp_balance"] == pytest.approx(-1.0)  # complaint -2, one half-life
    assert f.loc["c2", "exp_balance"] == pytest.approx(-0.5)


def test_many_snapshots_agree_with_one_snapshot_at_a_time():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1"] * 6,
            "timestamp": [AS_OF - k * 11 * DAY for k in range(1, 7)],
            "channel": "phone",
            "category": ["complaint", "billing"] * 3,
            "resolved_at": [AS_OF - k * 11 * DAY + 3 * DAY for k in range(1, 7)],
        }
    )
    tables = dataset(interactions=inter)
    dates = [AS_OF - 21 * DAY, AS_OF - 14 * DAY, AS_OF]
    spine = pd.DataFrame({"customer_id": ["c1"] * 3, "as_of": dates})
    together = build_features(spine, tables)
    for i in range(len(dates)):
        alone = build_features(spine.iloc[[i]], tables)
        pd.testing.assert_frame_equal(together.iloc[[i]], alone)


def test_spec_round_trips_and_fixes_the_columns():
    tables = dataset()
    spec = FeatureSpec.from_tables(tables)
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    out = build_features(pd.DataFrame({"customer_id": ["c1"], "as_of": [AS_OF]}), tables, spec)
    assert list(out.columns[2:]) == feature_names(spec)


def test_every_feature_is_in_the_catalogue_with_a_known_family():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1"],
            "timestamp": [AS_OF - DAY],
            "channel": ["phone"],
            "category": ["Complaint"],
            "resolved_at": [AS_OF],
            "csat": [3.0],
            "sentiment": [-0.5],
        }
    )
    names = feature_names(FeatureSpec.from_tables(dataset(interactions=inter)))
    cat = feature_catalogue(names)
    assert set(cat) == set(names)
    assert {info.family for info in cat.values()} == set(FAMILIES)
    assert cat["int_cat_complaint_90d"].family == "service experience"
    assert {info.kind for info in cat.values()} == {"behaviour", "context"}
    assert cat["acct_region"].kind == "context" and cat["nps_delta"].kind == "behaviour"
    assert cat["nps_delta"].risk_direction == -1
    assert len(catalogue_frame(names)) == len(names)
    assert list(catalogue_frame(names).columns) == [
        "name",
        "family",
        "description",
        "reason_template",
    ]


@pytest.mark.parametrize(
    ("name", "row", "expected"),
    [
        ("nps_delta", {"nps_last": 4.0, "nps_previous": 9.0}, "NPS fell from 9 to 4"),
        ("nps_delta", {"nps_last": np.nan, "nps_previous": np.nan}, "No NPS response on record"),
        (
            "util_active_users_ratio_30d_90d",
            {"util_active_users_ratio_30d_90d": 0.55},
            "Active users fell 45% over the last 30 days vs the 90 before",
        ),
        (
            "int_open_complaints_14d",
            {"int_open_complaints_14d": 2.0},
            "2 complaints open for more than 14 days",
        ),
        ("acct_days_to_renewal", {"acct_days_to_renewal": 23.0}, "Renewal in 23 days"),
        ("int_days_since_contact", {"int_days_since_contact": 120.4}, "No contact for 120 days"),
        ("int_cat_complaint_90d", {"int_cat_complaint_90d": 1.0}, "1 complaint interaction"),
    ],
)
def test_reasons_state_the_customers_own_values(name, row, expected):
    assert render_reason(name, row, +1).startswith(expected)


def test_unknown_feature_name_is_a_clear_key_error():
    with pytest.raises(KeyError, match="not in the catalogue"):
        feature_catalogue(["mystery_feature"])


def test_identical_open_tickets_are_each_counted():
    inter = pd.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "timestamp": [AS_OF - 20 * DAY] * 2,
            "channel": "phone",
            "category": "complaint",
            "resolved_at": [pd.NaT, pd.NaT],
            "recorded_at": [AS_OF - 20 * DAY] * 2,
        }
    )
    inter.loc[:, "resolved_at"] = [AS_OF + DAY, AS_OF + DAY]
    f = features(dataset(interactions=inter))
    assert f.loc["c1", "int_open_tickets"] == 2
    assert f.loc["c1", "int_open_complaints_14d"] == 2


def test_a_customer_without_records_gets_zero_counts_and_unknown_levels():
    f = features(dataset())
    assert f.loc["c2", ["int_tickets_30d", "nps_responses_365d", "exp_balance"]].tolist() == [
        0,
        0,
        0,
    ]
    assert f.loc["c2", "int_trend_30d_90d"] == 1.0  # no contact before or since: a steady rate
    assert np.isnan(f.loc["c2", "int_days_since_contact"])
    assert np.isnan(f.loc["c2", "nps_response_rate_365d"])


def test_renewal_reason_speaks_in_whole_days():
    from churn.features import render_reason

    assert render_reason("acct_days_to_renewal", {"acct_days_to_renewal": 72.2}, 1) == (
        "Renewal in 72 days"
    )


def test_chunked_build_on_large_data_agrees_with_one_chunk(monkeypatch):
    # Large spines are built in chunks of snapshot dates over tables materialised in DuckDB,
    # a path small inputs never take: force it, with microsecond timestamps as Parquet gives.
    import churn.features.engine as features_module

    inter = pd.DataFrame(
        {
            "customer_id": ["c1"] * 6,
            "timestamp": [AS_OF - k * 11 * DAY for k in range(1, 7)],
            "channel": "phone",
            "category": ["complaint", "billing"] * 3,
            "resolved_at": [AS_OF - k * 11 * DAY + 3 * DAY for k in range(1, 7)],
        }
    ).astype({"timestamp": "datetime64[us]", "resolved_at": "datetime64[us]"})
    tables = dataset(interactions=inter)
    dates = [AS_OF - 21 * DAY, AS_OF - 14 * DAY, AS_OF]
    spine = pd.DataFrame({"customer_id": ["c1"] * 3, "as_of": dates})
    one_chunk = build_features(spine, tables)
    monkeypatch.setattr(features_module, "CHUNK_PAIRS", 1)
    chunked = build_features(spine, tables)
    pd.testing.assert_frame_equal(chunked, one_chunk)
