"""Set-based work on whole columns for validation: row hashes and distinct values; pure.

At 100k customers the usage table has 7M rows but only 100k distinct ids, and almost none of its
rows repeat. Two things keep the checks on it near the cost of reading it, without changing any
answer:

- **Duplicates by hash, confirmed by pandas.** ``duplicated_rows`` gives exactly what
  ``DataFrame.duplicated`` gives. Each row is hashed to one uint64, so that rows pandas calls
  equal (``-0.0`` and ``0.0``, two missing values) hash equal; only the rows whose hash repeats
  (the duplicates themselves, and a rare collision) are compared value by value, by
  ``DataFrame.duplicated`` itself. A collision costs time, never a wrong answer.
- **Text work on distinct values.** ``Distinct`` factorizes a text column once: an elementwise
  operation (strip, a regular expression, a comparison) is applied to the distinct values and
  expanded back by the codes, which is the same as applying it to every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# splitmix64's finaliser constants: each output bit depends on every input bit.
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(h: np.ndarray, tmp: np.ndarray) -> None:
    """splitmix64's finaliser, in place (``tmp``: scratch of h's size): spreads the bits of
    each uint64. Array arithmetic wraps modulo 2**64, as intended."""
    for shift, factor in ((30, _M1), (27, _M2), (31, None)):
        np.right_shift(h, shift, out=tmp)
        h ^= tmp
        if factor is not None:
            h *= factor


def value_keys(values: np.ndarray | pd.api.extensions.ExtensionArray) -> np.ndarray:
    """One uint64 per value, equal wherever ``DataFrame.duplicated`` sees equal values.

    Floats by their bits, with ``-0.0`` made ``0.0`` and every NaN the same NaN; integers,
    booleans and datetimes by their integer value; anything else by its code from
    ``pd.factorize``, which is how ``DataFrame.duplicated`` itself compares a column.
    """
    if isinstance(values, np.ndarray):
        kind = values.dtype.kind
        if kind == "f":
            v = np.add(values, 0.0, dtype="float64")  # a copy, with -0.0 + 0.0 = 0.0
            nan = np.isnan(v)
            if nan.any():
                v[nan] = np.nan  # one NaN, whatever its sign and payload bits
            return v.view("uint64")
        if kind in "iub":
            return values.astype("int64").view("uint64")
        if kind in "mM":
            return values.view("int64").view("uint64")
    codes, _ = pd.factorize(values)
    return codes.astype("int64").view("uint64")


def row_hashes(
    df: pd.DataFrame, columns: Sequence[str], known: Mapping[str, Distinct] | None = None
) -> np.ndarray:
    """A uint64 per row from ``columns``: equal for rows ``DataFrame.duplicated`` calls equal.

    ``known`` has columns already factorized (their codes are used as they are).
    """
    h = np.zeros(len(df), dtype="uint64")
    tmp = np.empty_like(h)
    for column in columns:
        s = df[column]
        if known and column in known:
            keys = known[column].codes.astype("int64", copy=False).view("uint64")
        else:
            keys = value_keys(s.to_numpy() if isinstance(s.dtype, np.dtype) else s.array)
        # One multiply and shift per column (a bijection of h ^ keys, so rows differing in one
        # column only never collide), the full mix once at the end.
        h ^= keys
        h *= _M1
        np.right_shift(h, 29, out=tmp)
        h ^= tmp
    _mix(h, tmp)
    return h


def repeated(h: np.ndarray) -> np.ndarray:
    """Which values of ``h`` occur more than once: sorted, several times faster than a hash
    table on 7M distinct values (which misses the cache on every insert)."""
    ordered = np.sort(h)
    same = ordered[1:] == ordered[:-1]
    if not same.any():
        return np.zeros(len(h), dtype=bool)
    # Usually few: looked up in a hash table that fits the cache.
    return pd.Series(h).isin(np.unique(ordered[1:][same])).to_numpy()


def duplicated_rows(
    df: pd.DataFrame,
    columns: Sequence[str] | None = None,
    keep: str | bool = "first",
    known: Mapping[str, Distinct] | None = None,
) -> np.ndarray:
    """``df.duplicated(columns, keep=keep)`` as a boolean array, by row hash (module doc).

    ``known``: columns of ``df`` already factorized, each its ``Distinct`` for these rows.
    """
    columns = list(df.columns) if columns is None else list(columns)
    if df.empty or not columns or not df.columns.is_unique:
        return df.duplicated(columns or None, keep=keep).to_numpy()
    candidates = repeated(row_hashes(df, columns, known))
    out = np.zeros(len(df), dtype=bool)
    if candidates.any():
        # Every row equal to a candidate hashes like it, so is a candidate too: pandas, on the
        # candidates alone, finds the same first occurrences.
        out[candidates] = df[columns][candidates].duplicated(keep=keep).to_numpy()
    return out


@dataclass(frozen=True)
class Distinct:
    """A text column as codes into its distinct values: no two of them equal, each one some
    row's (a missing value counts as one value). So the codes compare rows exactly.

    ``Distinct.of(s)`` is None for anything but a text column (``pd.StringDtype``): for an
    object column, ``factorize`` would merge 1 and 1.0, which ``astype(str)`` keeps apart.
    """

    codes: np.ndarray
    values: pd.Series

    @classmethod
    def of(cls, s: pd.Series) -> Distinct | None:
        if not isinstance(s.dtype, pd.StringDtype):
            return None
        codes, uniques = s.array.factorize(use_na_sentinel=False)
        return cls(codes, pd.Series(uniques))

    def map(self, values: pd.Series) -> Distinct:
        """Each distinct value replaced by the one at its position in ``values`` (the result
        of an elementwise operation on ``self.values``); values made equal are merged."""
        codes, uniques = values.array.factorize(use_na_sentinel=False)
        if len(uniques) == len(values):
            return Distinct(self.codes, values.reset_index(drop=True))
        return Distinct(codes[self.codes], pd.Series(uniques))

    def select(self, keep: np.ndarray) -> Distinct:
        """Only the rows ``keep`` selects (the values no row uses any more dropped)."""
        codes = self.codes[keep]
        used = np.bincount(codes, minlength=len(self.values)) > 0
        if used.all():
            return Distinct(codes, self.values)
        position = np.cumsum(used) - 1
        return Distinct(position[codes], self.values[used].reset_index(drop=True))

    def expand(self, index: pd.Index) -> pd.Series:
        """The column itself: each row's value."""
        return pd.Series(self.values.array.take(self.codes), index=index)

    def rows(self, mask: pd.Series | np.ndarray) -> np.ndarray:
        """A mask over the distinct values as a mask over the rows."""
        return np.asarray(mask, dtype=bool)[self.codes]
