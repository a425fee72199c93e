"""``churn simulate-plays``: simulated owners run the plays of the scored weeks (simulated data).

Reads the week folders, draws each sent customer's play (``churn.simulate.plays``), rewrites the
dataset's customers.csv (churn dates after the week only), records the plays in actions.csv and
keeps the true effects in ``ground_truth/plays.parquet`` for ``churn impact``.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from churn.errors import ChurnError

log = logging.getLogger(__name__)


def first_sent(weeks: list[dict]) -> pd.DataFrame:
    """Customers whose first listing was as sent (not control), with that week."""
    rows = []
    for w in weeks:
        for arm, frame in (("sent", w["sent"]), ("control", w["control"])):
            if frame is not None and len(frame):
                part = frame.reindex(
                    columns=[
                        "customer_id",
                        "account_owner",
                        "segment",
                        "main_driver",
                        "recommended_play",
                    ]
                )
                rows.append(part.assign(as_of=w["as_of"], arm=arm, horizon=w["horizon_days"]))
    if not rows:
        raise ChurnError("the week folders list nobody: run `churn score` for some weeks first")
    units = pd.concat(rows, ignore_index=True).sort_values(["as_of", "customer_id"], kind="stable")
    units = units.drop_duplicates("customer_id", keep="first")
    return units[units["arm"] == "sent"].reset_index(drop=True)


def run_simulate_plays(
    data: Path, weeks: Path, compliance: float = 0.7, seed: int = 0
) -> dict[str, float]:
    """Run the plays, rewrite the dataset; returns the counts and the mean true effect."""
    from churn._files import write_bytes_atomically
    from churn.pipelines.impact import read_week_arms
    from churn.simulate import load_truth, oracle_probability
    from churn.simulate.plays import apply_plays, play_effects

    data = Path(data)
    truth = load_truth(data)
    units = first_sent(read_week_arms(weeks))
    horizon = int(units["horizon"].iloc[0])
    p0 = oracle_probability(truth, units[["customer_id", "as_of"]], horizon, seed=seed)
    rng = np.random.default_rng(seed)
    effects = play_effects(units, np.nan_to_num(p0), rng, compliance=compliance)
    raw = pd.read_csv(data / "customers.csv", dtype=str, keep_default_na=False)
    parsed = raw.assign(churn_date=pd.to_datetime(raw["churn_date"].replace("", None)))
    after = apply_plays(parsed, effects, horizon, rng)
    changed = (after["churn_date"] != parsed["churn_date"]) & ~(
        after["churn_date"].isna() & parsed["churn_date"].isna()
    )
    raw.loc[changed, "churn_date"] = after.loc[changed, "churn_date"].dt.strftime("%Y-%m-%d")
    raw.loc[changed & after["churn_date"].isna(), "churn_date"] = ""
    actions = units.assign(
        play=units["recommended_play"],
        owner=units["account_owner"],
        started_at=units["as_of"],
        status=np.where(effects["complied"], "done", "not done"),
        outcome=None,
        closed_at=units["as_of"].where(effects["complied"].to_numpy()) + pd.Timedelta(days=14),
        note="simulated",
    )
    cols = ["customer_id", "play", "owner", "started_at", "status", "outcome", "closed_at", "note"]
    buf = io.StringIO()
    raw.to_csv(buf, index=False)
    write_bytes_atomically(data / "customers.csv", buf.getvalue().encode("utf-8"))
    text = actions[cols].to_csv(index=False, date_format="%Y-%m-%d %H:%M:%S")
    write_bytes_atomically(data / "actions.csv", text.encode("utf-8"))
    effects.to_parquet(data / "ground_truth" / "plays.parquet", index=False)
    summary = {
        "treated": len(effects),
        "complied": int(effects["complied"].sum()),
        "saved_or_lost": int(changed.sum()),
        "mean_true_effect": float(effects["true_effect"].mean()),
    }
    log.info("simulated plays: %s", summary)
    return summary
