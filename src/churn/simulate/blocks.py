"""Large simulations in blocks of customers, so memory stays bounded whatever the size.

Customers never interact in the simulated process, so a base of ``n`` accounts is simulated as
consecutive blocks of at most :data:`BLOCK_CUSTOMERS` accounts, each with its own random stream
(derived from the seed and the block's number), and written block by block. The block size is a
constant, not a setting: the same ``(n_customers, seed)`` always gives the same files. Up to
:data:`BLOCK_CUSTOMERS` customers there is one block, simulated exactly as :func:`simulate`
does. Above it the data differs from what one monolithic run would draw (another random stream
per block) but follows the same process; ids stay ``C0000001``... across blocks, and each
event table is ordered by time within a block, blocks one after another.

Peak memory is that of one block (about 2 GB at 100k customers), instead of 17 GB at 1M.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from churn.simulate.params import SimParams, SimulatedDataset, Truth
from churn.simulate.process import _customer_ids, simulate

#: Customers per block: the most simulated (and held in memory) at once.
BLOCK_CUSTOMERS = 100_000


def block_seed(seed: int, block: int) -> int:
    """The seed of block ``block`` (>= 1) of a simulation seeded ``seed``; block 0 is ``seed``."""
    if block == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(block)]).generate_state(1)[0])


def simulate_blocks(
    n_customers: int,
    seed: int = 0,
    start: str = "2024-01-01",
    months: int = 24,
    mess_rate: float = 0.01,
    *,
    params: SimParams | None = None,
    progress: Callable[[int, int], None] | None = None,
    block_customers: int = BLOCK_CUSTOMERS,
) -> Iterator[SimulatedDataset]:
    """:func:`simulate` block by block: yields one :class:`SimulatedDataset` per block.

    Arguments as :func:`simulate`; ``progress(weeks_done, weeks_total)`` counts the weeks of
    every block. ``block_customers`` exists for tests; any other value gives other data.
    """
    if not isinstance(n_customers, int | np.integer) or n_customers <= block_customers:
        yield simulate(
            n_customers, seed, start, months, mess_rate, params=params, progress=progress
        )
        return
    n = int(n_customers)
    sizes = [min(block_customers, n - lo) for lo in range(0, n, block_customers)]
    ids = _customer_ids(n)
    name = f"simulated-{n}-seed{seed}"
    for b, size in enumerate(sizes):

        def report(t: int, total: int, b: int = b) -> None:
            if progress is not None:
                progress(b * total + t, total * len(sizes))

        lo = b * block_customers
        # No name holds the block here: the writer's del frees it before the next one starts.
        yield _renumbered(
            simulate(
                size, block_seed(seed, b), start, months, mess_rate, params=params, progress=report
            ),
            ids[lo : lo + size],
            name,
            seed,
            b,
        )


def _renumbered(
    sim: SimulatedDataset, ids: np.ndarray, name: str, seed: int, block: int
) -> SimulatedDataset:
    """``sim`` with its customers ``C1..Cm`` renamed to ``ids`` (their place in the base)."""
    new = pd.Index(ids, dtype="str")
    old = pd.Index(sim.truth.static["customer_id"], dtype="str")

    def ids_of(column: pd.Series) -> pd.Series:
        codes = old.get_indexer(column)
        return pd.Series(new.take(codes), index=column.index, dtype="str")

    static = sim.truth.static.assign(customer_id=pd.Series(new, dtype="str"))
    latent = sim.truth.latent.assign(
        customer_id=sim.truth.latent["customer_id"].cat.rename_categories(new)
    )
    truth_params = {**sim.truth.params, "seed": int(seed), "block": int(block)}
    return SimulatedDataset(
        name=name,
        customers=sim.customers.assign(customer_id=ids_of(sim.customers["customer_id"])),
        interactions=sim.interactions.assign(customer_id=ids_of(sim.interactions["customer_id"])),
        nps=sim.nps.assign(customer_id=ids_of(sim.nps["customer_id"])),
        usage=sim.usage.assign(customer_id=ids_of(sim.usage["customer_id"])),
        account_history=None
        if sim.account_history is None
        else sim.account_history.assign(customer_id=ids_of(sim.account_history["customer_id"])),
        extraction_date=sim.extraction_date,
        truth=Truth(static=static, latent=latent, params=truth_params),
    )
