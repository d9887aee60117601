"""The clearing state machine: accounts' positions and the double-entry ledger, changed only by events.

:meth:`ClearingState.apply` validates an event completely against the current state (a bad event raises
:class:`~crossmargin.model.InputError` naming the field and changes nothing), then applies it and logs
it. :meth:`ClearingState.digest` hashes equal states equally.

State = start + log: a state starts from an opening (a portfolio) or from a snapshot of another state
(:meth:`ClearingState.snapshot`, :meth:`ClearingState.restored`; :func:`encode_snapshot` /
:func:`decode_snapshot` serialise it exactly), and :meth:`ClearingState.rebuilt` replays its log from that
start.

Opening: every cross balance and isolated margin of the portfolio, and the insurance fund, is deposited
from the external account; the market account (:data:`~crossmargin.clearing.events.MARKET`) holds the
opposite of the book's net position in every instrument, opened at the mark, so long and short open
interest match from the start and every later fill has a counterparty inside the book.

Money: realized PnL is paid from the clearing account; fees go to the fee pool (liquidation fees to the
insurance fund and the liquidator); funding passes through the funding account. ``funding_index`` is each
perpetual's cumulative funding per contract (settle units, paid by a long when it rises); a funding event
raises it and settles every open position at once by ``size x`` the rise, so no funding is left accrued.
An isolated position's margin is its own ledger account: realized PnL settles into it, and once the
position is closed what is left goes back to the cross balance (a deficit left by a liquidation stays
until it is covered).

A venue's open-interest limits (:class:`~crossmargin.clearing.events.OpenInterestLimits`, kept in
``open_interest_limits``) refuse a trade that would raise an instrument's long open interest above its limit.

The oracle policy reaches the state as a :class:`~crossmargin.clearing.events.Guard` event (kept in
``guard`` until the next replaces it): withdrawals and the initial-margin check of trades are made at the
account's guarded market, and an account that depends on a frozen price may neither withdraw nor add risk.
Liquidation is decided at the market itself.
"""

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Self

import msgspec

from crossmargin.clearing.events import (
    MARKET,
    MAX_ACCOUNT_ID,
    CollateralSale,
    Deposit,
    Event,
    Funding,
    Guard,
    InsuranceCover,
    LiquidationEnd,
    LiquidationFill,
    LiquidationStart,
    MarginMultipliers,
    OpenAccount,
    OpenInterestLimits,
    PriceUpdate,
    SocializedLoss,
    Taker,
    Trade,
    Withdraw,
    WriteOff,
)
from crossmargin.clearing.ledger import Book, Ledger, LedgerAccount, Posting, transfer
from crossmargin.margin.account import cross_pool, depends_on, isolated_pool
from crossmargin.margin.fills import apply_fill
from crossmargin.margin.pools import PoolFigures, PositionFigures, evaluate_pool, scaled_requirements
from crossmargin.margin.positions import unrealized_pnl
from crossmargin.margin.whatif import REDUCES, max_withdrawable, order_verdict
from crossmargin.model import Account, InputError, Instrument, Market, Portfolio, Position, RuleChoices
from crossmargin.model.errors import UNPRINTABLE, field_prefix
from crossmargin.model.instruments import ContractKind
from crossmargin.model.numbers import ZERO, exact, finite, non_negative, positive, shown

Change = Callable[[], None]
"""What a validated event does: called once, it cannot fail."""

EXTERNAL = LedgerAccount(Book.EXTERNAL)
CLEARING = LedgerAccount(Book.CLEARING)
FUNDING = LedgerAccount(Book.FUNDING)
FEE_POOL = LedgerAccount(Book.FEE_POOL)
INSURANCE_FUND = LedgerAccount(Book.INSURANCE_FUND)
LIQUIDATOR = LedgerAccount(Book.LIQUIDATOR)
BAD_DEBT = LedgerAccount(Book.BAD_DEBT)


def user(account_id: str) -> LedgerAccount:
    """The ledger account of an account's cross balance."""
    return LedgerAccount(Book.USER, account_id)


def isolated(account_id: str, instrument: str, long: bool) -> LedgerAccount:
    """The ledger account of one isolated position's margin."""
    return LedgerAccount(Book.ISOLATED, f"{account_id}/{instrument}/{'long' if long else 'short'}")


@dataclass(frozen=True)
class Leg:
    """One position of an account: ``size`` signed contracts at ``entry_price``; ``isolated`` positions
    have their margin in their own ledger account."""

    size: Decimal
    entry_price: Decimal
    isolated: bool = False


SNAPSHOT_VERSION = 1
"""The version of :class:`ClearingSnapshot`; a snapshot of another version is refused."""


class Balance(msgspec.Struct, frozen=True):
    """One ledger balance: ``amount`` of ``asset`` (asset units; negative: owed) in ``account``."""

    account: LedgerAccount
    asset: str
    amount: Decimal


class LegSnapshot(msgspec.Struct, frozen=True):
    """One leg of an account (see :class:`Leg`): ``size`` signed contracts at ``entry_price``."""

    instrument: str
    long: bool
    size: Decimal
    entry_price: Decimal
    isolated: bool


class AccountLegs(msgspec.Struct, frozen=True):
    """An account's legs in the order it holds them."""

    account: str
    legs: tuple[LegSnapshot, ...]


class Holders(msgspec.Struct, frozen=True):
    """The user accounts holding ``instrument`` long (or short), in the order they opened the leg."""

    instrument: str
    long: bool
    accounts: tuple[str, ...]


class IsolatedOwner(msgspec.Struct, frozen=True):
    """The account an isolated margin ledger account belongs to."""

    pool: LedgerAccount
    account: str


class MarketSnapshot(msgspec.Struct, frozen=True):
    """Every field of a :class:`~crossmargin.model.Market` (prices in the base currency, marks in quote
    units, open interest in settle units); ``correlations`` as (asset, asset, correlation) triples."""

    base: str
    prices: dict[str, Decimal]
    marks: dict[str, Decimal]
    open_interest: dict[str, Decimal]
    valuation_time: datetime | None
    vols: dict[str, tuple[tuple[Decimal, Decimal], ...]]
    rate: Decimal
    correlations: tuple[tuple[str, str, Decimal], ...]
    margin_multipliers: dict[str, Decimal] = {}

    @classmethod
    def of(cls, market: Market) -> "MarketSnapshot":
        """The snapshot of ``market``."""
        return cls(
            market.base, dict(market.prices), dict(market.marks), dict(market.open_interest), market.valuation_time,
            dict(market.vols), market.rate, tuple((a, b, rho) for (a, b), rho in market.correlations.items()),
            dict(market.margin_multipliers),
        )  # fmt: skip

    def market(self) -> Market:
        """The market again (checked as any market is)."""
        return Market(
            self.base, dict(self.prices), dict(self.marks), dict(self.open_interest), self.valuation_time,
            dict(self.vols), self.rate, {(a, b): rho for a, b, rho in self.correlations},
            dict(self.margin_multipliers),
        )  # fmt: skip


class ClearingSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a :class:`ClearingState` holds besides its configuration (base, rulebook, assets,
    instruments, rules) and its log: every ledger balance (zero ones too, in the order first posted), every
    account's legs (accounts and legs in order, the market's account included), the holders of each leg in
    opening order, the owners of isolated margins, who is in liquidation, the funding indexes (settle units
    per contract), the market, the guard and the open-interest limits (contracts)."""

    version: int = SNAPSHOT_VERSION
    balances: tuple[Balance, ...]
    accounts: tuple[AccountLegs, ...]
    holders: tuple[Holders, ...]
    isolated_owners: tuple[IsolatedOwner, ...]
    in_liquidation: tuple[str, ...]
    funding_index: dict[str, Decimal]
    market: MarketSnapshot
    guard: Guard
    open_interest_limits: dict[str, Decimal] = {}


_SNAPSHOT_ENCODER = msgspec.json.Encoder(order="deterministic")
_SNAPSHOT_DECODER = msgspec.json.Decoder(ClearingSnapshot)


def encode_snapshot(snapshot: ClearingSnapshot) -> bytes:
    """``snapshot`` as msgspec JSON: Decimals as their strings, mapping keys sorted (order that is state is
    kept in arrays), so :func:`decode_snapshot` gives back an equal snapshot."""
    return _SNAPSHOT_ENCODER.encode(snapshot)


def decode_snapshot(data: bytes | str) -> ClearingSnapshot:
    """The snapshot :func:`encode_snapshot` wrote; a malformed one raises InputError (field ``snapshot``)."""
    try:
        return _SNAPSHOT_DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise InputError("snapshot", f"not a valid clearing snapshot: {err}") from None


class ClearingState:
    """Positions and ledger of every account; see the module doc."""

    def __init__(self, portfolio: Portfolio, rules: RuleChoices, insurance_fund: Decimal = ZERO) -> None:
        non_negative(insurance_fund, "insurance_fund")
        self._configure(portfolio, rules, portfolio.market)
        self.origin: tuple[Portfolio, RuleChoices, Decimal | ClearingSnapshot] = (portfolio, rules, insurance_fund)
        postings: list[Posting] = [*transfer(EXTERNAL, INSURANCE_FUND, portfolio.base, insurance_fund)]
        net: dict[str, Decimal] = {}
        with exact():
            for account in portfolio.accounts:
                if account.id == MARKET:
                    raise InputError("accounts", f"{MARKET!r} is the market's own account")
                self.legs[account.id] = {}
                for asset, amount in account.balances.items():
                    postings += transfer(EXTERNAL, user(account.id), asset, amount)
                for p in account.positions:
                    self.legs[account.id][(p.instrument, p.size > 0)] = Leg(p.size, p.entry_price, p.isolated)
                    self._holders.setdefault((p.instrument, p.size > 0), {})[account.id] = None
                    net[p.instrument] = net.get(p.instrument, ZERO) + p.size
                    if p.isolated_margin is not None:
                        settle = self.instruments[p.instrument].settle
                        margin = isolated(account.id, p.instrument, p.size > 0)
                        self._owner[margin] = account.id
                        postings += transfer(EXTERNAL, margin, settle, p.isolated_margin)
        self.legs[MARKET] = {
            (name, size < 0): Leg(-size, self.market.mark(name)) for name, size in sorted(net.items()) if size
        }
        self.ledger.post(postings)
        self.ledger.take_changed()

    def _configure(self, portfolio: Portfolio, rules: RuleChoices, market: Market) -> None:
        """The configuration from ``portfolio`` and ``rules``, ``market`` and an empty state."""
        self.base = portfolio.base
        self.rules = rules
        self.assets = portfolio.assets
        self.instruments = portfolio.instruments
        self.rulebook = portfolio.rulebook
        self.market = market
        self.guard = Guard()
        self.open_interest_limits: dict[str, Decimal] = {}
        self.ledger = Ledger()
        self.legs: dict[str, dict[tuple[str, bool], Leg]] = {}
        self.in_liquidation: set[str] = set()
        self.funding_index: dict[str, Decimal] = {}
        self.log: list[Event] = []
        self._holders: dict[tuple[str, bool], dict[str, None]] = {}
        self._net_values: dict[LedgerAccount, Decimal] = {}
        self._figures: dict[LedgerAccount, PoolFigures] = {}
        self._positions: dict[Position, PositionFigures] = {}  # every position valued at the current market
        self._accounts: dict[str, Account] = {}
        self._owner: dict[LedgerAccount, str] = {}
        self._book: Portfolio | None = None  # the current market's book without accounts (see portfolio_of)
        self.changes: list[str] = []  # per event applied, the accounts whose money or positions it changed

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> ClearingSnapshot:
        """The exact state now, apart from the configuration and the log (see :class:`ClearingSnapshot`)."""
        return ClearingSnapshot(
            balances=tuple(
                Balance(account, asset, amount) for (account, asset), amount in self.ledger.snapshot().items()
            ),
            accounts=tuple(
                AccountLegs(
                    account_id,
                    tuple(
                        LegSnapshot(i, long, leg.size, leg.entry_price, leg.isolated) for (i, long), leg in legs.items()
                    ),
                )
                for account_id, legs in self.legs.items()
            ),
            holders=tuple(Holders(i, long, tuple(ids)) for (i, long), ids in self._holders.items()),
            isolated_owners=tuple(IsolatedOwner(pool, owner) for pool, owner in self._owner.items()),
            in_liquidation=tuple(sorted(self.in_liquidation)),
            funding_index=dict(self.funding_index),
            market=MarketSnapshot.of(self.market),
            guard=self.guard,
            open_interest_limits=dict(self.open_interest_limits),
        )

    @classmethod
    def restored(cls, portfolio: Portfolio, rules: RuleChoices, snapshot: ClearingSnapshot) -> Self:
        """The state ``snapshot`` holds, configured by ``portfolio`` (base, rulebook, assets, instruments: its
        market and accounts are not used) and ``rules``, with an empty log: :meth:`rebuilt` replays from the
        snapshot. The snapshot is checked against the configuration and itself (an InputError names the
        field); its digest is the digest of the state it was taken from."""
        if snapshot.version != SNAPSHOT_VERSION:
            raise InputError(
                "version", f"clearing snapshots of version {snapshot.version} are not read here ({SNAPSHOT_VERSION} is)"
            )
        with field_prefix("market"):
            market = snapshot.market.market()
            if market.base != portfolio.base:
                raise InputError("base", f"the market is priced in {market.base!r}, the book in {portfolio.base!r}")
        state = cls.__new__(cls)
        state._configure(portfolio, rules, market)
        state.origin = (portfolio, rules, snapshot)
        for section, names in (("market.marks", market.marks), ("market.open_interest", market.open_interest)):
            for name in names:
                state._instrument(name, f"{section}.{name}")
        for k, balance in enumerate(snapshot.balances):
            if balance.asset != portfolio.base:  # the insurance fund is held in the base currency
                state._asset(balance.asset, f"balances[{k}].asset")
        state.ledger = Ledger.restored({(b.account, b.asset): b.amount for b in snapshot.balances})
        state._restore_legs(snapshot)
        for k, owner in enumerate(snapshot.isolated_owners):
            if owner.pool.book is not Book.ISOLATED:
                raise InputError(f"isolated_owners[{k}].pool", f"{owner.pool} is not an isolated margin")
            state._user_account(owner.account, f"isolated_owners[{k}].account")
            state._owner[owner.pool] = owner.account
        for account_id in snapshot.in_liquidation:
            state._user_account(account_id, "in_liquidation")
        state.in_liquidation = set(snapshot.in_liquidation)
        for name, index in snapshot.funding_index.items():
            state._instrument(name, f"funding_index.{name}")
            finite(index, f"funding_index.{name}")
        state.funding_index = dict(snapshot.funding_index)
        with field_prefix("guard"):
            state._check_guard(snapshot.guard)
        state.guard = snapshot.guard
        with field_prefix("open_interest_limits"):
            state._check_limits(dict(snapshot.open_interest_limits))
        state.open_interest_limits = dict(snapshot.open_interest_limits)
        return state

    def _restore_legs(self, snapshot: ClearingSnapshot) -> None:
        """The legs and their holders from ``snapshot``: every leg of a known instrument, signed as its side,
        at a positive entry price; the holders of each leg exactly the user accounts holding it."""
        for k, entry in enumerate(snapshot.accounts):
            legs = self.legs.setdefault(entry.account, {})
            for j, leg in enumerate(entry.legs):
                field = f"accounts[{k}].legs[{j}]"
                self._instrument(leg.instrument, f"{field}.instrument")
                if finite(leg.size, f"{field}.size") == 0 or (leg.size > 0) != leg.long:
                    raise InputError(f"{field}.size", f"{leg.size} is not a {'long' if leg.long else 'short'} size")
                positive(leg.entry_price, f"{field}.entry_price")
                legs[(leg.instrument, leg.long)] = Leg(leg.size, leg.entry_price, leg.isolated)
        if MARKET not in self.legs:
            raise InputError("accounts", f"the market's account {MARKET!r} is missing")
        for holders in snapshot.holders:
            self._holders[(holders.instrument, holders.long)] = dict.fromkeys(holders.accounts)
        holding: dict[tuple[str, bool], set[str]] = {}
        for account_id in self.account_ids:
            for key in self.legs[account_id]:
                holding.setdefault(key, set()).add(account_id)
        for instrument, long in sorted({*holding, *self._holders}):
            if set(self._holders.get((instrument, long), ())) != holding.get((instrument, long), set()):
                side = "long" if long else "short"
                raise InputError("holders", f"the holders of {instrument} {side} are not the accounts holding it")

    # ------------------------------------------------------------------ views

    def account(self, account_id: str) -> Account:
        """The account as the margin maths sees it: cross balances and positions (isolated with their margin).
        Remembered until one of its pools changes."""
        known = self._accounts.get(account_id)
        if known is not None:
            return known
        legs = self._legs(account_id)
        positions = []
        for (instrument, long), leg in legs.items():
            margin = None
            if leg.isolated:
                margin = self.ledger.balance(
                    isolated(account_id, instrument, long), self.instruments[instrument].settle
                )
            positions.append(Position(instrument, leg.size, leg.entry_price, margin))
        account = self._accounts[account_id] = Account(
            account_id, self.ledger.balances_of(user(account_id)), tuple(positions)
        )
        return account

    def portfolio(self, account_ids: Iterable[str] | None = None) -> Portfolio:
        """The accounts (every user account by default, not the market's) at the current market."""
        ids = self.account_ids if account_ids is None else list(account_ids)
        return self.portfolio_of(self.account(a) for a in ids)

    def portfolio_of(self, accounts: Iterable[Account]) -> Portfolio:
        """Some (possibly hypothetical) accounts on this state's assets, instruments and market."""
        book = self._book
        if book is None or book.market is not self.market:
            book = self._book = Portfolio(self.base, self.rulebook, self.assets, self.instruments, self.market, ())
        return book.of_accounts(accounts)

    def value(self, account: LedgerAccount) -> Decimal:
        """A ledger account's balances at full price, base currency."""
        return value_of(self.ledger.balances_of(account), self.market)

    def holders(self, instrument: str, long: bool) -> list[str]:
        """The user accounts holding ``instrument`` long (or short), in the order they opened the leg."""
        return list(self._holders.get((instrument, long), ()))

    def net_value(self, account_id: str, pool: LedgerAccount | None = None, market: Market | None = None) -> Decimal:
        """The unweighted value of a pool (default: the cross pool) at ``market`` (default: the current one),
        base currency: its balances at full price plus its positions' PnL at the mark (what is left if it
        closed at the mark).

        At the current market the value is remembered until the pool's ledger account is posted to, one
        of the account's legs changes, or the market moves (an ADL round ranks the same accounts once per
        bankrupt position)."""
        target = pool or user(account_id)
        current = market is None or market is self.market
        if current and target in self._net_values:
            return self._net_values[target]
        at = self.market if market is None else market
        cross = target.book is Book.USER
        with exact():
            total = value_of(self.ledger.balances_of(target), at)
            for (name, long), leg in self.legs[account_id].items():
                if (not leg.isolated) if cross else leg.isolated and isolated(account_id, name, long) == target:
                    spec = self.instruments[name]
                    total += unrealized_pnl(spec, leg.size, leg.entry_price, at.mark(name)) * at.price(spec.settle)
        if current:
            self._net_values[target] = total
        return total

    @property
    def account_ids(self) -> list[str]:
        """Every user account (not the market's), in opening order."""
        return [a for a in self.legs if a != MARKET]

    def liquidatable(self, account_id: str) -> bool:
        """Whether the account's cross pool or one of its isolated pools is liquidatable now (exact)."""
        return self.standing(account_id)[1]

    def standing(self, account_id: str) -> tuple[PoolFigures, bool]:
        """The exact figures of the account's cross pool now, and whether it or one of its isolated pools is
        liquidatable."""
        cross = self.pool_figures(account_id)
        pools = (
            isolated(account_id, name, long) for (name, long), leg in self._legs(account_id).items() if leg.isolated
        )
        return cross, cross.liquidatable or any(self.pool_figures(account_id, pool).liquidatable for pool in pools)

    def pool_figures(self, account_id: str, pool: LedgerAccount | None = None) -> PoolFigures:
        """The exact figures of one of the account's pools now (default: its cross pool; an isolated pool whose
        leg is closed holds nothing). Remembered as :meth:`net_value` is: a liquidation confirms, starts, sizes
        and reports one pool at one state several times; and each position's own figures until the market
        moves (a fill changes one position of a pool, the others are not valued again)."""
        target = pool or user(account_id)
        known = self._figures.get(target)
        if known is not None:
            return known
        account = self.account(account_id)
        portfolio = self.portfolio_of([account])
        if target.book is Book.USER:
            chosen = cross_pool(account)
        else:
            legs = [
                p for p in account.positions if p.isolated and isolated(account_id, p.instrument, p.size > 0) == target
            ]
            chosen = isolated_pool(legs[0], portfolio) if legs else cross_pool(Account(account_id))
        figures = self._figures[target] = evaluate_pool(chosen, portfolio, self.rules, self._positions)
        if not scaled_requirements(self.rules, portfolio):
            self._positions.update((f.position, f) for f in figures.positions)
        return figures

    def _forget(self, pool: LedgerAccount) -> None:
        """Drop what is remembered of ``pool`` (its money or one of its legs changed)."""
        self._net_values.pop(pool, None)
        self._figures.pop(pool, None)
        owner = self._owner_of(pool)
        if owner is not None:
            self._accounts.pop(owner, None)

    def open_interest(self, instrument: str) -> tuple[Decimal, Decimal]:
        """(long, short) open interest of ``instrument`` in contracts, the market's positions included."""
        with exact():
            long = sum(
                (
                    leg.size
                    for legs in self.legs.values()
                    for (i, _), leg in legs.items()
                    if i == instrument and leg.size > 0
                ),
                ZERO,
            )
            short = sum(
                (
                    -leg.size
                    for legs in self.legs.values()
                    for (i, _), leg in legs.items()
                    if i == instrument and leg.size < 0
                ),
                ZERO,
            )
        return long, short

    def digest(self) -> str:
        """SHA-256 of the ledger, every account and its positions, the market's prices and marks, who is in
        liquidation, the funding indexes, the guard and the open-interest limits (each part sorted)."""
        with exact():  # normalize() rounds to the context's precision: the exact one keeps every digit
            lines = [self.ledger.digest()]
            for account_id in sorted(self.legs):
                lines.append(f"account|{account_id}")
                for (instrument, long), leg in sorted(self.legs[account_id].items()):
                    lines.append(
                        f"{account_id}|{instrument}|{long}|{leg.size.normalize()}|{leg.entry_price.normalize()}|{leg.isolated}"
                    )
            lines += [f"price|{a}|{v.normalize()}" for a, v in sorted(self.market.prices.items())]
            lines += [f"mark|{a}|{v.normalize()}" for a, v in sorted(self.market.marks.items())]
            lines += [f"multiplier|{u}|{v.normalize()}" for u, v in sorted(self.market.margin_multipliers.items())]
            lines += [f"liquidating|{a}" for a in sorted(self.in_liquidation)]
            lines += [f"funding|{i}|{v.normalize()}" for i, v in sorted(self.funding_index.items())]
            lines += [f"guard|frozen|{s}" for s in sorted(self.guard.frozen)]
            lines += [f"guard|held|{a}|{v.normalize()}" for a, v in sorted(self.guard.held.items())]
            lines += [f"guard|owed|{a}|{v.normalize()}" for a, v in sorted(self.guard.owed.items())]
            lines += [f"oi_limit|{i}|{v.normalize()}" for i, v in sorted(self.open_interest_limits.items())]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def rebuilt(self) -> "ClearingState":
        """A new state from the same start (the opening, or the snapshot it was restored from) with this
        state's log replayed."""
        portfolio, rules, start = self.origin
        if isinstance(start, ClearingSnapshot):
            state = ClearingState.restored(portfolio, rules, start)
        else:
            state = ClearingState(portfolio, rules, start)
        for event in self.log:
            state.apply(event)
        return state

    # ------------------------------------------------------------------ events

    def check(self, event: Event) -> None:
        """Validate ``event`` against the current state exactly as :meth:`apply` would, changing nothing: an
        InputError names what :meth:`apply` would refuse."""
        with exact():
            self._handler(event)(event)

    def apply(self, event: Event) -> None:
        """Validate ``event`` against the current state, then apply and log it (all or nothing)."""
        with exact():
            change = self._handler(event)(event)
        change()
        for changed in sorted(self.ledger.take_changed()):
            self._forget(changed)
            owner = self._owner_of(changed)
            if owner is not None:
                self.changes.append(owner)
        self.log.append(event)

    def _handler(self, event: Event) -> Callable[[Any], Change]:
        handlers: dict[type, Callable[[Any], Change]] = {
            OpenAccount: self._open_account,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            Trade: self._trade,
            Funding: self._funding,
            PriceUpdate: self._price_update,
            MarginMultipliers: self._margin_multipliers,
            OpenInterestLimits: self._open_interest_limits,
            Guard: self._guard,
            LiquidationStart: self._liquidation_start,
            LiquidationEnd: self._liquidation_end,
            LiquidationFill: self._liquidation_fill,
            CollateralSale: self._collateral_sale,
            InsuranceCover: self._insurance_cover,
            SocializedLoss: self._socialized_loss,
            WriteOff: self._write_off,
        }
        handler = handlers.get(type(event))
        if handler is None:
            raise InputError("event", f"unknown event {event!r}")
        return handler

    def _open_account(self, event: OpenAccount) -> Change:
        account_id = event.account
        if not account_id or len(account_id) > MAX_ACCOUNT_ID:
            raise InputError("account", f"an account id is 1 to {MAX_ACCOUNT_ID} characters, got {len(account_id)}")
        if UNPRINTABLE.search(account_id):
            raise InputError("account", f"{account_id!r} is not printable text (control characters)")
        if account_id == MARKET:
            raise InputError("account", f"{MARKET!r} is the market's own account")
        if account_id in self.legs:
            raise InputError("account", f"an account with id {account_id!r} exists")

        def change() -> None:
            self.legs[account_id] = {}
            self.changes.append(account_id)

        return change

    def _deposit(self, event: Deposit) -> Change:
        self._legs(event.account)
        self._asset(event.asset)
        positive(event.amount, "amount")
        postings = transfer(EXTERNAL, user(event.account), event.asset, event.amount)
        return lambda: self.ledger.post(postings)

    def _withdraw(self, event: Withdraw) -> Change:
        self._legs(event.account)
        self._asset(event.asset)
        positive(event.amount, "amount")
        if event.account in self.in_liquidation:
            raise InputError("account", f"{event.account!r} is being liquidated")
        account = self.account(event.account)
        portfolio = self.portfolio_of([account])
        frozen = self._frozen_for(account, portfolio)
        if frozen is not None:
            raise InputError("account", f"withdrawals are frozen: the price of {frozen} is frozen by the oracle policy")
        room = max_withdrawable(account, self.guarded(account, portfolio), self.rules, event.asset)
        if event.amount > room:
            most = format(room.normalize(), "f")
            raise InputError(
                "amount", f"{shown(event.amount)} exceeds the free collateral: at most {most} {event.asset} may leave"
            )
        postings = transfer(user(event.account), EXTERNAL, event.asset, event.amount)
        return lambda: self.ledger.post(postings)

    def _trade(self, event: Trade) -> Change:
        if event.buyer == event.seller:
            raise InputError("seller", "buyer and seller are the same account")
        instrument = self._instrument(event.instrument)
        positive(event.size, "size")
        positive(event.price, "price")
        non_negative(event.buyer_fee, "buyer_fee")
        non_negative(event.seller_fee, "seller_fee")
        self._check_open_interest(event)
        changes = []
        for role, account_id, signed, fee in (
            ("buyer", event.buyer, event.size, event.buyer_fee),
            ("seller", event.seller, -event.size, event.seller_fee),
        ):
            legs = self._legs(account_id, role)
            held = [k for k in legs if k[0] == event.instrument]
            if len(held) > 1:
                raise InputError(role, f"{account_id!r} holds {event.instrument} long and short: trade a leg")
            if account_id != MARKET:
                if account_id in self.in_liquidation:
                    raise InputError(role, f"{account_id!r} is being liquidated")
                account = self.account(account_id)
                portfolio = self.portfolio_of([account])
                guarded = self.guarded(account, portfolio)
                passes, reason = order_verdict(account, guarded, self.rules, event.instrument, signed, event.price)
                if reason != REDUCES:
                    frozen = self._frozen_for(account, portfolio, event.instrument, instrument.settle)
                    if frozen is not None:
                        raise InputError(
                            role,
                            f"{account_id!r} may not add risk: the price of {frozen} is frozen by the oracle policy",
                        )
                    if not passes:
                        raise InputError(role, f"{account_id!r} would fail the initial-margin check: {reason}")
            long = held[0][1] if held else signed > 0
            changes.append(self._fill(account_id, instrument.name, long, signed, event.price, fee, FEE_POOL, ZERO))

        def change() -> None:
            for apply in changes:
                apply()

        return change

    def _funding(self, event: Funding) -> Change:
        spec = self._instrument(event.instrument)
        if spec.kind is not ContractKind.PERPETUAL:
            raise InputError("instrument", f"{event.instrument} is not a perpetual: it pays no funding")
        if not event.rate.is_finite():
            raise InputError("rate", "must be a finite number")
        mark = self.market.mark(event.instrument)
        step = (spec.contract_size / mark if spec.inverse else spec.contract_size * mark) * event.rate
        postings: list[Posting] = []
        for account_id, legs in self.legs.items():
            for (name, long), leg in legs.items():
                if name != event.instrument:
                    continue
                payment = leg.size * step
                pool = self.pool_of(account_id, name, long)
                if pool.book is Book.ISOLATED:
                    # an isolated margin pays what it holds; the rest comes from the cross balance
                    own = min(payment, self.ledger.balance(pool, spec.settle))
                    postings += transfer(pool, FUNDING, spec.settle, own)
                    pool, payment = user(account_id), payment - own
                postings += transfer(pool, FUNDING, spec.settle, payment)

        def change() -> None:
            self.ledger.post(postings)
            self.funding_index[event.instrument] = self.funding_index.get(event.instrument, ZERO) + step

        return change

    def _price_update(self, event: PriceUpdate) -> Change:
        for asset in event.prices:
            if asset not in self.market.prices:
                self._asset(asset, f"prices.{asset}")
        for name in event.marks:
            self._instrument(name, f"marks.{name}")
        return self._market_change(self.market.moved(prices=event.prices, marks=event.marks))

    def _market_change(self, new: Market) -> Change:
        """The change that puts ``new`` in place of the market, forgetting every figure valued at the old one."""

        def change() -> None:
            self.market = new
            self._net_values.clear()
            self._figures.clear()
            self._positions.clear()

        return change

    def _margin_multipliers(self, event: MarginMultipliers) -> Change:
        underlyings = {spec.underlying for spec in self.instruments.values()}
        for underlying in event.multipliers:
            if underlying not in underlyings:
                raise InputError(f"multipliers.{underlying}", f"{underlying!r} is no instrument's underlying")
        with field_prefix("multipliers"):
            return self._market_change(self.market.with_multipliers(event.multipliers))

    def _open_interest_limits(self, event: OpenInterestLimits) -> Change:
        with field_prefix("limits"):
            self._check_limits(event.limits)
        limits = {**self.open_interest_limits, **event.limits}
        kept = {name: limit for name, limit in sorted(limits.items()) if limit is not None}

        def change() -> None:
            self.open_interest_limits = kept

        return change

    def _check_limits(self, limits: Mapping[str, Decimal | None]) -> None:
        """Refuse a limit on an instrument the state does not list, or one below zero."""
        for name, limit in limits.items():
            self._instrument(name, name)
            if limit is not None:
                non_negative(limit, name)

    def _check_open_interest(self, event: Trade) -> None:
        """Refuse ``event`` if it raises its instrument's long open interest above the instrument's limit."""
        limit = self.open_interest_limits.get(event.instrument)
        if limit is None:
            return
        with exact():
            raised = ZERO
            for role, account_id, signed in (("buyer", event.buyer, event.size), ("seller", event.seller, -event.size)):
                legs = self._legs(account_id, role)
                held = sum((leg.size for (i, _), leg in legs.items() if i == event.instrument), ZERO)
                raised += max(held + signed, ZERO) - max(held, ZERO)
            if raised <= 0:
                return
            after = self.open_interest(event.instrument)[0] + raised
        if after > limit:
            raise InputError(
                "size", f"would raise the open interest of {event.instrument} to {after}, above its limit {limit}"
            )

    def _guard(self, event: Guard) -> Change:
        self._check_guard(event)

        def change() -> None:
            self.guard = event

        return change

    def _liquidation_start(self, event: LiquidationStart) -> Change:
        self._user_account(event.account)
        if event.account in self.in_liquidation:
            raise InputError("account", f"{event.account!r} is already being liquidated")
        if not self.liquidatable(event.account):
            raise InputError("account", f"{event.account!r} is not liquidatable at the current market")
        return lambda: self.in_liquidation.add(event.account)

    def _liquidation_end(self, event: LiquidationEnd) -> Change:
        self._liquidating(event.account)
        return lambda: self.in_liquidation.discard(event.account)

    def _liquidation_fill(self, event: LiquidationFill) -> Change:
        self._liquidating(event.account)
        instrument = self._instrument(event.instrument)
        positive(event.size, "size")
        positive(event.price, "price")
        non_negative(event.fee_insurance, "fee_insurance")
        non_negative(event.fee_liquidator, "fee_liquidator")
        leg = self._legs(event.account).get((event.instrument, event.long))
        if leg is None:
            raise InputError(
                "long", f"{event.account!r} holds no {'long' if event.long else 'short'} {event.instrument}"
            )
        if event.size > abs(leg.size):
            raise InputError("size", f"{event.size} exceeds the position ({abs(leg.size)} contracts)")
        if event.counterparty == event.account:
            raise InputError("counterparty", "an account cannot take its own liquidation")
        taker_legs = self._legs(event.counterparty, "counterparty")
        opposite = [k for k in taker_legs if k[0] == event.instrument and k[1] != event.long]
        if event.taker is Taker.ADL:
            if event.counterparty == MARKET:
                raise InputError("counterparty", "the market is not auto-deleveraged")
            if not opposite or abs(taker_legs[opposite[0]].size) < event.size:
                raise InputError(
                    "counterparty", f"{event.counterparty!r} has no opposite position of that size to reduce"
                )
        elif event.taker is Taker.MARKET and event.counterparty != MARKET:
            raise InputError("counterparty", "a market fill is taken by the market account")
        elif len([k for k in taker_legs if k[0] == event.instrument]) > 1:
            raise InputError("counterparty", f"{event.counterparty!r} holds {event.instrument} long and short")
        signed = -event.size if event.long else event.size
        fee = event.fee_insurance + event.fee_liquidator
        closing = self._fill(
            event.account, instrument.name, event.long, signed, event.price, fee, INSURANCE_FUND, event.fee_liquidator
        )
        taker_long = opposite[0][1] if opposite else event.long
        taking = self._fill(event.counterparty, instrument.name, taker_long, -signed, event.price, ZERO, FEE_POOL, ZERO)

        def change() -> None:
            closing()
            taking()

        return change

    def _collateral_sale(self, event: CollateralSale) -> Change:
        self._liquidating(event.account)
        self._asset(event.sell_asset, "sell_asset")
        self._asset(event.buy_asset, "buy_asset")
        positive(event.sold, "sold")
        positive(event.bought, "bought")
        if event.sell_asset == event.buy_asset:
            raise InputError("buy_asset", "must differ from sell_asset")
        balances = self.ledger.balances_of(user(event.account))
        if balances.get(event.sell_asset, ZERO) < event.sold:
            raise InputError("sold", f"exceeds the {event.sell_asset} held")
        if -balances.get(event.buy_asset, ZERO) < event.bought:
            raise InputError("bought", f"exceeds the {event.buy_asset} owed")
        postings = [
            *transfer(user(event.account), user(MARKET), event.sell_asset, event.sold),
            *transfer(user(MARKET), user(event.account), event.buy_asset, event.bought),
        ]
        return lambda: self.ledger.post(postings)

    def _insurance_cover(self, event: InsuranceCover) -> Change:
        self._asset(event.asset)
        positive(event.amount, "amount")
        self._owed(event.pool, event.asset, event.amount)
        if self.ledger.balance(INSURANCE_FUND, event.asset) >= event.amount:
            postings = [*transfer(INSURANCE_FUND, event.pool, event.asset, event.amount)]
        else:
            positive(event.cost, "cost")
            if self.ledger.balance(INSURANCE_FUND, self.base) < event.cost:
                raise InputError("cost", "exceeds the insurance fund")
            postings = [
                *transfer(INSURANCE_FUND, user(MARKET), self.base, event.cost),
                *transfer(user(MARKET), event.pool, event.asset, event.amount),
            ]
        return lambda: self.ledger.post(postings)

    def _socialized_loss(self, event: SocializedLoss) -> Change:
        self._asset(event.asset)
        total = ZERO
        postings: list[Posting] = []
        for account_id, amount in event.shares.items():
            self._user_account(account_id, f"shares.{account_id}")
            positive(amount, f"shares.{account_id}")
            total += amount
            postings += transfer(user(account_id), event.pool, event.asset, amount)
        self._owed(event.pool, event.asset, total)
        return lambda: self.ledger.post(postings)

    def _write_off(self, event: WriteOff) -> Change:
        self._asset(event.asset)
        positive(event.amount, "amount")
        self._owed(event.pool, event.asset, event.amount)
        postings = transfer(BAD_DEBT, event.pool, event.asset, event.amount)
        return lambda: self.ledger.post(postings)

    # ------------------------------------------------------------------ helpers

    def _check_guard(self, guard: Guard) -> None:
        """Refuse a guard naming a symbol that is neither an asset, a priced underlying nor an instrument, or
        guarding the price of the base currency or of an asset without one, at a price not positive."""
        for symbol in sorted(guard.frozen):
            if symbol not in self.assets and symbol not in self.market.prices and symbol not in self.instruments:
                raise InputError("frozen", f"unknown symbol {symbol!r}")
        for side, prices in (("held", guard.held), ("owed", guard.owed)):
            for asset, price in prices.items():
                field = f"{side}.{asset}"
                if asset == self.base:
                    raise InputError(field, f"the base currency {asset!r} is priced at 1")
                if asset not in self.market.prices:
                    raise InputError(field, f"{asset!r} has no market price to guard")
                positive(price, field)

    def _frozen_for(self, account: Account, portfolio: Portfolio, *also: str) -> str | None:
        """The first (sorted) frozen symbol the account depends on, counting ``also`` (symbols a trade would
        add; the base currency aside); None when there is none."""
        depends = {*depends_on(account, portfolio), *(s for s in also if s != self.base)}
        frozen = sorted(depends & self.guard.frozen)
        return frozen[0] if frozen else None

    def guarded(self, account: Account, portfolio: Portfolio) -> Portfolio:
        """``portfolio`` at the account's guarded market: each asset it holds priced at the guard's ``held``
        price, each it owes at the ``owed`` price (where the guard gives one; otherwise the market's)."""
        guard = self.guard
        prices: dict[str, Decimal] = {}
        for asset, amount in account.balances.items():
            if amount > 0 and asset in guard.held:
                prices[asset] = guard.held[asset]
            elif amount < 0 and asset in guard.owed:
                prices[asset] = guard.owed[asset]
        if not prices:
            return portfolio
        return portfolio.with_market(replace(portfolio.market, prices={**portfolio.market.prices, **prices}))

    def _fill(
        self, account_id: str, instrument: str, long: bool, signed: Decimal, price: Decimal, fee: Decimal,
        fee_to: LedgerAccount, liquidator_fee: Decimal,
    ) -> Change:  # fmt: skip
        """The change of one side of a fill: position, realized PnL from clearing, fee out of the position's
        pool (``liquidator_fee`` of it to the liquidator, the rest to ``fee_to``); an isolated pool closed by
        it returns what is left of its margin to the cross balance (a deficit stays, for a liquidation)."""
        spec = self.instruments[instrument]
        legs = self.legs[account_id]
        old = legs.get((instrument, long))
        position = None if old is None else Position(instrument, old.size, old.entry_price)
        outcome = apply_fill(spec, position, signed, price)
        pool = self.pool_of(account_id, instrument, long) if old is not None else user(account_id)
        postings = [
            *transfer(CLEARING, pool, spec.settle, outcome.realized_pnl),
            *transfer(pool, fee_to, spec.settle, fee - liquidator_fee),
            *transfer(pool, LIQUIDATOR, spec.settle, liquidator_fee),
        ]
        new = outcome.position
        is_isolated = old is not None and old.isolated
        if new is None and is_isolated:
            left = self.ledger.balance(pool, spec.settle) + outcome.realized_pnl - fee
            if left > 0 or account_id not in self.in_liquidation:
                postings += transfer(pool, user(account_id), spec.settle, left)

        def change() -> None:
            if is_isolated:
                self._owner[pool] = account_id
            self.ledger.post(postings)
            if legs.pop((instrument, long), None) is not None and account_id != MARKET:
                del self._holders[(instrument, long)][account_id]
            self._forget(pool)
            if new is not None:
                legs[(instrument, new.size > 0)] = Leg(new.size, new.entry_price, is_isolated)
                if account_id != MARKET:
                    self._holders.setdefault((instrument, new.size > 0), {})[account_id] = None

        return change

    def pool_of(self, account_id: str, instrument: str, long: bool) -> LedgerAccount:
        """The ledger account a leg's money is in: its isolated margin, or the cross balance."""
        leg = self.legs[account_id].get((instrument, long))
        if leg is not None and leg.isolated:
            return isolated(account_id, instrument, long)
        return user(account_id)

    def _owner_of(self, pool: LedgerAccount) -> str | None:
        """The account whose cross balance or isolated margin ``pool`` is (None for the exchange's own). An
        isolated margin is known from the opening or from the first fill posted to it, which comes before
        any other event can post to it."""
        if pool.book is Book.USER:
            return pool.owner
        return self._owner.get(pool)

    def _legs(self, account_id: str, field: str = "account") -> dict[tuple[str, bool], Leg]:
        try:
            return self.legs[account_id]
        except KeyError:
            raise InputError(field, f"no account with id {account_id!r}") from None

    def _user_account(self, account_id: str, field: str = "account") -> None:
        self._legs(account_id, field)
        if account_id == MARKET:
            raise InputError(field, "the market's own account is not a user account")

    def _liquidating(self, account_id: str) -> None:
        self._user_account(account_id)
        if account_id not in self.in_liquidation:
            raise InputError("account", f"{account_id!r} is not being liquidated")

    def _asset(self, asset: str, field: str = "asset") -> None:
        if asset not in self.assets:
            raise InputError(field, f"unknown asset {asset!r}")

    def _instrument(self, name: str, field: str = "instrument") -> Instrument:
        try:
            return self.instruments[name]
        except KeyError:
            raise InputError(field, f"unknown instrument {name!r}") from None

    def _owed(self, pool: LedgerAccount, asset: str, amount: Decimal) -> None:
        if pool.book not in (Book.USER, Book.ISOLATED):
            raise InputError("pool", f"{pool} is not an account's pool")
        if -self.ledger.balance(pool, asset) < amount:
            raise InputError("amount", f"{amount} {asset} exceeds what {pool} owes")


def value_of(balances: Mapping[str, Decimal], market: Market) -> Decimal:
    """Balances at full price, base currency."""
    with exact():
        return sum((amount * market.price(asset) for asset, amount in balances.items()), ZERO)
