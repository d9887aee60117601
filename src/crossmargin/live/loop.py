"""The engine loop: the one path from an inbound event to what it changed.

For each inbound event, in ``seq`` order (:meth:`EngineLoop.handle`):

1. **Apply.** Source quotes go to the oracle (:class:`~crossmargin.oracle.book.OracleBook`), a clock event
   moves its clock (a source gone silent turns stale by time alone); account openings, deposits, withdrawals,
   trades and funding go to the clearing state (:class:`~crossmargin.clearing.state.ClearingState`, the exact ledger of
   record), which validates each completely and applies it or refuses it whole (a ``rejected`` event;
   nothing else happens); a parameter change sets the liquidity depth multiplier; a venue's margin
   multipliers go to the clearing state's market and the risk book's requirement scale, and the pools they
   reach are screened as after a price.
2. **Price.** After an oracle event, every price and mark that changed (the oracle's, a mark moved by what
   is left of its liquidation displacement, step 4) goes into the clearing state and the risk book, and the
   policy's prescription goes into the clearing state as a :class:`~crossmargin.clearing.events.Guard`:
   symbols whose status the policy freezes on (their accounts may not withdraw or add risk) and, for assets
   whose status it values conservatively, the lower of index and EMA for held balances and the higher for
   owed ones (withdrawals and new risk are checked there). Every index price that changed also goes into
   the loop's realized-volatility index (:attr:`EngineLoop.volatility`, a view no decision reads).
3. **Mirror.** Every account the event changed on the ledger is copied into the risk book
   (:class:`~crossmargin.engine.book.RiskBook`): the book mirrors the ledger and never owns money of its own.
4. **Screen, confirm, liquidate.** The book's float figures name the accounts liquidatable or within its
   float error of the boundary (among the accounts the event changed, the pools its prices moved and the
   accounts still due after the last event: no other can have come due); each is confirmed exactly. One
   whose every price has a status the policy liquidates on is liquidated
   (:class:`~crossmargin.liquidation.engine.Liquidator`); otherwise its liquidation is suppressed and
   reported once (confirmed exactly when it is first held, then held while the mirror keeps it due; without
   per-account reports it is only held). Auto-deleveraging ranks at the marks of the event's start (its
   prices in, before its first liquidation). The fills' permanent impact moves marks (reported), which can
   push further accounts under: the round is repeated until nothing more is liquidated, at most
   ``cascade_rounds`` rounds. A mark so moved stays displaced from the oracle's mark by that fraction, which
   fades at later price and clock events with the resilience half-life
   (:mod:`crossmargin.liquidation.resilience`): the mark comes back to the oracle's, which is anchored to the
   index. A parameter change or an open-interest limit moves no figure and liquidates nobody: a liquidation
   left waiting for depth goes on at the next event that does (a price, the clock, the account's own
   money). The accounts a round's liquidations changed are mirrored together at its end: nothing in the
   round reads the book after its screen (confirmation is exact, ADL's bounds pinned).
5. **Report.** Outbound events name the inbound event that caused them: price statuses, accounts that turned
   liquidatable, suppressed, frozen or unfrozen, every liquidation line, mark moves, and the exact figures of
   every account the event changed on the ledger.

The loop is deterministic: the same inbound events from the same state give the same outbound events and
the same :meth:`EngineLoop.digest`; :mod:`crossmargin.live.snapshot` saves and restores it.
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from crossmargin.clearing import events as ledger
from crossmargin.clearing.events import MARKET
from crossmargin.clearing.guard import policy_guard
from crossmargin.clearing.state import ClearingState
from crossmargin.engine.book import RiskBook
from crossmargin.engine.screening import DEFAULT_BAND, candidate_pools
from crossmargin.liquidation.engine import Liquidator, Notice
from crossmargin.liquidation.liquidity import LiquidityModel, scaled_depth
from crossmargin.liquidation.resilience import DEFAULT_HALF_LIFE_S, decayed
from crossmargin.live import events as live
from crossmargin.live.policy import check_oracle_priced, may_liquidate
from crossmargin.margin.account import depends_on
from crossmargin.margin.realized_volatility import HALF_LIVES_S, RealizedVolatilityIndex
from crossmargin.model import InputError, Portfolio, RuleChoices
from crossmargin.model.errors import field_prefix
from crossmargin.model.numbers import ONE, ZERO, exact, non_negative, positive
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.book import OracleBook, OraclePrice
from crossmargin.oracle.config import OracleConfig, Status
from crossmargin.oracle.feed import SourceUpdate

CASCADE_ROUNDS = 100
"""Screening rounds after one event at most: each liquidates every due account once; a round that liquidates
nobody ends the cascade."""
FLOAT_ERROR = 1e-9
"""Relative distance from the liquidation boundary within which the mirror's verdict is not trusted and the
account is confirmed exactly (the mirror agrees with the exact figures far closer: tests)."""


@dataclass(frozen=True)
class LoopConfig:
    """Everything that decides what the loop does with an event (its state aside).

    ``liquidity``: each instrument's depth model at depth multiplier 1 (an instrument without one fills at
    the mark); ``insurance_fund``: the fund at the opening, base currency; ``band``: unused by the decisions,
    the relative margin within which :meth:`EngineLoop.at_risk` counts a pool; ``report_accounts``: emit
    per-account events (frozen/unfrozen, figures); a stress run of a million accounts turns it off;
    ``resilience_half_life_s``: seconds for half of a liquidation's displacement of a mark to fade
    (:mod:`crossmargin.liquidation.resilience`); ``volatility_half_lives_s``: the half-lives (seconds) of
    :attr:`EngineLoop.volatility`'s realized-volatility estimators, the first its headline figure.
    """

    portfolio: Portfolio
    rules: RuleChoices
    terms: LiquidationTerms
    oracle: OracleConfig
    liquidity: Mapping[str, LiquidityModel] = field(default_factory=dict)
    insurance_fund: Decimal = ZERO
    band: Decimal = DEFAULT_BAND
    cascade_rounds: int = CASCADE_ROUNDS
    report_accounts: bool = True
    resilience_half_life_s: Decimal = DEFAULT_HALF_LIFE_S
    volatility_half_lives_s: tuple[float, ...] = HALF_LIVES_S


def _ledger_event(event: live.InboundEvent) -> ledger.Event | None:
    """The clearing state's event for an inbound event it applies (None for prices, clock and parameters)."""
    if isinstance(event, live.OpenAccount):
        return ledger.OpenAccount(event.account)
    if isinstance(event, live.Deposit):
        return ledger.Deposit(event.account, event.asset, event.amount)
    if isinstance(event, live.Withdrawal):
        return ledger.Withdraw(event.account, event.asset, event.amount)
    if isinstance(event, live.Trade):
        return ledger.Trade(
            event.buyer, event.seller, event.instrument, event.size, event.price, event.buyer_fee, event.seller_fee
        )
    if isinstance(event, live.Funding):
        return ledger.Funding(event.instrument, event.rate)
    if isinstance(event, live.MarginMultipliers):
        return ledger.MarginMultipliers(dict(event.multipliers))
    if isinstance(event, live.OpenInterestLimits):
        return ledger.OpenInterestLimits(dict(event.limits))
    return None


def oracle_book(config: LoopConfig, portfolio: Portfolio | None = None) -> OracleBook:
    """A fresh oracle for ``portfolio`` (default: the configuration's book): its prices and marks until a
    feed speaks."""
    portfolio = portfolio or config.portfolio
    market = portfolio.market
    prices = {
        a: market.price(a) for a in (*portfolio.assets, *market.prices) if a in market.prices or a == portfolio.base
    }
    underlying = {name: spec.underlying for name, spec in portfolio.instruments.items() if name in market.marks}
    return OracleBook(config.oracle, prices, dict(market.marks), underlying)


class EngineLoop:
    """The exact state, the oracle, the risk book and the liquidation engine, moved by inbound events (see
    the module doc). Build a fresh one from a configuration, restore one with
    :func:`crossmargin.live.snapshot.restored`, or wrap an existing clearing ``state``: its market seeds the
    oracle (a given ``oracle`` is taken as it is) and the guard it holds stands until the first price or
    clock event."""

    def __init__(
        self, config: LoopConfig, state: ClearingState | None = None, oracle: OracleBook | None = None
    ) -> None:
        check_oracle_priced(config.portfolio)
        self.config = config
        self.state = state or ClearingState(config.portfolio, config.rules, config.insurance_fund)
        self.oracle = oracle or oracle_book(config, self.state.portfolio())
        self.book = RiskBook(self.state.portfolio(), config.rules)
        self.liquidator = Liquidator(self.state, config.terms, config.liquidity, self.book)
        self.seq = 0
        self.last_id = ""
        self.emitted = 0
        self.depth = ONE
        self.synced: dict[str, Decimal] = {}
        self.displaced: dict[str, tuple[Decimal, Decimal]] = {}
        self.statuses: dict[str, Status] = {}
        self.frozen: set[str] = set()
        self.suppressed: set[str] = set()
        self._mirrored = len(self.state.changes)
        self.carried: set[str] = set()
        """Every account the mirror may find due after the last event (held back by the policy, or left
        unliquidated), and perhaps some no longer due: the first screening round after an event that moves no
        price looks at these and the accounts the event changed."""
        self._cause: live.Inbound | None = None
        self._out: list[live.OutboundEvent] = []
        self.volatility = RealizedVolatilityIndex(config.volatility_half_lives_s)
        """Every priced asset's realized volatility from its index prices
        (:mod:`crossmargin.margin.realized_volatility`): fed each index price as it changes, at the oracle's
        clock (which never goes back). A view: no decision reads it, the digest and snapshots leave it out (a
        restored loop's index starts again from the prices it restores)."""
        self._sync(initial=True)
        self.carried = set(self.due())

    # ------------------------------------------------------------------ the loop

    def handle(self, event: live.InboundEvent) -> list[live.OutboundEvent]:
        """Apply one inbound event (see module doc); the outbound events it caused, in order. An event out of
        ``seq`` order raises :class:`~crossmargin.model.InputError` and is not applied; an event the state
        refuses is answered by one ``rejected`` event and changes nothing."""
        if event.seq != self.seq + 1:
            raise InputError("seq", f"expected event {self.seq + 1}, got {event.seq}")
        self.seq, self.last_id = event.seq, event.id
        self._cause, self._out = event, []
        self._ticked: np.ndarray | None = np.zeros(0, dtype=np.int64)
        try:
            non_negative(event.time, "time")
            self._apply(event)
        except InputError as err:
            self._emit(live.Rejected, field=err.field, message=err.message)
            return self._out
        changed = self._changed_accounts()
        self._mirror(changed)
        self._report(changed)
        if isinstance(event, live.Prices | live.Clock | live.MarginMultipliers) or (
            isinstance(event, live.Trade) and event.impact
        ):
            self._liquidate(among=changed, pools=self._ticked, whole=self._ticked is None)
        elif not isinstance(event, live.ParameterChange | live.OpenInterestLimits):
            self._liquidate(among=changed)
        if isinstance(event, live.Prices | live.Clock):
            self._report_frozen()
        return self._out

    def check(self, event: live.InboundEvent) -> None:
        """Raise the InputError :meth:`handle` would answer with a ``rejected`` event if ``event`` came next
        (for an event the clearing state applies: an account opening, a deposit, a withdrawal, a trade,
        funding); change nothing."""
        non_negative(event.time, "time")
        if isinstance(event, live.ParameterChange):
            positive(event.depth, "depth")
        entry = _ledger_event(event)
        if entry is not None:
            self.state.check(entry)

    def _apply(self, event: live.InboundEvent) -> None:
        entry = _ledger_event(event)
        if entry is not None:
            self.state.apply(entry)
            if isinstance(event, live.MarginMultipliers):
                self.book.tick(multipliers=event.multipliers)
                self._ticked = self.book.ticked
            elif isinstance(event, live.Trade) and event.impact:
                self._trade_impact(event.instrument, event.impact)
        elif isinstance(event, live.Prices):
            self._prices(event)
        elif isinstance(event, live.Clock):
            self.oracle.advance(event.time)
            self._sync()
        elif isinstance(event, live.ParameterChange):
            self.set_depth(event.depth)

    def _trade_impact(self, instrument: str, impact: Decimal) -> None:
        """Move ``instrument``'s mark by a trade's permanent ``impact`` as a liquidation's fills move it (a mark
        that would not stay positive stays where it is), displaced from the oracle's mark from now."""
        before = self.state.market.mark(instrument)
        self.liquidator.pending[instrument] = self.liquidator.pending.get(instrument, ZERO) + impact
        self.liquidator.apply_impact()
        mark = self.state.market.mark(instrument)
        if mark != before:
            self._emit(live.MarkMoved, instrument=instrument, before=before, mark=mark)
            self.book.tick(marks={instrument: mark})
            self._ticked = self.book.ticked
            self._record_displacement([instrument])

    def set_depth(self, depth: Decimal) -> None:
        """Fill liquidations against every instrument's configured depth times ``depth`` (> 0)."""
        positive(depth, "depth")
        self.liquidator.liquidity = {name: scaled_depth(model, depth) for name, model in self.config.liquidity.items()}
        self.depth = depth

    def _prices(self, event: live.Prices) -> None:
        oracle = self.oracle
        updates = []
        for number, quote in enumerate(event.quotes):
            with field_prefix(f"quotes[{number}]"):
                if quote.symbol not in oracle.document_prices and quote.symbol not in oracle.underlying:
                    raise InputError("symbol", f"{quote.symbol!r} is neither a priced asset nor a marked instrument")
                at = event.time if quote.at is None else quote.at
                updates.append(SourceUpdate(at, quote.source, quote.symbol, quote.price, quote.confidence))
        for update in updates:
            ignored = oracle.accept(update)
            touched = [update.symbol, *(i for i, u in oracle.underlying.items() if u == update.symbol)]
            for symbol in dict.fromkeys(touched):
                self._status(oracle.price(symbol), source=update.source, ignored=ignored)
        self._sync(reported=True)

    def _sync(self, initial: bool = False, reported: bool = False) -> None:
        """Push the oracle's changed prices and marks into the state and the book, the policy's guard into
        the state; report statuses that changed (unless the quotes' own reports did)."""
        oracle, state, policy = self.oracle, self.state, self.config.oracle.policy
        quotes = {a: oracle.index(a) for a in state.market.prices}
        quotes |= {name: oracle.mark(name) for name in oracle.underlying}
        prices = {a: q.price for a, q in quotes.items() if a in state.market.prices and self.synced.get(a) != q.price}
        marks = {}
        for name in oracle.underlying:
            mark = self._displaced_mark(name, quotes[name].price)
            if self.synced.get(name) != mark:
                marks[name] = mark
        self.synced |= {**prices, **marks}
        self.volatility.observe(float(oracle.clock), {a: float(p) for a, p in prices.items() if a != state.base})
        if not initial and (prices or marks):
            state.apply(ledger.PriceUpdate(prices=prices, marks=marks))
            self.book.tick(marks=marks, prices=prices)
            self._ticked = self.book.ticked
        if not initial:
            guard = policy_guard(oracle, (a for a in state.market.prices if a != state.base), policy)
            if guard != state.guard:
                state.apply(guard)
        statuses = {s: q.status for s, q in quotes.items()}
        if not initial and not reported:
            for symbol, quote in quotes.items():
                if self.statuses.get(symbol) is not quote.status:
                    self._status(quote)
        self.statuses = statuses

    def _now(self) -> Decimal:
        """The time of the event being handled (the oracle's clock outside one)."""
        return self.oracle.clock if self._cause is None else self._cause.time

    def _displaced_mark(self, instrument: str, mark: Decimal) -> Decimal:
        """The oracle's ``mark`` of ``instrument`` moved by what is left now of the liquidations' displacement
        (:mod:`crossmargin.liquidation.resilience`); a faded displacement is dropped."""
        held = self.displaced.get(instrument)
        if held is None:
            return mark
        fraction, since = held
        left = decayed(fraction, max(ZERO, self._now() - since), self.config.resilience_half_life_s)
        if left == 0:
            del self.displaced[instrument]
            return mark
        with exact():
            return mark * (ONE + left)

    def _record_displacement(self, instruments: Iterable[str]) -> None:
        """After liquidations moved the marks of ``instruments``: each one's displacement from the oracle's
        mark, from now."""
        for name in instruments:
            mark = self.state.market.marks[name]
            with exact():
                fraction = mark / self.oracle.mark(name).price - ONE
            self.displaced[name] = (fraction, self._now())
            self.synced[name] = mark

    # ------------------------------------------------------------------ mirror and screening

    def _changed_accounts(self) -> list[str]:
        """User accounts the state changed on the ledger since the last call."""
        changes = self.state.changes
        changed = {a for a in changes[self._mirrored :] if a != MARKET}
        self._mirrored = len(changes)
        return sorted(changed)

    def _mirror(self, accounts: Iterable[str]) -> None:
        """Bring ``accounts`` into the risk book as the state holds them: the known ones in one batch, new ones
        added."""
        book = self.book
        listed = [self.state.account(a) for a in accounts]
        known = [a for a in listed if a.id in book.accounts]
        if known:
            book.set_accounts(known)
        for account in listed:
            if account.id not in book.accounts:
                book.add_account(account)

    def _report(self, accounts: Iterable[str]) -> None:
        """The exact figures of ``accounts``, where the configuration reports accounts."""
        if self.config.report_accounts:
            for account_id in accounts:
                self._figures(account_id)

    def due(self, among: Iterable[str] | None = None, also: np.ndarray | None = None) -> list[str]:
        """Accounts (of ``among`` and the owners of the pools ``also``; default: all) the mirror finds
        liquidatable, or within its float error of the boundary: only these need the exact check (a pool that
        holds nothing is not liquidatable: :meth:`~crossmargin.engine.book.RiskBook.holds_nothing`)."""
        book = self.book
        pools: slice | np.ndarray = slice(0, book.pool_count)
        if among is not None or also is not None:
            listed = np.array([p for a in among or () if a in book.accounts for p in book.pools_of(a)], dtype=np.int64)
            pools = listed if also is None else np.concatenate([listed, also])
        figures = book.figures[pools]
        required = figures[:, 2] * float(self.config.rules.liquidation_threshold)
        close = np.abs(figures[:, 0] - required) <= FLOAT_ERROR * (np.abs(figures[:, 0]) + np.abs(required) + 1.0)
        hit = np.flatnonzero(book.liquidatable[pools] | close)
        if isinstance(pools, np.ndarray):
            hit = pools[hit]
        hit = hit[~book.holds_nothing(hit)]
        return sorted({book.owners[int(p)].account for p in hit})

    def _liquidate(self, among: list[str] | None = None, pools: np.ndarray | None = None, whole: bool = False) -> None:
        """Screen, confirm and liquidate (module doc, step 4). Only the accounts the event changed (``among``)
        and the pools its prices moved (``pools``) can have come due, besides those :attr:`carried` over still
        due: the first round screens those (``whole``: the whole book, as after a price that moved every
        pool), later rounds (after fills moved marks) the whole book; an account not screened keeps its
        suppression."""
        state, config = self.state, self.config
        held_back: set[str] = set()
        suppressed: set[str] = set()
        pinned = False  # ADL ranks at the marks before this event's first liquidation: pinned when one is due
        displaced: set[str] = set()
        first = None if whole else sorted({*(among or ()), *self.carried})
        ticked = None if whole else pools
        left: set[str] = set()
        for round_number in range(config.cascade_rounds):
            screened = (first, ticked) if round_number == 0 else (None, None)
            due = [a for a in self.due(*screened) if a not in held_back]
            if not due:
                break
            if not pinned:
                self.liquidator.adl.pin()
                pinned = True
            before = dict(state.market.marks)
            progressed = False
            unmirrored: set[str] = set()  # accounts the round changed, brought into the book at its end
            for account_id in due:
                account = state.account(account_id)
                if not may_liquidate(self.statuses.__getitem__, config.oracle.policy, account, config.portfolio):
                    held_back.add(account_id)
                    if config.report_accounts and (account_id in self.suppressed or state.liquidatable(account_id)):
                        suppressed.add(account_id)
                        if account_id not in self.suppressed:
                            self._account_status(account_id, "liquidation_suppressed")
                    continue
                if not state.liquidatable(account_id):
                    continue
                self._account_status(account_id, "liquidatable")
                notices = self.liquidator.liquidate(account_id)
                self.liquidator.apply_impact()
                for notice in notices:
                    self._notice(notice)
                named = {a for n in notices for a in (n.get("account"), n.get("from")) if isinstance(a, str)}
                touched = sorted(set(self._changed_accounts()) | named - {MARKET})
                self._report(touched)
                unmirrored.update(touched)
                progressed |= bool(notices)
            self._mirror(sorted(unmirrored))
            unmirrored.clear()
            moved = {n: m for n, m in state.market.marks.items() if m != before[n]}
            for name, mark in sorted(moved.items()):
                self._emit(live.MarkMoved, instrument=name, before=before[name], mark=mark)
            if moved:
                self.book.tick(marks=moved)
                displaced |= set(moved)
            if not progressed:
                left = set(due)
                break
        else:
            left = set(self.due())
        self._record_displacement(sorted(displaced))
        unscreened = set() if first is None or displaced else self.suppressed - set(first)
        self.suppressed = suppressed | unscreened
        self.carried = left | held_back

    def _report_frozen(self) -> None:
        """Report accounts that turned frozen or unfrozen: those valued at a symbol whose status the policy
        freezes on (found through the mirror's arrays: holders of a frozen asset, positions in a frozen
        instrument or one settled in a frozen asset)."""
        if not self.config.report_accounts:
            return
        frozen = self.state.guard.frozen
        book = self.book
        count = book.pool_count
        hit = np.zeros(count, dtype=np.bool_)
        names = book.instruments.names
        for index, asset in enumerate(book.assets.names):
            if asset in frozen and asset != self.config.portfolio.base:
                hit |= book.balance[index, :count] != 0.0
                for i, name in enumerate(names):
                    if int(book.instruments.settle[i]) == index:
                        frozen = frozen | {name}
        for i, name in enumerate(names):
            if name in frozen:
                start = int(book.block_start[i])
                hit[book.pool[start : start + int(book.block_used[i])]] = True
        now = {book.owners[int(p)].account for p in np.flatnonzero(hit)}
        for account_id in sorted(now - self.frozen):
            self._account_status(account_id, "frozen")
        for account_id in sorted(self.frozen - now):
            self._account_status(account_id, "unfrozen")
        self.frozen = now

    # ------------------------------------------------------------------ outbound

    def _emit(self, kind: type[live.OutboundEvent], **fields: Any) -> None:
        cause = self._cause
        assert cause is not None
        self.emitted += 1
        self._out.append(kind(seq=self.emitted, time=cause.time, cause=cause.id, **fields))

    def _status(self, quote: OraclePrice, source: str | None = None, ignored: str | None = None) -> None:
        self._emit(
            live.PriceStatus, symbol=quote.symbol, status=str(quote.status), price=quote.price, reason=quote.reason,
            sources=quote.sources, source=source, ignored=ignored,
        )  # fmt: skip

    def _account_status(self, account_id: str, state: str) -> None:
        figures = self.state.pool_figures(account_id)
        statuses = {s: str(self.statuses[s]) for s in dict.fromkeys(self.symbols_of(account_id))}
        self._emit(
            live.AccountStatus, account=account_id, state=state, equity=figures.equity,
            maintenance_margin=figures.maintenance_margin, statuses=statuses,
        )  # fmt: skip

    def symbols_of(self, account_id: str) -> list[str]:
        """The symbols whose prices value the account (held or owed assets, its positions and their settle
        assets; the base currency aside)."""
        return list(depends_on(self.state.account(account_id), self.config.portfolio))

    def _figures(self, account_id: str) -> None:
        figures, liquidatable = self.state.standing(account_id)
        self._emit(
            live.Figures, account=account_id, equity=figures.equity, initial_margin=figures.initial_margin,
            maintenance_margin=figures.maintenance_margin, liquidatable=liquidatable,
        )  # fmt: skip

    def _notice(self, notice: Notice) -> None:
        """One line of the liquidation engine as its typed outbound event."""
        kind = notice["event"]
        fields = {k: v for k, v in notice.items() if k != "event"}
        if kind == "liquidation":
            self._emit(live.LiquidationFill, **fields)
        elif kind == "adl":
            fields["from_account"] = fields.pop("from")
            self._emit(live.Deleveraged, **fields)
        elif kind == "collateral_sale":
            self._emit(live.CollateralSold, **fields)
        elif kind == "insurance":
            self._emit(live.InsurancePaid, **fields)
        elif kind == "socialized":
            self._emit(live.Socialized, **fields)
        else:
            self._emit(live.BadDebt, **fields)

    # ------------------------------------------------------------------ views

    def digest(self) -> str:
        """SHA-256 of everything the loop's future depends on: the exact state, the oracle, the sequence
        numbers, the depth multiplier, the last prices pushed and who is reported frozen or suppressed."""
        lines = [
            self.state.digest(), self.oracle.digest(), f"seq|{self.seq}|{self.emitted}", f"depth|{self.depth}",
            *(f"synced|{s}|{p.normalize()}" for s, p in sorted(self.synced.items())),
            *(f"displaced|{s}|{d.normalize()}|{t.normalize()}" for s, (d, t) in sorted(self.displaced.items())),
            *(f"frozen|{a}" for a in sorted(self.frozen)), *(f"suppressed|{a}" for a in sorted(self.suppressed)),
        ]  # fmt: skip
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def at_risk(self) -> int:
        """Accounts with a pool within ``band`` of liquidation, or past it (float mirror)."""
        pools = candidate_pools(self.book, self.config.band)
        return len({self.book.owners[int(p)].account for p in pools})
