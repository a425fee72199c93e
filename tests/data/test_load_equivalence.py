"""Set-based validation gives pandas' own answers: duplicates by row hash, text per distinct value.

``churn.data.rowsets`` finds exact duplicates by hashing rows and cleans text ids once per
distinct value. Neither may change what loading returns or says: each case here compares the
fast path with pandas' row-by-row answer on inputs made to trip it (``-0.0`` and ``0.0``, NaN,
None, ids equal only after stripping, forced hash collisions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn.data import DataValidationError, rowsets, tables_from_frames
from churn.data.rowsets import Distinct, duplicated_rows


def _hostile_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Few distinct values per column, so that rows repeat; every kind of missing value."""
    return pd.DataFrame(
        {
            "text": pd.Series(rng.choice(["x", "y", " x", ""], n)).mask(rng.random(n) < 0.2),
            "float": rng.choice([0.0, -0.0, np.nan, 1.5, -np.nan], n),
            "when": pd.to_datetime(pd.Series(rng.choice(["2024-01-01", "2024-01-02", None], n))),
            "aware": pd.to_datetime(
                rng.choice(["2024-01-01T00:00Z", "2024-01-01T02:00Z"], n), utc=True
            ),
            "int": rng.integers(0, 2, n),
            "masked": pd.array(rng.choice([1, 2, None], n), dtype="Int64"),
            "mixed": pd.Series(rng.choice(np.array([1, 1.0, "1", True, None], dtype=object), n)),
            "flag": rng.choice([True, False], n),
            "category": pd.Categorical(rng.choice(["a", "b", None], n)),
        }
    )


@pytest.mark.parametrize("keep", ["first", "last", False])
def test_duplicated_rows_is_dataframe_duplicated(keep) -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        df = _hostile_frame(rng, int(rng.integers(1, 80)))
        for columns in (None, ["text", "float"], ["mixed"], ["when", "int", "flag"], ["aware"]):
            expected = df.duplicated(columns, keep=keep).to_numpy()
            assert (duplicated_rows(df, columns, keep=keep) == expected).all(), columns


def test_minus_zero_and_any_nan_count_as_the_same_value() -> None:
    df = pd.DataFrame({"a": [0.0, -0.0, np.nan, -np.nan, np.float64("nan") * 0]})
    assert duplicated_rows(df).tolist() == [False, True, False, True, True]


def test_a_hash_collision_costs_time_not_a_wrong_answer(monkeypatch) -> None:
    # Every row hashing alike: pandas compares them all, and the answer is still its own.
    monkeypatch.setattr(rowsets, "row_hashes", lambda df, columns, known=None: np.zeros(len(df)))
    df = _hostile_frame(np.random.default_rng(1), 200)
    assert (duplicated_rows(df) == df.duplicated().to_numpy()).all()


def test_known_codes_stand_in_for_their_column() -> None:
    df = pd.DataFrame({"id": pd.Series(["a", "b", "a", None, None]), "n": [1.0, 1.0, 1.0, 2, 2]})
    known = {"id": Distinct.of(df["id"])}
    assert duplicated_rows(df, known=known).tolist() == [False, False, True, False, True]


@pytest.mark.parametrize(
    "dtype", ["str", pd.StringDtype("python", na_value=np.nan), "string", "string[python]"]
)
def test_distinct_values_rebuild_their_column(dtype) -> None:
    s = pd.Series([" b", "a", None, "a", " b", ""], dtype=dtype)
    d = Distinct.of(s)
    assert d is not None and len(d.values) == 4  # " b", "a", missing, ""
    pd.testing.assert_series_equal(d.expand(s.index), s)
    stripped = d.map(d.values.str.strip())  # " b" and "b" would merge; here "" stays apart
    pd.testing.assert_series_equal(stripped.expand(s.index), s.str.strip())
    kept = d.select(np.array([True, False, False, False, True, True]))
    assert kept.values.tolist() == [" b", ""] and kept.codes.tolist() == [0, 0, 1]


def test_only_text_columns_are_taken_per_distinct_value() -> None:
    # An object column's 1 and 1.0 factorize alike but are different text ("1", "1.0").
    assert Distinct.of(pd.Series([1, 1.0, "1"], dtype=object)) is None
    assert Distinct.of(pd.Series([1.0, 2.0])) is None


def _frames(as_object: bool) -> dict[str, pd.DataFrame]:
    """A small dataset with every text problem validation handles, as text or object columns."""
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", " C2", "C3\x1b]0;x\x07", "C4", "C5"],
            "signup_date": ["2024-01-01"] * 5,
            "churn_date": [None, None, "2024-06-01", None, None],
            "name": ["Acme\u202e", "", None, "Beta", "Beta"],
            "segment": ["SMB", " SMB ", "SMB", None, "Ent"],
        }
    )
    interactions = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", " C2 ", "C3", "C1", "C4", "C4", "C5\x07"] * 30,
            "timestamp": pd.date_range("2024-02-01", periods=240, freq="h").astype(str),
            "channel": ["email", "email", "", "phone", "chat", None, "phone\x00", "email"] * 30,
            "category": ["billing"] * 240,
            "sentiment": [0.5, 0.5, -0.0, 0.0, np.nan, np.nan, 0.3, 0.4] * 30,
        }
    )
    interactions.loc[4, "customer_id"] = "GHOST"  # one unknown customer in 240 rows: dropped
    interactions.loc[1, "timestamp"] = interactions.loc[0, "timestamp"]  # an exact duplicate
    usage = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", " C1", "C2", "C3", "C4", "C5", "C5"],
            "date": ["2024-03-04", "2024-03-04", "2024-03-11"]
            + ["2024-03-04"] * 4
            + ["2024-03-11"],
            "logins": [3.0, 3.0, 4.0, 1.0, -0.0, 0.0, 2.0, 1.0],
        }
    )
    frames = {"customers": customers, "interactions": interactions, "usage": usage}
    if as_object:
        frames = {
            name: frame.astype({c: object for c in frame.columns if frame[c].dtype == "str"})
            for name, frame in frames.items()
        }
    return frames


def _outcome(frames: dict[str, pd.DataFrame]):
    try:
        return tables_from_frames(frames)
    except DataValidationError as exc:
        return str(exc)


def test_text_checked_per_distinct_value_gives_the_per_row_answer() -> None:
    # Object columns take the per-row path, text columns the per-distinct-value one.
    by_value, by_row = _outcome(_frames(as_object=False)), _outcome(_frames(as_object=True))
    assert not isinstance(by_value, str), by_value
    assert by_value.warnings == by_row.warnings
    assert any("spaces around the id" in w for w in by_value.warnings)
    assert any("control or bidi" in w for w in by_value.warnings)
    assert any("duplicating another row exactly" in w for w in by_value.warnings)
    assert any("of customers not in customers" in w for w in by_value.warnings)
    for name in ("customers", "interactions", "nps", "usage", "account_history"):
        pd.testing.assert_frame_equal(by_value.table(name), by_row.table(name), check_exact=True)


def test_a_repeated_usage_period_is_found_the_same_way() -> None:
    # After stripping, " C1" and "C1" share a date: a problem either way, with the same rows.
    frames = _frames(as_object=False)
    frames["usage"].loc[2, "date"] = "2024-03-04"
    frames["usage"].loc[2, "logins"] = 9.0
    by_value = _outcome(frames)
    frames = {
        n: f.astype({c: object for c in f.columns if f[c].dtype == "str"})
        for n, f in frames.items()
    }
    assert isinstance(by_value, str) and "share customer_id and date" in by_value
    assert by_value == _outcome(frames)
