"""Peer benchmark: crossmargin's exact figures of one account and its risk book against nautilus_trader,
freqtrade and driftpy, on the same positions of one generated book, in interleaved rounds.

    .venv/bin/python benchmarks/peers.py --accounts 100000 --sample 2000 \\
        --peer-python nautilus=/work/peer-envs/nautilus/bin/python \\
        --peer-python freqtrade=/work/peer-envs/freqtrade/bin/python \\
        --peer-python drift=/work/peer-envs/drift/bin/python

The peers are not crossmargin dependencies: each lives in its own environment (benchmarks/peer_envs/README.md
makes them) and runs this same file as a worker (``--worker PEER``) under that environment's Python. A peer
without ``--peer-python`` is tried under this interpreter and skipped, with a note, when it is not installed.

The book is ``synthetic_book(accounts, seed)`` under the generic rulebook; the sample is every
``accounts // sample``-th account, as the risk-book benchmark samples its exact figures. The parent writes the
sample (each account's cross positions and balances, the marks and prices, every instrument's brackets) to a
temporary JSON file; each worker builds its peer's own objects from it once (untimed, as crossmargin's objects
are built before it is timed), answers once (its figures, for the agreement check, and a warm-up), then times
its computation for every sampled account whenever the parent says so. Round r: crossmargin's paths, then each
peer in turn, one process at a time, so machine noise falls on all alike. Each account is timed alone; a
path's round figure is the median (and the mean) over the sample; the table gives the median over rounds and
the spread (lowest and highest round).

What each path computes, per account (the cross pool: balances and every position without isolated margin):

- crossmargin exact: ``evaluate_pool(cross_pool(account))`` in the exact context (``crossmargin.sim.benchmark``
  measures "exact us/account" so): collateral with haircuts, uPnL, equity, IM and MM from the brackets, free
  collateral, margin ratio, verdict, all ``Decimal``.
- crossmargin exact, compiled: the same figures (but the margin ratio, one quotient of two of them) on the
  compiled exact path over the risk book's scaled-integer columns (``book_verdicts``: 128-bit integers, digit
  for digit the ``Decimal`` figures, checked on the sample), the sample's cross pools in one call, and the pools
  it does not hold (an inverse contract's quotients, a number of more than 18 digits) by ``evaluate_pool``:
  per account, the whole over the sample. Beside it the pools it holds alone.
- crossmargin risk book: ``RiskBook.revalue()`` (every position and pool of the whole book, on every core and
  held to one thread) over the book's accounts; the array liquidation prices ``book_liquidation_prices`` over
  the book's positions.
- nautilus_trader: ``MarginAccount.calculate_margin_init`` and ``calculate_margin_maint`` (StandardMarginModel:
  notional x rate) of each position at the mark, summed by currency. One rate per instrument: our first
  bracket's ``imr`` and ``mmr`` (nautilus has no brackets), so it answers our question only for accounts whose
  positions all sit in the first bracket. Every instrument is a ``CryptoPerpetual`` (BTC-FUT too), the inverse
  ones with ``is_inverse`` and our contract size as multiplier.
- freqtrade: ``Exchange.get_maintenance_ratio_and_amt`` (Binance, backtest mode, our brackets as its leverage
  tiers) and ``notional x ratio - amount`` for each position, summed by settle asset: maintenance margin
  only. Inverse positions are looked up by their coin notional in the same tables (freqtrade trades no
  inverse contracts; the lookup is the same). Beside it, its liquidation price
  (``Binance.dry_run_liquidation_price``) of every linear cross position, next to crossmargin's exact
  liquidation prices (``evaluate_account``) and its array ones, per position.
- driftpy: ``DriftUser.get_margin_requirement`` (initial and maintenance) on hand-built state (perp markets
  with our first bracket's rates in 1e-4 units, oracle prices in 1e-6, sizes in 1e-9, the user's perp
  positions, no spot positions, no network). Drift lists no inverse contracts: an account's inverse positions
  are left out of its figures and its time (the positions covered are reported).

Agreement (1e-9 relative, on the accounts that hold cross positions, where the peer answers our question;
the share within 1e-6 and the largest difference beside it): nautilus on IM and MM where every position is in
its first bracket; freqtrade on MM everywhere; driftpy on IM and MM where every position is linear and in its
first bracket. What is left are the peers' own roundings, not other rules: nautilus computes a notional in
float64 and rounds notional and margin to the currency's 8 decimals (1e-8 BTC on an inverse position's margin
is about 1e-6 of it; an initial rate such as 1/75 rounds too); driftpy truncates to 1e-6 quote units, holds
prices to 1e-6 (a mark of 0.0105808 becomes 0.010581) and rates to 1e-4 (1/75 becomes 0.0133). nautilus's own
AccountsManager values maintenance margin at the position's average open price; here its margin account is
asked at the mark, our question.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossmargin.model import Account, Portfolio

PEERS = ("nautilus", "freqtrade", "drift")
TOLERANCE = Decimal("1e-9")
"""Relative difference under which a peer's figure agrees with crossmargin's."""
LOOSE_TOLERANCE = Decimal("1e-6")
"""A second, looser level, to tell rounding (a peer's fixed-point or currency quanta) from another rule."""
LIQUIDATION_TOLERANCE = 1e-6
"""The liquidation-price check's relative tolerance (freqtrade's closed form in floats)."""

Spec = dict[str, Any]
"""The sample as JSON: ``instruments`` (name -> inverse, contract size, underlying, settle, brackets as
``[max_notional or None, mmr, imr, maint_amount]``), ``marks``, ``prices`` (asset -> base currency), and
``accounts`` (id, balances, cross positions as ``[instrument, size, entry]``), every number a decimal string."""
Calls = list[Callable[[], Any] | None]
"""One call per sampled account (``None`` where the path has nothing to do for it)."""


# -- timing, shared by the parent and the workers ---------------------------------------------------------


def time_each(calls: Sequence[Callable[[], Any] | None]) -> tuple[list[float | None], float]:
    """Each call's wall time in microseconds (``None`` for a missing call), and the whole loop's."""
    gc.collect()
    clock = time.perf_counter
    times: list[float | None] = []
    begin = clock()
    for call in calls:
        if call is None:
            times.append(None)
            continue
        start = clock()
        call()
        times.append((clock() - start) * 1e6)
    return times, (clock() - begin) * 1e6


def _decimals(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    return max(0, -int(exponent))


# -- the peers' glue (runs under the peer's Python; nothing from crossmargin) --------------------------------


def nautilus_calls(spec: Spec) -> tuple[dict[str, Calls], str]:
    """Per account: nautilus_trader's margin account's initial and maintenance margin of each position."""
    objects = importlib.import_module("nautilus_trader.model.objects")
    ids = importlib.import_module("nautilus_trader.model.identifiers")
    enums = importlib.import_module("nautilus_trader.model.enums")
    instruments_module = importlib.import_module("nautilus_trader.model.instruments")
    events = importlib.import_module("nautilus_trader.model.events")
    uuid = importlib.import_module("nautilus_trader.core.uuid")
    accounts_module = importlib.import_module("nautilus_trader.accounting.accounts.margin")
    models = importlib.import_module("nautilus_trader.accounting.margin_models")
    currency = objects.Currency.from_str
    usdt = currency("USDT")
    state = events.AccountState(
        ids.AccountId("SIM-001"), enums.AccountType.MARGIN, None, True,
        [objects.AccountBalance(objects.Money(0, usdt), objects.Money(0, usdt), objects.Money(0, usdt))],
        [], {}, uuid.UUID4(), 0, 0,
    )  # fmt: skip
    account = accounts_module.MarginAccount(state)
    account.set_margin_model(models.StandardMarginModel())
    sizes: dict[str, list[str]] = {}
    for a in spec["accounts"]:
        for name, size, _ in a["positions"]:
            sizes.setdefault(name, []).append(size)
    instruments = {}
    for name, i in spec["instruments"].items():
        price_precision = _decimals(spec["marks"][name])
        size_precision = max((_decimals(s) for s in sizes.get(name, ["1"])), default=0)
        instruments[name] = instruments_module.CryptoPerpetual(
            instrument_id=ids.InstrumentId(ids.Symbol(name), ids.Venue("SIM")),
            raw_symbol=ids.Symbol(name),
            base_currency=currency(i["underlying"]),
            quote_currency=currency("USD" if i["inverse"] else i["settle"]),
            settlement_currency=currency(i["settle"]),
            is_inverse=i["inverse"],
            price_precision=price_precision,
            size_precision=size_precision,
            price_increment=objects.Price(Decimal(1).scaleb(-price_precision), price_precision),
            size_increment=objects.Quantity(Decimal(1).scaleb(-size_precision), size_precision),
            multiplier=objects.Quantity.from_str(i["contract_size"]),
            margin_init=Decimal(i["tiers"][0][2]),
            margin_maint=Decimal(i["tiers"][0][1]),
            maker_fee=Decimal(0),
            taker_fee=Decimal(0),
            ts_event=0,
            ts_init=0,
        )
    marks = {name: objects.Price.from_str(mark) for name, mark in spec["marks"].items()}
    long, short = enums.PositionSide.LONG, enums.PositionSide.SHORT
    init, maint = account.calculate_margin_init, account.calculate_margin_maint

    def margins(rows: list[tuple[Any, Any, Any, Any]]) -> dict[str, dict[str, str]]:
        im: dict[str, Decimal] = {}
        mm: dict[str, Decimal] = {}
        for instrument, side, quantity, price in rows:
            m = init(instrument, quantity, price)
            code = m.currency.code
            im[code] = im.get(code, Decimal(0)) + m.as_decimal()
            mm[code] = mm.get(code, Decimal(0)) + maint(instrument, side, quantity, price).as_decimal()
        return {"im": {k: str(v) for k, v in im.items()}, "mm": {k: str(v) for k, v in mm.items()}}

    calls: Calls = []
    for a in spec["accounts"]:
        rows = [
            (instruments[name], long if Decimal(size) > 0 else short, objects.Quantity.from_str(size.lstrip("-")),
             marks[name])
            for name, size, _ in a["positions"]
        ]  # fmt: skip
        calls.append(functools.partial(margins, rows))
    return {"margin": calls}, importlib.import_module("nautilus_trader").__version__


def freqtrade_exchange(spec: Spec) -> Any:
    """A freqtrade Binance exchange object in backtest mode, with crossmargin's brackets as its tiers."""
    enums = importlib.import_module("freqtrade.enums")
    binance = importlib.import_module("freqtrade.exchange.binance")
    exchange = binance.Binance.__new__(binance.Binance)
    exchange._exchange_ws = None  # read by its destructor
    exchange._config = {"runmode": enums.RunMode.BACKTEST}
    exchange.margin_mode = enums.MarginMode.CROSS
    exchange.trading_mode = enums.TradingMode.FUTURES
    tiers: dict[str, list[dict[str, float]]] = {}
    for name, instrument in spec["instruments"].items():
        floor = 0.0
        rows = []
        for cap, mmr, _, amount in instrument["tiers"]:
            rows.append({"minNotional": floor, "maintenanceMarginRate": float(mmr), "maintAmt": float(amount)})
            floor = float(cap) if cap is not None else floor
        tiers[name] = rows
    exchange._leverage_tiers = tiers
    return exchange


@dataclasses.dataclass(frozen=True)
class Trade:
    """The fields of a freqtrade trade its liquidation-price function reads."""

    pair: str
    amount: float
    open_rate: float
    stake_amount: float


def freqtrade_calls(spec: Spec) -> tuple[dict[str, Calls], str]:
    """Per account: freqtrade's maintenance ratio and amount of each position (maintenance margin by settle
    asset), and the liquidation price of each linear position (``None`` for an account without one)."""
    exchange = freqtrade_exchange(spec)
    ratio_and_amount = exchange.get_maintenance_ratio_and_amt
    liquidation_price = exchange.dry_run_liquidation_price
    instruments = spec["instruments"]

    def maintenance(rows: list[tuple[str, float, float, bool, str]]) -> dict[str, dict[str, float]]:
        mm: dict[str, float] = {}
        for pair, units, mark, inverse, settle in rows:
            notional = units / mark if inverse else units * mark
            rate, amount = ratio_and_amount(pair, notional)
            mm[settle] = mm.get(settle, 0.0) + notional * rate - (amount or 0.0)
        return {"mm": mm}

    def liquidation(trades: list[Trade], shorts: list[bool], wallet: float) -> list[float | None]:
        return [
            liquidation_price(
                pair=t.pair, open_rate=t.open_rate, is_short=short, amount=t.amount, stake_amount=t.stake_amount,
                leverage=1.0, wallet_balance=wallet, open_trades=trades,
            )
            for t, short in zip(trades, shorts, strict=True)
        ]  # fmt: skip

    margin: Calls = []
    prices: Calls = []
    for a in spec["accounts"]:
        rows = []
        for name, size, _ in a["positions"]:
            i = instruments[name]
            units = float(abs(Decimal(size)) * Decimal(i["contract_size"]))
            rows.append((name, units, float(spec["marks"][name]), bool(i["inverse"]), str(i["settle"])))
        margin.append(functools.partial(maintenance, rows))
        linear = [(name, Decimal(size), Decimal(entry)) for name, size, entry in a["positions"]
                  if not instruments[name]["inverse"]]  # fmt: skip
        if not linear:
            prices.append(None)
            continue
        trades = [Trade(name, float(abs(size)), float(entry), float(abs(size) * entry)) for name, size, entry in linear]
        shorts = [size < 0 for _, size, _ in linear]
        wallet = float(sum((Decimal(v) for v in a["balances"].values()), Decimal(0)))
        prices.append(functools.partial(liquidation, trades, shorts, wallet))
    return {"maintenance": margin, "liquidation": prices}, importlib.import_module("freqtrade").__version__


def drift_calls(spec: Spec) -> tuple[dict[str, Calls], str]:
    """Per account: driftpy's margin requirement (initial and maintenance) of its linear perp positions."""
    from importlib.metadata import version

    types = importlib.import_module("driftpy.types")
    user_module = importlib.import_module("driftpy.drift_user")
    margin_module = importlib.import_module("driftpy.math.margin")
    data_and_slot = importlib.import_module("driftpy.accounts.types").DataAndSlot

    def build(cls: Any, **given: Any) -> Any:
        """A driftpy account dataclass with ``given`` fields and every other field zero (or empty)."""
        values = {
            f.name: given.get(f.name, [] if str(f.type).startswith("list") else 0) for f in dataclasses.fields(cls)
        }
        return cls(**values)

    def oracle(price: int) -> Any:
        return types.OraclePriceData(price, 0, 0, price, 0, True)

    linear = [name for name, i in spec["instruments"].items() if not i["inverse"]]
    index = {name: k for k, name in enumerate(linear)}
    markets = {
        index[name]: build(
            types.PerpMarketAccount, market_index=index[name], status=types.MarketStatus.Active(),
            margin_ratio_initial=round(Decimal(i["tiers"][0][2]) * 10_000),
            margin_ratio_maintenance=round(Decimal(i["tiers"][0][1]) * 10_000),
            contract_type=types.ContractType.Perpetual(), contract_tier=types.ContractTier.A(),
            quote_spot_market_index=0,
        )
        for name, i in spec["instruments"].items() if name in index
    }  # fmt: skip
    oracles = {index[name]: oracle(round(Decimal(spec["marks"][name]) * 1_000_000)) for name in linear}
    quote_market = build(types.SpotMarketAccount, market_index=0)
    quote_oracle = oracle(round(Decimal(spec["prices"]["USDT"]) * 1_000_000))

    class Client:
        """The lookups DriftUser makes of its DriftClient, from the hand-built accounts."""

        def get_perp_market_account(self, market_index: int) -> Any:
            return markets[market_index]

        def get_oracle_price_data_for_perp_market(self, market_index: int) -> Any:
            return oracles[market_index]

        def get_spot_market_account(self, market_index: int) -> Any:
            return quote_market

        def get_oracle_price_data_for_spot_market(self, market_index: int) -> Any:
            return quote_oracle

    class Subscriber:
        def __init__(self, account: Any) -> None:
            self.data = data_and_slot(0, account)

        def get_user_account_and_slot(self) -> Any:
            return self.data

    client = Client()
    initial, maintenance = margin_module.MarginCategory.INITIAL, margin_module.MarginCategory.MAINTENANCE

    def requirement(user: Any) -> dict[str, dict[str, str]]:
        im = user.get_margin_requirement(initial)
        mm = user.get_margin_requirement(maintenance, 0)
        return {"im": {"USDT": str(Decimal(im).scaleb(-6))}, "mm": {"USDT": str(Decimal(mm).scaleb(-6))}}

    calls: Calls = []
    for a in spec["accounts"]:
        positions = []
        for name, size, entry in a["positions"]:
            if name not in index:
                continue
            base = Decimal(size) * Decimal(spec["instruments"][name]["contract_size"])
            positions.append(
                build(types.PerpPosition, market_index=index[name], base_asset_amount=int(base.scaleb(9)),
                      quote_asset_amount=-round(base * Decimal(entry) * 1_000_000))
            )  # fmt: skip
        user = user_module.DriftUser.__new__(user_module.DriftUser)
        user.drift_client = client
        user.account_subscriber = Subscriber(
            build(types.UserAccount, perp_positions=positions, margin_mode=types.MarginMode.Default())
        )
        calls.append(functools.partial(requirement, user))
    return {"margin": calls}, version("driftpy")


PEER_CALLS: dict[str, Callable[[Spec], tuple[dict[str, Calls], str]]] = {
    "nautilus": nautilus_calls,
    "freqtrade": freqtrade_calls,
    "drift": drift_calls,
}


def worker(peer: str, sample: Path) -> None:
    """The peer's side: build its objects, answer once, then time every account on each ``round`` line."""
    import platform

    def say(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    spec = json.loads(sample.read_text())
    try:
        tasks, version = PEER_CALLS[peer](spec)
    except ImportError as error:
        say({"error": f"{peer} is not installed under {sys.executable}: {error}"})
        return
    figures = {name: [call() if call is not None else None for call in calls] for name, calls in tasks.items()}
    say({"version": version, "python": platform.python_version(), "executable": sys.executable, "figures": figures})
    for line in sys.stdin:
        if line.strip() != "round":
            break
        rounds = {}
        for name, calls in tasks.items():
            times, total = time_each(calls)
            rounds[name] = {"times": times, "total_us": total}
        say(rounds)


# -- crossmargin's side ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Peer:
    """A running worker."""

    name: str
    process: subprocess.Popen[str]
    version: str
    python: str
    figures: dict[str, list[Any]]

    def round(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        reply: dict[str, Any] = json.loads(self.process.stdout.readline())
        return reply

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def start_peer(name: str, python: str, sample: Path) -> Peer | str:
    """The peer's worker, ready (its figures read), or why it is not there."""
    process = subprocess.Popen(
        [python, str(Path(__file__).resolve()), "--worker", name, "--sample-file", str(sample)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        return f"{name}: the worker under {python} stopped (exit code {process.returncode})"
    ready = json.loads(line)
    if "error" in ready:
        process.wait()
        return str(ready["error"])
    return Peer(name, process, ready["version"], ready["python"], ready["figures"])


def sample_spec(portfolio: Portfolio, accounts: Sequence[Account]) -> Spec:
    """The sample as the workers read it (see ``Spec``)."""
    instruments = {
        name: {
            "inverse": i.inverse,
            "contract_size": str(i.contract_size),
            "underlying": i.underlying,
            "settle": i.settle,
            "tiers": [
                [None if t.max_notional is None else str(t.max_notional), str(t.mmr), str(t.imr), str(t.maint_amount)]
                for t in i.tiers.tiers
            ],
        }
        for name, i in portfolio.instruments.items()
    }
    return {
        "instruments": instruments,
        "marks": {name: str(mark) for name, mark in portfolio.market.marks.items()},
        "prices": {asset: str(price) for asset, price in portfolio.market.prices.items()},
        "accounts": [
            {
                "id": a.id,
                "balances": {asset: str(amount) for asset, amount in a.balances.items()},
                "positions": [[p.instrument, str(p.size), str(p.entry_price)] for p in a.positions if not p.isolated],
            }
            for a in accounts
        ],
    }


@dataclasses.dataclass
class Series:
    """One path's timings over the rounds, in microseconds: per round, every sampled account's time (divided by
    its positions for a per-position path; ``None`` where it has none), or one figure per round for a
    whole-book path.

    ``median``: the median over rounds of each round's median over the sample. ``mean``: the mean over the sample
    of each account's median over rounds (what the path costs a whole book per account, an account preempted in
    one round by another process on this shared machine not counting); for a whole-book path, the median over
    rounds. ``spread``: the lowest and highest round median."""

    label: str
    unit: str
    what: str
    rounds: list[list[float | None]] = dataclasses.field(default_factory=list)
    whole: list[float] = dataclasses.field(default_factory=list)

    def add(self, times: Sequence[float | None], divisors: Sequence[int] | None = None) -> None:
        """A round of per-account times, each divided by its divisor (positions) where given."""
        self.rounds.append(
            [
                None
                if t is None or (divisors is not None and not divisors[k])
                else t / (divisors[k] if divisors else 1)
                for k, t in enumerate(times)
            ]
        )

    def add_whole(self, per_unit: float) -> None:
        self.whole.append(per_unit)

    @property
    def measured(self) -> bool:
        return bool(self.rounds or self.whole)

    @property
    def medians(self) -> list[float]:
        if self.whole:
            return self.whole
        return [statistics.median(v for v in values if v is not None) for values in self.rounds]

    @property
    def means(self) -> list[float]:
        if self.whole:
            return self.whole
        return [statistics.fmean(v for v in values if v is not None) for values in self.rounds]

    @property
    def median(self) -> float:
        return statistics.median(self.medians)

    @property
    def mean(self) -> float:
        if self.whole:
            return statistics.median(self.whole)
        per_account = zip(*self.rounds, strict=True)
        return statistics.fmean(statistics.median(values) for values in per_account if values[0] is not None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "what": self.what,
            "median_us": self.median,
            "mean_us": self.mean,
            "round_medians_us": self.medians,
            "round_means_us": self.means,
            "spread_us": [min(self.medians), max(self.medians)],
        }


def _in_base(figures: dict[str, Any], prices: dict[str, Decimal]) -> Decimal:
    return sum((Decimal(str(v)) * prices[asset] for asset, v in figures.items()), Decimal(0))


def _relative(theirs: Decimal, ours: Decimal) -> Decimal:
    if ours == 0:
        return Decimal(0) if theirs == 0 else Decimal("Infinity")
    return abs(theirs - ours) / abs(ours)


def agreement(
    peer: str, answers: list[Any], ours: list[tuple[Decimal, Decimal, bool, bool]], prices: dict[str, Decimal]
) -> dict[str, Any]:
    """How often the peer's account figures agree with ours within ``TOLERANCE`` (relative), on the accounts
    where it answers our question (see the module doc), and the largest difference there. ``ours``: each
    account's (IM, MM, every position in its first bracket, every position linear), base currency."""
    compared = agree = close = 0
    worst = Decimal(0)
    everywhere = 0
    for answer, (im, mm, first, linear) in zip(answers, ours, strict=True):
        if mm == 0 and im == 0:
            continue  # no cross position: nothing to compare
        differences = [_relative(_in_base(answer["mm"], prices), mm)]
        if "im" in answer:
            differences.append(_relative(_in_base(answer["im"], prices), im))
        agrees = max(differences) <= TOLERANCE
        everywhere += agrees
        same_question = {"nautilus": first, "freqtrade": True, "drift": first and linear}[peer]
        if same_question:
            compared += 1
            agree += agrees
            close += max(differences) <= LOOSE_TOLERANCE
            worst = max(worst, *differences)
    return {
        "figures": "IM and MM" if peer != "freqtrade" else "MM",
        "accounts_compared": compared,
        "agreeing": agree,
        "agreeing_share": agree / compared if compared else None,
        "agreeing_within_1e-6": close,
        "largest_relative_difference": float(worst),
        "agreeing_among_all_accounts_with_positions": everywhere,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--book-repeats", type=int, default=5, help="full revaluations per round (median taken)")
    parser.add_argument("--peer-python", action="append", default=[], metavar="PEER=PYTHON")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/peers.json"))
    parser.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--sample-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.sample_file)
        return
    pythons = dict(item.split("=", 1) for item in args.peer_python)
    unknown = set(pythons) - set(PEERS)
    if unknown:
        parser.error(f"unknown peer(s) {sorted(unknown)}: choose from {', '.join(PEERS)}")
    run(args.accounts, args.sample, args.seed, args.rounds, args.book_repeats, pythons, args.out)


def run(
    accounts: int, sample: int, seed: int, rounds: int, book_repeats: int, pythons: dict[str, str], out: Path
) -> None:
    """The parent's run (see the module doc)."""
    import platform

    import numpy as np
    from rich.console import Console

    from crossmargin.engine.book import RiskBook
    from crossmargin.engine.book_exact import book_verdicts
    from crossmargin.engine.exact_pools import FIGURES
    from crossmargin.engine.liquidation_prices import book_liquidation_prices
    from crossmargin.margin.account import cross_pool, evaluate_account
    from crossmargin.margin.pools import evaluate_pool
    from crossmargin.model.numbers import exact
    from crossmargin.sim.benchmark import machine, median_ms, one_thread
    from crossmargin.sim.population import synthetic_book
    from crossmargin.venues import rulebook

    console = Console(width=None if sys.stdout.isatty() else 160)
    load_start = os.getloadavg()
    rules = rulebook("generic").rules
    started = time.perf_counter()
    portfolio = synthetic_book(accounts, seed)
    step = max(1, accounts // sample)
    sampled = portfolio.accounts[::step][:sample]
    book = RiskBook(portfolio, rules)
    console.log(f"book of {accounts:,} accounts ({book.position_count:,} positions) built; sample {len(sampled):,}")
    prices = dict(portfolio.market.prices)

    def exact_figures(account: Account) -> Any:
        with exact():
            return evaluate_pool(cross_pool(account), portfolio, rules)

    exact_calls = [functools.partial(exact_figures, a) for a in sampled]
    ours: list[tuple[Decimal, Decimal, bool, bool]] = []
    for a in sampled:
        figures = exact_figures(a)
        ours.append(
            (
                figures.initial_margin,
                figures.maintenance_margin,
                all(f.tier == 0 for f in figures.positions),
                all(not portfolio.instruments[f.position.instrument].inverse for f in figures.positions),
            )
        )
    linear_counts = [
        sum(1 for p in a.positions if not p.isolated and not portfolio.instruments[p.instrument].inverse)
        for a in sampled
    ]
    cross_counts = [sum(1 for p in a.positions if not p.isolated) for a in sampled]
    liquidation_calls = [
        functools.partial(evaluate_account, a, portfolio, rules) if linear_counts[k] else None
        for k, a in enumerate(sampled)
    ]
    our_liquidation = [call() if call is not None else None for call in liquidation_calls]
    book.revalue()
    book_liquidation_prices(book)
    sample_pools = np.array([book.cross_pool[a.id] for a in sampled], dtype=np.int64)
    compiled = book_verdicts(book, sample_pools)
    fallback = [functools.partial(exact_figures, a) for k, a in enumerate(sampled) if not compiled.ok[k]]

    held_pools = sample_pools[compiled.ok]

    def compiled_figures() -> None:
        """The sample's exact figures on the compiled path, the pools it does not hold by ``Decimal``."""
        book_verdicts(book, sample_pools)
        for call in fallback:
            call()

    held = np.flatnonzero(compiled.ok & compiled.initial_held)
    compiled_check = {
        "held": int(compiled.ok.sum()),
        "held_with_initial_margin": len(held),
        "equal_to_decimal": sum(
            all(compiled.figure(int(k), i) == getattr(exact_figures(sampled[int(k)]), n) for i, n in enumerate(FIGURES))
            for k in held
        ),
    }
    console.log(f"compiled exact path: {compiled_check}")

    spec = sample_spec(portfolio, sampled)
    directory = tempfile.TemporaryDirectory(prefix="crossmargin-peers-")
    sample_path = Path(directory.name) / "sample.json"
    sample_path.write_text(json.dumps(spec))
    peers: list[Peer] = []
    notes: dict[str, str] = {}
    for name in PEERS:
        started_peer = start_peer(name, pythons.get(name, sys.executable), sample_path)
        if isinstance(started_peer, str):
            notes[name] = started_peer
            console.log(f"skipped: {started_peer}")
        else:
            peers.append(started_peer)
            console.log(f"{name} {started_peer.version} ready (Python {started_peer.python})")

    series = {
        "exact": Series("crossmargin exact", "account", "evaluate_pool(cross_pool(account)) in the exact context"),
        "exact_compiled": Series(
            "crossmargin exact, compiled",
            "account",
            "book_verdicts(book, the sample's cross pools) in one call, the pools it does not hold (inverse "
            "contracts, numbers of more than 18 digits) by evaluate_pool; / accounts",
        ),
        "exact_compiled_held": Series(
            "crossmargin exact, compiled, pools it holds",
            "account",
            "book_verdicts(book, the held cross pools of the sample) in one call / those accounts",
        ),
        "book": Series("crossmargin risk book, all cores", "account", "RiskBook.revalue() / accounts, every core"),
        "book_one_thread": Series(
            "crossmargin risk book, one thread", "account", "RiskBook.revalue() / accounts, Numba held to one thread"
        ),
        "nautilus": Series(
            "nautilus_trader margin account",
            "account",
            "MarginAccount.calculate_margin_init + calculate_margin_maint per position (StandardMarginModel, one rate "
            "per instrument: our first bracket's)",
        ),
        "freqtrade": Series(
            "freqtrade maintenance ratio and amount",
            "account",
            "Exchange.get_maintenance_ratio_and_amt per position, notional x ratio - amount (MM only)",
        ),
        "drift": Series(
            "driftpy margin requirement",
            "account",
            "DriftUser.get_margin_requirement, initial and maintenance, linear perp positions only",
        ),
        "liquidation_exact": Series(
            "crossmargin exact", "position", "evaluate_account (every position's exact liquidation price) / positions"
        ),
        "liquidation_array": Series(
            "crossmargin array, whole book", "position", "book_liquidation_prices(book) / the book's positions"
        ),
        "liquidation_freqtrade": Series(
            "freqtrade", "position", "Binance.dry_run_liquidation_price per linear cross position"
        ),
    }
    median_ms(book.revalue, book_repeats)
    median_ms(one_thread(book.revalue), book_repeats)
    all_positions = [len(a.positions) for a in sampled]
    for r in range(rounds):
        times, _ = time_each(exact_calls)
        series["exact"].add(times)
        gc.collect()
        series["exact_compiled"].add_whole(median_ms(compiled_figures, book_repeats) * 1e3 / len(sampled))
        series["exact_compiled_held"].add_whole(
            median_ms(lambda: book_verdicts(book, held_pools), book_repeats) * 1e3 / max(1, len(held_pools))
        )
        gc.collect()
        series["book"].add_whole(median_ms(book.revalue, book_repeats) * 1e3 / accounts)
        series["book_one_thread"].add_whole(median_ms(one_thread(book.revalue), book_repeats) * 1e3 / accounts)
        gc.collect()
        series["liquidation_array"].add_whole(
            median_ms(lambda: book_liquidation_prices(book), 1) * 1e3 / book.position_count
        )
        times, _ = time_each(liquidation_calls)
        series["liquidation_exact"].add(times, all_positions)
        for peer in peers:
            reply = peer.round()
            if peer.name == "freqtrade":
                series["freqtrade"].add(reply["maintenance"]["times"])
                series["liquidation_freqtrade"].add(reply["liquidation"]["times"], linear_counts)
            else:
                series[peer.name].add(reply["margin"]["times"])
        figures = [f"{key} {series[key].medians[-1]:.3g}" for key in ("exact", "book", *(p.name for p in peers))]
        console.log(f"round {r + 1}/{rounds} (median us per account): {', '.join(figures)}")
    for peer in peers:
        peer.close()
    directory.cleanup()
    load_end = os.getloadavg()

    agreements: dict[str, Any] = {}
    for peer in peers:
        answers = peer.figures["maintenance" if peer.name == "freqtrade" else "margin"]
        agreements[peer.name] = agreement(peer.name, answers, ours, prices)
    liquidation_check = None
    freqtrade_peer = next((p for p in peers if p.name == "freqtrade"), None)
    if freqtrade_peer is not None:
        compared = agree = 0
        for k, a in enumerate(sampled):
            theirs_all = freqtrade_peer.figures["liquidation"][k]
            result = our_liquidation[k]
            if result is None or theirs_all is None:
                continue
            if len(a.positions) == 1 == linear_counts[k] and set(a.balances) == {"USDT"}:
                # like for like: one cross linear position on USDT alone (no other positions to hold at their
                # open price, no haircut); they differ when the bracket at the liquidation price is not the
                # bracket of the stake, which freqtrade looks up instead
                mine, theirs = result.positions[0].liquidation_price, theirs_all[0]
                if mine is not None and theirs is not None and theirs > 0:
                    compared += 1
                    agree += abs(float(mine) - theirs) <= LIQUIDATION_TOLERANCE * abs(float(mine))
        liquidation_check = {"accounts_compared": compared, "agreeing": agree, "tolerance": LIQUIDATION_TOLERANCE}

    exact_s, book_s, compiled_s = series["exact"], series["book"], series["exact_compiled"]
    ratios = {
        name: {
            "compiled_over_peer_median": compiled_s.mean / series[name].median,
            "compiled_not_slower": compiled_s.mean <= series[name].median and compiled_s.mean <= series[name].mean,
            "exact_over_peer_median": exact_s.median / series[name].median,
            "exact_over_peer_mean": exact_s.mean / series[name].mean,
            "peer_over_book_median": series[name].median / book_s.mean,
            "peer_over_book_mean": series[name].mean / book_s.mean,
            "peer_over_book_one_thread_mean": series[name].mean / series["book_one_thread"].mean,
            "exact_not_slower": exact_s.median <= series[name].median and exact_s.mean <= series[name].mean,
            "book_at_least_100x": min(series[name].median, series[name].mean) / book_s.mean >= 100,
        }
        for name in (p.name for p in peers)
    }
    coverage = {
        "drift": sum(linear_counts) / max(1, sum(cross_counts)),
        "nautilus": 1.0,
        "freqtrade": 1.0,
    }
    report = {
        "machine": machine(),
        "load_average_start": load_start,
        "load_average_end": load_end,
        "run_seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "book": {
            "accounts": accounts,
            "positions": book.position_count,
            "seed": seed,
            "rulebook": "generic",
            "sample": len(sampled),
            "sample_cross_positions": sum(cross_counts),
            "sample_linear_cross_positions": sum(linear_counts),
            "rounds": rounds,
            "book_repeats": book_repeats,
        },
        "peers": {
            p.name: {"version": p.version, "python": p.python, "positions_covered": coverage[p.name]} for p in peers
        },
        "skipped": notes,
        "series": {key: s.as_dict() for key, s in series.items() if s.measured},
        "ratios": ratios,
        "agreement": agreements,
        "liquidation_price_check": liquidation_check,
        "compiled_check": compiled_check,
    }
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print_tables(console, report)
    console.print(markdown(report), markup=False, highlight=False, soft_wrap=True)
    console.log(f"written to {out}")


ACCOUNT_ROWS = ("exact", "exact_compiled", "exact_compiled_held", "book", "book_one_thread", *PEERS)
POSITION_ROWS = ("liquidation_exact", "liquidation_array", "liquidation_freqtrade")


def _us(value: float) -> str:
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def table_rows(report: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """The report's two tables as text cells: per account (path, median, mean, spread of the round medians,
    exact / it on medians, it / risk book on medians and means, agreement), per position (path, median, mean,
    spread)."""
    series, ratios, agreements = report["series"], report["ratios"], report["agreement"]
    accounts = []
    for key in ACCOUNT_ROWS:
        if key not in series:
            continue
        s, ratio, agree = series[key], ratios.get(key), agreements.get(key)
        low, high = s["spread_us"]
        if agree:
            tolerance = f"{agree['agreeing']}/{agree['accounts_compared']}"
            check = f"{agree['figures']}: {tolerance} (1e-6: {agree['agreeing_within_1e-6']})"
        else:
            check = ""
        accounts.append(
            [
                s["label"],
                _us(s["median_us"]),
                _us(s["mean_us"]),
                f"{_us(low)}-{_us(high)}",
                f"{ratio['exact_over_peer_median']:.2f}x; {ratio['compiled_over_peer_median']:.2f}x" if ratio else "",
                f"{ratio['peer_over_book_median']:.0f}x / {ratio['peer_over_book_mean']:.0f}x" if ratio else "",
                check,
            ]
        )
    positions = []
    for key in POSITION_ROWS:
        if key in series:
            s = series[key]
            low, high = s["spread_us"]
            positions.append([s["label"], _us(s["median_us"]), _us(s["mean_us"]), f"{_us(low)}-{_us(high)}"])
    return accounts, positions


ACCOUNT_COLUMNS = (
    "per account",
    "median us",
    "mean us",
    "round medians us",
    "exact / it (medians); compiled / it",
    "it / risk book (median; mean)",
    "agreement within 1e-9",
)
POSITION_COLUMNS = ("liquidation prices, per position", "median us", "mean us", "round medians us")


def markdown(report: dict[str, Any]) -> str:
    """The two tables in Markdown, for docs/benchmarks.md."""
    lines = []
    for columns, rows in zip((ACCOUNT_COLUMNS, POSITION_COLUMNS), table_rows(report), strict=True):
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|---" + "|---:" * (len(columns) - 1) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        lines.append("")
    return "\n".join(lines)


def print_tables(console: Any, report: dict[str, Any]) -> None:
    """The report as Rich tables, then each target's verdict."""
    from rich.table import Table

    book = report["book"]
    title = f"{book['accounts']:,}-account book, {book['sample']:,} accounts sampled, {book['rounds']} rounds"
    for columns, rows in zip((ACCOUNT_COLUMNS, POSITION_COLUMNS), table_rows(report), strict=True):
        table = Table(title=title)
        for k, column in enumerate(columns):
            table.add_column(column, justify="left" if k in (0, 6) else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for name, ratio in report["ratios"].items():
        console.print(
            f"{name}: exact not slower: {'yes' if ratio['exact_not_slower'] else 'no'}; compiled exact not slower: "
            f"{'yes' if ratio['compiled_not_slower'] else 'no'} ({ratio['compiled_over_peer_median']:.2f}x) "
            f"(exact / it {ratio['exact_over_peer_median']:.2f}x on medians, {ratio['exact_over_peer_mean']:.2f}x on "
            f"means); risk book at least 100x faster: {'yes' if ratio['book_at_least_100x'] else 'no'} "
            f"({ratio['peer_over_book_median']:.0f}x on its median, {ratio['peer_over_book_mean']:.0f}x on its mean)"
        )
    start, end = report["load_average_start"], report["load_average_end"]
    console.print(f"load average (1, 5, 15 min): {start[0]:.2f} {start[1]:.2f} {start[2]:.2f} at the start, "
                  f"{end[0]:.2f} {end[1]:.2f} {end[2]:.2f} at the end")  # fmt: skip


if __name__ == "__main__":
    main()
