"""Featuretools DFS of the common feature set over 26 weekly snapshots: the library peer.

    python bench/featuretools_peer.py DATA     # prints one JSON line, like bench/steps.py

Runs in its own environment (Featuretools is not a dependency of churn):

    python3 -m venv /tmp/ftvenv && /tmp/ftvenv/bin/pip install featuretools pyyaml
    BENCH_FEATURETOOLS_PYTHON=/tmp/ftvenv/bin/python make bench

The same 22 features as the hand-written DuckDB peer (bench/steps.py ``PEER_SQL``), with the
same visibility: the cutoff time of each (customer, as_of) is one microsecond before ``as_of``
(Featuretools includes rows *at* the cutoff; ours are strictly before); an interaction's time
index is the later of its timestamp and ``recorded_at`` (both must be before ``as_of``), and a
weekly usage row's is the end of its week, so it counts once the week has ended. Windows (30
and 90 days) are Featuretools' ``training_window``, so each window is its own DFS call, as its
documentation prescribes. Exact duplicate rows are dropped, as loading does. Days since the last
contact is the cutoff minus the ``max`` of the contact's own timestamp (in days), as the peer
computes it. Reading the CSV files is inside the timing, as it is for every other step.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from steps import METRICS, _extraction, snapshot_dates

DAY = pd.Timedelta(days=1)
EPS = pd.Timedelta(microseconds=1)


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    def read(name: str, dates: list[str]) -> pd.DataFrame:
        frame = pd.read_csv(folder / f"{name}.csv", dtype={"customer_id": str})
        for col in dates:
            frame[col] = pd.to_datetime(frame[col], format="mixed")
        return frame.drop_duplicates()

    customers = read("customers", ["signup_date", "churn_date"]).drop_duplicates("customer_id")
    inter = read("interactions", ["timestamp", "recorded_at"])
    inter["known"] = inter[["timestamp", "recorded_at"]].max(axis=1)
    inter["ts_days"] = (inter["timestamp"] - pd.Timestamp("1970-01-01")) / DAY
    inter["is_complaint"] = inter["category"].eq("complaint")
    inter = inter[["customer_id", "known", "ts_days", "is_complaint"]]
    nps = read("nps", ["timestamp"]).dropna(subset=["score", "timestamp"])
    nps = nps[["customer_id", "timestamp", "score"]]
    usage = read("usage", ["date"])
    usage["week_end"] = usage["date"] + pd.Timedelta(days=7) - EPS
    usage = usage[["customer_id", "week_end", *METRICS]]
    return {"customers": customers, "interactions": inter, "nps": nps, "usage": usage}


def _entityset(tables: dict[str, pd.DataFrame]):
    import featuretools as ft
    from woodwork.logical_types import Boolean, Double

    es = ft.EntitySet("churn")
    es.add_dataframe(
        dataframe_name="customers",
        dataframe=tables["customers"][["customer_id", "signup_date"]],
        index="customer_id",
    )
    events = {  # table: (time index, logical types)
        "interactions": ("known", {"ts_days": Double, "is_complaint": Boolean}),
        "nps": ("timestamp", {"score": Double}),
        "usage": ("week_end", dict.fromkeys(METRICS, Double)),
    }
    for child, (time_index, types) in events.items():
        es.add_dataframe(
            dataframe_name=child,
            dataframe=tables[child].reset_index(drop=True),
            index=f"{child}_id",
            make_index=True,
            time_index=time_index,
            logical_types=types,
        )
        es.add_relationship("customers", "customer_id", child, "customer_id")
    es.add_interesting_values(dataframe_name="interactions", values={"is_complaint": [True]})
    return es


def _cutoffs(tables: dict[str, pd.DataFrame], folder: Path) -> pd.DataFrame:
    c = tables["customers"]
    parts = []
    for as_of in snapshot_dates(_extraction(folder)):
        alive = (c["signup_date"] < as_of) & (c["churn_date"].isna() | (c["churn_date"] >= as_of))
        parts.append(
            pd.DataFrame({"customer_id": c.loc[alive, "customer_id"], "time": as_of - EPS})
        )
    return pd.concat(parts, ignore_index=True)


def _dfs(es, cutoffs: pd.DataFrame, window: str | None, keep: list[str]) -> pd.DataFrame:
    """DFS's feature definitions for one window, only those named in ``keep``, calculated."""
    import featuretools as ft

    defs = ft.dfs(
        entityset=es,
        target_dataframe_name="customers",
        agg_primitives=["count", "max", "last", "mean", "sum"],
        trans_primitives=[],
        where_primitives=["count"],
        ignore_columns={"customers": ["signup_date"]},
        max_depth=1,
        features_only=True,
    )
    chosen = [f for f in defs if f.get_name() in keep]
    assert len(chosen) == len(keep), sorted(f.get_name() for f in defs)
    return ft.calculate_feature_matrix(
        chosen,
        entityset=es,
        cutoff_time=cutoffs,
        cutoff_time_in_index=True,
        training_window=window,
        verbose=False,
    )


COMPLAINTS = "COUNT(interactions WHERE is_complaint = True)"
ALL_HISTORY = [
    "COUNT(interactions)",
    COMPLAINTS,
    "MAX(interactions.ts_days)",
    "COUNT(nps)",
    "LAST(nps.score)",
    "MEAN(nps.score)",
]
WINDOWED = [
    "COUNT(interactions)",
    COMPLAINTS,
    *(f"{agg}(usage.{m})" for m in METRICS for agg in ("MEAN", "SUM")),
]


def run(folder: Path) -> dict:
    t = time.perf_counter()
    tables = _tables(folder)
    es = _entityset(tables)
    cutoffs = _cutoffs(tables, folder)
    # All history: counts, complaints, last contact, NPS last/mean/count.
    frames = [_dfs(es, cutoffs, None, ALL_HISTORY)]
    for days in (30, 90):
        frames.append(_dfs(es, cutoffs, f"{days} days", WINDOWED).add_suffix(f" {days}d"))
    frame = pd.concat(frames, axis=1)
    as_of = frame.index.get_level_values("time") + EPS
    days_now = (as_of - pd.Timestamp("1970-01-01")) / DAY
    last = frame.pop("MAX(interactions.ts_days)").to_numpy()
    frame["days_since_last_contact"] = days_now - last
    return {
        "inner_s": round(time.perf_counter() - t, 2),
        "rows": len(frame),
        "features": frame.shape[1],
    }


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]))))
