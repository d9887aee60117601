"""``crossmargin stress`` and ``crossmargin demo``: a book through a scenario, compared and reported.

Every option is checked before any work: the counts against their limits, ``--distressed`` (a fraction
from 0 to 1, for a generated book only), ``--out`` (a directory that exists or can be made, and can be
written), ``--scheduler`` (a Dask scheduler answering at that address).
The report's two files are written under temporary names and renamed into place once both are whole.
"""

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from crossmargin.cli.limits import MAX_ACCOUNTS, MAX_PATHS, MAX_SEED, MIN_ACCOUNTS, parse_count
from crossmargin.cli.loading import load_document
from crossmargin.cli.output import emit_view
from crossmargin.cli.user_input import parse_decimal, user_errors
from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.liquidation.liquidity_document import liquidity_from_dict
from crossmargin.model import InputError, Portfolio, RuleChoices
from crossmargin.model.document import clearing_section, portfolio_from_document
from crossmargin.model.errors import field_prefix
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.oracle.document import oracle_config
from crossmargin.report.files import write_files
from crossmargin.venues import rulebook
from crossmargin.venues.placement import require_one_venue

DEMO_SCENARIO = "flash-crash"
DEMO_ACCOUNTS = 500
DISTRESSED_HELP = (
    "Share of generated accounts that start around their maintenance margin, 0 to 1 (default 0: every "
    "account meets its initial margin)."
)


def parse_fraction(text: str, option: str) -> Decimal:
    """The exact decimal written in ``text``, from 0 to 1; the error names ``option``."""
    value = parse_decimal(text, option)
    if not 0 <= value <= 1:
        raise InputError(option, f"must be from 0 to 1, got {value}")
    return value


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip


def book_from_file(
    path: Path,
) -> tuple[Portfolio, RuleChoices, LiquidationTerms, dict[str, LiquidityModel], Decimal | None, OracleConfig]:
    """A document's book with its rulebook, liquidity (None where it has none) and insurance fund."""
    raw = load_document(path)
    name = raw.get("rulebook", "generic")
    if not isinstance(name, str):
        raise InputError("rulebook", f"must be a rulebook name, got {name!r}")
    book = require_one_venue(raw)
    applied = book.apply_to(raw)
    portfolio = portfolio_from_document(applied)
    fund, sections = clearing_section(applied)
    models = {n: liquidity_from_dict(section, f"liquidity.{n}") for n, section in sections.items()}
    default = models.pop("*", None)
    if default is not None:
        models = {n: models.get(n, default) for n in portfolio.instruments}
    return (
        portfolio,
        book.rules,
        book.liquidation,
        models,
        fund if "insurance_fund" in raw else None,
        oracle_config(raw),
    )


def stress_report(
    scenario_name: str,
    book: Path | None,
    generate: int | None,
    seed: int,
    paths: int,
    scheduler: str | None,
    workers: int | None,
    rulebooks: list[str],
    parameter_files: list[Path],
    distressed: Decimal = Decimal(0),
    agents_file: Path | None = None,
) -> Any:
    """Run the comparison (and the Monte Carlo with ``paths`` > 1); the :class:`StressReport`. Every
    parameter set is read and checked before the first run starts. ``distressed``: the generated book's
    share of accounts that start around their maintenance margin (:class:`~crossmargin.sim.population.BookShape`)."""
    from crossmargin.sim.population import DEFAULT_SHAPE, synthetic_book
    from crossmargin.sim.scenarios.load import load_scenario
    from crossmargin.sim.stress.comparison import StressBook, check_configs, compared_configs, stress_comparison
    from crossmargin.sim.stress.params import applied, parameter_set

    scenario = load_scenario(scenario_name)
    if book is not None:
        portfolio, rules, terms, liquidity, fund, oracle = book_from_file(book)
        described = str(book)
    else:
        shape = replace(DEFAULT_SHAPE, distressed_share=float(distressed))
        portfolio = synthetic_book(generate or DEMO_ACCOUNTS, seed, shape=shape)
        generic = rulebook("generic")
        rules, terms, liquidity, fund, oracle = generic.rules, generic.liquidation, {}, None, OracleConfig()
        described = f"synthetic_book({generate or DEMO_ACCOUNTS}, seed={seed}), generic rulebook"
        if distressed:
            described += f", distressed share {distressed}"
    agents = None if agents_file is None else agents_from_file(agents_file)
    configs = compared_configs(StressBook(portfolio, rules, terms, liquidity, fund, oracle), rulebooks)
    for path in parameter_files:
        document = load_document(path)
        with field_prefix(str(path)):
            configs.append(applied(configs[0], parameter_set(document, path.stem)))
    if agents is not None:
        configs = [replace(config, agents=agents) for config in configs]
    check_configs(configs)
    labels = [config.label for config in configs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InputError("--params", f"two runs would both be named {repeated[0]!r}: give each a distinct label")
    with _progress() as progress:

        def task(description: str, total: int) -> Callable[[int, int], None]:
            shown = progress.add_task(description, total=total)
            return lambda k, n: progress.update(shown, completed=k, total=n)

        return stress_comparison(scenario, configs, described, seed, paths, scheduler, workers, task)


def agents_from_file(path: Path) -> Any:
    """The risk agents a YAML file describes (:func:`crossmargin.sim.agents.config.agents_from_dict`); an error
    names ``--agents`` and the field."""
    from crossmargin.sim.agents.config import agents_from_dict

    with field_prefix("--agents"):
        return agents_from_dict(load_document(path))


REPORT_FILES = ("report.html", "summary.json")


def check_out(out: Path) -> None:
    """Refuse (``--out``) a path that cannot take the report: a file, a path under a file, a directory (or
    the nearest existing one above it) where no file can be made, a directory holding a directory where a
    report file goes. Leaves nothing behind."""
    existing = out
    while not (existing.exists() or existing.is_symlink()):
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == out else f"is under {existing}, which is"
        raise InputError("--out", f"{out} {what} not a directory")
    for name in REPORT_FILES:
        if (out / name).is_dir():
            raise InputError("--out", f"{out / name} is a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise InputError("--out", f"cannot write in {existing}: {err.strerror or err}") from None


def write_report(report: Any, out: Path) -> None:
    """``out/report.html`` and ``out/summary.json`` (``out`` made if needed): both written whole under
    temporary names in ``out``, then renamed into place; a failure (``--out``) leaves neither half-written."""
    from crossmargin.report.stress import render_html, summary_json

    texts = (render_html(report), json.dumps(summary_json(report), indent=2) + "\n")
    write_files(out, tuple(zip(REPORT_FILES, texts, strict=True)))


def show(report: Any) -> None:
    """The summary tables on stdout, no figure cut (:func:`crossmargin.cli.output.emit_view`)."""
    from crossmargin.report.stress import summary_renderable

    emit_view(summary_renderable(report))


def check_scheduler(address: str) -> None:
    """Refuse (``--scheduler``) an address where no Dask scheduler answers (see
    :func:`crossmargin.sim.stress.montecarlo.check_scheduler`)."""
    from crossmargin.sim.stress.montecarlo import check_scheduler as reachable

    try:
        reachable(address)
    except InputError as err:
        raise InputError("--scheduler", err.message) from None


def stress(
    scenario: Annotated[
        str, typer.Argument(help="A library scenario name (crossmargin stress --list) or a YAML file.")
    ] = "",
    book: Annotated[Path | None, typer.Option("--book", help="A portfolio document to stress.")] = None,
    generate: Annotated[
        str | None,
        typer.Option(
            "--generate", metavar="N", help=f"Stress a synthetic book of N accounts (10 to {MAX_ACCOUNTS:,})."
        ),
    ] = None,
    paths: Annotated[
        str,
        typer.Option("--paths", metavar="N", help=f"Monte Carlo paths (seeds seed .. seed+N-1; 1 to {MAX_PATHS:,})."),
    ] = "1",
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of the path and of a generated book.")] = "7",
    distressed: Annotated[str | None, typer.Option("--distressed", metavar="FRACTION", help=DISTRESSED_HELP)] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address, tcp://host:port.")
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option("--workers", metavar="N", help="Local worker processes (default and most: one per core)."),
    ] = None,
    compare: Annotated[
        list[str] | None, typer.Option("--rulebook", help="Also run under this rulebook (repeatable).")
    ] = None,
    parameter_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--params",
            help="Also run with this parameter set: a YAML file changing rules, liquidation terms, asset "
            "weights, tier tables or the insurance fund (repeatable; see docs/stress.md).",
        ),
    ] = None,
    agents: Annotated[
        Path | None,
        typer.Option(
            "--agents", help="Run every configuration with these risk agents: a YAML file (see docs/agents.md)."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write report.html and summary.json here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    listing: Annotated[bool, typer.Option("--list", help="List the library's scenarios.")] = False,
) -> None:
    """Stress a book against a scenario: cross vs isolated (and other rulebooks and parameter sets),
    optional Monte Carlo."""
    from crossmargin.sim.scenarios.load import library

    if listing or not scenario:
        for name, item in sorted(library().items()):
            typer.echo(f"{name}: {item.title}")
        return
    with user_errors():
        if book is not None and generate is not None:
            raise InputError("--generate", "give --book or --generate, not both")
        accounts = None if generate is None else parse_count(generate, "--generate", MIN_ACCOUNTS, MAX_ACCOUNTS)
        n_paths = parse_count(paths, "--paths", 1, MAX_PATHS)
        first_seed = parse_count(seed, "--seed", 0, MAX_SEED)
        share = Decimal(0) if distressed is None else parse_fraction(distressed, "--distressed")
        if book is not None and distressed is not None:
            raise InputError("--distressed", "applies to a generated book: give --generate, not --book")
        processes = None if workers is None else parse_count(workers, "--workers", 1, os.cpu_count() or 1)
        if out is not None:
            check_out(out)
        if scheduler is not None:
            check_scheduler(scheduler)
        report = stress_report(
            scenario, book, accounts, first_seed, n_paths, scheduler, processes, compare or [], parameter_files or [],
            share, agents,
        )  # fmt: skip
        if out is not None:
            write_report(report, out)
    for line in report.warnings:
        typer.echo(f"warning: {line}", err=True)
    if json_output:
        from crossmargin.report.stress import summary_json

        typer.echo(json.dumps(summary_json(report), indent=2))
    else:
        show(report)
        if out is not None:
            typer.echo(f"wrote {out / 'report.html'} and {out / 'summary.json'}")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and summary.json.")] = Path("demo"),
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of the generated book.")] = "7",
    accounts: Annotated[
        str,
        typer.Option("--accounts", metavar="N", help=f"Accounts in the generated book (10 to {MAX_ACCOUNTS:,})."),
    ] = str(DEMO_ACCOUNTS),
    distressed: Annotated[str, typer.Option("--distressed", metavar="FRACTION", help=DISTRESSED_HELP)] = "0",
) -> None:
    """Run the shipped flash crash on a generated book, cross vs isolated, and write the report. The book
    starts solvent (every account meets its initial margin) unless ``--distressed`` says otherwise."""

    with user_errors():
        size = parse_count(accounts, "--accounts", MIN_ACCOUNTS, MAX_ACCOUNTS)
        book_seed = parse_count(seed, "--seed", 0, MAX_SEED)
        share = parse_fraction(distressed, "--distressed")
        check_out(out)
        report = stress_report(DEMO_SCENARIO, None, size, book_seed, 1, None, None, [], [], share)
        write_report(report, out)
    for line in report.warnings:
        typer.echo(f"warning: {line}", err=True)
    show(report)
    typer.echo(f"wrote {out / 'report.html'} and {out / 'summary.json'}")
