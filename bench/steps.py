"""One benchmark step in this (fresh) process; prints one JSON line (called by bench/run.py).

    python bench/steps.py load DATA
    python bench/steps.py features DATA     # 26 weekly snapshots, the whole feature set
    python bench/steps.py features DATA common          # only the registry's common set
    python bench/steps.py features DATA "" stream       # streamed to Parquet (1M customers)
    python bench/steps.py peer DATA         # hand-written DuckDB SQL, the common feature set
    python bench/steps.py floor DATA        # one scan of every event table: the least possible
    python bench/steps.py train DATA SETTINGS [ROW_BUDGET]   # churn train, its test metrics

``peer`` and ``floor`` read the CSV files themselves (DuckDB's reader), so they are end to end
from the files, like ``load`` + ``features``. The peer's common set, every value known strictly
before ``as_of``: interactions and complaints in the last 30 and 90 days and in all, days since
the last contact, NPS last / mean / count, and each usage metric's mean and sum over 30 and 90
days (a weekly row counts once its week has ended). It drops exact duplicate rows, as loading
does.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

SNAPSHOTS = 26


def snapshot_dates(extraction: pd.Timestamp, n: int = SNAPSHOTS) -> list[pd.Timestamp]:
    """The last ``n`` Mondays at or before the extraction date."""
    last = (extraction - pd.Timedelta(days=extraction.weekday())).normalize()
    return [last - pd.Timedelta(weeks=k) for k in range(n - 1, -1, -1)]


def _extraction(folder: Path) -> pd.Timestamp:
    import yaml

    config = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    return pd.Timestamp(config["extraction_date"])


def step_load(folder: Path) -> dict:
    from churn.data import load_dataset

    t = time.perf_counter()
    tables = load_dataset(folder)
    rows = {name: len(tables.table(name)) for name in ("customers", "interactions", "nps", "usage")}
    return {"inner_s": round(time.perf_counter() - t, 2), "rows": rows}


def step_features(folder: Path, only: str = "", stream: str = "") -> dict:
    """Load, then ``build_features`` over 26 weekly snapshots: every feature, or the registry
    subset ``only`` names (``common``: the peer's set). ``stream`` (``"stream"``): chunk by
    chunk to a Parquet file beside the data, as ``churn features --out`` does, so that the
    frame is never whole (1M customers); the file is removed afterwards."""
    from churn.data import load_dataset
    from churn.dataset import active_spine
    from churn.features import FeatureSpec, build_features, iter_features

    t = time.perf_counter()
    tables = load_dataset(folder)
    load_s = time.perf_counter() - t
    spine = active_spine(tables, snapshot_dates(pd.Timestamp(tables.extraction_date)))
    spec, subset = FeatureSpec.from_tables(tables), only or None
    t = time.perf_counter()
    if stream:
        from churn._files import write_parquet_frames

        out = folder.parent / f"features-{folder.name}.parquet"
        rows, width = write_parquet_frames(iter_features(spine, tables, spec, only=subset), out)
        out.unlink()
    else:
        frame = build_features(spine, tables, spec=spec, only=subset)
        rows, width = frame.shape
    return {
        "load_s": round(load_s, 2),
        "inner_s": round(time.perf_counter() - t, 2),
        "rows": rows,
        "features": width - 2,
        "streamed": bool(stream),
    }


def _csv(folder: Path, name: str) -> str:
    return f"read_csv('{folder / (name + '.csv')}', header=true)"


PEER_SQL = """
WITH dates AS (SELECT unnest($dates::TIMESTAMP[]) AS as_of),
customers AS (SELECT DISTINCT customer_id, signup_date::TIMESTAMP AS signup_date,
                     churn_date::TIMESTAMP AS churn_date FROM {customers}),
interactions AS (SELECT DISTINCT customer_id, "timestamp"::TIMESTAMP AS ts, category,
                        coalesce(recorded_at::TIMESTAMP, "timestamp"::TIMESTAMP) AS known
                 FROM {interactions}),
nps AS (SELECT DISTINCT customer_id, "timestamp"::TIMESTAMP AS ts, score FROM {nps}
        WHERE score IS NOT NULL),
usage AS (SELECT DISTINCT * FROM {usage}),
spine AS (SELECT c.customer_id, d.as_of FROM customers c, dates d
          WHERE c.signup_date < d.as_of AND (c.churn_date IS NULL OR c.churn_date >= d.as_of)),
i AS (SELECT s.customer_id, s.as_of,
             count(*) AS n_interactions,
             count(*) FILTER (WHERE i.ts >= s.as_of - INTERVAL 30 DAY) AS n_interactions_30d,
             count(*) FILTER (WHERE i.ts >= s.as_of - INTERVAL 90 DAY) AS n_interactions_90d,
             count(*) FILTER (WHERE i.category = 'complaint') AS n_complaints,
             count(*) FILTER (WHERE i.category = 'complaint'
                              AND i.ts >= s.as_of - INTERVAL 30 DAY) AS n_complaints_30d,
             count(*) FILTER (WHERE i.category = 'complaint'
                              AND i.ts >= s.as_of - INTERVAL 90 DAY) AS n_complaints_90d,
             date_diff('second', max(i.ts), s.as_of) / 86400.0 AS days_since_last_contact
      FROM spine s JOIN interactions i
        ON i.customer_id = s.customer_id AND i.ts < s.as_of AND i.known < s.as_of
      GROUP BY s.customer_id, s.as_of),
n AS (SELECT s.customer_id, s.as_of, arg_max(n.score, n.ts) AS nps_last,
             avg(n.score) AS nps_mean, count(*) AS nps_count
      FROM spine s JOIN nps n ON n.customer_id = s.customer_id AND n.ts < s.as_of
      GROUP BY s.customer_id, s.as_of),
u AS (SELECT s.customer_id, s.as_of, {usage_aggregates}
      FROM spine s JOIN usage u ON u.customer_id = s.customer_id
        AND u.date::TIMESTAMP + INTERVAL 7 DAY <= s.as_of
        AND u.date::TIMESTAMP >= s.as_of - INTERVAL 97 DAY
      GROUP BY s.customer_id, s.as_of)
SELECT * FROM spine LEFT JOIN i USING (customer_id, as_of) LEFT JOIN n USING (customer_id, as_of)
LEFT JOIN u USING (customer_id, as_of)
"""

METRICS = ("active_users", "logins", "feature_events")


def _usage_aggregates() -> str:
    parts = []
    for m in METRICS:
        for days in (30, 90):
            # A weekly row is in the window when its week ended in the last `days` days.
            cond = f"u.date::TIMESTAMP + INTERVAL 7 DAY > s.as_of - INTERVAL {days} DAY"
            parts.append(f"avg(u.{m}) FILTER (WHERE {cond}) AS {m}_mean_{days}d")
            parts.append(f"sum(u.{m}) FILTER (WHERE {cond}) AS {m}_sum_{days}d")
    return ",\n             ".join(parts)


def step_peer(folder: Path) -> dict:
    import duckdb

    dates = [d.to_pydatetime() for d in snapshot_dates(_extraction(folder))]
    con = duckdb.connect()
    t = time.perf_counter()
    sql = PEER_SQL.format(
        customers=_csv(folder, "customers"),
        interactions=_csv(folder, "interactions"),
        nps=_csv(folder, "nps"),
        usage=_csv(folder, "usage"),
        usage_aggregates=_usage_aggregates(),
    )
    frame = con.execute(sql, {"dates": dates}).df()
    return {
        "inner_s": round(time.perf_counter() - t, 2),
        "rows": len(frame),
        "features": frame.shape[1] - 2,
    }


def step_floor(folder: Path) -> dict:
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    rows = 0
    for name, col in (("interactions", '"timestamp"'), ("nps", "sent_at"), ("usage", "date")):
        sql = f"SELECT customer_id, count(*) AS n, max({col}) AS last FROM {_csv(folder, name)} GROUP BY 1"
        rows += len(con.sql(sql).df())
    return {"inner_s": round(time.perf_counter() - t, 2), "rows": rows}


def step_train(folder: Path, settings: str, row_budget: str = "") -> dict:
    """``churn train`` in this process (MLFLOW_TRACKING_URI from the environment), with
    ``training.row_budget`` overridden when given: its test metrics and where the time went."""
    import os

    import yaml

    from churn.pipelines.train import run_train

    config = Path(settings)
    if row_budget:
        raw = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        raw.setdefault("training", {})["row_budget"] = int(row_budget)
        config = config.with_name(f"settings-budget-{row_budget}.yaml")
        config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    t = time.perf_counter()
    report = run_train(
        folder, config, tracking_uri=os.environ["MLFLOW_TRACKING_URI"], progress=False
    )
    keep = ("test_roc_auc", "test_pr_auc", "test_brier", "test_calibration_intercept")
    return {
        "inner_s": round(time.perf_counter() - t, 2),
        **{k: round(float(report.metrics[k]), 4) for k in keep if k in report.metrics},
        "timings_s": {k: round(v, 1) for k, v in report.timings.items()},
    }


STEPS = {
    "load": step_load,
    "features": step_features,
    "peer": step_peer,
    "floor": step_floor,
    "train": step_train,
}


if __name__ == "__main__":
    print(json.dumps(STEPS[sys.argv[1]](Path(sys.argv[2]), *sys.argv[3:])))
