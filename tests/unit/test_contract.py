"""Tables enforce their invariants once, so no stage downstream has to re-check or re-cast."""

from __future__ import annotations

import pandas as pd
import pytest

from churn.contract import Tables, empty_table


def _tables(**kw) -> Tables:
    frames = {name: empty_table(name) for name in ("customers", "interactions", "nps", "usage")}
    frames.update(kw.pop("frames", {}))
    return Tables(**frames, extraction_date=kw.pop("extraction_date", "2025-01-01"), **kw)


def test_customer_ids_become_strings_once():
    customers = pd.DataFrame(
        {"customer_id": [1, 2], "signup_date": pd.to_datetime(["2024-01-01", "2024-02-01"])}
    )
    tables = _tables(frames={"customers": customers})
    assert tables.customers["customer_id"].tolist() == ["1", "2"]
    assert pd.api.types.is_string_dtype(tables.customers["customer_id"])
    assert customers["customer_id"].tolist() == [1, 2], "the caller's frame is not mutated"


def test_extraction_date_is_a_timestamp():
    assert _tables().extraction_date == pd.Timestamp("2025-01-01")


def test_a_table_without_customer_id_is_refused():
    with pytest.raises(ValueError, match="'nps' has no customer_id"):
        _tables(frames={"nps": pd.DataFrame({"score": [9.0]})})


@pytest.mark.parametrize(
    ("key", "value"), [("usage_period", "fortnight"), ("churn_definition", "vibes")]
)
def test_unknown_period_or_churn_definition_is_refused(key, value):
    with pytest.raises(ValueError, match=value):
        _tables(**{key: value})


def test_the_tiny_dataset_factory_goes_through_validation(tiny_tables):
    from churn.data import DataValidationError

    tables = tiny_tables(nps=[{"customer_id": "c1", "timestamp": "2024-03-01", "score": 9}])
    assert tables.nps["score"].tolist() == [9.0]
    with pytest.raises(DataValidationError, match="nps"):
        tiny_tables(nps=[{"customer_id": "c1", "timestamp": "2024-03-01", "score": 11}])
