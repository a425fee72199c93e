"""Simulated datasets on disk: written atomically with their ground truth, and read back."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from churn.errors import ChurnError
from churn.simulate.params import DAY_S, FORMATS, TRUTH_DIR, SimulatedDataset, Truth


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
    if fmt not in FORMATS:
        raise ChurnError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    if out.exists():
        if not out.is_dir():
            raise ChurnError(f"{out} exists and is not a folder; choose another --out")
        if any(out.iterdir()) and not (out / "dataset.yaml").exists():
            raise ChurnError(
                f"{out} is not empty and holds no dataset.yaml, so it was not written by "
                "`churn simulate`; refusing to replace it. Choose another --out or remove it."
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is meant to be shared
    try:
        for table in ("customers", "interactions", "nps", "usage", "account_history"):
            frame: pd.DataFrame | None = getattr(sim, table)
            if frame is None:
                continue
            path = tmp / f"{table}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
        config = {
            "name": sim.name,
            "extraction_date": f"{sim.extraction_date:%Y-%m-%d}",
            "usage": {"period": "week"},
            "churn": {"definition": "date"},
        }
        (tmp / "dataset.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        truth_dir = tmp / TRUTH_DIR
        truth_dir.mkdir()
        sim.truth.static.to_parquet(truth_dir / "static.parquet", index=False)
        sim.truth.latent.to_parquet(truth_dir / "latent.parquet", index=False)
        (truth_dir / "params.json").write_text(
            json.dumps(sim.truth.params, indent=2), encoding="utf-8"
        )
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
    return out


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
