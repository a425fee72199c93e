"""Check a scored week folder against the list's promises (issue 13's "done when").

    python bench/check_week.py data/at_risk/2025-12-29

Prints, for the customers on the list (what was sent plus the control group): reasons from a
context feature, reasons below one point, improvements stated as a risk, renewal sentences
that disagree with the days-to-renewal column, owners whose unlisted customers outrank a listed
one by tier, the voice of the customer shown, and who dropped off (named on the page or not).
Every count but the last three should be 0. Exit code 1 if any is not.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd

from churn.features.registry import lookup

TIER_ORDER = {"high": 2, "medium": 1, "low": 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("week", type=Path, help="a week folder written by churn score")
    week = parser.parse_args().week
    sent = pd.read_csv(week / "at_risk.csv", dtype={"customer_id": str})
    control_file = week / "control.csv"
    control = (
        pd.read_csv(control_file, dtype={"customer_id": str}) if control_file.exists() else sent[:0]
    )
    scores = pd.read_parquet(week / "scores.parquet")
    on_list = set(sent["customer_id"]) | set(control["customer_id"])
    listed = scores[scores["customer_id"].isin(on_list)]
    print(f"listed {len(listed)} (sent {len(sent)}, control {len(control)}), scored {len(scores)}")
    bad = {"context": 0, "below 1 pt": 0, "improvement as risk": 0, "renewal != column": 0}
    shown = 0
    for i in (1, 2, 3):
        text = listed[f"reason_{i}"]
        has = text.notna() & (text.astype(str) != "")
        shown += int(has.sum())
        kinds = listed.loc[has, f"reason_{i}_feature"].map(lambda n: lookup(n).feature.kind)
        bad["context"] += int((kinds != "behaviour").sum())
        bad["below 1 pt"] += int((listed.loc[has, f"reason_{i}_effect"].round(2) < 0.01).sum())
        bad["improvement as risk"] += int(
            text[has].str.contains(r"\brose\b|improved|up from", case=False).sum()
        )
        for sentence, days in zip(text[has], listed.loc[has, "days_to_renewal"], strict=True):
            m = re.search(r"[Rr]enewal in (\d+) day", str(sentence))
            bad["renewal != column"] += bool(m and int(m.group(1)) != int(days))
    tiers = scores.assign(
        t=scores["risk_tier"].map(TIER_ORDER), on=scores["customer_id"].isin(on_list)
    )
    outranked = 0
    for _, g in tiers.groupby(tiers["account_owner"].fillna("(none)")):
        if g["on"].any() and (~g["on"]).any():
            outranked += int(g.loc[~g["on"], "t"].max() > g.loc[g["on"], "t"].min())
    bad["owners with a higher tier waiting"] = outranked
    print(f"reasons shown: {shown}; " + ", ".join(f"{k}: {v}" for k, v in bad.items()))
    print(f"tiers listed: {listed['risk_tier'].value_counts().to_dict()}")
    print(
        f"voice on the list: {int(sent['last_nps_comment'].notna().sum())} verbatims, "
        f"{int(sent['last_issue_category'].notna().sum())} latest complaints or incidents"
    )
    dropped = pd.read_csv(week / "dropped_off.csv", dtype={"customer_id": str})
    page = (week / "report.html").read_text(encoding="utf-8")
    named = sum(name in page for name in dropped["name"].dropna())
    print(
        f"dropped off: {len(dropped)} {dropped['why'].value_counts().to_dict()}; named on the page: {named}"
    )
    return 1 if any(bad.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
