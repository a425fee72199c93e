from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from churn import cli
from churn.contract import SPECS, contract_markdown, empty_table
from churn.errors import ChurnError
from churn.settings import (
    ScoringSettings,
    Settings,
    SettingsError,
    SnapshotSettings,
    load_settings,
    settings_from_dict,
)

#: ``Settings().to_dict()`` as it was with the hand-parsed dataclasses (what MLflow logs): the
#: typed settings must keep every default, name, order and value type.
DEFAULTS = {
    "snapshots": {"cadence": "W-MON", "horizon_days": 90, "lead_days": 0, "warmup_days": 180},
    "training": {
        "test_snapshots": 4,
        "valid_snapshots": 4,
        "train_every": 2,
        "deploy": "refit",
        "row_budget": 1_200_000,
        "calibration": "isotonic",
        "seed": 42,
        "num_threads": 1,
        "lightgbm": {
            "objective": "binary",
            "learning_rate": 0.03,
            "num_leaves": 7,
            "max_depth": 6,
            "min_child_samples": 100,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "verbose": -1,
        },
        "num_boost_round": 1000,
        "early_stopping_rounds": 100,
        "capacity_k": 100,
        "backtest_windows": 3,
        "tune_trials": 20,
        "tune_timeout_s": 600,
        "gate_tolerance": 0.002,
        "shap_sample": 2000,
        "bootstrap_resamples": 1000,
        "leak_single_feature_auc": 0.95,
        "leak_model_auc": 0.98,
    },
    "scoring": {
        "list_size": 100,
        "capacity_per_owner": 5,
        "min_probability": 0.25,
        "tiers": (("high", 0.5), ("medium", 0.25), ("low", 0.0)),
        "playbook": {
            "product adoption": "Adoption workshop: re-onboard the users and set usage goals",
            "service experience": "Escalate open tickets and call to close the loop",
            "sentiment": "Executive call to close the NPS loop",
            "commercial": "Renewal conversation: review value delivered and offer terms",
        },
        "reasons_per_customer": 3,
        "min_reason_points": 1.0,
        "priority": "revenue_at_risk",
        "rank_by": "risk",
        "uplift_min_per_arm": 500,
        "default_play": "Regular check-in: no single driver stands out",
        "required_features": ("acct_tenure_days",),
        "reasons_scope": "all",
        "change_tolerance": 0.01,
        "currency_format": "#,##0",
        "complaint_categories": ("complaint",),
        "incident_categories": ("incident",),
    },
    "monitoring": {
        "psi_bins": 10,
        "psi_threshold": 0.25,
        "missing_threshold": 0.1,
        "flag_context": False,
        "reference_snapshots": 4,
        "retrain_drifted_features": 2,
        "max_auc_drop": 0.05,
        "max_calibration_gap": 0.05,
        "max_training_age_days": 180,
        "bootstrap_resamples": 500,
        "seed": 0,
    },
    "alerts": {
        "detractor_days": 14,
        "open_days": 7,
        "open_categories": ("complaint", "incident"),
        "usage_metric": None,
        "usage_recent_days": 28,
        "usage_baseline_days": 84,
        "usage_drop_share": 0.5,
        "usage_min_baseline": 1.0,
        "renewal_days": 60,
        "renewal_tiers": ("high",),
        "due_days": 3,
    },
    "control": {"share": 0.1, "seed": 0, "min_customers": 30, "bootstrap_resamples": 1000},
    "engine": {
        "backend": "duckdb",
        "spark_master": "local[2]",
        "spark_conf": {"spark.sql.shuffle.partitions": "8"},
    },
}


def test_defaults_predict_ninety_days_on_weekly_mondays():
    s = Settings()
    assert s.snapshots.horizon_days == 90
    assert s.snapshots.cadence == "W-MON"


def test_partial_settings_override_only_what_they_name():
    s = settings_from_dict(
        {"snapshots": {"horizon_days": 60}, "training": {"lightgbm": {"num_leaves": 7}}}
    )
    assert s.snapshots.horizon_days == 60
    assert s.snapshots.cadence == "W-MON"
    assert s.training.lightgbm["num_leaves"] == 7
    # Overriding one LightGBM parameter keeps the other defaults.
    assert s.training.lightgbm["objective"] == "binary"


def test_unknown_settings_key_is_refused_with_the_valid_ones():
    with pytest.raises(SettingsError, match="horizon_days"):
        settings_from_dict({"snapshots": {"horizon": 60}})


def test_unknown_settings_section_is_refused():
    with pytest.raises(SettingsError, match="unknown settings section 'model'"):
        settings_from_dict({"model": {}})


def test_repository_settings_file_loads():
    assert load_settings("configs/model.yaml").training.capacity_k > 0


def test_defaults_and_their_dict_are_unchanged():
    d = Settings().to_dict()
    assert d == DEFAULTS
    # Same key order and value types too: it is logged as MLflow parameters.
    assert {k: list(v) for k, v in d.items()} == {k: list(v) for k, v in DEFAULTS.items()}
    assert [type(v) for v in d["scoring"].values()] == [
        type(v) for v in DEFAULTS["scoring"].values()
    ]


def test_values_from_a_file_keep_the_python_types_code_expects():
    s = settings_from_dict(
        {
            "scoring": {
                "tiers": [["high", 1], ["low", 0]],
                "required_features": ["acct_tenure_days", "nps_last"],
            }
        }
    )
    assert s.scoring.tiers == (("high", 1.0), ("low", 0.0))
    assert isinstance(s.scoring.tiers[0][1], float)
    assert s.scoring.required_features == ("acct_tenure_days", "nps_last")


def test_settings_errors_are_churn_errors_so_the_cli_exits_2():
    assert issubclass(SettingsError, ChurnError)
    assert SettingsError.exit_code == 2


def test_a_misspelt_key_names_the_key_path_and_suggests_the_right_one():
    with pytest.raises(SettingsError) as info:
        settings_from_dict({"snapshots": {"horizon_day": 60}}, "model.yaml")
    message = str(info.value)
    assert "model.yaml" in message
    assert "'snapshots.horizon_day'" in message
    assert "did you mean 'horizon_days'?" in message


def test_a_key_in_the_wrong_section_points_to_the_right_section():
    with pytest.raises(SettingsError, match="did you mean 'snapshots.horizon_days'"):
        settings_from_dict({"training": {"horizon_days": 60}})
    with pytest.raises(SettingsError, match="put it under training.lightgbm"):
        settings_from_dict({"training": {"num_leaves": 15}})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"snapshots": {"horizon_days": "ninety"}}, "snapshots.horizon_days must be a whole"),
        ({"snapshots": {"horizon_days": 90.5}}, "snapshots.horizon_days must be a whole"),
        ({"snapshots": {"horizon_days": 90.0}}, "snapshots.horizon_days must be a whole"),
        ({"training": {"seed": True}}, "training.seed must be a whole number, not True"),
        ({"scoring": {"min_probability": "0.5"}}, "scoring.min_probability must be a number"),
        ({"scoring": {"default_play": 3}}, "scoring.default_play must be text, not 3"),
        ({"training": {"lightgbm": [1, 2]}}, "training.lightgbm must be a mapping"),
        ({"scoring": {"tiers": [["high", "x"]]}}, "scoring.tiers[0][1] must be a number"),
        ({"training": ["seed"]}, "training must be a mapping (key: value)"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_key_and_the_value(raw, expected):
    with pytest.raises(SettingsError, match=re.escape(expected)):
        settings_from_dict(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"snapshots": {"horizon_days": 0}}, "snapshots.horizon_days must be > 0, not 0"),
        ({"snapshots": {"lead_days": -7}}, "snapshots.lead_days must be >= 0, not -7"),
        ({"scoring": {"min_probability": 1.5}}, "scoring.min_probability must be <= 1"),
        ({"training": {"calibration": "platt"}}, "training.calibration is 'platt'; valid:"),
        ({"scoring": {"priority": "arr"}}, "valid: revenue_at_risk, probability"),
        ({"scoring": {"reasons_scope": "some"}}, "valid: all, listed"),
        ({"scoring": {"tiers": [["low", 0.0], ["high", 0.5]]}}, "highest bound first"),
        ({"scoring": {"tiers": [["high", 0.5], ["medium", 0.2]]}}, "the last with bound 0"),
        ({"scoring": {"tiers": [["high", 1.5], ["low", 0.0]]}}, "must be <= 1"),
        ({"snapshots": {"cadence": "weekly"}}, "'weekly' is not a pandas frequency"),
    ],
)
def test_a_value_out_of_range_is_refused(raw, expected):
    with pytest.raises(SettingsError, match=expected):
        settings_from_dict(raw)


def test_every_problem_is_reported_at_once():
    raw = {
        "snapshots": {"horizon_days": "ninety", "horizn": 1},
        "training": {"calibration": "platt"},
        "scoring": {"min_probability": 2.0},
        "modle": {},
    }
    with pytest.raises(SettingsError) as info:
        settings_from_dict(raw)
    assert len(info.value.problems) == 5
    assert str(info.value).startswith("5 problems in the settings")
    assert "did you mean 'model'" not in str(info.value)  # sections are suggested by name
    assert "ValidationError" not in str(info.value) and "pydantic" not in str(info.value)


def test_settings_built_in_python_are_checked_the_same_way():
    with pytest.raises(SettingsError, match="snapshots.horizon_days must be > 0"):
        SnapshotSettings(horizon_days=-1)
    with pytest.raises(SettingsError, match="scoring.priority is 'arr'"):
        ScoringSettings(priority="arr")


def test_settings_are_frozen():
    with pytest.raises(ValueError, match="frozen"):
        Settings().snapshots.horizon_days = 30  # type: ignore[misc]


def test_invalid_yaml_names_the_file_and_the_line(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("snapshots:\n  horizon_days: 90\n  lead_days: [0\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    assert str(path) in str(info.value)
    assert "not valid YAML at line" in str(info.value)


def test_a_missing_settings_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml")


def test_an_empty_file_or_section_gives_the_defaults(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("training:\n", encoding="utf-8")
    assert load_settings(path) == Settings()
    path.write_text("", encoding="utf-8")
    assert load_settings(path) == Settings()


# --- the command line ---------------------------------------------------------------------------


def run_cli(monkeypatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["churn", *args])
    with pytest.raises(SystemExit) as info:
        cli.main()
    return info.value.code


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misspelt_config_key_exits_2_without_a_traceback(tmp_path):
    # The installed command, as a user runs it; score reads the settings before anything else.
    path = _config(tmp_path, "snapshots:\n  horizon_day: 60\n")
    exe = Path(sys.executable).with_name("churn")
    result = subprocess.run(
        [str(exe), "score", "--config", str(path), "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert "'snapshots.horizon_day'" in result.stderr
    assert "did you mean 'horizon_days'?" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_type_in_the_config_exits_2_naming_key_and_value(tmp_path, monkeypatch, capsys):
    path = _config(tmp_path, "snapshots:\n  horizon_days: ninety\n")
    out = tmp_path / "lists"
    code = run_cli(monkeypatch, "score", "--config", str(path), "--data", "x", "--out", str(out))
    assert code == 2
    err = capsys.readouterr().err
    assert "snapshots.horizon_days must be a whole number, not 'ninety'" in err
    assert str(path) in err
    assert not out.exists()


def test_config_schema_prints_the_settings_schema(monkeypatch, capsys):
    assert run_cli(monkeypatch, "config-schema", "settings") == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["properties"]) == {
        "snapshots",
        "training",
        "scoring",
        "monitoring",
        "alerts",
        "control",
        "engine",
    }
    snapshots = schema["$defs"]["SnapshotSettings"]
    assert snapshots["additionalProperties"] is False
    assert snapshots["properties"]["horizon_days"]["type"] == "integer"
    assert "description" in snapshots["properties"]["horizon_days"]


def test_config_schema_writes_the_dataset_schema_to_a_file(tmp_path, monkeypatch):
    out = tmp_path / "schemas" / "dataset.json"
    assert run_cli(monkeypatch, "config-schema", "dataset", "--out", str(out)) == 0
    schema = json.loads(out.read_text(encoding="utf-8"))
    assert set(schema["properties"]["tables"]["properties"]) == set(SPECS)


def test_config_schema_refuses_an_unknown_kind(monkeypatch, capsys):
    assert run_cli(monkeypatch, "config-schema", "model") == 2
    assert "config-schema takes settings or dataset" in capsys.readouterr().err


def test_contract_markdown_documents_every_column():
    md = contract_markdown()
    for spec in SPECS.values():
        for column in spec.columns:
            assert f"`{column.name}`" in md


def test_empty_tables_have_contract_columns_and_normalised_dtypes():
    frame = empty_table("interactions")
    assert list(frame.columns) == [c.name for c in SPECS["interactions"].columns]
    assert str(frame["timestamp"].dtype) == "datetime64[ns]"


def test_readme_contract_section_matches_the_code():
    # README's contract is generated from churn.contract; regenerate it when the contract changes:
    # python -c "from churn.contract import contract_markdown; print(contract_markdown())"
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- contract:start -->\n", 1)[1].split("<!-- contract:end -->", 1)[0]
    assert section == contract_markdown()


def test_an_unknown_engine_backend_is_refused_with_the_valid_ones():
    with pytest.raises(SettingsError) as info:
        settings_from_dict({"engine": {"backend": "polars"}})
    assert "engine.backend is 'polars'; valid: duckdb, spark" in str(info.value)


class _Built(Exception):
    """Raised by the recording build_features once it has seen its arguments."""


def test_churn_train_builds_its_features_on_the_configured_engine(tmp_path, monkeypatch):
    # `engine:` in the settings reaches the feature engine of churn train, not only of
    # churn features (scoring: tests/unit/test_score_pipeline.py).
    from churn import dataset
    from churn.pipelines.inputs import load_training_frame
    from churn.simulate import simulate, write_dataset

    seen = []

    def recording(spine, tables, **kwargs):
        seen.append(kwargs.get("engine"))
        raise _Built

    monkeypatch.setattr(dataset, "build_features", recording)
    folder = write_dataset(simulate(40, seed=3, months=6, mess_rate=0.0), tmp_path)
    settings = settings_from_dict({"engine": {"backend": "spark", "spark_master": "local[1]"}})
    with pytest.raises(_Built):
        load_training_frame(folder, settings, progress=False)
    assert seen == [settings.engine]
