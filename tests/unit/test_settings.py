from __future__ import annotations

import pytest

from churn.contract import SPECS, contract_markdown, empty_table
from churn.settings import Settings, SettingsError, load_settings, settings_from_dict


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
