"""``crossmargin forecast``: for each shocked move of an instrument's or underlying's price, where the
liquidation cascade it starts ends, from the book on the risk book's arrays (:mod:`crossmargin.sim.forecast`;
docs/forecast.md).

Every option is checked before any work: the book (a document, or ``--generate N`` accounts), ``--moves``
(comma-separated fractions, each above -1, at most :data:`MAX_MOVES`), ``--orders``, ``--seed``; a name
``--instrument`` does not know is refused once the book is read, before the long work. A document without
liquidity fills against the calibrated default depth, one without an insurance fund gets the default fund,
as ``crossmargin stress`` does (:mod:`crossmargin.sim.stress.configs`).

``--json`` prints the versioned result (:func:`forecast_document`): every figure a decimal string, counts as
numbers, no wall time (the same command prints the same document).

Liquidation odds (:mod:`crossmargin.sim.forecast_odds`; docs/liquidation-odds.md): every account's probability
of liquidation within ``--horizon`` seconds and its median time, the ``--top`` likeliest in the ``odds`` key and
the tables (``--top 0``: all), under ``--vols`` (``ASSET=V,...``, ``*=V`` for every asset not named; by default
the document's ``vols``). Where an asset a book is exposed to has no volatility the odds are left out with the
reason (``odds.unavailable``), unless ``--horizon``, ``--vols`` or ``--reaction-time`` was given: then it is an
error. ``--reaction-time T --miss E`` adds the ``buffer`` key: the buffer an agent reacting within ``T`` seconds
needs to de-risk before insolvency with probability ``1 - E``, per account and for the book.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crossmargin.cli.limits import MAX_ACCOUNTS, MAX_SEED, MIN_ACCOUNTS, parse_count
from crossmargin.cli.output import emit_view
from crossmargin.cli.user_input import parse_decimal, user_errors
from crossmargin.model import InputError
from crossmargin.report.numbers import decimal_string, float_string

if TYPE_CHECKING:  # the forecast loads Numba's kernels: imported when a command runs, not when the CLI starts
    from crossmargin.engine.book import RiskBook
    from crossmargin.engine.liquidation_prices import LiquidationPrices
    from crossmargin.sim.forecast import MoveForecast, Orders, Shock
    from crossmargin.sim.forecast_odds import BookOdds, Calibration

FORECAST_VERSION = 1
"""The version of the ``--json`` document: keys are added, never renamed; it changes when a key's meaning does."""
MAX_MOVES = 100
DEFAULT_MOVES = "-0.02,-0.05,-0.1"
DEFAULT_HORIZON = "86400"
DEFAULT_TOP = "20"
DEFAULT_MISS = "0.01"
MAX_TOP = 1_000_000
PERCENTILES = (50, 90, 99, 100)
"""The percentiles of the accounts' maintenance-margin multiples the ``buffer`` key reports (100: the largest)."""
ORDERS_HELP = (
    "How a round's closes meet the depth: 'account' (default), one order per account in turn, as the liquidation "
    "engine fills them; 'round', one order of the round's summed units."
)


def parse_moves(text: str) -> list[Decimal]:
    """The comma-separated moves of ``--moves``: exact fractions of the price, each above -1, one to
    :data:`MAX_MOVES` of them."""
    parts = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not part for part in parts):
        raise InputError("--moves", f"give comma-separated fractions such as {DEFAULT_MOVES}, got {text!r}")
    if len(parts) > MAX_MOVES:
        raise InputError("--moves", f"at most {MAX_MOVES} moves, got {len(parts):,}")
    moves = [parse_decimal(part, "--moves") for part in parts]
    for move in moves:
        if move <= -1:
            raise InputError("--moves", f"a move must be above -1 (a price stays positive), got {move}")
    return moves


def parse_seconds(text: str, option: str) -> float:
    """A positive, finite number of seconds."""
    value = parse_decimal(text, option)
    if value <= 0:
        raise InputError(option, f"must be a number of seconds > 0, got {value}")
    return float(value)


def parse_miss(text: str) -> float:
    """``--miss``: a probability strictly between 0 and 1."""
    value = parse_decimal(text, "--miss")
    if not 0 < value < 1:
        raise InputError("--miss", f"must be a probability between 0 and 1 (exclusive), got {value}")
    return float(value)


def parse_vols(text: str) -> dict[str, float]:
    """``--vols ASSET=V,...``: annualized volatilities (>= 0); ``*`` stands for every asset not named."""
    found: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError("--vols", f"give ASSET=VOLATILITY pairs such as BTC=0.6,*=1, got {part!r}")
        vol = parse_decimal(value, "--vols")
        if vol < 0:
            raise InputError("--vols", f"a volatility must be >= 0, got {name.strip()}={vol}")
        found[name.strip()] = float(vol)
    return found


def _progress() -> Progress:
    """A progress bar on stderr while it is a terminal (a script's stderr stays clean)."""
    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True, disable=not console.is_terminal,
    )  # fmt: skip


def _money(value: float) -> str | None:
    return float_string(value)


def move_document(move: Decimal, result: "MoveForecast") -> dict[str, Any]:
    """One move's forecast (:class:`~crossmargin.sim.forecast.MoveForecast`) as JSON-ready values."""
    return {
        "move": decimal_string(move),
        "start_price": _money(result.start_price),
        "shocked_price": _money(result.shocked_price),
        "final_price": _money(result.final_price),
        "final_marks": {name: _money(mark) for name, mark in sorted(result.final_marks.items())},
        "converged": result.converged,
        "rounds": [
            {
                "round": r.number, "price": _money(r.price),
                "marks": {name: _money(mark) for name, mark in sorted(r.marks.items())},
                "positions": r.positions, "accounts": r.accounts, "notional": _money(r.notional),
                "shortfall": _money(r.shortfall),
            }
            for r in result.rounds
        ],
        "liquidated_notional": _money(result.liquidated_notional),
        "liquidated_size": _money(result.liquidated_size),
        "positions": result.positions,
        "accounts": result.accounts,
        "slippage": _money(result.slippage),
        "fees": _money(result.fees),
        "shortfall": _money(result.shortfall),
        "insurance_fund_draw": _money(result.insurance_fund_draw),
        "beyond_fund": _money(result.beyond_fund),
        "shortfall_rule": result.shortfall_rule,
        "insurance_fund_end": _money(result.insurance_fund_end),
    }  # fmt: skip


def forecast_document(
    described: str, base: str, rulebook: str, shock: "Shock", names: Sequence[str], orders: str, fund: float,
    moves: Sequence[Decimal], results: Sequence["MoveForecast"],
) -> dict[str, Any]:  # fmt: skip
    """The ``--json`` document: the book (``described``, ``base``, ``rulebook``), what moved (``target``, the
    ``moved`` instruments, the ``reference`` whose mark is each result's price), ``orders``, the insurance fund
    at the start (base currency), and each move's forecast (:func:`move_document`)."""
    return {
        "version": FORECAST_VERSION,
        "book": described,
        "base": base,
        "rulebook": rulebook,
        "target": shock.target,
        "moved": [names[i] for i in shock.instruments],
        "reference": names[shock.reference],
        "orders": orders,
        "insurance_fund": _money(fund),
        "moves": [move_document(move, result) for move, result in zip(moves, results, strict=True)],
    }


def _never(seconds: float) -> str | None:
    """A median time (s) as a string; None where it is infinite (more likely never than reached)."""
    return float_string(seconds)


def odds_document(odds: "BookOdds", top: int, volatilities: dict[str, float]) -> dict[str, Any]:
    """The ``odds`` key: the horizon, the volatilities used, and the ``top`` likeliest accounts (0: all), by
    probability descending."""
    ranked = odds.ranked(None if top == 0 else top)
    rows = []
    for k in ranked:
        pool = int(odds.account_pool[k])
        dominant = int(odds.dominant[pool]) if pool >= 0 else -1
        rows.append({
            "account": odds.accounts[k], "probability": _money(float(odds.account_probability[k])),
            "median_s": _never(float(odds.account_median_s[k])),
            "health": _money(float(odds.health[pool])) if pool >= 0 else None,
            "dominant": odds.factors[dominant] if dominant >= 0 else None,
        })  # fmt: skip
    return {
        "horizon_s": _money(odds.horizon_s),
        "volatilities": {name: _money(vol) for name, vol in sorted(volatilities.items())},
        "accounts_total": len(odds.accounts),
        "accounts_listed": len(rows),
        "accounts": rows,
    }


def buffer_document(odds: "BookOdds", calibration: "Calibration", top: int) -> dict[str, Any]:
    """The ``buffer`` key: the reaction time and miss probability, the book's summary (accounts whose maintenance
    margin or current health falls short, the multiple of the maintenance margin that suffices at
    :data:`PERCENTILES`), and the ``top`` accounts of the largest multiple (0: all)."""
    from crossmargin.sim.forecast_odds import buffer_quantile

    pools = calibration.account_pool
    has = np.flatnonzero(pools >= 0)
    short_mm = int((~calibration.mm_meets[pools[has]]).sum())
    short_health = int((~calibration.health_meets[pools[has]]).sum())
    multiples = calibration.mm_multiple[pools[has]]
    order = has[np.lexsort((has, -multiples))]
    rows = []
    for k in order if top == 0 else order[:top]:
        pool = int(pools[k])
        rows.append({
            "account": odds.accounts[k], "buffer": _money(float(calibration.buffer[pool])),
            "mm_multiple": _money(float(calibration.mm_multiple[pool])),
            "price_move": _money(float(calibration.price_move[pool])),
            "dominant": odds.factors[int(odds.dominant[pool])] if odds.dominant[pool] >= 0 else None,
            "mm_meets": bool(calibration.mm_meets[pool]), "health_meets": bool(calibration.health_meets[pool]),
        })  # fmt: skip
    return {
        "reaction_s": _money(calibration.reaction_s),
        "miss": _money(calibration.miss),
        "quantile": _money(buffer_quantile(calibration.miss)),
        "accounts_with_margin": len(has),
        "accounts_short_mm": short_mm,
        "accounts_short_health": short_health,
        "mm_multiple": {f"p{q}": _money(calibration.book_multiple(odds, float(q))) for q in PERCENTILES},
        "accounts": rows,
    }


def _view(document: dict[str, Any]) -> Group:
    """The summary table (a row per move) and the rounds table (a row per round of each move)."""
    base = document["base"]
    summary = Table(title=f"Cascade forecast: {document['target']} moved ({document['reference']}'s mark shown)")
    for name in ("move", "shocked", "final", "rounds", "accounts", "positions", f"notional ({base})",
                 f"shortfall ({base})", f"fund draw ({base})", f"beyond fund ({base})"):  # fmt: skip
        summary.add_column(name, justify="right")
    rounds = Table(title="Rounds")
    for name in ("move", "round", "price", "accounts", "positions", f"notional ({base})", f"shortfall ({base})"):
        rounds.add_column(name, justify="right")
    for item in document["moves"]:
        ended = "" if item["converged"] else " (limit)"
        summary.add_row(
            item["move"], item["shocked_price"], item["final_price"], f"{len(item['rounds'])}{ended}",
            f"{item['accounts']:,}", f"{item['positions']:,}", item["liquidated_notional"], item["shortfall"],
            item["insurance_fund_draw"], item["beyond_fund"],
        )  # fmt: skip
        for r in item["rounds"]:
            rounds.add_row(
                item["move"], str(r["round"]), r["price"], f"{r['accounts']:,}", f"{r['positions']:,}", r["notional"],
                r["shortfall"],
            )  # fmt: skip
    parts: list[Any] = [summary, rounds] if rounds.rows else [summary]
    odds = document.get("odds")
    if odds is not None and "unavailable" in odds:
        parts.append(f"Liquidation odds left out: {odds['unavailable']}")
    elif odds is not None:
        table = Table(title=f"Likeliest liquidations within {odds['horizon_s']} s "
                      f"({odds['accounts_listed']:,} of {odds['accounts_total']:,} accounts)")  # fmt: skip
        for name in ("account", "probability", "median (s)", f"health ({base})", "dominant"):
            table.add_column(name, justify="right")
        for row in odds["accounts"]:
            table.add_row(row["account"], row["probability"], row["median_s"] or "never", row["health"] or "",
                          row["dominant"] or "")  # fmt: skip
        parts.append(table)
    buffer = document.get("buffer")
    if buffer is not None:
        multiples = ", ".join(f"{k} {v}" for k, v in buffer["mm_multiple"].items())
        table = Table(title=f"Buffer for a reaction of {buffer['reaction_s']} s missing at most {buffer['miss']}: "
                      f"{buffer['accounts_short_mm']:,} of {buffer['accounts_with_margin']:,} accounts' maintenance "
                      f"margin short; multiple of MM needed {multiples}")  # fmt: skip
        for name in ("account", f"buffer ({base})", "x MM", "move (log)", "dominant", "MM meets", "health meets"):
            table.add_column(name, justify="right")
        for row in buffer["accounts"]:
            table.add_row(row["account"], row["buffer"], row["mm_multiple"], row["price_move"] or "",
                          row["dominant"] or "", str(row["mm_meets"]), str(row["health_meets"]))  # fmt: skip
        parts.append(table)
    return Group(*parts)


def forecast(
    file: Annotated[
        Path | None, typer.Argument(help="Portfolio document (.yaml, .yml or .json).", show_default=False)
    ] = None,
    generate: Annotated[
        str | None,
        typer.Option(
            "--generate",
            metavar="N",
            help=f"Forecast a synthetic book of N accounts ({MIN_ACCOUNTS} to {MAX_ACCOUNTS:,}).",
        ),
    ] = None,
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of a generated book.")] = "7",
    instrument: Annotated[
        str | None,
        typer.Option(
            "--instrument",
            metavar="I",
            help="The instrument whose mark moves, or an underlying: every instrument on it and its price (default: "
            "the underlying of the largest open notional).",
        ),
    ] = None,
    moves: Annotated[
        str, typer.Option("--moves", metavar="M1,M2,...", help="Moves of the price, fractions: -0.05 is 5 % down.")
    ] = DEFAULT_MOVES,
    orders: Annotated[str, typer.Option("--orders", help=ORDERS_HELP)] = "account",
    horizon: Annotated[
        str | None,
        typer.Option("--horizon", metavar="SECONDS", help="Horizon of the liquidation odds (default one day)."),
    ] = None,
    top: Annotated[
        str, typer.Option("--top", metavar="N", help="Accounts listed in the odds and buffer (0: all).")
    ] = DEFAULT_TOP,
    vols: Annotated[
        str | None,
        typer.Option(
            "--vols",
            metavar="A=V,...",
            help="Annualized volatilities (*=V: every asset not named; default: the document's vols).",
        ),
    ] = None,
    reaction_time: Annotated[
        str | None,
        typer.Option("--reaction-time", metavar="SECONDS", help="An agent's reaction time: the buffer it needs."),
    ] = None,
    miss: Annotated[
        str | None,
        typer.Option("--miss", metavar="E", help=f"The chance the agent may miss (default {DEFAULT_MISS})."),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the versioned JSON result instead of tables.")
    ] = False,
) -> None:
    """Forecast the liquidation cascade of each move of a price from the book, in seconds at a million accounts:
    rounds of liquidations, their fills' impact on the marks, the bad debt and who pays it."""
    from crossmargin.sim.forecast import Orders as OrderKinds

    with user_errors():
        if file is not None and generate is not None:
            raise InputError("--generate", "give a document or --generate, not both")
        if file is None and generate is None:
            raise InputError("DOC", "give a portfolio document or --generate N")
        accounts = None if generate is None else parse_count(generate, "--generate", MIN_ACCOUNTS, MAX_ACCOUNTS)
        book_seed = parse_count(seed, "--seed", 0, MAX_SEED)
        shocks = parse_moves(moves)
        if orders not in {o.value for o in OrderKinds}:
            raise InputError("--orders", f"must be one of {', '.join(o.value for o in OrderKinds)}, got {orders!r}")
        ask = _OddsAsk(
            parse_seconds(horizon or DEFAULT_HORIZON, "--horizon"), parse_count(top, "--top", 0, MAX_TOP),
            None if vols is None else parse_vols(vols),
            None if reaction_time is None else parse_seconds(reaction_time, "--reaction-time"),
            parse_miss(miss or DEFAULT_MISS), horizon is not None or vols is not None or reaction_time is not None,
        )  # fmt: skip
        if miss is not None and reaction_time is None:
            raise InputError("--miss", "give --reaction-time with it")
        document = _forecast(file, accounts, book_seed, instrument, shocks, OrderKinds(orders), ask)
    if json_output:
        typer.echo(json.dumps(document, indent=2))
    else:
        emit_view(_view(document))


@dataclass(frozen=True)
class _OddsAsk:
    """What the odds options ask: the horizon (s), how many accounts to list (0: all), the volatilities given
    (None: the document's), the reaction time (s; None: no buffer) and the miss probability, and whether a
    missing volatility is an error (an odds option was given) or leaves the odds out."""

    horizon_s: float
    top: int
    vols: dict[str, float] | None
    reaction_s: float | None
    miss: float
    asked: bool


def _volatilities(book: "RiskBook", given: dict[str, float] | None) -> dict[str, float] | None:
    """``--vols`` over the book's assets and underlyings (``*`` for every one not named); None: the document's."""
    if given is None:
        return None
    names = {book.instrument_table[n].underlying for n in book.instruments.names} | set(book.assets.names)
    fallback = given.get("*")
    found = {name: value for name, value in given.items() if name != "*"}
    if fallback is not None:
        found |= {name: fallback for name in names if name not in found}
    return found


def _odds(book: "RiskBook", prices: "LiquidationPrices", ask: _OddsAsk) -> dict[str, Any]:
    """The ``odds`` key (and ``buffer`` when asked) of the document; where a volatility is missing and no odds
    option was given, the odds left out with the reason."""
    from crossmargin.sim.forecast_odds import book_odds, calibrate

    vols = _volatilities(book, ask.vols)
    try:
        odds = book_odds(book, ask.horizon_s, vols, prices=prices)
    except InputError as err:
        if ask.asked:
            field = "--vols" if err.field.startswith(("vols.", "volatilities.")) else err.field
            raise InputError(field, f"{err.field}: {err.message}" if field != err.field else err.message) from None
        return {"odds": {"unavailable": f"{err.field}: {err.message}"}}
    used = dict(zip(odds.factors, odds.volatilities, strict=True))
    document = {"odds": odds_document(odds, ask.top, used)}
    if ask.reaction_s is not None:
        document["buffer"] = buffer_document(odds, calibrate(odds, ask.reaction_s, ask.miss), ask.top)
    return document


def _forecast(
    file: Path | None, accounts: int | None, seed: int, instrument: str | None, moves: list[Decimal], orders: "Orders",
    ask: _OddsAsk,
) -> dict[str, Any]:  # fmt: skip
    """Read or generate the book, then forecast each move, with a progress bar (module doc)."""
    from crossmargin.cli.stress import book_from_file
    from crossmargin.engine.book import RiskBook
    from crossmargin.sim.forecast import forecast_move, prepare, shock_of
    from crossmargin.sim.population import synthetic_book
    from crossmargin.sim.stress.configs import default_insurance_fund, default_liquidity
    from crossmargin.venues import rulebook

    if file is not None:
        portfolio, rules, terms, liquidity, fund, _ = book_from_file(file)
        described = str(file)
    else:
        assert accounts is not None
        portfolio = synthetic_book(accounts, seed)
        generic = rulebook("generic")
        rules, terms, liquidity, fund = generic.rules, generic.liquidation, {}, None
        described = f"synthetic_book({accounts}, seed={seed}), generic rulebook"
    liquidity = liquidity or default_liquidity(portfolio)
    fund = default_insurance_fund(portfolio) if fund is None else fund
    with _progress() as progress:
        task = progress.add_task("risk book", total=3 + len(moves))
        book = RiskBook(portfolio, rules)
        try:
            shock = shock_of(book, instrument)
        except InputError as err:
            raise InputError("--instrument", err.message) from None
        progress.update(task, advance=1, description="liquidation prices")
        prepared = prepare(book, terms, liquidity, float(fund))
        results = []
        for move in moves:
            progress.update(task, advance=1, description=f"move {decimal_string(move)}")
            results.append(forecast_move(prepared, shock, float(move), orders))
        progress.update(task, advance=1, description="liquidation odds")
        odds = _odds(book, prepared.prices, ask)
        progress.update(task, advance=1)
    document = forecast_document(
        described, portfolio.base, portfolio.rulebook, shock, book.instruments.names, str(orders), float(fund),
        moves, results,
    )  # fmt: skip
    return document | odds
