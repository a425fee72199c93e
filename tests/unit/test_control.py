"""The weekly control group: its size, its strata, and the same draw for the same week."""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.control import control_summary, draw_control

AS_OF = pd.Timestamp("2024-05-06")


def _listed(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "rank": np.arange(1, n + 1),
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "account_owner": rng.choice(["Ann", "Bob", "Cy", None], n),
            "risk_tier": rng.choice(["high", "medium", "low"], n, p=[0.5, 0.3, 0.2]),
            "churn_probability": rng.uniform(0, 1, n),
            "arr": rng.uniform(1e3, 1e5, n),
        }
    )


def test_a_tenth_is_held_out_within_every_tier_and_owner():
    listed = _listed()
    sent, control = draw_control(listed, AS_OF, 0.10)
    assert len(sent) + len(control) == len(listed)
    assert abs(len(control) - 40) <= 1
    assert not set(sent["customer_id"]) & set(control["customer_id"])
    sizes = listed.assign(owner=listed["account_owner"].fillna("Unassigned"))
    sizes = sizes.groupby(["risk_tier", "owner"]).size()
    held = control["stratum"].value_counts()
    for (tier, owner), n in sizes.items():
        got = int(held.get(f"{tier} / {owner}", 0))
        assert np.floor(n * 0.1) <= got <= np.ceil(n * 0.1), (tier, owner, n, got)


def test_the_same_week_draws_the_same_customers_whatever_the_row_order():
    listed = _listed()
    _, control = draw_control(listed, AS_OF, 0.10)
    shuffled = listed.sample(frac=1.0, random_state=3)
    _, again = draw_control(shuffled, AS_OF, 0.10)
    assert set(control["customer_id"]) == set(again["customer_id"])
    _, next_week = draw_control(listed, AS_OF + pd.Timedelta(days=7), 0.10)
    _, other_seed = draw_control(listed, AS_OF, 0.10, seed=1)
    assert set(control["customer_id"]) != set(next_week["customer_id"])
    assert set(control["customer_id"]) != set(other_seed["customer_id"])


def test_a_zero_share_holds_out_nobody_and_says_so():
    listed = _listed(20)
    sent, control = draw_control(listed, AS_OF, 0.0)
    assert len(sent) == 20 and control.empty
    assert "cannot be measured" in control_summary(20, control, 0.0)
    _, control = draw_control(listed, AS_OF, 0.10)
    assert control_summary(20, control, 0.10).startswith(f"{len(control)} of the 20")


def test_the_draw_is_balanced_on_risk_over_weeks():
    # Across many weeks the held-out customers' mean probability matches the list's: a biased
    # draw (e.g. always the first of each stratum by rank) would fail this.
    listed = _listed(300)
    means = []
    for w in range(30):
        _, control = draw_control(listed, AS_OF + pd.Timedelta(weeks=w), 0.10)
        means.append(control["churn_probability"].mean())
    assert abs(np.mean(means) - listed["churn_probability"].mean()) < 0.03


def test_a_customer_whose_play_is_open_is_never_held_out():
    """A customer already being worked on is treated: never in the control arm, always sent."""
    listed = _listed()
    as_of = pd.Timestamp("2025-12-29")
    _, control = draw_control(listed, as_of, 0.5)
    assert len(control)  # at share 0.5 some of them would be drawn...
    in_play = listed["customer_id"].isin(control["customer_id"])
    marked = listed.assign(play_status=np.where(in_play, "in progress", None))
    sent, control2 = draw_control(marked, as_of, 0.5)
    assert not control2["customer_id"].isin(listed.loc[in_play, "customer_id"]).any()
    assert set(listed.loc[in_play, "customer_id"]) <= set(sent["customer_id"])
    assert len(sent) + len(control2) == len(listed)
