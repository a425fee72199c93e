"""The leak probe: a column that nearly is the label is named, noise is not, and a run that is
too good to be true is refused (logged, never registered, exit code 3).

Tiny literal frames; one small static table trained end to end through the CLI in tmp_path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from churn import cli
from churn.errors import ChurnError, LeakSuspected
from churn.modeling import (
    LEAK_PROBE_TAG,
    ORACLE_LEAK_RATIO,
    check_model,
    decide_promotion,
    probe_features,
    single_feature_auc,
    suspect_names,
)
from churn.settings import Settings, SettingsError

Y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1], dtype=float)


def probe(frame: pd.DataFrame, y: np.ndarray = Y, **kwargs):
    return probe_features(frame, y, threshold=0.95, **kwargs)


def auc_of(table: pd.DataFrame, feature: str) -> float:
    return float(table.set_index("feature").loc[feature, "single_auc"])


# --- each feature alone -------------------------------------------------------------------------


def test_a_column_that_is_the_label_is_named_with_its_auc():
    frame = pd.DataFrame({"leak": Y * 10 + 1, "noise": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]})
    found = probe(frame)
    assert found.flagged["feature"].tolist() == ["leak"]
    assert auc_of(found.table, "leak") == 1.0
    assert found.refused
    assert "leak (AUC 1.000)" in found.finding()


def test_a_noise_column_is_not_named():
    frame = pd.DataFrame({"noise": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]})
    found = probe(frame)
    assert found.flagged.empty and not found.refused
    assert auc_of(found.table, "noise") < 0.95
    assert found.finding().startswith("clean: strongest single features noise")


def test_a_column_that_is_the_label_reversed_leaks_as_much():
    assert auc_of(single_feature_auc(pd.DataFrame({"stayed": 1 - Y}), Y), "stayed") == 1.0


def test_a_column_whose_missingness_is_the_label_is_named():
    # Filled in only for those who left (an exit interview's score), at random values.
    exit_score = np.where(Y == 1, [0, 0, 0, 0, 0, 0, 7, 2, 9, 4], np.nan)
    table = single_feature_auc(pd.DataFrame({"exit_score": exit_score}), Y)
    row = table.set_index("feature").loc["exit_score"]
    assert row["missing_auc"] == 1.0 and row["single_auc"] == 1.0
    assert row["missing_share"] == 0.6


def test_categories_that_are_the_outcome_are_named_out_of_fold():
    y = np.tile(Y, 3)
    reason = np.where(y == 1, "moved to competitor", "none")
    table = single_feature_auc(pd.DataFrame({"Reason": pd.Categorical(reason)}), y)
    assert auc_of(table, "Reason") == 1.0
    assert table.loc[0, "kind"] == "categorical"


def test_an_identifier_is_not_a_leak_although_each_id_has_one_outcome():
    # In-sample churn rates per id would rank perfectly; out of fold every id is unseen and
    # gets the other folds' churn rate, which differs a little from fold to fold.
    y = np.tile(Y, 3)
    ids = pd.Categorical([f"C{i:03d}" for i in range(len(y))])
    assert auc_of(single_feature_auc(pd.DataFrame({"id": ids}), y), "id") < 0.7


def test_rows_of_one_customer_share_a_fold():
    # Each customer's snapshots repeat its outcome: by row, its own rows would teach its rate.
    customers = np.repeat(np.arange(10), 4)
    y = np.repeat(Y, 4)
    ids = pd.Categorical([f"C{c}" for c in customers])
    table = single_feature_auc(pd.DataFrame({"id": ids}), y, groups=customers)
    assert auc_of(table, "id") < 0.7


def test_an_accepted_column_is_not_a_finding():
    found = probe(pd.DataFrame({"leak": Y}), accepted=["leak"])
    assert found.flagged.empty and not found.refused
    assert found.tags()["leak_probe_accepted"] == "leak"
    assert found.finding().endswith("accepted (--accept-leak-risk): leak (AUC 1.000)")


def test_snapshot_rows_are_probed_by_customer_on_their_feature_columns():
    from churn.modeling import probe_rows

    customers = np.repeat([f"C{i}" for i in range(10)], 3)
    y = np.repeat(Y, 3)
    rows = pd.DataFrame(
        {
            "customer_id": customers,
            "as_of": np.tile(pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"]), 10),
            "label": y,
            "days_to_cancel": np.where(y == 1, 5.0, np.nan),
            "logins_30d": np.tile([3.0, 1.0, 4.0], 10),
        }
    )
    found = probe_rows(rows, Settings().training)
    assert set(found.table["feature"]) == {"days_to_cancel", "logins_30d"}
    assert found.flagged["feature"].tolist() == ["days_to_cancel"]
    assert found.check_these == ["days_to_cancel"]


# --- names ------------------------------------------------------------------------------------


def test_names_that_look_like_the_outcome_are_listed_to_check():
    names = ["Churn Reason", "Satisfaction Score", "customer_status", "CancelDate", "tenure"]
    assert suspect_names(names) == {
        "Churn Reason": "reason",
        "Satisfaction Score": "satisf",
        "customer_status": "status",
        "CancelDate": "cancel",
    }
    assert suspect_names(["acct_tenure_days", "util_logins_30d", "existing_lines"]) == {}


def test_a_suspect_name_is_a_warning_not_a_refusal():
    found = probe(pd.DataFrame({"Status": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]}))
    assert found.check_these == ["Status"] and not found.refused
    assert found.tags()["leak_probe_check_these"] == "Status"


# --- the model ----------------------------------------------------------------------------------


def clean():
    return probe(pd.DataFrame({"noise": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]}))


def test_a_model_at_or_above_the_threshold_is_too_good_to_be_true():
    assert check_model(clean(), 0.98, 0.98).refused
    assert "too good to be true: model ROC AUC 0.990" in check_model(clean(), 0.99, 0.98).finding()
    assert not check_model(clean(), 0.97, 0.98).refused
    assert not check_model(clean(), float("nan"), 0.98).refused


def test_with_an_oracle_only_beating_the_truth_counts():
    # Simulated data may be this predictable; nothing ranks better than the true probabilities.
    assert not check_model(clean(), 0.99, 0.98, oracle_ratio=1.0).refused
    beaten = check_model(clean(), 0.90, 0.98, oracle_ratio=ORACLE_LEAK_RATIO + 0.01)
    assert beaten.refused and "beats the oracle" in beaten.finding()


def test_the_gate_and_the_probe_say_the_same_about_the_oracle():
    _, why = decide_promotion(0.95, None, has_champion=False, oracle_ratio=1.08)
    assert why == "rejected: " + check_model(clean(), 0.95, 0.98, 1.08).model_finding


def test_accepting_a_strong_column_waives_the_model_check_it_explains():
    found = probe(pd.DataFrame({"leak": Y}), accepted=["leak"])
    assert not check_model(found, 1.0, 0.98).refused
    # Accepting a weak column explains nothing.
    weak = probe(pd.DataFrame({"noise": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]}), accepted=["noise"])
    assert check_model(weak, 1.0, 0.98).refused


def test_the_message_names_the_column_and_how_to_proceed():
    found = probe(pd.DataFrame({"leak": Y, "Status": [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]}))
    text = found.message(static=True, run_id="abc")
    assert "NOT registered" in text and "abc" in text
    assert "static.ignore: [leak]" in text
    assert "--accept-leak-risk 'leak'" in text
    assert "Also check these (named like the outcome): Status" in text
    assert "tables.<table>.ignore" in found.message(static=False)


def test_a_model_too_good_with_no_strong_column_points_at_the_threshold_not_at_accepting():
    text = check_model(clean(), 0.985, 0.98).message(static=True)
    assert "no single column explains it (strongest alone: noise" in text
    assert "set training.leak_model_auc higher" in text
    assert "--accept-leak-risk" not in text
    oracle = check_model(clean(), 0.9, 0.98, oracle_ratio=1.05).message(static=False)
    assert "--force does not override this" in oracle and "leak_model_auc" not in oracle


# --- settings, errors, exit code ----------------------------------------------------------------


def test_the_thresholds_are_settings_between_a_half_and_one():
    t = Settings().training
    assert (t.leak_single_feature_auc, t.leak_model_auc) == (0.95, 0.98)
    assert Settings(training={"leak_model_auc": 1.0}).training.leak_model_auc == 1.0
    for bad in (0.5, 1.01, "high"):
        with pytest.raises(SettingsError, match="leak_single_feature_auc"):
            Settings(training={"leak_single_feature_auc": bad})


def test_a_suspected_leak_is_a_churn_error_with_its_own_exit_code():
    assert issubclass(LeakSuspected, ChurnError)
    assert LeakSuspected.exit_code == 3 and ChurnError.exit_code == 2
    assert LeakSuspected("x", run_id="r1").run_id == "r1"


# --- end to end on a small static table ---------------------------------------------------------


def static_table(folder: Path, *, ignore: list[str], n: int = 400) -> Path:
    """A static table whose ``leak`` column is the label plus a little noise."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    left = rng.random(n) < 1 / (1 + np.exp(-(x - 1)))
    frame = pd.DataFrame(
        {
            "id": [f"C{i:04d}" for i in range(n)],
            "usage": x + rng.normal(size=n),
            "plan": rng.choice(["a", "b", "c"], size=n),
            "leak": left + rng.normal(scale=0.3, size=n),
            "left": np.where(left, "yes", "no"),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "accounts.csv", index=False)
    config = {
        "name": "tiny_static",
        "tables": {"customers": {"file": "accounts.csv", "columns": {"customer_id": "id"}}},
        "churn": {"definition": "flag", "label": "left", "positive": "yes"},
        "static": {"ignore": ignore},
    }
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def churn_train(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["churn", "train", *args, "--cv-repeats", "1"])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return info.value.code


@pytest.mark.slow
def test_a_planted_leak_is_refused_and_an_accepted_one_registers(tmp_path, monkeypatch, capsys):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    data = static_table(tmp_path / "ds", ignore=[])
    assert churn_train(monkeypatch, "--data", str(data)) == 3
    err = capsys.readouterr().err
    assert "leak (AUC 0.9" in err and "NOT registered" in err and "static.ignore: [leak]" in err

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("churn-static").experiment_id])
    assert "leak (AUC" in run.data.tags[LEAK_PROBE_TAG]
    assert run.data.tags["leak_probe_refused"] == "True"
    assert "leak_probe.csv" in {
        a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, "evaluation")
    }
    assert client.search_registered_models() == []

    # mlflow.set_tracking_uri also writes $MLFLOW_TRACKING_URI, and a run restores the URI an
    # earlier test left behind: point the second run at this test's store again.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    code = churn_train(monkeypatch, "--data", str(data), "--accept-leak-risk", "leak")
    assert code in (0, None), capsys.readouterr().err
    (model,) = client.search_registered_models()
    assert model.name == "churn-static-tiny_static"


# --- ignored columns never become features ------------------------------------------------------


def test_an_ignored_usage_column_is_never_a_metric():
    from churn.data import DatasetConfig, TableConfig, tables_from_frames

    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "signup_date": ["2024-01-05", "2024-02-01"],
            "churn_date": [None, "2024-09-01"],
        }
    )
    usage = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "date": ["2024-06-03", "2024-06-03"],
            "logins": [10, 1],
            "churn_score": [0.1, 0.9],
        }
    )
    config = DatasetConfig(
        extraction_date=pd.Timestamp("2025-01-01"),
        tables={"usage": TableConfig(period="week", ignore=("churn_score",))},
    )
    tables = tables_from_frames({"customers": customers, "usage": usage}, config)
    assert tables.usage_metrics == ("logins",)
    assert "churn_score" not in tables.usage.columns


def test_a_static_column_ignored_under_tables_customers_is_never_a_feature():
    from churn.data import parse_config
    from churn.static_table import prepare_static

    raw = {
        "churn": {"definition": "flag", "label": "left", "positive": "yes"},
        "tables": {"customers": {"ignore": ["leak"]}},
    }
    frame = pd.DataFrame({"a": [1, 2, 3], "leak": [0, 1, 0], "left": ["no", "yes", "no"]})
    data = prepare_static(frame, parse_config(raw, Path(".")))
    assert list(data.features.columns) == ["a"]
