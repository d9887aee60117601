"""One person's accounts at several venues, seen together: exposure and delta per underlying, and the price at
which each venue liquidates them first.

Each venue's accounts are margined under that venue's rules and tables (a :class:`VenueBook`); every venue is
valued at one market (a price or a mark is the same at every venue that knows its name). An *owner* is an
account's ``owner``, or its id when it names none (:attr:`~crossmargin.model.Account.held_by`). For each
underlying an owner's positions are on (exact, base currency unless said):

- ``notional``: the sum of the positions' notionals at their marks (as ``evaluate`` reports them; an option's is
  its premium's), never negative; ``net_notional`` the same signed by side, long positive;
- ``delta``: units of the underlying, long positive: ``size x contract_size`` for a linear contract, its quote
  notional over the mark ``size x contract_size / mark`` for an inverse one, the Black-76 delta times
  ``size x contract_size`` for an option (a float model figure, kept to 12 significant digits);
- per venue where an account of the owner is exposed to the underlying (a position on it or settled in it, a
  balance of it), the same three figures for that venue's positions, and where that venue liquidates the owner
  first. Every mark on the underlying and its price move by one factor ``s``, all else held (other underlyings,
  other venues); each of the owner's pools there that is exposed (an account's cross pool, an isolated
  position's own pool) turns liquidatable at the factor the exact solver finds nearest to 1 in either direction
  (:func:`~crossmargin.margin.liquidation_price.liquidation_scale`; 1 for a pool liquidatable already). The venue
  liquidates the owner first at the factor nearest to 1 among them (the smallest ``|s - 1|``; the first found
  on a tie) and at the underlying's price ``price x s``, in base currency.

A pool whose liquidation price the solver cannot give (one holding an option, or under a scenario grid, a VaR
floor or volatility scaling) leaves the venue's answer unsolved: no factor, no price.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.account import cross_pool, isolated_pool, solver_follows, solver_prices
from crossmargin.margin.exposure import position_risk
from crossmargin.margin.liquidation_price import liquidation_scale
from crossmargin.margin.pools import Pool, evaluate_pool, position_figures
from crossmargin.margin.scaling import Move
from crossmargin.margin.valuation import is_option
from crossmargin.model import Account, InputError, Portfolio, Position, RuleChoices
from crossmargin.model.numbers import ONE, ZERO, exact, from_float


@dataclass(frozen=True)
class VenueBook:
    """One venue's accounts margined under its rulebook's ``rules``; ``portfolio.rulebook`` names the venue."""

    portfolio: Portfolio
    rules: RuleChoices

    @property
    def venue(self) -> str:
        """The venue: the name of its rulebook."""
        return self.portfolio.rulebook


@dataclass(frozen=True)
class VenueExposure:
    """An owner's exposure to one underlying at one venue, and where that venue liquidates them first.

    ``notional``, ``net_notional``: base currency; ``delta``: units of the underlying (see the module doc).
    ``scale``: the factor on the underlying's prices at which the first of the owner's pools there turns
    liquidatable (1: one is liquidatable now; None: none at any price, or not ``solved``); ``liquidation_price``
    the underlying's price times it (base currency); ``account`` the id of the account that pool belongs to.
    """

    venue: str
    notional: Decimal
    net_notional: Decimal
    delta: Decimal
    scale: Decimal | None
    liquidation_price: Decimal | None
    account: str | None
    solved: bool


@dataclass(frozen=True)
class UnderlyingExposure:
    """An owner's exposure to one underlying over every venue (``price``, notionals: base currency; ``delta``:
    units of the underlying), and each venue's part, venues in the order the owner's accounts name them."""

    underlying: str
    price: Decimal
    notional: Decimal
    net_notional: Decimal
    delta: Decimal
    venues: tuple[VenueExposure, ...]


@dataclass(frozen=True)
class OwnerView:
    """One owner: their account ids (in the order given) and their exposure per underlying, by name."""

    owner: str
    accounts: tuple[str, ...]
    underlyings: tuple[UnderlyingExposure, ...]


def owner_views(holders: Sequence[tuple[Account, VenueBook]]) -> tuple[OwnerView, ...]:
    """The view of every owner of ``holders`` (each account with its venue's book), owners in the order of their
    first account (see the module doc)."""
    owners: dict[str, list[tuple[Account, VenueBook]]] = {}
    for account, book in holders:
        owners.setdefault(account.held_by, []).append((account, book))
    return tuple(_owner_view(owner, held) for owner, held in owners.items())


def position_delta(position: Position, portfolio: Portfolio) -> Decimal:
    """The position's delta in units of its underlying, long positive (see the module doc)."""
    spec = portfolio.instruments[position.instrument]
    if is_option(spec):
        return from_float(position_risk(position, spec, portfolio.market).delta)
    units = position.size * spec.contract_size
    return units / portfolio.market.mark(position.instrument) if spec.inverse else units


def _owner_view(owner: str, held: list[tuple[Account, VenueBook]]) -> OwnerView:
    traded = sorted({book.portfolio.instruments[p.instrument].underlying for a, book in held for p in a.positions})
    with exact():
        return OwnerView(owner, tuple(a.id for a, _ in held), tuple(_underlying(owner, u, held) for u in traded))


def _underlying(owner: str, underlying: str, held: list[tuple[Account, VenueBook]]) -> UnderlyingExposure:
    venues: dict[str, tuple[VenueBook, list[Account]]] = {}
    for account, book in held:
        if _exposed(account, book.portfolio, underlying):
            venues.setdefault(book.venue, (book, []))[1].append(account)
    price = _price(owner, underlying, [book for book, _ in venues.values()])
    parts = tuple(_at_venue(underlying, price, book, accounts) for book, accounts in venues.values())
    return UnderlyingExposure(
        underlying,
        price,
        sum((part.notional for part in parts), ZERO),
        sum((part.net_notional for part in parts), ZERO),
        sum((part.delta for part in parts), ZERO),
        parts,
    )


def _price(owner: str, underlying: str, books: Iterable[VenueBook]) -> Decimal:
    """The underlying's price in base currency (one market: any venue knowing it has the same)."""
    for book in books:
        market = book.portfolio.market
        if underlying == market.base or underlying in market.prices:
            return market.price(underlying)
    raise InputError(
        f"prices.{underlying}",
        f"missing price: the view of owner {owner!r} gives where each venue liquidates them in the price of "
        f"{underlying!r} (add prices.{underlying})",
    )


def _on(position: Position, portfolio: Portfolio, underlying: str) -> bool:
    return portfolio.instruments[position.instrument].underlying == underlying


def _exposed_pool(pool: Pool, portfolio: Portfolio, underlying: str) -> bool:
    """Whether the pool's status can change with the underlying's price."""
    held = any(asset == underlying and amount for asset, amount in pool.balances.items())
    return held or any(
        _on(p, portfolio, underlying) or portfolio.instruments[p.instrument].settle == underlying
        for p in pool.positions
    )


def _pools(account: Account, portfolio: Portfolio) -> list[Pool]:
    return [cross_pool(account), *(isolated_pool(p, portfolio) for p in account.positions if p.isolated)]


def _exposed(account: Account, portfolio: Portfolio, underlying: str) -> bool:
    return any(_exposed_pool(pool, portfolio, underlying) for pool in _pools(account, portfolio))


def _at_venue(underlying: str, price: Decimal, book: VenueBook, accounts: list[Account]) -> VenueExposure:
    portfolio = book.portfolio
    on = [p for a in accounts for p in a.positions if _on(p, portfolio, underlying)]
    notionals = [(p, position_figures(p, portfolio).notional) for p in on]
    move = Move.of_underlying(portfolio, underlying)
    found: list[tuple[Decimal, str]] = []
    solved = True
    for account in accounts:
        for pool in _pools(account, portfolio):
            if not _exposed_pool(pool, portfolio, underlying):
                continue
            if not _solvable(pool, book):
                solved = False
                continue
            scale = _nearest_scale(pool, book, move)
            if scale is not None:
                found.append((scale, account.id))
    first = min(found, key=lambda pair: abs(pair[0] - ONE), default=None) if solved else None
    scale, account_id = first if first is not None else (None, None)
    return VenueExposure(
        book.venue,
        sum((n for _, n in notionals), ZERO),
        sum((n if p.size > 0 else -n for p, n in notionals), ZERO),
        sum((position_delta(p, portfolio) for p in on), ZERO),
        scale,
        None if scale is None else price * scale,
        account_id,
        solved,
    )


def _solvable(pool: Pool, book: VenueBook) -> bool:
    instruments = book.portfolio.instruments
    return solver_follows(book.rules) and all(solver_prices(instruments[p.instrument]) for p in pool.positions)


def _nearest_scale(pool: Pool, book: VenueBook, move: Move) -> Decimal | None:
    """The factor nearest to 1 at which ``pool`` is liquidatable: 1 when it is now, else the solver's first
    change of status looking down and looking up."""
    if evaluate_pool(pool, book.portfolio, book.rules).liquidatable:
        return ONE
    found = [liquidation_scale(pool, book.portfolio, book.rules, move, long) for long in (True, False)]
    return min((s for s in found if s is not None), key=lambda s: abs(s - ONE), default=None)
