"""Simulated datasets on disk: written atomically with their ground truth, and read back."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from churn.errors import ChurnError
from churn.simulate.params import DAY_S, FORMATS, TRUTH_DIR, SimulatedDataset, Truth

TABLES = ("customers", "interactions", "nps", "usage", "account_history")


def annual_churn_rate(customers: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Churn events per customer-year at risk in ``[start, end)``."""
    signup = pd.to_datetime(customers["signup_date"]).clip(lower=start)
    churn = pd.to_datetime(customers["churn_date"])
    stop = churn.fillna(end).clip(upper=end)
    years = ((stop - signup).dt.total_seconds().clip(lower=0) / (365.25 * DAY_S)).sum()
    events = ((churn >= start) & (churn < end)).sum()
    return float(events / years) if years > 0 else float("nan")


def write_dataset(sim: SimulatedDataset, out_dir: str | Path, fmt: str = "csv") -> Path:
    """Write the tables, ``dataset.yaml`` and ``ground_truth/`` to ``out_dir``, atomically.

    Everything is written to a temporary folder beside ``out_dir`` and renamed into place, so a
    killed run never leaves half a dataset. An existing ``out_dir`` is replaced only if it is
    empty or holds a ``dataset.yaml`` (a dataset written before).

    Parameters
    ----------
    sim
        The dataset from :func:`simulate`.
    out_dir
        Folder to create or replace.
    fmt
        ``"csv"`` or ``"parquet"`` for the tables (the ground truth is always Parquet).

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    return write_blocks([sim], out_dir, fmt)[0]


def write_blocks(
    blocks: Iterable[SimulatedDataset], out_dir: str | Path, fmt: str = "csv"
) -> tuple[Path, str]:
    """:func:`write_dataset` for a dataset simulated in blocks (``simulate_blocks``).

    Each block's rows are appended to the files as it arrives, so only one block is in memory.

    Returns
    -------
    tuple
        ``out_dir`` and the one-line summary of the whole dataset.
    """
    if fmt not in FORMATS:
        raise ChurnError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is meant to be shared
    try:
        summary = _write_blocks(blocks, tmp, fmt)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out, summary


def _check_replaceable(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ChurnError(f"{out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not (out / "dataset.yaml").exists():
            raise ChurnError(
                f"{out} is not empty and holds no dataset.yaml, so it was not written by "
                "`churn simulate`; refusing to replace it. Choose another --out or remove it."
            )


class _Appender:
    """Appends frames to one CSV or Parquet file (the first frame's columns and types)."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer, self.schema = path, None, None

    def add(self, frame: pd.DataFrame) -> None:
        if self.path.suffix == ".csv":
            first = not self.path.exists()
            frame.to_csv(self.path, index=False, mode="w" if first else "a", header=first)
            return
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, self.schema)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _write_blocks(blocks: Iterable[SimulatedDataset], tmp: Path, fmt: str) -> str:
    truth_dir = tmp / TRUTH_DIR
    truth_dir.mkdir()
    files = {t: _Appender(tmp / f"{t}.{fmt}") for t in TABLES}
    files |= {t: _Appender(truth_dir / f"{t}.parquet") for t in ("static", "latent")}
    rows = dict.fromkeys(TABLES, 0)
    churned, head = 0, None
    try:
        for sim in blocks:
            for table in TABLES:
                frame: pd.DataFrame | None = getattr(sim, table)
                if frame is None:  # account_history of a dataset simulated without plan changes
                    continue
                files[table].add(frame)
                rows[table] += len(frame)
            files["static"].add(sim.truth.static)
            files["latent"].add(sim.truth.latent)
            churned += int(sim.customers["churn_date"].notna().sum())
            if head is None:
                head = (sim.name, sim.extraction_date, dict(sim.truth.params))
            del sim, frame  # one block in memory at a time
    finally:
        for appender in files.values():
            appender.close()
    if head is None:
        raise ChurnError("nothing to write: the simulation yielded no customers")
    name, extraction, params = head
    config = {
        "name": name,
        "extraction_date": f"{extraction:%Y-%m-%d}",
        "usage": {"period": "week"},
        "churn": {"definition": "date"},
    }
    (tmp / "dataset.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    params.pop("block", None)
    (truth_dir / "params.json").write_text(json.dumps(params, indent=2), encoding="utf-8")
    # The history holds one signup row per customer, then one row per plan change.
    changes = rows["account_history"] - rows["customers"] if rows["account_history"] else 0
    return (
        f"{rows['customers']:,} customers ({churned:,} churned), "
        f"{rows['interactions']:,} interactions, {rows['nps']:,} NPS surveys, "
        f"{rows['usage']:,} usage rows, {changes:,} plan changes; "
        f"extraction {extraction:%Y-%m-%d}"
    )


def load_truth(dataset_dir: str | Path) -> Truth:
    """Read the ground truth written by :func:`write_dataset` from ``dataset_dir/ground_truth``."""
    folder = Path(dataset_dir) / TRUTH_DIR
    files = [folder / "static.parquet", folder / "latent.parquet", folder / "params.json"]
    absent = [f.name for f in files if not f.exists()]
    if absent:
        raise ChurnError(
            f"{folder} lacks {', '.join(absent)}: ground truth exists only for datasets written "
            "by `churn simulate`"
        )
    static = pd.read_parquet(files[0])
    latent = pd.read_parquet(files[1])
    params = json.loads(files[2].read_text(encoding="utf-8"))
    static["customer_id"] = static["customer_id"].astype("str")
    latent["customer_id"] = pd.Categorical(
        latent["customer_id"].astype("str"), categories=pd.Index(static["customer_id"])
    )
    return Truth(static=static, latent=latent, params=params)
