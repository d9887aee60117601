"""``crossmargin contagion SCENARIO``: several venues through one market path, linked, against the same venues
run apart (:mod:`crossmargin.sim.contagion`). Every option is checked before any work."""

import json
from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.limits import MAX_PATHS, MAX_SEED, parse_count
from crossmargin.cli.loading import load_document
from crossmargin.cli.stress import check_out, check_scheduler
from crossmargin.cli.user_input import user_errors


def contagion(
    scenario: Annotated[str, typer.Argument(help="A library contagion scenario (--list) or a YAML file.")] = "",
    paths: Annotated[
        str,
        typer.Option("--paths", metavar="N", help=f"Monte Carlo paths (seeds seed .. seed+N-1; 1 to {MAX_PATHS:,})."),
    ] = "1",
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of the market path.")] = "7",
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address, tcp://host:port.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write report.html and summary.json here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print summary.json's object.")] = False,
    listing: Annotated[bool, typer.Option("--list", help="List the library's contagion scenarios.")] = False,
) -> None:
    """Step several venues together through a market path (arbitrage, oracles, shared collateral and traders
    linking them) and measure the contagion: each figure linked over the venues run apart."""
    from crossmargin.report.contagion import summary_json, write_report
    from crossmargin.sim.contagion.measures import measure, monte_carlo
    from crossmargin.sim.contagion.model import library, load_contagion, read_document, venue_configs

    if listing or not scenario:
        for name, item in sorted(library().items()):
            typer.echo(f"{name}: {item.title}")
        return
    with user_errors():
        n_paths = parse_count(paths, "--paths", 1, MAX_PATHS)
        first = parse_count(seed, "--seed", 0, MAX_SEED)
        if out is not None:
            check_out(out)
        if scheduler is not None:
            check_scheduler(scheduler)
        loaded = load_contagion(scenario)
        shipped = read_document(loaded)

        def read(name: str) -> dict:  # type: ignore[type-arg]
            beside = Path(loaded.base) / name if loaded.base is not None else None
            return load_document(beside) if beside is not None and beside.is_file() else shipped(name)

        configs = venue_configs(loaded, read)
        found = measure(loaded, configs, first)
        spread = None
        if n_paths > 1:
            spread = monte_carlo(loaded, configs, list(range(first, first + n_paths)), scheduler)
        summary = summary_json(found, loaded.title, spread)
        if out is not None:
            write_report(summary, out)
    if json_output:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(f"{loaded.title} (seed {first})")
    for name in [*found.venues, "total"]:
        linked = found.total if name == "total" else found.venues[name]
        alone = found.total_apart if name == "total" else found.apart[name]
        typer.echo(
            f"  {name}: {linked.liquidations} liquidations ({alone.liquidations} apart), notional "
            f"{linked.liquidated_notional:,.2f} ({alone.liquidated_notional:,.2f}), bad debt {linked.bad_debt:,.2f} "
            f"({alone.bad_debt:,.2f}), fund drawdown {linked.insurance_fund_drawdown:,.2f}, ADL {linked.adl_events}"
        )
    p = found.propagation
    if p.delay_s is not None:
        typer.echo(
            f"  first liquidation on {p.origin} at {p.first_s:g} s; induced on {p.induced_venue} {p.delay_s:g} s later"
        )
    typer.echo(f"  link carrying most of the loss: {found.carrier or 'none'}")
    if out is not None:
        typer.echo(f"wrote {out / 'report.html'} and {out / 'summary.json'}")
