"""The fixed-as_of split: learn from snapshots before ``as_of``, test at ``as_of``.

The rolling out-of-time split (``churn.modeling.training``) needs a history of several label
horizons. A purchase log evaluated the classic way (CDNOW: weeks 1-39 to learn, "no purchase in
weeks 40-78" to test) has one test date and a training history shorter than two horizons, so
there is no room for a validation window a horizon before the test. Here:

- **test**: the rows at ``as_of`` (labels over the test horizon);
- **valid**: every training snapshot of a random ``valid_share`` of the customers, for early
  stopping and the calibrator (grouped by customer: one customer's weekly rows are near
  duplicates, so they never sit on both sides);
- **fit**: every training snapshot of the other customers.

Nothing is chosen on the test rows. Pure: frames in, the split out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn.errors import ChurnError
from churn.modeling.training import labelled

#: Share of the training customers held out for early stopping and calibration.
VALID_SHARE = 0.2


@dataclass(frozen=True)
class FixedAsOfSplit:
    """Training snapshot dates, the customers held out for validation, and the test date."""

    fit_dates: tuple[pd.Timestamp, ...]
    valid_dates: tuple[pd.Timestamp, ...]
    test_dates: tuple[pd.Timestamp, ...]
    gap_days: int
    valid_customers: frozenset[str]
    test_horizon_days: int

    def part(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        """Labelled rows of ``frame`` in ``name``: "fit", "valid", "test" or "train" (fit and
        valid together)."""
        rows = labelled(frame)
        if name == "test":
            return rows.loc[rows["as_of"].isin(pd.DatetimeIndex(self.test_dates))]
        train = rows.loc[rows["as_of"].isin(pd.DatetimeIndex(self.fit_dates))]
        if name == "train":
            return train
        held = train["customer_id"].astype("str").isin(self.valid_customers)
        return {"fit": train.loc[~held], "valid": train.loc[held]}[name]

    def mask(self, frame: pd.DataFrame, name: str) -> np.ndarray:
        """Which rows of ``frame`` :meth:`part` takes, without copying them."""
        labelled(frame.iloc[:0])  # the key-column check, without copying the frame
        known = frame["label"].notna()
        if name == "test":
            return (known & frame["as_of"].isin(pd.DatetimeIndex(self.test_dates))).to_numpy()
        train = known & frame["as_of"].isin(pd.DatetimeIndex(self.fit_dates))
        if name == "train":
            return train.to_numpy()
        held = frame["customer_id"].astype("str").isin(self.valid_customers)
        return (train & (held if name == "valid" else ~held)).to_numpy()

    def describe(self) -> dict[str, str]:
        """Date ranges, JSON-safe, for run parameters and model metadata."""

        def rng(d: tuple[pd.Timestamp, ...]) -> str:
            return f"{min(d).date()}..{max(d).date()} ({len(d)} dates)"

        return {
            "protocol": "fixed_as_of",
            "fit_as_of": rng(self.fit_dates),
            "valid_as_of": f"{rng(self.valid_dates)}, {len(self.valid_customers)} customers "
            "held out",
            "test_as_of": f"{self.test_dates[0].date()} (horizon {self.test_horizon_days} days)",
            "gap_days": str(self.gap_days),
        }


def fixed_as_of_split(
    frame: pd.DataFrame,
    as_of: object,
    train_horizon_days: int,
    test_horizon_days: int,
    *,
    seed: int = 42,
    valid_share: float = VALID_SHARE,
) -> FixedAsOfSplit:
    """Split ``churn.dataset.fixed_as_of_frame``'s frame (see the module docstring).

    Raises
    ------
    ChurnError
        When there are no labelled training rows or no test rows, or too few customers to hold
        some out.
    """
    ts = pd.Timestamp(as_of)
    rows = labelled(frame)
    dates = pd.DatetimeIndex(sorted(rows["as_of"].unique()))
    train_dates = dates[dates + pd.Timedelta(days=train_horizon_days) <= ts]
    if len(train_dates) == 0 or not (dates == ts).any():
        raise ChurnError(
            f"the fixed-as_of protocol needs labelled snapshots before {ts.date()} (minus "
            f"{train_horizon_days} days) and test rows at it; lower evaluation."
            "train_horizon_days or snapshots.warmup_days"
        )
    customers = np.sort(
        rows.loc[rows["as_of"].isin(train_dates), "customer_id"].astype("str").unique()
    )
    n_valid = int(round(len(customers) * valid_share))
    if n_valid < 1 or n_valid >= len(customers):
        raise ChurnError(
            f"{len(customers)} training customers are too few to hold {valid_share:.0%} out "
            "for early stopping and calibration"
        )
    held = np.random.default_rng(seed).choice(customers, size=n_valid, replace=False)
    return FixedAsOfSplit(
        fit_dates=tuple(train_dates),
        valid_dates=tuple(train_dates),
        test_dates=(ts,),
        gap_days=int(train_horizon_days),
        valid_customers=frozenset(str(c) for c in held),
        test_horizon_days=int(test_horizon_days),
    )
