"""The data contract: the tables a dataset provides, their columns and what each one means.

This module is the single written-down definition of the contract. Loading (``churn.loading``)
maps a user's files onto it and validation checks it; the features, the simulator and the docs
all read it from here. README.md's "Data contract" section is generated from the same specs
(``contract_markdown``) so the two never disagree.

After loading, every table is normalised the same way, whatever the source looked like:

- ``customer_id`` is a string;
- dates and timestamps are tz-naive ``datetime64[ns]`` (missing = ``NaT``);
- numbers are ``float64`` (missing = ``NaN``); free text and categories are strings;
- event tables always carry ``recorded_at``: when the record became known to the business. Where
  the source has no such column it equals the event's own time (``timestamp``); for usage it stays
  empty and the row is known at the end of its period. Point-in-time features only see records
  with ``recorded_at < as_of``, and usage rows whose period ended by ``as_of``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Kind = Literal["id", "datetime", "number", "string"]

TABLE_NAMES: tuple[str, ...] = ("customers", "interactions", "nps", "usage", "account_history")
EVENT_TABLES: tuple[str, ...] = ("interactions", "nps", "usage")
#: Tables a dataset usually lacks: without one nothing is warned (only logged).
OPTIONAL_TABLES: tuple[str, ...] = ("account_history",)
#: The account attributes an ``account_history`` table can date (each also a customers column,
#: except seats_licensed).
HISTORY_ATTRIBUTES: tuple[str, ...] = (
    "plan",
    "arr",
    "seats_licensed",
    "segment",
    "region",
    "contract_months",
)
#: The column that dates each event table's rows.
EVENT_TIME_COLUMNS: dict[str, str] = {
    "interactions": "timestamp",
    "nps": "timestamp",
    "usage": "date",
}
#: How churn is defined: a churn_date column, no activity for N days, or a static flag.
CHURN_DEFINITIONS: tuple[str, ...] = ("date", "inactivity", "flag")

#: NPS bands as defined by Reichheld: 0-6 detractor, 7-8 passive, 9-10 promoter.
NPS_DETRACTOR_MAX = 6
NPS_PROMOTER_MIN = 9

#: How long one row of the usage table covers, by the config's ``usage.period``.
USAGE_PERIODS: dict[str, pd.DateOffset] = {
    "day": pd.DateOffset(days=1),
    "week": pd.DateOffset(weeks=1),
    "month": pd.DateOffset(months=1),
}


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    name: str
    kind: Kind
    required: bool
    description: str


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract."""

    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    #: usage only: any further numeric column is a usage metric.
    extra_numeric_columns: bool = False

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no contract column {name!r}")


CUSTOMERS = TableSpec(
    name="customers",
    description="One row per customer account, current state as extracted.",
    columns=(
        Column("customer_id", "id", True, "Unique identifier of the customer account."),
        Column("signup_date", "datetime", True, "Date the customer started (first contract)."),
        Column(
            "churn_date",
            "datetime",
            False,
            "Date the customer left; empty while still a customer. Required unless the dataset "
            "config defines churn by inactivity or by a static flag.",
        ),
        Column("name", "string", False, "Account name shown to account teams."),
        Column("segment", "string", False, "Customer segment, e.g. SMB, Mid-Market, Enterprise."),
        Column("plan", "string", False, "Product plan or tier."),
        Column("region", "string", False, "Sales region."),
        Column("account_owner", "string", False, "Account manager responsible for the customer."),
        Column(
            "contract_months",
            "number",
            False,
            "Contract term in months (1 = monthly, 12 = annual). Renewals fall on the signup "
            "anniversaries of the term; this is what point-in-time features use for days to renewal.",
        ),
        Column(
            "contract_end_date",
            "datetime",
            False,
            "End of the contract term in effect at extraction. Shown to account teams, never used as "
            "a feature: for a customer who left it is the renewal they left at, so as a feature it "
            "would leak the label.",
        ),
        Column("arr", "number", False, "Annual recurring revenue, in the account currency."),
    ),
)

INTERACTIONS = TableSpec(
    name="interactions",
    description="Support tickets, contact-centre calls, emails, chats, visits and complaints.",
    columns=(
        Column("customer_id", "id", True, "Customer the interaction belongs to."),
        Column("timestamp", "datetime", True, "When the interaction was opened."),
        Column("channel", "string", True, "phone, email, chat, visit, ..."),
        Column("category", "string", True, "complaint, incident, billing, how-to, ..."),
        Column(
            "resolved_at",
            "datetime",
            False,
            "When the ticket was resolved; empty = still open at extraction.",
        ),
        Column("csat", "number", False, "Satisfaction with the interaction, 1 (bad) to 5 (good)."),
        Column("sentiment", "number", False, "Sentiment of the interaction, -1 (negative) to 1."),
        Column(
            "recorded_at",
            "datetime",
            False,
            "When the record reached the data (late-arriving records); defaults to timestamp.",
        ),
    ),
)

NPS = TableSpec(
    name="nps",
    description=(
        "NPS survey responses, and optionally the survey sends that got no answer "
        "(a row with sent_at and an empty score), so that silence can count."
    ),
    columns=(
        Column("customer_id", "id", True, "Customer surveyed."),
        Column(
            "timestamp",
            "datetime",
            True,
            "When the customer answered; empty for a survey sent but not answered.",
        ),
        Column("score", "number", True, "Likelihood to recommend, 0-10; empty if not answered."),
        Column("sent_at", "datetime", False, "When the survey was sent; defaults to timestamp."),
        Column("comment", "string", False, "Free-text verbatim."),
        Column(
            "recorded_at",
            "datetime",
            False,
            "When the response reached the data; defaults to timestamp (sent_at if unanswered).",
        ),
    ),
)

USAGE = TableSpec(
    name="usage",
    description=(
        "Product utilisation per customer and period (day, week or month starting at date). "
        "Every other numeric column is a metric, e.g. active_users, seats_licensed, logins."
    ),
    columns=(
        Column("customer_id", "id", True, "Customer."),
        Column("date", "datetime", True, "Start of the period the row covers."),
        Column(
            "recorded_at",
            "datetime",
            False,
            "When the row reached the data (visible only strictly after it); empty: known at the end "
            "of its period, so the week ending on a Monday is visible that Monday.",
        ),
    ),
    extra_numeric_columns=True,
)

ACCOUNT_HISTORY = TableSpec(
    name="account_history",
    description=(
        "Optional. The account attributes as they changed over time: one row per customer and "
        "valid_from, holding the values in force from that instant on (an empty cell: that "
        "attribute did not change). With it, features use the value in force at each snapshot "
        "instead of today's extract; read as the complete record, so before a customer's first "
        "row an attribute is missing (start each customer with a row at signup)."
    ),
    columns=(
        Column("customer_id", "id", True, "Customer."),
        Column("valid_from", "datetime", True, "When the values of the row took effect."),
        Column("plan", "string", False, "Product plan or tier from valid_from on."),
        Column("arr", "number", False, "Annual recurring revenue from valid_from on."),
        Column("seats_licensed", "number", False, "Licensed seats from valid_from on."),
        Column("segment", "string", False, "Customer segment from valid_from on."),
        Column("region", "string", False, "Sales region from valid_from on."),
        Column("contract_months", "number", False, "Contract term in months from valid_from on."),
        Column(
            "recorded_at",
            "datetime",
            False,
            "When the change reached the data (a change entered late, or a correction); "
            "defaults to valid_from. A row is used only once both have passed.",
        ),
    ),
    required=False,
)

SPECS: dict[str, TableSpec] = {
    s.name: s for s in (CUSTOMERS, INTERACTIONS, NPS, USAGE, ACCOUNT_HISTORY)
}


@dataclass(frozen=True)
class Tables:
    """A validated dataset, normalised to the contract. Produced by ``churn.loading.load_dataset``.

    Parameters
    ----------
    customers, interactions, nps, usage
        Tables normalised as described in the module docstring. An event table the dataset does
        not have is an empty frame with the contract's columns.
    account_history
        The optional dated account attributes (``recorded_at`` filled); empty without one.
    extraction_date
        The instant the data was extracted: nothing at or after it is known. Weekly scoring
        defaults to the last snapshot date not after it.
    usage_period
        "day", "week" or "month": how long one usage row covers.
    usage_metrics
        Names of the numeric metric columns in ``usage``.
    name
        Dataset name, for lineage.
    """

    customers: pd.DataFrame
    interactions: pd.DataFrame
    nps: pd.DataFrame
    usage: pd.DataFrame
    extraction_date: pd.Timestamp
    usage_period: str = "week"
    usage_metrics: tuple[str, ...] = ()
    name: str = "dataset"
    #: "date": customers.churn_date is given; "inactivity": churn is no activity for
    #: ``inactivity_days`` days, dated at the last activity (derived by ``churn.spine``);
    #: "flag": a static table whose label column says who left (no time axis).
    churn_definition: str = "date"
    inactivity_days: int | None = None
    warnings: tuple[str, ...] = field(default=())
    account_history: pd.DataFrame = field(default_factory=lambda: empty_table("account_history"))

    def __post_init__(self) -> None:
        # The invariants every stage relies on, checked once here instead of re-cast downstream:
        # each table has customer_id as strings, the period and churn definition are known ones.
        for name in TABLE_NAMES:
            frame = getattr(self, name)
            if not isinstance(frame, pd.DataFrame):
                raise TypeError(f"Tables.{name} must be a pandas DataFrame, not {type(frame)}")
            if "customer_id" not in frame.columns:
                raise ValueError(f"table {name!r} has no customer_id column")
            ids = frame["customer_id"]
            if not pd.api.types.is_string_dtype(ids) or ids.dtype == object:
                object.__setattr__(self, name, frame.assign(customer_id=ids.astype("str")))
        if self.usage_period not in USAGE_PERIODS:
            raise ValueError(
                f"usage_period {self.usage_period!r} is not one of {sorted(USAGE_PERIODS)}"
            )
        if self.churn_definition not in CHURN_DEFINITIONS:
            raise ValueError(
                f"churn_definition {self.churn_definition!r} is not one of {CHURN_DEFINITIONS}"
            )
        object.__setattr__(self, "extraction_date", pd.Timestamp(self.extraction_date))

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    @property
    def history_attributes(self) -> tuple[str, ...]:
        """The attributes ``account_history`` dates (a column with at least one value)."""
        h = self.account_history
        return tuple(c for c in HISTORY_ATTRIBUTES if c in h and bool(h[c].notna().any()))

    def event_range(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """First and last instant of any interaction, NPS or usage record (``None`` without any)."""
        stamps = [
            pd.to_datetime(self.table(name)[col]).dropna()
            for name, col in EVENT_TIME_COLUMNS.items()
            if col in self.table(name).columns
        ]
        stamps = [s for s in stamps if len(s)]
        if not stamps:
            return None, None
        return min(s.min() for s in stamps), max(s.max() for s in stamps)


def empty_table(name: str) -> pd.DataFrame:
    """An empty frame with the contract's columns and normalised dtypes."""
    spec = SPECS[name]
    dtypes = {"id": "str", "datetime": "datetime64[ns]", "number": "float64", "string": "str"}
    return pd.DataFrame({c.name: pd.Series(dtype=dtypes[c.kind]) for c in spec.columns})


def contract_markdown() -> str:
    """The contract as Markdown tables, for README.md and ``churn contract``."""
    lines: list[str] = []
    for spec in SPECS.values():
        lines.append(f"#### `{spec.name}`\n\n{spec.description}\n")
        lines.append("| column | type | required | meaning |")
        lines.append("|---|---|---|---|")
        for c in spec.columns:
            lines.append(
                f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | {c.description} |"
            )
        if spec.extra_numeric_columns:
            lines.append("| *any other* | number | no | A usage metric (non-negative). |")
        lines.append("")
    return "\n".join(lines)


# --- Optional table: plays recorded (issue 14) ------------------------------------------------
# Declared apart from SPECS/TABLE_NAMES: the dataset loader does not read it; ``churn record``
# writes it (``<dataset folder>/actions.csv``) and ``churn.actions`` reads and validates it.

#: A play's status: planned, under way, finished, or decided against / not reached.
ACTION_STATUSES: tuple[str, ...] = ("planned", "in progress", "done", "not done")
#: Statuses of a play that is still running (the customer is marked as such on the list).
ACTION_OPEN_STATUSES: tuple[str, ...] = ("planned", "in progress")

ACTIONS = TableSpec(
    name="actions",
    description=(
        "Retention plays run by the account teams, one row per customer, play and start date: "
        "written by `churn record` from the owners' returned workbooks or a CSV."
    ),
    columns=(
        Column("customer_id", "id", True, "Customer the play was run for."),
        Column("play", "string", True, "The play, as the playbook names it."),
        Column("owner", "string", False, "Who ran it (the account owner by default)."),
        Column("started_at", "datetime", True, "When the play started."),
        Column("status", "string", True, "planned, in progress, done or not done."),
        Column("outcome", "string", False, "Free text: how it ended (saved, lost, renewed ...)."),
        Column("closed_at", "datetime", False, "When it ended; not before started_at."),
        Column("note", "string", False, "Free-text note."),
    ),
    required=False,
)
