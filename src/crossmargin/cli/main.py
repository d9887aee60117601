"""The ``crossmargin`` command line: evaluate a portfolio document, ask what-if questions, print the
document's JSON Schema.

Every bad input (a document that does not validate, a missing file, an unknown account, a number that
does not parse or is out of its range) ends the command with ``error: <field>: <message>`` on stderr and
exit code 2, with nothing on stdout. Numbers given on the command line are read as exact decimals, never
as floats; counts (accounts, paths, workers, seeds, repeats) as whole numbers within documented limits,
checked before any work.
"""

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, RenderableType
from rich.progress import Progress

from crossmargin import __version__
from crossmargin.cli.bridge import import_command, reconcile
from crossmargin.cli.contagion import contagion
from crossmargin.cli.feed import read_events, read_feed
from crossmargin.cli.forecast import forecast
from crossmargin.cli.limits import MAX_ACCOUNTS, MAX_REPEATS, MAX_SEED, MIN_ACCOUNTS, parse_count
from crossmargin.cli.loading import load_document
from crossmargin.cli.output import emit_json, emit_view
from crossmargin.cli.risk import risk
from crossmargin.cli.serve import keys, log, serve
from crossmargin.cli.stress import demo, stress
from crossmargin.cli.user_input import named_by_option, parse_decimal, user_errors
from crossmargin.cli.watch import watch
from crossmargin.live.document import PlacedBook, loop_config_of, placed_book
from crossmargin.margin.account import AccountResult, evaluate_account
from crossmargin.margin.owners import OwnerView, VenueBook, owner_views
from crossmargin.margin.whatif import check_order, compare_modes, max_withdrawable
from crossmargin.model import Account, InputError, Portfolio, RuleChoices
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.numbers import ZERO
from crossmargin.report import results, tables
from crossmargin.report import venues as venue_report
from crossmargin.report.numbers import decimal_string
from crossmargin.report.results import JSONObject
from crossmargin.report.venues import VenueOutcome
from crossmargin.schemas import shipped_schema
from crossmargin.sim.replay import Replay
from crossmargin.venues import available, rulebook
from crossmargin.venues.placement import places_accounts, venue_parts

app = typer.Typer(
    name="crossmargin",
    help="Cross-margin risk engine: exact margin, liquidation prices and what-if answers for a portfolio.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

FileArgument = Annotated[Path, typer.Argument(help="Portfolio document (.yaml, .yml or .json).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the versioned JSON result instead of tables.")]


def replay_of(raw: dict[str, Any]) -> Replay:
    """The replay of a parsed document under the loop configuration it sets up."""
    return Replay(loop_config_of(raw))


def under_every_rulebook(raw: dict[str, Any]) -> tuple[list[str], list[VenueOutcome]]:
    """The book of ``raw`` evaluated under each rulebook with that rulebook's own tables.

    Returns the account ids and one outcome per rulebook; a rulebook under which the book does not
    validate (its tables lack an asset the book holds, say) gets the error instead of results. A document
    that places its accounts at venues is taken venue by venue: an account keeps the contracts of its own
    venue's tables (what a contract is, as for an instrument the document defines) under each rulebook's
    risk terms, and a venue's accounts that do not validate under a rulebook get the error.
    """
    if not places_accounts(raw):
        outcomes = _under_every_rulebook([("", raw)])
        return [r.account.id for r in next((o.results for o in outcomes if o.results), ())], outcomes
    outcomes = _under_every_rulebook([(part.rulebook.name, part.document) for part in venue_parts(raw)])
    evaluated = any(o.results for o in outcomes)
    return [account.id for account, _ in placed_book(raw).holders] if evaluated else [], outcomes


def _under_every_rulebook(documents: Sequence[tuple[str, Mapping[str, Any]]]) -> list[VenueOutcome]:
    """Each document (of the accounts at one venue, named; or the whole book, unnamed) under every rulebook."""
    outcomes = []
    for name in available():
        book = rulebook(name)
        evaluated: list[AccountResult] = []
        errors = []
        for venue, document in documents:
            try:
                portfolio = portfolio_from_document(book.apply_to(document, tables_win=True))
            except InputError as err:
                errors.append(f"accounts at {venue}: {err}" if venue else str(err))
                continue
            evaluated += [evaluate_account(a, portfolio, book.rules) for a in portfolio.accounts]
        outcomes.append(VenueOutcome(name, tuple(evaluated), "; ".join(errors) or None))
    return outcomes


def owners_of(book: PlacedBook, holders: Sequence[tuple[Account, VenueBook]]) -> tuple[OwnerView, ...]:
    """The views of the owners of ``holders``, each with every account they hold in ``book``."""
    owners = {account.held_by for account, _ in holders}
    return owner_views([(account, venue) for account, venue in book.holders if account.held_by in owners])


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"crossmargin {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Cross-margin risk engine: exact margin, liquidation prices and what-if answers for a portfolio."""


@app.command()
def evaluate(
    file: FileArgument,
    json_output: JsonOption = False,
    account: Annotated[str | None, typer.Option("--account", help="Evaluate only this account id.")] = None,
) -> None:
    """Value every account (or one) at its venue: equity, IM, MM, free collateral, margin ratio, liquidation
    prices; where accounts name venues or owners, each owner's exposure, delta and first liquidation per venue."""
    with user_errors():
        book = placed_book(load_document(file))
        with named_by_option():
            holders = book.holders if account is None else (book.holder(account),)
        evaluated = tuple(evaluate_account(holder, venue.portfolio, venue.rules) for holder, venue in holders)
        venues = [venue.venue for _, venue in holders] if book.placed else None
        owners = owners_of(book, holders) if book.placed else ()
    if json_output:
        emit_json(results.evaluation_dict(book.base, book.rulebook, evaluated, venues, owners))
    else:
        emit_view(tables.evaluation_view(book.base, evaluated, venues, owners))


@dataclass(frozen=True)
class Withdrawal:
    """How much of ``asset`` can leave the account's cross balance?"""

    asset: str


@dataclass(frozen=True)
class Order:
    """Does buying ``size`` contracts (negative sells) of ``instrument`` at ``price`` (mark units) pass?"""

    instrument: str
    size: Decimal
    price: Decimal


@dataclass(frozen=True)
class Comparison:
    """What would the book need in cross margin and in isolated margin?"""


Question = Withdrawal | Order | Comparison


def require_one_question(withdraw: str | None, order: str | None, compare: bool) -> None:
    """Asking none or several of the what-if questions is an error."""
    asked = [
        option
        for option, given in (
            ("--withdraw", withdraw is not None),
            ("--order", order is not None),
            ("--compare", compare),
        )
        if given
    ]
    if len(asked) != 1:
        raise InputError(
            "what-if", f"ask exactly one of --withdraw, --order, --compare (got {', '.join(asked) or 'none'})"
        )


def order_from_options(instrument: str, size: str | None, price: str | None) -> Order:
    """The order of ``--order INSTRUMENT --size S --price P``, size and price read exactly."""
    if size is None:
        raise InputError("--size", "required with --order")
    if price is None:
        raise InputError("--price", "required with --order")
    return Order(instrument, parse_decimal(size, "--size"), parse_decimal(price, "--price"))


def question_from_options(
    withdraw: str | None, order: str | None, size: str | None, price: str | None, compare: bool
) -> Question:
    """The one question the what-if options ask."""
    require_one_question(withdraw, order, compare)
    if order is not None:
        return order_from_options(order, size, price)
    for option, given in (("--size", size), ("--price", price)):
        if given is not None:
            raise InputError(option, "only goes with --order")
    if withdraw is not None:
        return Withdrawal(withdraw)
    return Comparison()


def answer(
    question: Question, portfolio: Portfolio, rules: RuleChoices, holder: Account
) -> tuple[JSONObject, RenderableType]:
    """The answer to one what-if question about ``holder``, as a result document and as a table."""
    base = portfolio.base
    if isinstance(question, Withdrawal):
        amount = max_withdrawable(holder, portfolio, rules, question.asset)
        held = holder.balances.get(question.asset, ZERO)
        return (
            results.withdrawal_dict(base, holder.id, question.asset, held, amount),
            tables.withdrawal_table(holder.id, question.asset, held, amount),
        )
    if isinstance(question, Order):
        check = check_order(holder, portfolio, rules, question.instrument, question.size, question.price)
        return results.order_dict(base, holder.id, check), tables.order_table(base, holder.id, check)
    comparison = compare_modes(holder, portfolio, rules)
    return (
        results.comparison_dict(base, holder.id, comparison),
        tables.comparison_table(base, holder.id, comparison),
    )


@app.command("what-if")
def what_if(
    file: FileArgument,
    account: Annotated[str, typer.Option("--account", help="The account id to ask about.", show_default=False)],
    withdraw: Annotated[
        str | None, typer.Option("--withdraw", metavar="ASSET", help="Largest amount of ASSET that can leave.")
    ] = None,
    order: Annotated[
        str | None,
        typer.Option("--order", metavar="INSTRUMENT", help="Check an order on INSTRUMENT (with --size, --price)."),
    ] = None,
    size: Annotated[
        str | None, typer.Option("--size", metavar="CONTRACTS", help="Order size in contracts; negative sells.")
    ] = None,
    price: Annotated[str | None, typer.Option("--price", metavar="PRICE", help="Order price in mark units.")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Compare the book in cross and isolated margin.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Answer one question about an account: a withdrawal, an order, or cross against isolated margin."""
    with user_errors():
        question = question_from_options(withdraw, order, size, price, compare)
        book = placed_book(load_document(file))
        with named_by_option():
            holder, venue = book.holder(account)
            document, view = answer(question, venue.portfolio, venue.rules, holder)
    if json_output:
        emit_json(document)
    else:
        emit_view(view)


@app.command("rulebooks")
def list_rulebooks(json_output: JsonOption = False) -> None:
    """List the rulebooks: venue rules and the default tables they bring."""
    with user_errors():
        books = [rulebook(name) for name in available()]
    if json_output:
        emit_json(venue_report.rulebooks_dict(books))
    else:
        emit_view(venue_report.rulebooks_table(books))


@app.command()
def compare(
    file: FileArgument,
    json_output: JsonOption = False,
    account: Annotated[str | None, typer.Option("--account", help="Compare only this account id.")] = None,
) -> None:
    """Evaluate the same book under every rulebook (each with its own tables), side by side; where accounts name
    venues or owners, each owner's view with every account at its own venue follows."""
    with user_errors():
        raw = load_document(file)
        ids, outcomes = under_every_rulebook(raw)
        if not ids:
            raise InputError(
                str(file),
                "no rulebook could evaluate this book: " + "; ".join(f"{o.rulebook}: {o.error}" for o in outcomes),
            )
        if account is not None:
            if account not in ids:
                raise InputError("--account", f"no account with id {account!r}")
            ids = [account]
        owners = None
        if places_accounts(raw):
            book = placed_book(raw)
            owners = owners_of(book, [book.holder(i) for i in ids])
    base = str(raw.get("base"))
    if json_output:
        emit_json(venue_report.comparison_dict(base, ids, outcomes, owners))
    else:
        emit_view(venue_report.comparison_view(base, ids, outcomes, owners))


@app.command()
def bench(
    accounts: Annotated[
        str, typer.Option("--accounts", metavar="N", help=f"Accounts in the synthetic book (10 to {MAX_ACCOUNTS:,}).")
    ] = "100000",
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of the synthetic book.")] = "7",
    repeats: Annotated[
        str, typer.Option("--repeats", metavar="N", help=f"Repeats per timing (medians; 1 to {MAX_REPEATS:,}).")
    ] = "7",
    json_output: JsonOption = False,
) -> None:
    """Benchmark the risk book on a synthetic book: revaluation, tick, screening, memory, exact evaluator."""
    with user_errors():
        size = parse_count(accounts, "--accounts", MIN_ACCOUNTS, MAX_ACCOUNTS)
        book_seed = parse_count(seed, "--seed", 0, MAX_SEED)
        times = parse_count(repeats, "--repeats", 1, MAX_REPEATS)
    from crossmargin.sim.benchmark import bench_book, machine  # Numba loads only for this command

    rules = rulebook("generic").rules
    result = None
    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task(f"benchmark, {size:,} accounts", total=5)
        for label, outcome in bench_book(size, book_seed, rules, times):
            progress.update(task, advance=1, description=f"benchmark, {size:,} accounts: {label}")
            result = outcome or result
    assert result is not None
    if json_output:
        typer.echo(json.dumps({**result.as_dict(), "machine": machine()}, indent=2))
    else:
        emit_view(tables.bench_table(result.as_dict()))


def _json_text(value: object) -> str:
    """JSON with every Decimal as a decimal string."""

    def default(item: object) -> str:
        if isinstance(item, Decimal):
            return decimal_string(item)
        raise TypeError(type(item).__name__)

    return json.dumps(value, default=default)


@app.command()
def replay(
    file: FileArgument,
    feed: Annotated[
        Path | None, typer.Option("--feed", help="Price feed: JSON lines {t, source, symbol, price, confidence?}.")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option("--events", help="Engine events, one JSON record a line (as `crossmargin log` prints them)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Replay a price feed (or a service's event log) through the oracle, the engine and the liquidation
    engine: price statuses, freezes, liquidation fills, auto-deleveraging, insurance fund and bad debt."""
    with user_errors():
        if (feed is None) == (events is None):
            raise InputError("replay", "give exactly one of --feed and --events")
        raw = load_document(file)
        engine = replay_of(raw)
        if feed is not None:
            updates = list(read_feed(feed))
            for number, update in enumerate(updates, start=1):
                try:
                    engine.check(update)
                except InputError as err:
                    raise err.within(f"{feed} update {number}") from None
            steps = [functools.partial(engine.feed, update) for update in updates]
        else:
            assert events is not None
            steps = [functools.partial(engine.apply, event) for event in read_events(events)]
    for step in steps:
        for event in step():
            typer.echo(_json_text(event) if json_output else _event_line(event))
    end = engine.end()
    typer.echo(_json_text(end) if json_output else _event_line(end))


def _event_line(event: Mapping[str, object]) -> str:
    """One event as a readable line: ``t=... event: key=value, ...`` (nested values as JSON)."""

    def shown(value: object) -> str:
        if isinstance(value, Decimal):
            return decimal_string(value)
        return _json_text(value) if isinstance(value, dict | list) else str(value)

    details = ", ".join(f"{k}={shown(v)}" for k, v in event.items() if k not in ("t", "event"))
    return f"t={shown(event['t'])} {event['event']}: {details}"


@app.command()
def schema() -> None:
    """Print the JSON Schema of the portfolio document."""
    typer.echo(json.dumps(shipped_schema(), indent=2))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"crossmargin {__version__}")


app.command()(stress)
app.command()(forecast)
app.command()(demo)
app.command()(risk)
app.command()(serve)
app.command()(log)
app.command("import")(import_command)
app.command()(reconcile)
app.command()(watch)
app.command()(contagion)
app.add_typer(keys, name="keys")
