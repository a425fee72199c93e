"""The one place a feature backend is connected: in-memory DuckDB (the default) or Spark.

The feature engine (``churn.features.engine``) writes every feature once, as Ibis expressions
that both backends run (range joins on ``customer_id`` and time, ``GROUP BY`` with conditional
aggregates, window functions; no ASOF join, no temporary table, no UDF). What differs between
backends is only how a pandas frame gets in, how a result that many chunks reuse is kept, and
how a result comes out; ``Backend`` holds those three, and ``connect`` is the only function
that opens a connection.

Spark (``engine: {backend: spark}``, ``pip install 'churn[spark]'``, Java 17) needs three
things DuckDB does not, each a difference in values if forgotten:

* pandas ``NaN`` is missing; in Spark a ``NaN`` double is a value (``count`` counts it, ``avg``
  returns NaN). Frames go in through Arrow (``pyarrow.Table.from_pandas``), which turns every
  float ``NaN`` and ``NaT`` into a SQL ``NULL``, as DuckDB's own import does.
* Timestamps are naive UTC instants here; the session runs in UTC
  (``spark.sql.session.timeZone``) and they travel as Arrow ``timestamp[us]`` without a zone,
  so no local-time shift happens on the way in or out.
* Spark keeps a reused result with ``DataFrame.cache()`` in the session, not a table.
"""

from __future__ import annotations

import itertools
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn.errors import ChurnError

if TYPE_CHECKING:
    from churn.settings import EngineSettings

#: Spark settings that every churn session gets (``engine.spark_conf`` may override them).
SPARK_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
}
_names = itertools.count()


@dataclass
class Backend:
    """An Ibis connection and the backend's ways in, out and of keeping a result.

    Attributes
    ----------
    name
        ``"duckdb"`` or ``"spark"``.
    con
        The Ibis backend; the engine builds expressions on tables it returns.
    session
        The ``SparkSession`` (Spark only).
    """

    name: str
    con: Any
    session: Any = None
    _kept: list[Any] = field(default_factory=list)
    _sql: dict[Any, str] = field(default_factory=dict)

    def table(self, frame: pd.DataFrame, keep: bool | None = None, role: str = "") -> Any:
        """``frame`` as a table of this backend; ``keep``: stored once for many queries
        (``None``: DuckDB stores it, Spark does not cache it). ``role``: DuckDB stores it under
        this fixed name (``churn_<role>``, replacing the previous chunk's, released by then),
        so that every chunk's queries are the same SQL, compiled once (``execute``)."""
        import ibis
        import pyarrow as pa

        if self.session is None:
            if keep is False:
                return ibis.memtable(frame)
            # DuckDB copies it into its own storage once, through Arrow (NaN and NaT become
            # NULL): its joins on a stored table took half the time of the same joins scanning
            # the pandas frame. Not through an Ibis memtable, which stays registered with the
            # connection after the copy (every chunk's events, 0.6 GB over a 100k build).
            name = f"churn_{role}" if role else f"churn_kept_{next(_names)}"
            self.con.con.from_arrow(pa.Table.from_pandas(frame, preserve_index=False)).create(name)
            self._kept.append(name)
            return self.con.table(name)

        # Through Arrow: NaN and NaT become NULL, timestamps stay naive microseconds.
        df = self.session.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))
        if keep:
            df = df.cache()
            self._kept.append(df)
        name = f"churn_in_{next(_names)}"
        df.createOrReplaceTempView(name)
        self._kept.append(name)
        return self.con.table(name)

    def keep(self, expr: Any, role: str = "") -> Any:
        """The result of ``expr`` computed once and kept for the queries that reuse it."""
        name = f"churn_{role}" if role else f"churn_kept_{next(_names)}"
        if self.session is None:
            self._kept.append(name)
            return self.con.create_table(name, expr, temp=True)
        df = self.session.sql(self.con.compile(expr)).cache()
        df.createOrReplaceTempView(name)
        self._kept.extend([df, name])
        return self.con.table(name)

    def execute(self, expr: Any) -> pd.DataFrame:
        """Run ``expr`` and return its rows as pandas (missing values as NaN / NaT).

        DuckDB's result comes through Arrow, converted column by column with its validity
        mask (a float NULL becomes NaN, an integer column with NULLs float64): Ibis's own
        ``execute`` turns every column holding a NULL into Python objects first
        (``to_pylist``), which was a fifth of the engine's time.
        """
        if self.session is None:
            # Chunks of customers run the same queries on tables of the same names and
            # types: the SQL is compiled once per query (an expression equal in structure
            # compiles to the same SQL), not once per chunk (compiling was 12% of the time).
            sql = self._sql.get(expr.op())
            if sql is None:
                sql = self._sql[expr.op()] = self.con.compile(expr)
            table = self.con.con.sql(sql).to_arrow_table()
            return table.to_pandas(split_blocks=True, self_destruct=True)
        return self.con.execute(expr)

    def release(self) -> None:
        """Drop what was kept so far (DuckDB's tables; Spark's cached frames and views, which
        outlive the run): after each chunk of customers, so that only one chunk's are held."""
        if self.session is None:
            for name in self._kept:
                # A name this class made up (no data in it); ibis 12's drop_table fails on
                # duckdb 2.0.
                self.con.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
            self._kept.clear()
            return
        for item in self._kept:
            if isinstance(item, str):
                self.session.catalog.dropTempView(item)
            else:
                item.unpersist()
        self._kept.clear()


def connect(settings: EngineSettings | None = None) -> Backend:
    """Connect the backend ``settings.backend`` names (``None``: in-memory DuckDB).

    Raises
    ------
    ChurnError
        ``spark`` without PySpark installed (or without Java).
    """
    import ibis

    if settings is None or settings.backend == "duckdb":
        return Backend("duckdb", ibis.duckdb.connect())
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ChurnError(
            "engine.backend is spark but PySpark is not installed: pip install 'churn[spark]' "
            "(PySpark 4.0, Java 17), or set engine.backend: duckdb"
        ) from None
    # Local workers run this Python (with churn importable), not whatever python3 is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(settings.spark_master).appName("churn-features")
    for key, value in {**SPARK_DEFAULTS, **settings.spark_conf}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that cannot be reached
        raise ChurnError(
            f"could not start Spark ({settings.spark_master}): {type(exc).__name__}: {exc}"
        ) from None
    # getOrCreate may return a session started before with other settings: these matter.
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return Backend("spark", ibis.pyspark.connect(session), session)
