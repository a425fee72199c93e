"""The simulator: realistic, deterministic, messy on request, and honest about its ground truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from churn.errors import ChurnError
from churn.simulate import (
    SimulatedDataset,
    annual_churn_rate,
    load_truth,
    oracle_probability,
    simulate,
    write_dataset,
)

TABLES = ("customers", "interactions", "nps", "usage", "account_history")


@pytest.fixture(scope="module")
def sim() -> SimulatedDataset:
    return simulate(1500, seed=7)


@pytest.fixture(scope="module")
def big() -> SimulatedDataset:
    # Enough churn events for statistical checks of the oracle (~3 s).
    return simulate(4000, seed=11, mess_rate=0.0)


def _active_spine(customers: pd.DataFrame, dates) -> pd.DataFrame:
    rows = []
    for as_of in pd.DatetimeIndex(dates):
        c = customers
        alive = (c["signup_date"] <= as_of) & (c["churn_date"].isna() | (c["churn_date"] > as_of))
        rows.append(
            pd.DataFrame(
                {
                    "customer_id": c.loc[alive, "customer_id"].to_numpy(),
                    "as_of": as_of,
                    "churn_date": c.loc[alive, "churn_date"].to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def _label(spine: pd.DataFrame, horizon: int, lead: int = 0) -> np.ndarray:
    lo = spine["as_of"] + pd.Timedelta(days=lead)
    hi = lo + pd.Timedelta(days=horizon)
    return ((spine["churn_date"] >= lo) & (spine["churn_date"] < hi)).to_numpy()


# --- shape and determinism ------------------------------------------------------------------


def test_same_seed_gives_identical_data(sim):
    again = simulate(1500, seed=7)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(sim, table), getattr(again, table))
    pd.testing.assert_frame_equal(sim.truth.latent, again.truth.latent)


def test_different_seeds_give_different_data(sim):
    other = simulate(1500, seed=8)
    assert not sim.customers["signup_date"].equals(other.customers["signup_date"])
    assert len(sim.interactions) != len(other.interactions)


def test_requested_number_of_customers_with_unique_ids(sim):
    ids = sim.customers["customer_id"]
    assert len(ids) == 1500
    assert ids.is_unique
    assert ids.str.fullmatch(r"C\d{6}").all()
    assert set(sim.usage["customer_id"]) <= set(ids)
    assert set(sim.interactions["customer_id"]) <= set(ids)


def test_tables_use_the_contract_column_names(sim):
    assert {"customer_id", "signup_date", "churn_date", "contract_months", "arr"} <= set(
        sim.customers.columns
    )
    assert {"customer_id", "timestamp", "channel", "category", "resolved_at", "csat"} <= set(
        sim.interactions.columns
    )
    assert {"customer_id", "timestamp", "score", "sent_at"} <= set(sim.nps.columns)
    assert {"customer_id", "date", "active_users", "seats_licensed"} <= set(sim.usage.columns)
    assert set(sim.customers["segment"]) == {"SMB", "Mid-Market", "Enterprise"}
    assert set(sim.interactions["category"]) == {"how-to", "billing", "incident", "complaint"}
    assert set(sim.interactions["channel"]) == {"email", "chat", "phone", "visit"}


def test_initial_base_signed_up_before_the_history_and_others_during_it(sim):
    before = (sim.customers["signup_date"] < pd.Timestamp("2024-01-01")).mean()
    assert 0.4 < before < 0.7
    assert sim.customers["signup_date"].max() < sim.extraction_date


def test_invalid_arguments_raise_a_user_error():
    with pytest.raises(ChurnError, match="customers"):
        simulate(0)
    with pytest.raises(ChurnError, match="mess-rate"):
        simulate(10, mess_rate=2.0)
    with pytest.raises(ChurnError, match="start"):
        simulate(10, start="not a date")


# --- realism --------------------------------------------------------------------------------


def test_annual_churn_rate_is_realistic(sim):
    rate = annual_churn_rate(sim.customers, pd.Timestamp("2024-01-01"), sim.extraction_date)
    assert 0.05 <= rate <= 0.30


def test_annual_contracts_churn_mostly_at_renewal(big):
    c = big.customers
    left = c[c["churn_date"].notna()]
    annual = left[left["contract_months"] == 12]
    at_renewal = (annual["churn_date"] == annual["contract_end_date"]).mean()
    assert at_renewal > 0.55
    assert (left["contract_end_date"] >= left["churn_date"]).all()
    active = c[c["churn_date"].isna()]
    assert (active["contract_end_date"] >= big.extraction_date).all()


def _reference_dates(customers: pd.DataFrame) -> pd.DataFrame:
    """Churners: their churn date; stayers: a fixed date. Both need a year of history before."""
    c = customers[customers["signup_date"] < pd.Timestamp("2024-01-01")]
    ref = c["churn_date"].where(c["churn_date"].notna(), pd.Timestamp("2025-07-01"))
    keep = ref >= pd.Timestamp("2025-01-01")
    return pd.DataFrame(
        {
            "customer_id": c.loc[keep, "customer_id"],
            "ref": ref[keep],
            "churner": c.loc[keep, "churn_date"].notna(),
        }
    )


def test_usage_falls_in_the_months_before_churn(big):
    ref = _reference_dates(big.customers)
    u = big.usage.merge(ref, on="customer_id")
    u["util"] = u["active_users"] / u["seats_licensed"]
    weeks_before = (u["ref"] - u["date"]).dt.days / 7
    recent = u[(weeks_before > 1) & (weeks_before <= 9)].groupby("customer_id")["util"].mean()
    earlier = u[(weeks_before > 26) & (weeks_before <= 52)].groupby("customer_id")["util"].mean()
    change = (recent / earlier).rename("change").to_frame().join(ref.set_index("customer_id"))
    by_group = change.groupby("churner")["change"].median()
    assert by_group[True] < by_group[False] - 0.05


def test_complaints_rise_and_nps_falls_before_churn(big):
    ref = _reference_dates(big.customers)
    it = big.interactions.merge(ref, on="customer_id")
    days = (it["ref"] - it["timestamp"]).dt.days
    window = it[(days > 0) & (days <= 90)]
    per_customer = (
        window["category"]
        .eq("complaint")
        .groupby(window["customer_id"])
        .sum()
        .reindex(ref["customer_id"], fill_value=0)
    )
    churner = ref.set_index("customer_id")["churner"]
    assert per_customer[churner].mean() > 1.5 * per_customer[~churner].mean()

    nps = big.nps.merge(ref, on="customer_id")
    days = (nps["ref"] - nps["sent_at"]).dt.days
    recent = nps[(days > 0) & (days <= 180)]
    score = recent.groupby("churner")["score"].mean()
    answered = recent.groupby("churner")["score"].apply(lambda s: s.notna().mean())
    assert score[True] < score[False] - 1.0
    assert answered[True] < answered[False]


def test_bad_support_goes_with_churn(big):
    ref = _reference_dates(big.customers)
    it = big.interactions.merge(ref, on="customer_id")
    days = (it["ref"] - it["timestamp"]).dt.days
    window = it[(days > 0) & (days <= 180)]
    csat = window.groupby("churner")["csat"].mean()
    assert csat[True] < csat[False]


# --- time -----------------------------------------------------------------------------------


def test_nothing_is_dated_at_or_after_extraction(sim):
    for table in TABLES:
        frame = getattr(sim, table)
        for col in frame.columns:
            if col == "contract_end_date":  # the next renewal: fixed when the contract was signed
                continue
            if pd.api.types.is_datetime64_any_dtype(frame[col]):
                assert (frame[col].dropna() < sim.extraction_date).all(), f"{table}.{col}"
    # A usage row covers a whole week, which must end by extraction.
    assert (sim.usage["date"] + pd.Timedelta(days=7) <= sim.extraction_date).all()


def test_no_event_after_churn_or_before_signup(sim):
    c = sim.customers.set_index("customer_id")
    it = sim.interactions.join(c[["signup_date", "churn_date"]], on="customer_id")
    assert (it["timestamp"] >= it["signup_date"]).all()
    assert (it["churn_date"].isna() | (it["timestamp"] < it["churn_date"])).all()
    u = sim.usage.join(c[["churn_date"]], on="customer_id")
    assert (u["churn_date"].isna() | (u["date"] < u["churn_date"])).all()
    assert (c["churn_date"].isna() | (c["churn_date"] > c["signup_date"])).all()


def test_extraction_date_is_the_instant_after_the_last_day(sim):
    assert sim.extraction_date == pd.Timestamp("2026-01-01")
    short = simulate(50, seed=1, start="2024-03-04", months=6)
    assert short.extraction_date == pd.Timestamp("2024-09-04")


# --- mess -----------------------------------------------------------------------------------


def test_mess_is_present_at_the_requested_rate():
    messy = simulate(1500, seed=3, mess_rate=0.05)
    dup_usage = messy.usage.duplicated().mean()
    dup_tickets = messy.interactions.duplicated().mean()
    late = (messy.interactions["recorded_at"] > messy.interactions["timestamp"]).mean()
    missing_region = messy.customers["region"].isna().mean()
    assert 0.035 < dup_usage < 0.065
    assert 0.03 < dup_tickets < 0.07
    assert 0.03 < late < 0.07
    assert 0.02 < missing_region < 0.08
    # Dropping exact duplicates gives back one row per customer and week.
    clean = messy.usage.drop_duplicates()
    assert not clean.duplicated(["customer_id", "date"]).any()


def test_no_mess_when_the_rate_is_zero():
    clean = simulate(800, seed=3, mess_rate=0.0)
    assert not clean.usage.duplicated().any()
    assert not clean.interactions.duplicated().any()
    assert (clean.interactions["recorded_at"] == clean.interactions["timestamp"]).all()
    assert clean.customers["region"].notna().all()
    assert clean.interactions["sentiment"].notna().all()


# --- ground truth ---------------------------------------------------------------------------


def test_latent_weekly_hazard_matches_the_churn_that_happened(big):
    lat = big.truth.latent.merge(big.customers[["customer_id", "churn_date"]], on="customer_id")
    lat = lat[lat["week_start"] + pd.Timedelta(days=7) <= big.extraction_date]
    end = lat["week_start"] + pd.Timedelta(days=7)
    churned = (lat["churn_date"] > lat["week_start"]) & (lat["churn_date"] <= end)
    assert lat["hazard"].mean() == pytest.approx(churned.mean(), rel=0.15)


def test_oracle_is_calibrated_and_ranks_churners_higher(big):
    # Dates 13 weeks apart so that the 90-day windows do not overlap.
    spine = _active_spine(big.customers, pd.date_range("2024-03-04", periods=6, freq="13W-MON"))
    y = _label(spine, 90)
    p = oracle_probability(big.truth, spine[["customer_id", "as_of"]], 90, n_paths=20)
    assert not np.isnan(p).any()
    assert p.mean() == pytest.approx(y.mean(), rel=0.2)
    assert roc_auc_score(y, p) > 0.75


def test_oracle_with_a_lead_time_looks_later(big):
    spine = _active_spine(big.customers, ["2024-09-02", "2025-03-03"])
    y = _label(spine, 60, lead=30)
    p = oracle_probability(big.truth, spine[["customer_id", "as_of"]], 60, 30, n_paths=20)
    assert p.mean() == pytest.approx(y.mean(), rel=0.25)
    p_now = oracle_probability(big.truth, spine[["customer_id", "as_of"]], 30, n_paths=20)
    assert p_now.mean() < p.mean()


def test_oracle_is_nan_for_customers_not_active_at_as_of(sim):
    c = sim.customers
    late_signup = c.loc[c["signup_date"] > pd.Timestamp("2025-06-01"), "customer_id"].iloc[0]
    early_churn = c.loc[c["churn_date"] < pd.Timestamp("2024-06-01"), "customer_id"].iloc[0]
    stayer = c.loc[c["churn_date"].isna(), "customer_id"].iloc[0]
    spine = pd.DataFrame(
        {
            "customer_id": [late_signup, early_churn, "C999999", stayer, stayer],
            "as_of": pd.to_datetime(
                ["2025-01-06", "2024-09-02", "2024-09-02", "2024-09-02", "2027-01-04"]
            ),
        }
    )
    p = oracle_probability(sim.truth, spine, 90, n_paths=5)
    assert np.isnan(p[[0, 1, 2, 4]]).all()
    assert 0.0 <= p[3] <= 1.0


def test_oracle_does_not_look_past_as_of(sim):
    # Rewriting everything the process did from as_of's week onwards must not move the oracle.
    as_of = pd.Timestamp("2024-09-02")
    spine = _active_spine(sim.customers, [as_of])[["customer_id", "as_of"]]
    before = oracle_probability(sim.truth, spine, 90, n_paths=10, seed=1)
    latent = sim.truth.latent.copy()
    future = latent["week_start"] > as_of
    latent.loc[future, ["health", "baseline", "eff_health", "hazard"]] = -6.0
    static = sim.truth.static.copy()
    static.loc[static["churn_date"] > as_of, "churn_date"] = pd.Timestamp("2025-12-30")
    tampered = type(sim.truth)(static=static, latent=latent, params=sim.truth.params)
    after = oracle_probability(tampered, spine, 90, n_paths=10, seed=1)
    np.testing.assert_array_equal(before, after)


def test_oracle_is_higher_for_lower_health(big):
    as_of = pd.Timestamp("2025-03-03")
    spine = _active_spine(big.customers, [as_of])[["customer_id", "as_of"]]
    p = oracle_probability(big.truth, spine, 90, n_paths=10)
    lat = big.truth.latent
    health = (
        lat[lat["week_start"] == as_of]
        .assign(customer_id=lambda d: d["customer_id"].astype(str))
        .set_index("customer_id")["health"]
        .reindex(spine["customer_id"])
        .to_numpy()
    )
    assert np.corrcoef(health, p)[0, 1] < -0.3


# --- files and CLI --------------------------------------------------------------------------


def test_write_dataset_round_trips_the_ground_truth(sim, tmp_path):
    out = write_dataset(sim, tmp_path / "demo", fmt="parquet")
    for table in TABLES:
        assert (out / f"{table}.parquet").exists()
    config = yaml.safe_load((out / "dataset.yaml").read_text())
    assert config == {
        "name": sim.name,
        "extraction_date": "2026-01-01",
        "usage": {"period": "week"},
        "churn": {"definition": "date"},
    }
    assert json.loads((out / "ground_truth" / "params.json").read_text())["n_weeks"] == 105
    truth = load_truth(out)
    spine = _active_spine(sim.customers, ["2025-01-06"])[["customer_id", "as_of"]].head(200)
    np.testing.assert_allclose(
        oracle_probability(truth, spine, 90, n_paths=5),
        oracle_probability(sim.truth, spine, 90, n_paths=5),
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "usage.parquet"), sim.usage, check_dtype=False
    )


def test_write_dataset_replaces_a_dataset_but_not_other_folders(sim, tmp_path):
    out = tmp_path / "demo"
    write_dataset(sim, out, fmt="csv")
    write_dataset(sim, out, fmt="parquet")
    assert not (out / "customers.csv").exists()
    assert (out / "customers.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no temporary folder left
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(ChurnError, match="refusing"):
        write_dataset(sim, precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_load_truth_explains_a_dataset_without_ground_truth(tmp_path):
    with pytest.raises(ChurnError, match="churn simulate"):
        load_truth(tmp_path)


def test_cli_simulate_writes_a_dataset_and_prints_a_summary(tmp_path):
    from churn.cli import app

    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["simulate", "--customers", "150", "--seed", "2", "--out", str(out), "--months", "6"]
    )
    assert result.exit_code == 0, result.output
    assert "150 customers" in result.output
    assert (out / "customers.csv").exists()
    assert (out / "ground_truth" / "latent.parquet").exists()


def test_cli_simulate_refuses_an_unknown_format_before_simulating(tmp_path):
    from churn.cli import app

    result = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "x"), "--format", "xls"])
    assert isinstance(result.exception, ChurnError)
    assert not (tmp_path / "x").exists()


# --- plan changes (account_history) ----------------------------------------------------------

RANK = {"Starter": 0, "Pro": 1, "Enterprise": 2}


def _changes(sim: SimulatedDataset) -> pd.DataFrame:
    """History rows after signup, each with its direction against the row before."""
    h = sim.account_history
    prev = h.groupby("customer_id")[["plan", "seats_licensed"]].shift(1)
    rank, before = h["plan"].map(RANK), prev["plan"].map(RANK)
    out = h.assign(
        down=(rank < before) | (h["seats_licensed"] < prev["seats_licensed"]),
        up=(rank > before) | (h["seats_licensed"] > prev["seats_licensed"]),
    )
    return out[prev["plan"].notna()]


def test_history_starts_at_signup_and_ends_at_the_extracted_values(sim):
    h, c = sim.account_history, sim.customers.set_index("customer_id")
    first = h.groupby("customer_id").first()
    assert len(first) == len(c)
    assert (first["valid_from"] == c.loc[first.index, "signup_date"]).all()
    assert set(first["segment"]) == set(c["segment"]) and first["contract_months"].notna().all()
    # The customers table is the extract: the value in force at the end of the history.
    last = h.groupby("customer_id").last()
    assert (last["plan"] == c.loc[last.index, "plan"]).all()
    assert (last["arr"] == c.loc[last.index, "arr"]).all()
    assert not h.duplicated(["customer_id", "valid_from"]).any()


def test_changes_happen_while_a_customer_and_before_extraction(sim):
    ch = _changes(sim).merge(sim.customers[["customer_id", "signup_date", "churn_date"]])
    assert len(ch) > 100
    assert (ch["valid_from"] > ch["signup_date"]).all()
    assert (ch["churn_date"].isna() | (ch["valid_from"] < ch["churn_date"])).all()
    assert (ch["valid_from"] < sim.extraction_date).all()
    assert (ch["down"] ^ ch["up"]).all()  # each change goes one way


def test_downgrades_precede_churn_and_upgrades_follow_good_health(big):
    ch = _changes(big).merge(big.customers[["customer_id", "churn_date"]])
    gap = (ch["churn_date"] - ch["valid_from"]).dt.days
    soon = (gap >= 0) & (gap < 180)
    # A downgrade is followed by churn within 180 days several times as often as an upgrade.
    assert soon[ch["down"]].mean() > 3 * soon[ch["up"]].mean()
    lat = big.truth.latent.assign(customer_id=big.truth.latent["customer_id"].astype("str"))
    week = ch["valid_from"] - pd.to_timedelta((ch["valid_from"].dt.day_of_week + 7) % 7, unit="D")
    at = ch.assign(week_start=week).merge(lat, on=["customer_id", "week_start"], how="left")
    # A change on a Monday belongs to the week before; most rows find their week.
    assert at["eff_health"].notna().mean() > 0.8
    assert at.loc[at["up"], "eff_health"].mean() > at.loc[at["down"], "eff_health"].mean() + 0.5


def test_usage_seats_are_the_seats_in_force_at_the_week_start(sim):
    h = sim.account_history.sort_values("valid_from")
    u = sim.usage.drop_duplicates(["customer_id", "date"]).sort_values("date")
    got = pd.merge_asof(
        u, h[["customer_id", "valid_from", "seats_licensed"]], left_on="date",
        right_on="valid_from", by="customer_id", suffixes=("", "_h"),
    )  # fmt: skip
    assert (got["seats_licensed"] == got["seats_licensed_h"]).mean() > 0.99


# --- in blocks of customers ----------------------------------------------------------------


def _file_bytes(folder) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_one_block_writes_exactly_what_write_dataset_writes(tmp_path):
    from churn.simulate import simulate_blocks, write_blocks

    one = write_dataset(simulate(250, seed=3, months=6), tmp_path / "one")
    blocks, summary = write_blocks(simulate_blocks(250, seed=3, months=6), tmp_path / "blocks")
    assert _file_bytes(one) == _file_bytes(blocks)
    assert summary == simulate(250, seed=3, months=6).summary()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_blocks_are_deterministic_and_number_customers_across_blocks(tmp_path, fmt):
    from churn.data import load_dataset
    from churn.simulate import simulate_blocks, write_blocks

    def run(name):
        blocks = simulate_blocks(350, seed=3, months=6, mess_rate=0.02, block_customers=120)
        return write_blocks(blocks, tmp_path / name, fmt=fmt)

    (first, summary), (again, _) = run("a"), run("b")
    assert _file_bytes(first) == _file_bytes(again)
    assert summary.startswith("350 customers")
    tables, truth = load_dataset(first), load_truth(first)
    ids = tables.customers["customer_id"]
    assert ids.is_unique and list(ids.iloc[[0, 119, 120, 349]]) == [
        "C000001",
        "C000120",
        "C000121",
        "C000350",
    ]
    # Every event belongs to a customer of the base, and the truth covers each one.
    for table in ("interactions", "nps", "usage"):
        assert set(tables.table(table)["customer_id"]) <= set(ids)
    # Plan changes survive the renumbering: every block's customers have their history.
    history = tables.table("account_history")
    assert set(history["customer_id"]) == set(ids)
    assert list(truth.static["customer_id"]) == list(ids)
    assert set(truth.latent["customer_id"].astype(str)) == set(ids)
    assert truth.params["seed"] == 3
    # Blocks draw from their own streams: the second block is not a copy of the first.
    first_block = truth.static.iloc[:120]["drift"].to_numpy()
    second_block = truth.static.iloc[120:240]["drift"].to_numpy()
    assert not np.allclose(first_block, second_block)
