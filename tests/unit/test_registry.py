"""The feature registry: declared once, and the engine, catalogue, baselines and CLI agree with it."""

from __future__ import annotations

import dataclasses
import io
import math
import re

import pandas as pd
import pytest

from churn.features import (
    ACCOUNT_CONTEXT,
    BEHAVIOUR,
    CONTEXT,
    FAMILIES,
    REGISTRY,
    FeatureSpec,
    build_features,
    entry,
    expand,
    feature_catalogue,
    feature_names,
    lookup,
    registry_frame,
    render_reason,
)

#: A spec that switches on every optional column, with odd values that need slugs.
FULL = FeatureSpec(
    channels=("Web Chat", "phone"),
    categories=("Complaint", "how-to"),
    usage_metrics=("active_users", "seats_licensed", "logins"),
    plans=("basic", "pro"),
    segments=("SMB",),
    regions=("EU",),
    has_resolution=True,
    has_csat=True,
    has_sentiment=True,
    windows=(7, 30, 90),
)
#: Account attributes: shown beside a customer, never as "why at risk".
CONTEXT_COLUMNS = (
    "acct_region",
    "acct_segment",
    "acct_plan",
    "acct_arr",
    "acct_tenure_days",
    "util_seats_licensed_30d",
)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A small simulated dataset: its folder, tables and the features of two snapshot dates."""
    from churn.data import load_dataset
    from churn.simulate import simulate, write_dataset
    from churn.spine import build_spine

    folder = write_dataset(
        simulate(60, seed=4, months=12, mess_rate=0.0), tmp_path_factory.mktemp("sim") / "data"
    )
    tables = load_dataset(folder)
    dates = pd.to_datetime(["2024-09-02", "2024-12-02"])
    feats = build_features(build_spine(tables.customers, dates), tables)
    return folder, tables, feats


def test_build_features_returns_exactly_the_registry_columns_in_order(simulated):
    _, tables, feats = simulated
    spec = FeatureSpec.from_tables(tables)
    assert list(feats.columns[:2]) == ["customer_id", "as_of"]
    assert list(feats.columns[2:]) == [c.name for c in expand(spec)]


def test_every_column_dtype_and_empty_history_fill_are_as_declared(simulated):
    _, tables, _ = simulated
    # A customer with no records at all: every column takes its declared fill.
    spine = pd.DataFrame({"customer_id": ["nobody"], "as_of": [pd.Timestamp("2024-09-02")]})
    spec = FeatureSpec.from_tables(tables)
    out = build_features(spine, tables, spec).iloc[0]
    for column in expand(spec):
        value, feature = out[column.name], column.feature
        if feature.dtype == "category":
            assert pd.isna(value), column.name
        elif math.isnan(feature.fill):
            assert math.isnan(value), column.name
        else:
            assert value == feature.fill, column.name


def test_expansion_matches_the_spec_switches():
    bare = feature_names(FeatureSpec())
    full = feature_names(FULL)
    assert "int_open_tickets" not in bare and "int_open_tickets" in full
    assert "util_seat_utilisation_30d" in full
    assert "util_seat_utilisation_30d" not in feature_names(
        dataclasses.replace(FULL, usage_metrics=("logins",))
    )
    # Window-major blocks: all the 7-day interaction counts before any 30-day one.
    assert full.index("int_cat_how_to_7d") < full.index("int_tickets_30d")
    assert full.index("int_ch_web_chat_7d") == full.index("int_tickets_7d") + 1


def test_names_are_unique_and_each_resolves_back_to_its_own_entry():
    columns = expand(FULL)
    names = [c.name for c in columns]
    assert len(names) == len(set(names))
    for c in columns:
        back = lookup(c.name)
        assert back.feature is c.feature, c.name
        assert back.groups == c.groups, c.name
        # No generated name is claimed by a second template (a declared name may be: it wins).
        if c.feature.loop:
            others = [f for f in REGISTRY if f is not c.feature and f.match(c.name) is not None]
            assert not others, (c.name, [f.name for f in others])


def test_registry_names_are_unique_and_each_template_compiles():
    assert len({f.name for f in REGISTRY}) == len(REGISTRY)
    for f in REGISTRY:
        assert isinstance(f.pattern, re.Pattern)
        assert set(f.loop) == set(f.placeholders), f.name
        assert f.pattern.match(f.name.format(**{p: "7" for p in f.placeholders})), f.name


def test_every_entry_is_fully_declared():
    spec_fields = {field.name for field in dataclasses.fields(FeatureSpec)}
    for f in REGISTRY:
        assert f.family in (*FAMILIES, ACCOUNT_CONTEXT), f.name
        assert f.kind in (BEHAVIOUR, CONTEXT), f.name
        assert f.dtype in ("float64", "category"), f.name
        assert f.description and f.reason_template and callable(f.render), f.name
        assert f.risk_direction in (-1, 0, 1, None), f.name
        assert f.table in (
            "customers", "interactions", "nps", "usage", "interactions+nps", "account_history"
        )  # fmt: skip
        assert f.levels is None or f.levels in spec_fields, f.name
        if f.window is not None:
            days = re.findall(r"_(\d+)d(?=_|$)", f.name)
            if len(days) == 1:  # a name that carries one window must carry the declared one
                assert int(days[0]) == f.window, f.name


def test_every_column_has_a_family_description_and_kind(simulated):
    _, tables, feats = simulated
    frame = registry_frame(FeatureSpec.from_tables(tables))
    assert frame["name"].tolist() == list(feats.columns[2:])
    assert frame["family"].isin(FAMILIES).all()
    assert frame["kind"].isin([BEHAVIOUR, CONTEXT]).all()
    assert (frame["description"].str.len() > 0).all()
    assert not frame["description"].str.contains("{", regex=False).any()


def test_account_attributes_are_context_and_keep_their_play_family():
    cat = feature_catalogue([*CONTEXT_COLUMNS, "util_logins_30d", "acct_days_to_renewal"])
    assert all(cat[n].kind == CONTEXT for n in CONTEXT_COLUMNS)
    assert cat["util_logins_30d"].kind == BEHAVIOUR
    assert cat["acct_days_to_renewal"].kind == BEHAVIOUR
    # The playbook maps families to plays: the account attributes stay "commercial" for now.
    assert {cat[n].family for n in CONTEXT_COLUMNS if n.startswith("acct_")} == {"commercial"}
    assert cat["util_seats_licensed_30d"].family == "product adoption"


def test_only_the_declared_entries_are_context():
    context = {c.name for c in expand(FULL) if c.kind == CONTEXT}
    assert context == set(CONTEXT_COLUMNS)


def test_health_rules_read_registry_features_in_their_risk_direction():
    from churn.modeling.baselines import HEALTH_RULES

    for rule in HEALTH_RULES:
        f = entry(rule.feature)
        if f.risk_direction:
            # "value below the threshold is risky" needs a feature where lower means riskier.
            assert (rule.op in ("<", "<=")) == (f.risk_direction < 0), rule.name


def test_health_rules_resolve_on_the_simulated_features(simulated):
    from churn.modeling import health_rules_used

    _, _, feats = simulated
    used = health_rules_used(list(feats.columns))
    assert used["recent complaints"] == "int_cat_complaint_90d"
    assert used["usage declining"] == "util_active_users_ratio_30d_90d"
    assert used["open complaint"] == "int_open_complaints_14d"
    assert len(used) == 11


def test_reasons_render_for_every_column_with_empty_values():
    for c in expand(FULL):
        sentence = render_reason(c.name, {}, +1)
        assert sentence and "{" not in sentence, c.name


def test_entry_names_an_unknown_declaration_clearly():
    with pytest.raises(KeyError, match="not declared"):
        entry("int_fax_30d")


def test_catalogue_command_lists_every_column_churn_features_produces(simulated, tmp_path):
    from typer.testing import CliRunner

    from churn.cli import app

    folder, _, _ = simulated
    runner = CliRunner()
    out = tmp_path / "features.parquet"
    built = runner.invoke(app, ["features", "--data", str(folder), "--as-of", "2024-12-02",
                                "--out", str(out)])  # fmt: skip
    assert built.exit_code == 0, built.output
    produced = [c for c in pd.read_parquet(out).columns if c not in ("customer_id", "as_of")]

    listed = runner.invoke(app, ["catalogue", "--data", str(folder), "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    csv = listed.stdout
    table = pd.read_csv(io.StringIO(csv[csv.index("name,family") :]), keep_default_na=False)
    assert table["name"].tolist() == produced
    assert table["kind"].isin([BEHAVIOUR, CONTEXT]).all()
    assert (table["family"] != "").all() and (table["description"] != "").all()


def test_catalogue_command_without_data_lists_the_templates():
    from typer.testing import CliRunner

    from churn.cli import app

    result = CliRunner().invoke(app, ["catalogue", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "| util_{metric}_ratio_30d_90d | product adoption |" in result.stdout
    assert result.stdout.count("\n| ") == len(REGISTRY)  # a row per entry after the header


def test_catalogue_command_refuses_an_unknown_format():
    from typer.testing import CliRunner

    from churn.cli import app

    result = CliRunner().invoke(app, ["catalogue", "--format", "xml"])
    assert result.exit_code != 0


def test_account_attributes_from_todays_extract_are_marked_as_extracted():
    from churn.features import as_extracted_features, registry_frame

    names = ["acct_plan", "acct_arr", "acct_days_to_renewal", "acct_tenure_days", "nps_last"]
    assert as_extracted_features(names) == ["acct_plan", "acct_arr", "acct_days_to_renewal"]
    timing = registry_frame().set_index("name")["timing"]
    assert timing["acct_segment"] == "as extracted"
    assert timing["acct_tenure_days"] == "point in time"  # signup_date does not change
    assert set(timing) == {"as extracted", "point in time"}
