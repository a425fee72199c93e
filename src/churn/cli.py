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


def _plain(text: object) -> str:
    """Data text made safe for the terminal: control and bidi characters removed.

    Validation already strips them from every text column; this guards what else reaches the
    screen (column names from a file's header, error messages quoting them, log lines).
    """
    from churn.data import strip_unsafe_text

    return strip_unsafe_text(str(text))


def _markup(text: object) -> str:
    """Data text for ``rich``'s ``console.print``: safe (``_plain``) and markup escaped, so a
    name like ``[red]`` or ``[link=...]`` prints as written."""
    from rich.markup import escape

    return escape(_plain(text))


class _SafeFormatter(logging.Formatter):
    """Log lines quote data (ids, values, column names): never a raw control sequence."""

    def format(self, record: logging.LogRecord) -> str:
        return _plain(super().format(record))


@app.callback()
def _configure(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    # Third-party chatter drowns the messages meant for people.
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib", "shap", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def contract() -> None:
    """Print the data contract: every table and column, its type and meaning."""
    from churn.contract import contract_markdown

    typer.echo(contract_markdown())


@app.command("config-schema")
def config_schema(
    which: Annotated[
        str, typer.Argument(help="settings (the --config file) or dataset (a dataset YAML).")
    ] = "settings",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schema to this file, not stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of the settings file or of a dataset YAML, for editors.

    With VS Code's YAML extension, a first line ``# yaml-language-server: $schema=<file>`` in
    the YAML completes its keys and flags a misspelt key or a wrong value as you type.
    """
    import json

    if which == "settings":
        from churn.settings import settings_schema as schema
    elif which == "dataset":
        from churn.data import dataset_schema as schema
    else:
        raise ChurnError(f"config-schema takes settings or dataset, got {which!r}")
    text = json.dumps(schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote the {which} schema to {out}")


@app.command()
def simulate(
    customers: Annotated[
        int, typer.Option("--customers", "-n", min=1, help="Number of customer accounts.")
    ] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same data.")] = 0,
    out: Annotated[
        Path, typer.Option("--out", help="Dataset folder to write (replaced atomically).")
    ] = Path("data/raw/demo"),
    start: Annotated[str, typer.Option(help="First day of the history.")] = "2024-01-01",
    months: Annotated[int, typer.Option(help="Months of history.")] = 24,
    mess_rate: Annotated[
        float,
        typer.Option(help="Rate of duplicates, missing values and late records (0 = clean)."),
    ] = 0.01,
    fmt: Annotated[str, typer.Option("--format", help="Table format: csv or parquet.")] = "csv",
    drift: Annotated[
        list[str] | None,
        typer.Option(
            "--drift",
            help="Inject a known change from a date, kind:YYYY-MM-DD[:size]: usage_drop (a "
            "release halves counted usage) or price_rise (15% of customers leave within 90 "
            "days); repeatable. See churn.simulate.drift.",
        ),
    ] = None,
) -> None:
    """Simulate a B2B customer base with its ground truth, for demos, tests and benchmarks.

    Writes customers, interactions, nps, usage and account_history (plan changes) tables, a
    dataset.yaml and ground_truth/ (the latent health per customer and week, and the process
    parameters).
    """
    from rich.progress import Progress

    import churn.simulate as simulation
    from churn.simulate import apply_drift, parse_drift

    if fmt not in simulation.FORMATS:  # fail before minutes of simulation, not after
        raise ChurnError(f"--format must be one of {', '.join(simulation.FORMATS)}, got {fmt!r}")
    drifts = [parse_drift(d) for d in drift or []]
    with Progress(transient=True) as bar:
        task = bar.add_task("Simulating weeks", total=None)
        # Blocks of 100k customers, each written as it is done: memory stays that of one block.
        blocks = simulation.simulate_blocks(
            customers,
            seed=seed,
            start=start,
            months=months,
            mess_rate=mess_rate,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        # A drift is post-processing of the tables: applied block by block as each is made.
        for change in drifts:
            blocks = (apply_drift(b, change, seed=seed) for b in blocks)
        path, summary = simulation.write_blocks(blocks, out, fmt=fmt)
    typer.echo(f"{summary} -> {path}")


@app.command()
def validate(data: DataOpt) -> None:
    """Check a dataset against the data contract: a summary, or every problem (exit code 2).

    Reads only; nothing is written. A static customer table (``churn.definition: flag``) is
    checked and summarised by ``churn.static``.
    """
    from churn.data import load_dataset, summarize
    from churn.pipelines.train_static import describe_static, is_static_dataset

    # A DataValidationError lists every problem; main() prints it and exits with 2. Either way
    # each warning is shown once: in the summary or in the error, not also as a log line.
    if is_static_dataset(data):
        from churn.static_table import load_static

        typer.echo(_plain(describe_static(load_static(data, log_warnings=False))))
        return
    typer.echo(_plain(summarize(load_dataset(data, log_warnings=False))))


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings YAML, e.g. configs/model.yaml.")
]

AcceptLeakOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--accept-leak-risk",
        metavar="COLUMN",
        help="A feature (static tables: a column) the leak probe named that you know is "
        "legitimate; repeat for several. --force does not override the leak probe.",
    ),
]


TuneOpt = Annotated[
    int,
    typer.Option(
        "--tune-trials",
        min=0,
        help="Static tables: candidates scored on inner folds of the training rows to choose the "
        "LightGBM settings: 2 (default) = the project's settings vs plain LightGBM defaults; "
        "more adds Optuna trials (20 took 3x as long on IBM Telco and found nothing better); "
        "0 = the project's settings unscored.",
    ),
]


def _train_static(
    data: Path,
    config: Path | None,
    experiment: str | None,
    accept_leak_risk: tuple[str, ...],
    options: dict[str, int],
) -> None:
    """``churn train`` on a static table: cross-validate (and hold out), register, print."""
    from churn.pipelines.static_eval import holdout_lines
    from churn.pipelines.summary import static_summary_lines
    from churn.pipelines.train_static import STATIC_EXPERIMENT, run_train_static

    static = run_train_static(
        data,
        config,
        experiment=experiment or STATIC_EXPERIMENT,
        progress=True,
        accept_leak_risk=accept_leak_risk,
        **options,
    )
    lines = [*static_summary_lines(static), *holdout_lines(static)]
    for line in [*lines, f"leak probe: {static.leak_probe}"]:
        typer.echo(line)


@app.command()
def train(
    data: DataOpt = Path("data/raw/demo"),
    config: ConfigOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Make the new model champion even if it is worse.")
    ] = False,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            help="MLflow experiment (default: churn; churn-static for static tables).",
        ),
    ] = None,
    backtest: Annotated[
        bool, typer.Option("--backtest/--no-backtest", help="Rolling out-of-time backtest.")
    ] = True,
    cv_repeats: Annotated[
        int, typer.Option("--cv-repeats", min=1, help="Static tables: repeats of the k-fold CV.")
    ] = 3,
    cv_folds: Annotated[
        int, typer.Option("--cv-folds", min=2, help="Static tables: folds of the k-fold CV.")
    ] = 5,
    oracle: Annotated[
        Path | None,
        typer.Option(
            "--oracle",
            help="The simulator's truth folder (e.g. data/raw/demo/ground_truth): adds the "
            "oracle, the true churn probabilities, beside the model. Default: no oracle.",
        ),
    ] = None,
    accept_leak_risk: AcceptLeakOpt = None,
    tune_trials: TuneOpt = 2,
) -> None:
    """Train out of time, compare with baselines, log to MLflow, register; promote if no worse.

    A static customer table (``churn.definition: flag``, no time axis) is cross-validated
    instead, logged to MLflow and registered as churn-static-<dataset>, never as champion.
    A dataset config with an ``evaluation`` section (as_of, horizon_days) runs the fixed-as_of
    protocol: train before as_of, test at it, beside recency alone and BG/NBD.
    A run the leak probe finds too good to be true (a feature alone at ROC AUC >= 0.95, the model
    at >= 0.98 or above 1.02x the oracle; training.leak_*) is logged, not registered: exit code 3.
    """
    from rich.console import Console

    from churn.pipelines.summary import summary_renderables
    from churn.pipelines.train_fixed import run_train_any
    from churn.pipelines.train_static import is_static_dataset
    from churn.settings import load_settings

    if is_static_dataset(data):
        static = {"n_splits": cv_folds, "n_repeats": cv_repeats, "tune_trials": tune_trials}
        _train_static(data, config, experiment, tuple(accept_leak_risk or ()), static)
        return
    report = run_train_any(
        data,
        config,
        oracle=oracle,
        force=force,
        experiment=experiment or "churn",
        run_backtest=backtest,
        progress=True,
        accept_leak_risk=tuple(accept_leak_risk or ()),
    )
    console = Console()
    k = load_settings(config).training.capacity_k
    for item in summary_renderables(report, capacity_k=k):
        console.print(item)


@app.command()
def tune(
    data: DataOpt = Path("data/raw/demo"),
    config: ConfigOpt = None,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Optuna trials (default training.tune_trials).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Budget in seconds (training.tune_timeout_s).")
    ] = None,
) -> None:
    """Tune LightGBM with Optuna on the validation window (never the test window)."""
    import yaml

    from churn.pipelines.tune import run_tune

    best, table, run_id = run_tune(data, config, trials=trials, timeout_s=timeout)
    typer.echo(
        f"{len(table)} trials, best validation log loss {table['value'].min():.4f} (run {run_id})."
    )
    typer.echo("Put this in your config file, then run `make train`:\n")
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in best.items()}
    typer.echo(yaml.safe_dump({"training": {"lightgbm": rounded}}, sort_keys=False))


@app.command()
def score(
    data: DataOpt = Path("data/raw/demo"),
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Snapshot date YYYY-MM-DD (default: the latest complete week in the data, "
            "i.e. the last snapshot Monday not after the extraction date).",
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Root of the week folders; the list goes to OUT/<as_of>/."),
    ] = Path("data/at_risk"),
    config: ConfigOpt = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Static tables: registered model NAME[@alias] (default: the latest "
            "churn-static-<dataset>).",
        ),
    ] = None,
) -> None:
    """Write the week's at-risk list: scores, reasons, plays, Excel per owner, HTML report.

    A static customer table (``churn.definition: flag``) is scored with its registered
    churn-static-<dataset> model: the held-out rows of static.holdout, else every row.
    """
    from churn.pipelines.score import run_score
    from churn.pipelines.train_static import is_static_dataset

    # A path that does not exist goes to run_score, which checks the settings first.
    if data.exists() and is_static_dataset(data):
        from churn.pipelines.score_static import run_score_static

        result = run_score_static(data, model=model, as_of=as_of, out=out, config=config)
    else:
        result = run_score(data, as_of=as_of, out=out, config=config)
    h = result.headline
    typer.echo(
        f"as_of {result.as_of.date()}: {h['active']:,} active, {h['scored']:,} scored, "
        f"{h['excluded']:,} excluded; {h['listed']:,} on the list "
        f"(ARR {h['arr_listed']:,.0f}, revenue at risk {h['revenue_at_risk']:,.0f}); "
        f"{h['new']} new, {h['up']} up, {h['down']} down, {h['dropped_off']} dropped off."
    )
    from churn.outputs import format_probability

    for row in result.at_risk.head(5).itertuples():
        name = row.name if isinstance(row.name, str) else ""
        typer.echo(
            _plain(
                f"  {row.rank:>3}. {row.customer_id} {name}"
                f" {format_probability(row.churn_probability)} ({row.risk_tier}):"
                f" {row.reason_1 or '-'}"
            )
        )
    typer.echo(f"Wrote {len(result.files)} files to {result.folder} (open report.html).")


@app.command()
def monitor(
    data: DataOpt = Path("data/raw/demo"),
    weeks: Annotated[
        Path,
        typer.Option("--weeks", help="Root of the week folders written by `churn score --out`."),
    ] = Path("data/at_risk"),
    out: Annotated[
        Path, typer.Option("--out", help="Monitoring folder to write (monitor.html, monitor.json).")
    ] = Path("data/monitoring"),
    config: ConfigOpt = None,
) -> None:
    """Look back at the weekly lists: realised vs expected quality, drift, staleness, retrain?"""
    from churn.pipelines.monitor import run_monitor

    result = run_monitor(data, weeks=weeks, out=out, config=config)
    report = result.report
    matured = [w for w in report["weeks"] if w["realised"]]
    typer.echo(
        f"{len(report['weeks'])} weeks monitored ({len(matured)} matured) against champion "
        f"version {report['champion']['version']}"
    )
    for w in report["weeks"]:
        e, r = w["expected"], w["realised"]
        seen = (
            f"realised {r['list_precision']['estimate']:.0%} "
            f"[{r['list_precision']['low']:.0%}, {r['list_precision']['high']:.0%}], churn "
            f"{r['churn_rate']['estimate']:.1%} vs {r['predicted_rate']:.1%} predicted"
            if r
            else "not matured"
        )
        drifted = len((w["drift"] or {}).get("flagged", []))
        typer.echo(
            f"  {w['as_of']}: list precision expected {e['list_precision']:.0%}, {seen}; "
            f"{drifted} drifted features"
        )
    rec, stale = report["recommendation"], report["staleness"]
    typer.echo(
        f"champion's latest training snapshot: {stale['training_end']} ({stale['age_days']} days old)"
    )
    typer.echo("retrain recommended:" if rec["retrain"] else "no retrain needed")
    for reason in rec["reasons"]:
        typer.echo(f"  - {reason}")
    typer.echo(f"Wrote {result.folder}/monitor.html and monitor.json")


@app.command()
def features(
    data: DataOpt,
    as_of: Annotated[
        list[str],
        typer.Option(
            "--as-of",
            help="Snapshot date YYYY-MM-DD; repeat for several. Features see only records "
            "before this instant.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output Parquet file.")],
    config: ConfigOpt = None,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="Where the features run: duckdb (in memory) or spark (pip install "
            "'churn[spark]'); overrides the settings' engine.backend. Same values either way.",
        ),
    ] = None,
    only: Annotated[
        str | None,
        typer.Option(
            "--only",
            help="Build only these features, comma-separated: registry entries (templates "
            "such as int_tickets_{window}d select every column they generate) or column "
            "names (see `churn catalogue --data`). Values equal the full build's.",
        ),
    ] = None,
    feature_set: Annotated[
        str | None,
        typer.Option(
            "--feature-set",
            help="Build a named set of the registry (churn.features.registry.FEATURE_SETS): "
            "common (the benchmark peer's interaction, NPS and usage features).",
        ),
    ] = None,
) -> None:
    """Build point-in-time features for every customer active at each --as-of date.

    All dates are one spine, built chunk by chunk of customers and streamed to the Parquet
    file, so the whole frame is never in memory; rows come grouped by customer chunk.
    """
    import pandas as pd

    from churn._files import write_parquet_frames
    from churn.data import load_dataset
    from churn.dataset import scoring_spine
    from churn.features import iter_features
    from churn.settings import load_settings, settings_from_dict

    try:
        dates = sorted({pd.Timestamp(d) for d in as_of})
    except ValueError as exc:
        raise ChurnError(f"--as-of takes dates like 2024-03-04: {exc}") from None
    settings = load_settings(config).engine
    if engine is not None:  # checked like a settings file's value
        raw = {**settings.model_dump(), "backend": engine}
        settings = settings_from_dict({"engine": raw}, "--engine").engine
    names = [n for n in (only or "").split(",") if n.strip()] + (
        [feature_set] if feature_set else []
    )
    tables = load_dataset(data)
    spine = pd.concat([scoring_spine(tables, d) for d in dates], ignore_index=True)
    frames = iter_features(spine, tables, progress=True, engine=settings, only=names or None)
    rows, width = write_parquet_frames(frames, out)
    typer.echo(f"{rows:,} rows x {width - 2} features for {len(dates)} date(s) -> {out}")


@app.command()
def catalogue(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Dataset folder or YAML: list the exact columns `churn features` builds for it "
            "(templates expanded). Without it, the registry's entries and name templates.",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Output: table (default), csv or markdown.")
    ] = "table",
) -> None:
    """Print the feature registry: name, family, behaviour or context, window, description.

    A behaviour may be a reason a customer is at risk; context (region, segment, plan, ARR,
    tenure, seats licensed) is shown beside a customer, never as a reason.
    """
    formats = ("table", "csv", "markdown")
    if fmt not in formats:  # fail before loading a dataset, not after
        raise ChurnError(f"--format must be one of {', '.join(formats)}, got {fmt!r}")
    from churn.features import FeatureSpec, registry_frame

    spec = None
    if data is not None:
        from churn.data import load_dataset

        spec = FeatureSpec.from_tables(load_dataset(data))
    frame = registry_frame(spec).astype("string").fillna("")
    if fmt == "csv":
        typer.echo(_plain(frame.to_csv(index=False)), nl=False)
    elif fmt == "markdown":
        cells = [list(frame.columns), *frame.to_numpy().tolist()]
        lines = ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in cells]
        lines.insert(1, "|" + "---|" * frame.shape[1])
        typer.echo(_plain("\n".join(lines)))
    else:
        from rich.console import Console
        from rich.table import Table

        # The screen shows what a reader scans for; csv and markdown carry every column.
        shown = ["name", "family", "kind", "window", "description"]
        what = "features" if spec is not None else "registry entries"
        console = Console()
        if console.width < 110:
            # A narrow screen: one entry per paragraph, so no column chops a name or a sentence.
            console.print(f"[bold]{len(frame)} {what}[/bold]\n")
            for row in frame[shown].itertuples(index=False):
                facts = " · ".join(str(v) for v in (row.family, row.kind, row.window) if v)
                console.print(f"[bold]{_markup(row.name)}[/bold]  [cyan]{_markup(facts)}[/cyan]")
                console.print(f"    {_markup(row.description)}", highlight=False)
            return
        table = Table(title=f"{len(frame)} {what}")
        for col in shown:
            table.add_column(col, no_wrap=col != "description")
        for row in frame[shown].itertuples(index=False):
            table.add_row(*(_markup(v) for v in row))
        console.print(table)


# --- Closing the loop (issue 14): plays recorded, their measured effect -----------------------


@app.command()
def record(
    data: DataOpt = Path("data/raw/demo"),
    sources: Annotated[
        list[Path],
        typer.Option(
            "--from",
            help="Returned owner workbook (.xlsx with a Status column) or CSV with the actions "
            "table's columns; repeat for several.",
        ),
    ] = [],  # noqa: B006 - typer reads the default, never mutates it
    config: Annotated[
        Path | None, typer.Option("--config", help="Settings YAML (its playbook names the plays).")
    ] = None,
) -> None:
    """Record the plays the account teams ran (status, outcome) into the dataset's actions table."""
    from churn.pipelines.record import run_record

    result = run_record(data, list(sources), config=config)
    for source, n in result.read.items():
        typer.echo(f"  {source}: {n} play(s) read")
    if not (result.added or result.changed):
        typer.echo(f"Nothing new: {result.path} already holds these {result.total} play(s).")
        return
    typer.echo(
        f"Recorded {result.added} new and {result.changed} changed play(s) in {result.path} "
        f"({result.total} in all)."
    )


@app.command()
def impact(
    data: DataOpt = Path("data/raw/demo"),
    weeks: Annotated[
        Path, typer.Option("--weeks", help="Root of the week folders written by `churn score`.")
    ] = Path("data/at_risk"),
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write (impact.html, impact.json).")
    ] = Path("data/impact"),
    config: ConfigOpt = None,
) -> None:
    """Measure what the plays achieved: churn and ARR retained of treated vs control customers."""
    from churn.pipelines.impact import run_impact

    result = run_impact(data, weeks=weeks, out=out, config=config)
    report = result.report
    o = report["overall"]
    typer.echo(
        f"{len(report['matured_weeks'])} of {report['weeks']} weeks past their horizon; "
        f"{o['treated']['customers']} treated and {o['control']['customers']} control customers"
    )
    d = o["difference"]
    if d["estimate"] is not None:
        typer.echo(
            f"  churn {100 * o['treated']['churn_rate']:.1f}% treated vs "
            f"{100 * o['control']['churn_rate']:.1f}% control: difference "
            f"{100 * d['estimate']:+.1f} points [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]"
        )
    truth = report.get("truth")
    if truth:
        typer.echo(
            f"  simulator's true effect: {100 * truth['mean_effect_on_churn']:+.1f} points "
            f"over {truth['customers']} listed customers"
        )
    typer.echo(f"  {o['verdict']}")
    typer.echo(f"Wrote {result.folder}/impact.html and impact.json")


@app.command("simulate-plays")
def simulate_plays(
    data: DataOpt = Path("data/raw/demo"),
    weeks: Annotated[
        Path, typer.Option("--weeks", help="Root of the week folders written by `churn score`.")
    ] = Path("data/at_risk"),
    compliance: Annotated[
        float, typer.Option("--compliance", min=0.0, max=1.0, help="Share of plays owners run.")
    ] = 0.7,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the plays.")] = 0,
) -> None:
    """Simulated data only: owners run the sent customers' plays; the true effects are kept."""
    from churn.pipelines.simulate_plays import run_simulate_plays

    s = run_simulate_plays(data, weeks, compliance=compliance, seed=seed)
    typer.echo(
        f"{s['treated']} customers sent, {s['complied']} plays run, {s['saved_or_lost']} outcomes "
        f"changed; true mean effect {100 * s['mean_true_effect']:+.1f} points of churn"
    )


def main() -> None:
    """Console-script entry point: user errors become a clear message and their exit code (2;
    3 for a suspected leak, ``churn.errors.LeakSuspected``)."""
    try:
        app()
    except ChurnError as exc:
        typer.secho(_plain(f"error: {exc}"), fg=typer.colors.RED, err=True)
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
