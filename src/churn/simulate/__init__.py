"""A simulated B2B customer base with its ground truth: the demo, the tests and the benchmarks.

No public dataset has support interactions, NPS and product utilisation together with churn dates,
so ``churn`` is developed against this simulator. Everything observable is driven by one hidden
quantity, and the process that generated the data is kept, so a model can be compared with the best
prediction possible (the *oracle*).

The generative story
--------------------
**Accounts.** Customers are B2B accounts in three segments (SMB, Mid-Market, Enterprise) with a plan,
a region, an account owner (a pool per segment), licensed seats and an ARR that follow from seats and
plan (lognormal). SMB accounts mostly pay monthly, larger ones mostly sign annual contracts; contracts
renew on the signup anniversaries of their term (``contract_months`` 1 or 12). An initial base signed
up before the history starts; the rest sign up week by week during it.

**Health.** Each account has a latent *health* that evolves weekly: an AR(1) deviation around a
baseline, where the baseline itself wanders (a random walk with a customer-specific drift: some
accounts slowly sour, some slowly improve). Rare shocks (a lost champion, a reorganisation) knock
health down; some of that is permanent, the rest recovers. The lifecycle adds a "storming" dip a few
months after signup, when the honeymoon ends. Support is an experience "bank account": every ticket
costs a little goodwill, and a fast, satisfying resolution gives some back while a slow, bad one
takes more away.

**What the company sees.** Health drives every signal, each with its own noise: weekly usage
(active users out of the licensed seats, logins, feature events; adoption ramps up after signup and
dips in August and at year end); support tickets (more of them, more complaints and incidents, slower
resolution and worse CSAT when health is low; channels phone, email, chat, visit); quarterly NPS
surveys, whose score slides from promoter to detractor and whose response rate falls as health
falls (a survey sent and not answered is a row with ``sent_at`` and no score).

**Churn.** Monthly customers decide at each monthly renewal, annual customers mostly at their
annual renewal (a small early-termination hazard in between); the odds rise steeply as health falls,
are higher in the first ~90 days (onboarding) and in January (budget season). A small base hazard,
unrelated to health, makes some churn come without warning. Usage stops on the churn date.

**Mess.** At ``mess_rate``: exact duplicate event rows, missing optional values (region, account
owner, sentiment, feature events) and late-arriving interactions (``recorded_at`` days after
``timestamp``). The clean data is recovered by dropping exact duplicates.

**Ground truth.** The weekly latent state of every account (``health``, ``baseline``, the week's churn
probability) is kept with the process parameters. :func:`oracle_probability` gives, for any
``(customer_id, as_of)``, the probability of churning in ``[as_of + lead, as_of + lead + horizon)``
given the latent state at ``as_of`` (which includes only what happened before ``as_of``), by
simulating the same dynamics forward (future shocks, tickets and renewals included) and integrating
the churn hazard along each path. It never looks at the realised future.

Modules: ``params`` (:class:`SimParams`, :class:`Truth`, :class:`SimulatedDataset`, constants),
``dynamics`` (the weekly dynamics shared by the simulation and the oracle), ``process``
(:func:`simulate`), ``oracle`` (:func:`oracle_probability`), ``files`` (:func:`write_dataset`,
:func:`write_blocks`, :func:`load_truth`, :func:`annual_churn_rate`), ``blocks``
(:func:`simulate_blocks`: large bases in blocks of 100k customers, in bounded memory).

Time is on a weekly grid starting at ``start`` (2024-01-01 is a Monday, so weeks line up with Monday
snapshots). The extraction date is the instant after the last day; nothing in the tables is dated at
or after it except ``contract_end_date``, the contract's next renewal, which is known in advance.
"""

from __future__ import annotations

from churn.simulate.blocks import BLOCK_CUSTOMERS, simulate_blocks
from churn.simulate.drift import DRIFTS, Drift, apply_drift, parse_drift
from churn.simulate.files import annual_churn_rate, load_truth, write_blocks, write_dataset
from churn.simulate.oracle import oracle_probability
from churn.simulate.params import FORMATS, TRUTH_DIR, SimParams, SimulatedDataset, Truth
from churn.simulate.process import simulate

__all__ = [
    "BLOCK_CUSTOMERS",
    "DRIFTS",
    "Drift",
    "apply_drift",
    "parse_drift",
    "FORMATS",
    "TRUTH_DIR",
    "SimParams",
    "SimulatedDataset",
    "Truth",
    "annual_churn_rate",
    "load_truth",
    "oracle_probability",
    "simulate",
    "simulate_blocks",
    "write_blocks",
    "write_dataset",
]
