"""Loading and validating datasets: what loads, and what each bad input is told.

Every dataset here is a handful of literal rows written into tmp_path. A bad input must be
reported with the table and the column (or file) it is in, and the whole dataset's problems at once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from churn import cli
from churn.contract import SPECS, empty_table
from churn.data import (
    DatasetConfig,
    DatasetConfigError,
    DataValidationError,
    TableConfig,
    infer_usage_period,
    load_dataset,
    parse_config,
    summarize,
    tables_from_frames,
)


def customers(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": ["C001", "C002", "C003"],
            "signup_date": ["2024-01-05", "2024-02-01", "2024-03-01"],
            "churn_date": [None, "2024-09-01", None],
            "segment": ["SMB", "Enterprise", "SMB"],
            "arr": [1200.0, 50000.0, None],
        }
    )
    return frame.assign(**changes)


def interactions(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": ["C001", "C002", "C002"],
            "timestamp": ["2024-05-01 10:00:00", "2024-06-01 09:00:00", "2024-06-02 09:00:00"],
            "channel": ["email", "phone", "chat"],
            "category": ["billing", "complaint", "how-to"],
            "csat": [4, 1, None],
        }
    )
    return frame.assign(**changes)


def nps(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": ["C001", "C002"],
            "timestamp": ["2024-05-03", None],
            "score": [9, None],
            "sent_at": ["2024-05-01", "2024-06-01"],
        }
    )
    return frame.assign(**changes)


def usage(**changes) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "customer_id": ["C001", "C001", "C002", "C002"],
            "date": ["2024-06-03", "2024-06-10", "2024-06-03", "2024-06-10"],
            "active_users": [3, 2, 5, 5],
            "logins": [10, 8, 1, 0],
        }
    )
    return frame.assign(**changes)


SIMULATOR_YAML = {
    "name": "tiny",
    "extraction_date": "2025-01-01",
    "usage": {"period": "week"},
    "churn": {"definition": "date"},
}


def write(folder: Path, config: dict | None = SIMULATOR_YAML, **tables: pd.DataFrame) -> Path:
    """A dataset folder as the simulator writes it: one CSV per table and a dataset.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    defaults = {"customers": customers(), "interactions": interactions(), "nps": nps()}
    defaults["usage"] = usage()
    for name, frame in (defaults | tables).items():
        if frame is not None:
            frame.to_csv(folder / f"{name}.csv", index=False)
    if config is not None:
        (folder / "dataset.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def problems_of(path: Path) -> str:
    with pytest.raises(DataValidationError) as info:
        load_dataset(path)
    return str(info.value)


# --- what loads -------------------------------------------------------------------------------


def test_good_dataset_loads_with_the_normalised_dtypes(tmp_path):
    tables = load_dataset(write(tmp_path / "ds"))
    for name in ("customers", "interactions", "nps", "usage"):
        frame = tables.table(name)
        assert frame["customer_id"].dtype == "str", name
        for column in SPECS[name].columns:
            kind = column.kind
            if kind == "datetime":
                assert frame[column.name].dtype == "datetime64[ns]", (name, column.name)
            elif kind == "number":
                assert frame[column.name].dtype == "float64", (name, column.name)
    assert tables.usage["active_users"].dtype == "float64"
    assert tables.usage_metrics == ("active_users", "logins")
    assert tables.extraction_date == pd.Timestamp("2025-01-01")
    assert tables.name == "tiny"
    assert tables.customers["churn_date"].notna().tolist() == [False, True, False]
    assert tables.warnings == ()


def test_simulator_folder_loads_and_its_ground_truth_folder_is_ignored(tmp_path):
    folder = write(tmp_path / "ds")
    (folder / "ground_truth").mkdir()
    (folder / "ground_truth" / "customers.csv").write_text("not,a,customer\n1,2,3\n")
    tables = load_dataset(folder)
    assert len(tables.customers) == 3
    assert tables.usage_period == "week"


def test_ids_with_leading_zeros_stay_strings(tmp_path):
    folder = write(
        tmp_path / "ds",
        customers=customers(customer_id=["001", "002", "003"]),
        interactions=None,
        nps=None,
        usage=None,
    )
    assert load_dataset(folder).customers["customer_id"].tolist() == ["001", "002", "003"]


def test_parquet_tables_with_integer_ids_load_as_string_ids(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    frame = customers(customer_id=[1, 2, 3])
    frame.assign(signup_date=pd.to_datetime(frame["signup_date"])).to_parquet(
        folder / "customers.parquet"
    )
    usage(customer_id=[1, 1, 2, 2]).to_parquet(folder / "usage.parquet")
    tables = load_dataset(folder)
    assert tables.customers["customer_id"].tolist() == ["1", "2", "3"]
    assert tables.usage["customer_id"].tolist() == ["1", "1", "2", "2"]


def test_yaml_config_maps_renamed_columns_in_a_semicolon_latin1_export(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    crm = "AccountId;Created;Closed;Name;ARR\nA1;05/01/2024;;Café Müller;1.200,50\nA2;01/02/2024;01/09/2024;Zoë;3,00\n"
    (exports / "crm_accounts.csv").write_bytes(crm.encode("latin-1"))
    tickets = pd.DataFrame(
        {
            "Account": ["A1", "A2"],
            "Opened": ["2024-05-01T10:00:00", "2024-06-01T09:00:00"],
            "Via": ["email", "phone"],
            "Type": ["billing", "complaint"],
        }
    )
    tickets.to_parquet(exports / "tickets.parquet")
    config = {
        "name": "acme",
        "base_dir": "../exports",
        "extraction_date": "2025-01-01",
        "tables": {
            "customers": {
                "file": "crm_accounts.csv",
                "columns": {
                    "customer_id": "AccountId",
                    "signup_date": "Created",
                    "churn_date": "Closed",
                    "name": "Name",
                    "arr": "ARR",
                },
                "read": {"sep": ";", "encoding": "latin-1", "decimal": ",", "thousands": "."},
                "date_format": "%d/%m/%Y",
            },
            "interactions": {
                "file": "tickets.parquet",
                "columns": {
                    "customer_id": "Account",
                    "timestamp": "Opened",
                    "channel": "Via",
                    "category": "Type",
                },
            },
        },
        "churn": {"definition": "date"},
    }
    (tmp_path / "configs").mkdir()
    path = tmp_path / "configs" / "acme.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    tables = load_dataset(path)
    c = tables.customers
    assert c["customer_id"].tolist() == ["A1", "A2"]
    assert c["signup_date"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-02-01")]
    assert c["churn_date"].iloc[1] == pd.Timestamp("2024-09-01")
    assert c["name"].tolist() == ["Café Müller", "Zoë"]
    assert c["arr"].tolist() == [1200.5, 3.0]
    assert tables.interactions["recorded_at"].tolist() == tables.interactions["timestamp"].tolist()
    assert tables.nps.empty and list(tables.nps.columns) == list(empty_table("nps").columns)
    assert any("nps: no file found" in w for w in tables.warnings)


def test_excel_and_tab_separated_tables_load(tmp_path):
    folder = write(tmp_path / "ds", interactions=None, nps=None, usage=None)
    usage().to_csv(folder / "usage.tsv", sep="\t", index=False)
    with pd.ExcelWriter(folder / "survey.xlsx") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="Notes", index=False)
        nps().to_excel(writer, sheet_name="Responses", index=False)
    config = {**SIMULATOR_YAML, "tables": {"nps": {"file": "survey.xlsx"}}}
    config["tables"]["nps"]["read"] = {"sheet_name": "Responses"}
    (folder / "dataset.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    tables = load_dataset(folder)
    assert tables.nps["score"].tolist()[:1] == [9.0]
    assert tables.usage["logins"].tolist() == [10.0, 8.0, 1.0, 0.0]


def test_a_utf8_byte_order_mark_is_read_silently(tmp_path):
    folder = write(tmp_path / "ds", interactions=None, nps=None, usage=None)
    text = (folder / "customers.csv").read_text(encoding="utf-8")
    (folder / "customers.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    tables = load_dataset(folder)
    assert tables.customers["customer_id"].tolist() == ["C001", "C002", "C003"]


def test_a_byte_order_mark_is_read_silently_even_with_encoding_utf8(tmp_path):
    config = {**SIMULATOR_YAML, "tables": {"customers": {"read": {"encoding": "utf-8"}}}}
    folder = write(tmp_path / "ds", config=config, interactions=None, nps=None, usage=None)
    text = (folder / "customers.csv").read_text(encoding="utf-8")
    (folder / "customers.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    tables = load_dataset(folder)
    assert tables.customers["customer_id"].tolist() == ["C001", "C002", "C003"]


def test_exact_duplicate_event_rows_are_dropped_with_a_warning_count(tmp_path):
    doubled = pd.concat([interactions(), interactions().iloc[[1, 1]]], ignore_index=True)
    tables = load_dataset(write(tmp_path / "ds", interactions=doubled))
    assert len(tables.interactions) == 3
    assert "interactions: dropped 2 rows duplicating another row exactly (e.g. C002)." in (
        tables.warnings
    )


def test_recorded_at_defaults_to_the_time_each_record_became_known(tmp_path):
    config = {**SIMULATOR_YAML, "usage": {"period": "month"}}
    monthly = usage(date=["2024-01-01", "2024-02-01", "2024-01-01", "2024-02-01"])
    tables = load_dataset(write(tmp_path / "ds", config=config, usage=monthly))
    # A month of usage is known once the month is over: recorded_at stays empty (not the
    # month's end, which would read as arriving at that instant and hide it from a score then).
    assert tables.usage["recorded_at"].isna().all()
    assert tables.usage["recorded_at"].dtype == "datetime64[ns]"
    # An unanswered survey is known (as silence) when it is sent.
    assert tables.nps["recorded_at"].tolist() == [
        pd.Timestamp("2024-05-03"),
        pd.Timestamp("2024-06-01"),
    ]


def test_nps_sent_at_defaults_to_the_answer_time(tmp_path):
    answered = nps().drop(columns="sent_at").iloc[[0]]
    tables = load_dataset(write(tmp_path / "ds", nps=answered))
    assert tables.nps["sent_at"].tolist() == [pd.Timestamp("2024-05-03")]


def test_a_given_recorded_at_is_kept(tmp_path):
    late = interactions(recorded_at=["2024-05-09", "2024-06-01 09:00:00", "2024-06-02 09:00:00"])
    tables = load_dataset(write(tmp_path / "ds", interactions=late))
    assert tables.interactions["recorded_at"].iloc[0] == pd.Timestamp("2024-05-09")


@pytest.mark.parametrize(
    ("dates", "period"),
    [
        (["2024-06-03", "2024-06-04", "2024-06-05"], "day"),
        (["2024-06-03", "2024-06-10", "2024-06-24"], "week"),
        (["2024-01-01", "2024-02-01", "2024-03-01"], "month"),
        (["2024-01-01", "2024-01-04", "2024-01-07"], None),
    ],
)
def test_usage_period_is_inferred_from_the_gaps_between_rows(dates, period):
    frame = pd.DataFrame({"customer_id": "C1", "date": pd.to_datetime(dates)})
    assert infer_usage_period(frame) == period


def test_extraction_date_defaults_to_the_day_after_the_latest_date_with_a_warning(tmp_path):
    config = {k: v for k, v in SIMULATOR_YAML.items() if k != "extraction_date"}
    tables = load_dataset(write(tmp_path / "ds", config=config))
    assert tables.extraction_date == pd.Timestamp("2024-09-02")  # customers.churn_date 2024-09-01
    assert any("extraction_date is not set" in w for w in tables.warnings)


def test_a_folder_without_dataset_yaml_finds_tables_by_name(tmp_path):
    tables = load_dataset(write(tmp_path / "ds", config=None))
    assert len(tables.interactions) == 3
    assert tables.usage_period == "week"  # inferred


def test_non_iso_dates_are_read_with_a_guessed_format_and_a_warning(tmp_path):
    frame = customers(signup_date=["05/01/2024", "31/01/2024", "01/03/2024"])
    tables = load_dataset(write(tmp_path / "ds", customers=frame))
    assert tables.customers["signup_date"].iloc[1] == pd.Timestamp("2024-01-31")
    assert any("customers.signup_date" in w and "%d/%m/%Y" in w for w in tables.warnings)


def test_placeholder_dates_like_9999_12_31_read_as_missing(tmp_path):
    frame = customers(contract_end_date=["9999-12-31", "2025-06-30", None])
    tables = load_dataset(write(tmp_path / "ds", customers=frame))
    assert tables.customers["contract_end_date"].isna().tolist() == [True, False, True]
    assert any("customers.contract_end_date" in w for w in tables.warnings)


def test_inactivity_churn_needs_no_churn_date(tmp_path):
    config = {**SIMULATOR_YAML, "churn": {"definition": "inactivity", "inactivity_days": 90}}
    frame = customers().drop(columns="churn_date")
    tables = load_dataset(write(tmp_path / "ds", config=config, customers=frame))
    assert tables.churn_definition == "inactivity" and tables.inactivity_days == 90
    assert tables.customers["churn_date"].isna().all()


def test_tables_from_frames_does_not_modify_its_inputs():
    frames = {"customers": customers(), "usage": usage()}
    before = {k: v.copy() for k, v in frames.items()}
    tables = tables_from_frames(frames, DatasetConfig(extraction_date=pd.Timestamp("2025-01-01")))
    assert len(tables.usage) == 4
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, before[name])


def test_summary_names_rows_date_ranges_and_warnings(tmp_path):
    doubled = pd.concat([interactions(), interactions().iloc[[0]]], ignore_index=True)
    text = summarize(load_dataset(write(tmp_path / "ds", interactions=doubled)))
    assert "customers" in text and "2024-01-05 .. 2024-03-01" in text
    assert "per week; metrics: active_users, logins" in text
    assert "interactions: dropped 1 row duplicating another row exactly" in text


# --- what each bad input is told ----------------------------------------------------------------


def test_missing_customers_file_is_a_problem(tmp_path):
    folder = write(tmp_path / "ds", customers=None)
    message = problems_of(folder)
    assert "customers: no customers file found" in message
    assert "tables.customers.file" in message


def test_missing_event_table_becomes_an_empty_table_with_a_warning(tmp_path):
    tables = load_dataset(write(tmp_path / "ds", nps=None))
    assert tables.nps.empty
    assert list(tables.nps.columns) == list(empty_table("nps").columns)
    assert any(w.startswith("nps: no file found") for w in tables.warnings)


def test_a_configured_file_that_does_not_exist_is_a_problem(tmp_path):
    config = {**SIMULATOR_YAML, "tables": {"nps": {"file": "survey.csv"}}}
    message = problems_of(write(tmp_path / "ds", config=config))
    assert "nps: file survey.csv (tables.nps.file) not found" in message


def test_missing_required_column_names_table_column_and_a_close_match(tmp_path):
    frame = customers().rename(columns={"signup_date": "Signup_Date"})
    message = problems_of(write(tmp_path / "ds", customers=frame))
    assert "customers.signup_date: required column is missing from customers.csv" in message
    assert "Did you mean 'Signup_Date'?" in message


def test_unparseable_dates_are_listed_with_their_values(tmp_path):
    frame = customers(signup_date=["2024-01-05", "2024-13-01", "soon"])
    message = problems_of(write(tmp_path / "ds", customers=frame))
    assert (
        "customers.signup_date: 2 rows have an unparseable date (e.g. C002 '2024-13-01', C003 'soon')"
        in (message)
    )
    # Unparseable is said once, not again as "have no signup_date".
    assert "have no signup_date" not in message


def test_dates_that_do_not_match_date_format_are_problems(tmp_path):
    config = {**SIMULATOR_YAML, "tables": {"customers": {"date_format": "%d/%m/%Y"}}}
    message = problems_of(write(tmp_path / "ds", config=config))
    assert "customers.signup_date: 3 rows have an unparseable date" in message
    assert "'%d/%m/%Y'" in message


def test_non_numbers_in_a_number_column_are_problems(tmp_path):
    frame = customers(arr=["1200", "unknown", "1,5"])
    message = problems_of(write(tmp_path / "ds", customers=frame))
    assert (
        "customers.arr: 2 rows have a non-numeric value (e.g. C002 'unknown', C003 '1,5')"
        in message
    )
    assert "set read: {decimal: ','" in message


def test_duplicate_customer_ids_are_problems(tmp_path):
    frame = customers(customer_id=["C001", "C002", "C002"])
    message = problems_of(write(tmp_path / "ds", customers=frame, interactions=None))
    assert "customers.customer_id: 2 rows share their customer_id with another row (e.g. C002)" in (
        message
    )


def test_exact_duplicate_customer_rows_are_dropped_not_reported(tmp_path):
    frame = pd.concat([customers(), customers().iloc[[2]]], ignore_index=True)
    tables = load_dataset(write(tmp_path / "ds", customers=frame))
    assert len(tables.customers) == 3


def test_events_of_unknown_customers_are_problems(tmp_path):
    frame = interactions(customer_id=["C001", "C404", "C999"])
    message = problems_of(write(tmp_path / "ds", interactions=frame))
    assert (
        "interactions.customer_id: 2 rows reference customers not in customers (e.g. C404, C999)"
        in message
    )


def test_a_few_events_of_unknown_customers_are_dropped_with_a_warning(tmp_path):
    many = pd.concat([interactions()] * 100, ignore_index=True)
    many["timestamp"] = pd.date_range("2024-04-01", periods=len(many), freq="h").astype(str)
    many.loc[7, "customer_id"] = "C404"
    tables = load_dataset(write(tmp_path / "ds", interactions=many))
    assert len(tables.interactions) == 299
    assert any(w.startswith("interactions.customer_id: dropped 1 row") for w in tables.warnings)


def test_nps_outside_0_to_10_is_a_problem(tmp_path):
    message = problems_of(write(tmp_path / "ds", nps=nps(score=[11, None])))
    assert "nps.score: 1 row is outside 0-10 (e.g. C001 11)" in message


def test_csat_outside_1_to_5_is_a_problem(tmp_path):
    message = problems_of(write(tmp_path / "ds", interactions=interactions(csat=[0, 5, 9])))
    assert "interactions.csat: 2 rows are outside 1-5" in message


def test_negative_usage_is_a_problem(tmp_path):
    message = problems_of(write(tmp_path / "ds", usage=usage(logins=[10, -8, 1, 0])))
    assert "usage.logins: 1 row has negative logins (e.g. C001 -8)" in message


def test_usage_rows_repeating_a_period_are_problems(tmp_path):
    frame = usage(date=["2024-06-03", "2024-06-03", "2024-06-03", "2024-06-10"])
    message = problems_of(write(tmp_path / "ds", usage=frame))
    assert "usage.date: 2 rows share customer_id and date with another row (e.g. C001)" in message


def test_churn_before_signup_is_a_problem(tmp_path):
    frame = customers(churn_date=["2023-12-01", None, "2024-02-29"])
    message = problems_of(write(tmp_path / "ds", customers=frame))
    assert (
        "customers.churn_date: 2 rows have churn_date before signup_date (e.g. C001, C003). "
        "Fix the dates or leave churn_date empty for active customers." in message
    )


def test_records_dated_after_the_extraction_date_are_problems(tmp_path):
    frame = interactions(timestamp=["2024-05-01", "2025-01-01", "2025-03-01"])
    message = problems_of(write(tmp_path / "ds", interactions=frame))
    assert (
        "interactions.timestamp: 2 rows are dated at or after the extraction date 2025-01-01 "
        "(e.g. C002)" in message
    )
    assert "set extraction_date" in message


def test_an_empty_customers_table_is_a_problem(tmp_path):
    message = problems_of(write(tmp_path / "ds", customers=customers().iloc[:0]))
    assert "customers: the table has no rows" in message


def test_an_empty_customers_file_is_a_problem(tmp_path):
    folder = write(tmp_path / "ds")
    (folder / "customers.csv").write_text("")
    assert "customers: customers.csv is empty" in problems_of(folder)


def test_an_empty_event_table_loads_with_a_warning(tmp_path):
    tables = load_dataset(write(tmp_path / "ds", interactions=interactions().iloc[:0]))
    assert tables.interactions.empty
    assert any(w.startswith("interactions: the table has no rows") for w in tables.warnings)


def test_a_semicolon_file_read_with_commas_is_recognised(tmp_path):
    folder = write(tmp_path / "ds")
    customers().to_csv(folder / "customers.csv", sep=";", index=False)
    message = problems_of(folder)
    assert "customers: customers.csv was read as one column" in message
    assert "looks like ';'-separated" in message
    assert "Set read.sep: ';' under tables.customers in dataset.yaml" in message


def test_a_semicolon_file_with_decimal_commas_is_recognised_too(tmp_path):
    folder = write(tmp_path / "ds")
    (folder / "customers.csv").write_text(
        "customer_id;signup_date;churn_date;arr\nC001;2024-01-05;;1,5\nC002;2024-02-01;;2,5,1\n"
    )
    message = problems_of(folder)
    assert "customers: customers.csv looks like ';'-separated" in message


def test_a_corrupt_parquet_file_is_a_problem_not_a_traceback(tmp_path):
    folder = write(tmp_path / "ds", usage=None)
    (folder / "usage.parquet").write_bytes(b"PAR1 this is not parquet")
    assert "usage: usage.parquet cannot be read" in problems_of(folder)


def test_a_latin1_file_read_as_utf8_names_the_line_and_the_encoding_to_set(tmp_path):
    folder = write(tmp_path / "ds")
    text = "customer_id,signup_date,churn_date,name\nC001,2024-01-05,,Ab\nC002,2024-02-01,,Café\n"
    (folder / "customers.csv").write_bytes(text.encode("latin-1"))
    message = problems_of(folder)
    assert "customers: customers.csv: line 3 is not valid UTF-8 (byte 0xe9)" in message
    assert "set read: {encoding: latin-1} under tables.customers" in message


def test_windows_punctuation_bytes_suggest_cp1252(tmp_path):
    folder = write(tmp_path / "ds")
    text = "customer_id,signup_date,churn_date,name\nC001,2024-01-05,,O’Brien\n"
    (folder / "customers.csv").write_bytes(text.encode("cp1252"))
    assert "set read: {encoding: cp1252}" in problems_of(folder)


def test_every_problem_is_reported_at_once(tmp_path):
    folder = write(
        tmp_path / "ds",
        customers=customers(churn_date=["2023-01-01", None, None]),
        nps=nps(score=[12, None]),
        usage=usage(active_users=[-1, 2, 5, 5]),
    )
    with pytest.raises(DataValidationError) as info:
        load_dataset(folder)
    where = {(p.table, p.column) for p in info.value.problems}
    assert where == {("customers", "churn_date"), ("nps", "score"), ("usage", "active_users")}
    assert "(3 problems)" in str(info.value)


# --- bad config ---------------------------------------------------------------------------------


def test_a_mapped_column_that_does_not_exist_is_a_problem(tmp_path):
    config = {**SIMULATOR_YAML, "tables": {"customers": {"columns": {"signup_date": "Created"}}}}
    message = problems_of(write(tmp_path / "ds", config=config))
    assert (
        "customers.signup_date: tables.customers.columns maps signup_date to 'Created', which "
        "customers.csv does not have" in message
    )


def test_unknown_config_keys_are_refused_with_the_valid_ones(tmp_path):
    raw = {"name": "x", "tabels": {}, "tables": {"customers": {"colums": {}}}}
    with pytest.raises(DatasetConfigError) as info:
        parse_config(raw, tmp_path)
    message = str(info.value)
    assert "unknown key 'tabels' in the dataset config (did you mean 'tables'?)" in message
    assert "unknown key 'colums' in tables.customers (did you mean 'columns'?)" in message
    assert "valid keys: columns, date_format, file, ignore, join, read" in message


def test_usage_only_keys_are_refused_on_other_tables(tmp_path):
    with pytest.raises(DatasetConfigError, match="unknown key 'period' in tables.nps"):
        parse_config({"tables": {"nps": {"period": "week"}}}, tmp_path)


def test_an_unparseable_date_format_is_refused(tmp_path):
    with pytest.raises(DatasetConfigError) as info:
        parse_config({"tables": {"customers": {"date_format": "dd/mm/yyyy"}}}, tmp_path)
    assert "tables.customers.date_format: 'dd/mm/yyyy' is not a strftime format" in str(info.value)
    with pytest.raises(DatasetConfigError, match="is not a valid strftime format"):
        parse_config({"tables": {"usage": {"date_format": "%Y-%Q"}}}, tmp_path)


def test_churn_definition_and_other_values_are_checked(tmp_path):
    raw = {
        "churn": {"definition": "inactivity"},
        "usage": {"period": "fortnight"},
        "tables": {
            "customers": {"columns": {"signup": "Created"}, "read": {"encoding": "klingon"}}
        },
        "extraction_date": "someday",
    }
    with pytest.raises(DatasetConfigError) as info:
        parse_config(raw, tmp_path)
    message = str(info.value)
    assert "churn.inactivity_days must be a positive whole number" in message
    assert "usage.period is 'fortnight'; valid: day, week, month" in message
    assert "tables.customers.columns: 'signup' is not a contract column of customers" in message
    assert "'klingon' is not an encoding Python knows" in message
    assert "extraction_date 'someday' is not a date" in message
    assert "5 problems" in message


def test_a_single_table_file_is_refused_as_a_dataset_path(tmp_path):
    folder = write(tmp_path / "ds")
    with pytest.raises(DatasetConfigError, match="pass the folder that holds the tables"):
        load_dataset(folder / "customers.csv")


def test_usage_metrics_can_be_listed_and_renamed():
    frame = usage().rename(columns={"logins": "Logins"}).assign(note="x")
    config = DatasetConfig(
        extraction_date=pd.Timestamp("2025-01-01"),
        tables={
            "usage": TableConfig(columns={"logins": "Logins"}, metrics=("logins",), period="week")
        },
    )
    tables = tables_from_frames({"customers": customers(), "usage": frame}, config)
    assert tables.usage_metrics == ("logins",)
    assert "active_users" not in tables.usage.columns


# --- the command line ---------------------------------------------------------------------------


def run_cli(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["churn", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return info.value.code


def test_validate_prints_a_summary_and_exits_0(tmp_path, monkeypatch, capsys):
    folder = write(tmp_path / "ds")
    before = sorted(p.name for p in folder.iterdir())
    assert run_cli(monkeypatch, "validate", "--data", str(folder)) == 0
    out = capsys.readouterr().out
    assert "dataset 'tiny': meets the data contract" in out
    assert "usage                   4 rows  2024-06-03 .. 2024-06-10" in out
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_validate_lists_all_problems_and_exits_2(tmp_path, monkeypatch, capsys):
    folder = write(tmp_path / "ds", customers=customers(churn_date=["2023-01-01", None, None]))
    (folder / "nps.csv").write_text("customer_id;timestamp;score\nC001;2024-05-03;9\n")
    before = sorted(p.name for p in folder.iterdir())
    assert run_cli(monkeypatch, "validate", "--data", str(folder)) == 2
    err = capsys.readouterr().err
    assert "customers.churn_date: 1 row has churn_date before signup_date" in err
    assert "nps: nps.csv was read as one column" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing written


def test_validate_exits_2_on_a_bad_config(tmp_path, monkeypatch, capsys):
    folder = write(tmp_path / "ds", config={"name": "x", "churn": {"definition": "vibes"}})
    assert run_cli(monkeypatch, "validate", "--data", str(folder)) == 2
    assert "churn.definition is 'vibes'; valid: date, inactivity" in capsys.readouterr().err


def test_the_installed_command_exits_2_without_a_traceback(tmp_path):
    folder = write(tmp_path / "ds", nps=nps(score=[42, None]))
    exe = Path(sys.executable).with_name("churn")
    result = subprocess.run(
        [str(exe), "validate", "--data", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "nps.score: 1 row is outside 0-10" in result.stderr
    assert "Traceback" not in result.stderr


# --- the dataset config, typed ------------------------------------------------------------------


def test_a_misspelt_dataset_key_exits_2_naming_it_and_the_right_one(tmp_path, monkeypatch, capsys):
    config = {**SIMULATOR_YAML, "churn": {"defintion": "date"}}
    folder = write(tmp_path / "ds", config=config)
    assert run_cli(monkeypatch, "validate", "--data", str(folder)) == 2
    err = capsys.readouterr().err
    assert "unknown key 'defintion' in churn (did you mean 'definition'?)" in err
    assert "dataset.yaml" in err
    assert "Traceback" not in err


def test_a_misspelt_key_in_a_dataset_yaml_file_exits_2_without_a_traceback(tmp_path):
    folder = write(tmp_path / "ds", config=None)
    path = tmp_path / "acme.yaml"
    path.write_text(
        yaml.safe_dump({"base_dir": "ds", "extraction_date": "2025-01-01", "tables": {"nsp": {}}})
    )
    exe = Path(sys.executable).with_name("churn")
    result = subprocess.run(
        [str(exe), "validate", "--data", str(path)], capture_output=True, text=True, timeout=120
    )
    assert folder.is_dir()
    assert result.returncode == 2
    assert "unknown key 'nsp' in tables (did you mean 'nps'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_type_in_the_dataset_config_names_the_key_and_the_value(tmp_path):
    raw = {
        "churn": {"definition": "inactivity", "inactivity_days": "ninety"},
        "static": {"drop_duplicates": "yes"},
        "tables": {"usage": {"metrics": "logins", "file": 3}},
    }
    with pytest.raises(DatasetConfigError) as info:
        parse_config(raw, tmp_path)
    message = str(info.value)
    assert "churn.inactivity_days must be a whole number, not 'ninety'" in message
    assert "static.drop_duplicates must be true or false, not 'yes'" in message
    assert "tables.usage.metrics must be a list of column names, not 'logins'" in message
    assert "tables.usage.file must be text, not 3" in message
    assert "4 problems" in message
    assert "pydantic" not in message


def test_values_out_of_range_and_mismatched_sections_are_refused(tmp_path):
    with pytest.raises(DatasetConfigError, match="churn.inactivity_days must be > 0, not -5"):
        parse_config({"churn": {"definition": "inactivity", "inactivity_days": -5}}, tmp_path)
    with pytest.raises(DatasetConfigError, match="customers_from is 'orders'; valid: interactions"):
        parse_config({"customers_from": "orders"}, tmp_path)
    with pytest.raises(DatasetConfigError, match="usage.period and tables.usage.period disagree"):
        parse_config(
            {"usage": {"period": "week"}, "tables": {"usage": {"period": "day"}}}, tmp_path
        )
    with pytest.raises(DatasetConfigError, match="the static section needs churn.definition: flag"):
        parse_config({"static": {}}, tmp_path)
    with pytest.raises(DatasetConfigError, match="unknown key 'source' in the dataset config"):
        parse_config({"source": "x.yaml"}, tmp_path)


def test_invalid_dataset_yaml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text("name: acme\ntables:\n  customers: {file: a.csv\n", encoding="utf-8")
    with pytest.raises(DatasetConfigError) as info:
        load_dataset(path)
    assert str(path) in str(info.value)
    assert "not valid YAML at line" in str(info.value)


def test_the_parsed_config_fills_every_table_and_the_usage_keys(tmp_path):
    config = parse_config({"usage": {"period": "week", "metrics": ["logins"]}}, tmp_path)
    assert set(config.tables) == set(SPECS)
    assert config.table("usage").period == "week"
    assert config.table("usage").metrics == ("logins",)
    assert config.name == tmp_path.name and config.base_dir == tmp_path


def test_the_dataset_schema_names_every_table_and_key():
    from churn.data import dataset_schema

    schema = dataset_schema()
    assert set(schema["properties"]) == {
        "name",
        "base_dir",
        "extraction_date",
        "tables",
        "usage",
        "churn",
        "static",
        "customers_from",
        "evaluation",
    }
    assert set(schema["properties"]["tables"]["properties"]) == set(SPECS)
    assert schema["$defs"]["TableConfig"]["additionalProperties"] is False


def test_handed_over_frames_are_freed_as_checked_and_others_left_alone(tmp_path):
    """Loading hands its source frames over (``consume``) so a table is never held twice; a
    caller of ``validate_tables`` keeps its frames untouched and gets the same tables."""
    import weakref

    from churn.data.validation import validate_tables

    frames = {
        "customers": customers().assign(signup_date=lambda d: pd.to_datetime(d["signup_date"]))
    }
    kept = {k: v.copy() for k, v in frames.items()}
    plain = validate_tables(frames, extraction_date=pd.Timestamp("2025-01-01"))
    assert set(frames) == {"customers"}
    pd.testing.assert_frame_equal(frames["customers"], kept["customers"])
    source = frames["customers"]
    gone = weakref.ref(source)
    del source
    handed = validate_tables(frames, extraction_date=pd.Timestamp("2025-01-01"), consume=True)
    assert frames == {}
    assert gone() is None  # nothing inside the tables keeps the source frame alive
    pd.testing.assert_frame_equal(handed.customers, plain.customers)
