"""The ``churn`` command line: the thin shell that reads files, talks to MLflow and reads the clock.

Every command lives here as a small function that parses options and calls pure code elsewhere.
Heavy modules are imported inside the commands so that ``churn --help`` stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from churn.errors import ChurnError

app = typer.Typer(
    help="Proactive customer retention: who is about to leave, why, and what to do about it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

log = logging.getLogger("churn")

DataOpt = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Dataset folder (tables as CSV/Parquet, optionally a dataset.yaml) or a dataset YAML.",
    ),
]


@app.callback()
def _configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Third-party chatter drowns the messages meant for people.
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "shap", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def contract() -> None:
    """Print the data contract: every table and column, its type and meaning."""
    from churn.contract import contract_markdown

    typer.echo(contract_markdown())


def main() -> None:
    """Console-script entry point: user errors become a clear message and exit code 2."""
    try:
        app()
    except ChurnError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
