"""``crossmargin stress`` and ``crossmargin demo``: a book through a scenario, compared and reported."""

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from crossmargin.cli.loading import load_document
from crossmargin.liquidation.liquidity import LiquidityModel, liquidity_from_dict
from crossmargin.model import InputError, Portfolio, RuleChoices
from crossmargin.model.document import clearing_section, portfolio_from_document
from crossmargin.model.errors import field_prefix
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook

DEMO_SCENARIO = "flash-crash"
DEMO_ACCOUNTS = 500


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
    book = rulebook(name)
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
) -> Any:
    """Run the comparison (and the Monte Carlo with ``paths`` > 1); the :class:`StressReport`. Every
    parameter set is read and checked before the first run starts."""
    from crossmargin.engine.book import check_mirrored
    from crossmargin.engine.priced import check_oracle_priced
    from crossmargin.sim.population import synthetic_book
    from crossmargin.sim.scenarios.load import load_scenario
    from crossmargin.sim.stress.configs import cross_and_isolated, default_insurance_fund, default_liquidity
    from crossmargin.sim.stress.montecarlo import monte_carlo
    from crossmargin.sim.stress.params import applied, parameter_set
    from crossmargin.sim.stress.results import MonteCarloResult, StressReport
    from crossmargin.sim.stress.runner import run

    scenario = load_scenario(scenario_name)
    if book is not None:
        portfolio, rules, terms, liquidity, fund, oracle = book_from_file(book)
        described = str(book)
    else:
        portfolio = synthetic_book(generate or DEMO_ACCOUNTS, seed)
        generic = rulebook("generic")
        rules, terms, liquidity, fund, oracle = generic.rules, generic.liquidation, {}, None, OracleConfig()
        described = f"synthetic_book({generate or DEMO_ACCOUNTS}, seed={seed}), generic rulebook"
    liquidity = liquidity or default_liquidity(portfolio)
    fund = default_insurance_fund(portfolio) if fund is None else fund
    configs = list(cross_and_isolated(portfolio, rules, terms, liquidity, fund, oracle))
    for name in rulebooks:
        other = rulebook(name)
        configs.append(replace(configs[0], label=name, rules=other.rules, terms=other.liquidation))
    for path in parameter_files:
        with field_prefix(str(path)):
            configs.append(applied(configs[0], parameter_set(load_document(path), path.stem)))
    for config in configs:
        with field_prefix(config.label):
            check_oracle_priced(config.portfolio)
            check_mirrored(config.portfolio, config.rules)
    labels = [config.label for config in configs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise InputError("--params", f"two runs would both be named {repeated[0]!r}: give each a distinct label")
    runs = []
    carlo: tuple[MonteCarloResult, ...] = ()
    with _progress() as progress:
        for config in configs:
            task = progress.add_task(f"{scenario.name}: {config.label}", total=scenario.steps)

            def advance(k: int, n: int, task: TaskID = task) -> None:
                progress.update(task, completed=k, total=n)

            runs.append(run(config, scenario, seed, advance))
        if paths > 1:
            task = progress.add_task(f"Monte Carlo, {paths} paths x 2", total=paths * 2)
            carlo = monte_carlo(
                configs[:2], scenario, [seed + n for n in range(paths)], scheduler, workers,
                lambda k, n: progress.update(task, completed=k, total=n),
            )  # fmt: skip
    return StressReport(
        scenario.name, scenario.title, scenario.description, scenario.sources, described, tuple(runs), carlo
    )


def write_report(report: Any, out: Path) -> None:
    """``out/report.html`` and ``out/summary.json``."""
    from crossmargin.report.stress import render_html, summary_json

    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(summary_json(report), indent=2) + "\n", encoding="utf-8")


def show(report: Any) -> None:
    from crossmargin.report.stress import summary_renderable

    Console().print(summary_renderable(report))


def stress(
    scenario: Annotated[
        str, typer.Argument(help="A library scenario name (crossmargin stress --list) or a YAML file.")
    ] = "",
    book: Annotated[Path | None, typer.Option("--book", help="A portfolio document to stress.")] = None,
    generate: Annotated[
        int | None, typer.Option("--generate", min=10, help="Stress a synthetic book of N accounts.")
    ] = None,
    paths: Annotated[int, typer.Option("--paths", min=1, help="Monte Carlo paths (seeds seed .. seed+N-1).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the path and of a generated book.")] = 7,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address, tcp://host:port.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Local worker processes (default: all cores).")
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
    out: Annotated[Path | None, typer.Option("--out", help="Write report.html and summary.json here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    listing: Annotated[bool, typer.Option("--list", help="List the library's scenarios.")] = False,
) -> None:
    """Stress a book against a scenario: cross vs isolated (and other rulebooks and parameter sets),
    optional Monte Carlo."""
    from crossmargin.cli.main import user_errors
    from crossmargin.sim.scenarios.load import library

    if listing or not scenario:
        for name, item in sorted(library().items()):
            typer.echo(f"{name}: {item.title}")
        return
    if book is not None and generate is not None:
        raise typer.BadParameter("give --book or --generate, not both")
    with user_errors():
        report = stress_report(
            scenario, book, generate, seed, paths, scheduler, workers, compare or [], parameter_files or []
        )
    if out is not None:
        write_report(report, out)
    if json_output:
        from crossmargin.report.stress import summary_json

        typer.echo(json.dumps(summary_json(report), indent=2))
    else:
        show(report)
        if out is not None:
            typer.echo(f"wrote {out / 'report.html'} and {out / 'summary.json'}")


def demo(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and summary.json.")] = Path("demo"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the generated book.")] = 7,
    accounts: Annotated[
        int, typer.Option("--accounts", min=10, help="Accounts in the generated book.")
    ] = DEMO_ACCOUNTS,
) -> None:
    """Run the shipped flash crash on a generated book, cross vs isolated, and write the report."""
    from crossmargin.cli.main import user_errors

    with user_errors():
        report = stress_report(DEMO_SCENARIO, None, accounts, seed, 1, None, None, [], [])
    write_report(report, out)
    show(report)
    typer.echo(f"wrote {out / 'report.html'} and {out / 'summary.json'}")
