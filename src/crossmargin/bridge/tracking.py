"""The book ``crossmargin watch`` keeps: the imported venue account, moved by each own fill as the clearing state
moves a position, and set beside each later snapshot of the venue's positions and balances. What the fills do not
explain is *drift*, reported and never turned into an event (docs/import.md, "Watch").

A snapshot is read the importer's way: the venue's ``fetch_positions`` and ``fetch_balance`` go through the same
family reader as ``crossmargin import`` (:mod:`crossmargin.bridge.families`), with the markets, tiers and static
account settings of the import, so a balance means what the imported document's balance means (a Binance cross
wallet, a Bybit wallet balance, Hyperliquid's raw USD plus the cross positions' entry cost).

Units: sizes in contracts (positive long, negative short), prices in mark units, money in units of its asset (a
fill's fee and realized PnL in the instrument's settle asset, a fee >= 0 paid by the account). Legs are keyed by
account and instrument, one per side, as a hedge-mode venue holds a long and a short at once.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from crossmargin.bridge.families import family
from crossmargin.bridge.family import AccountFacts, PositionFacts
from crossmargin.bridge.importer import document_from_responses, instrument_names
from crossmargin.bridge.live import RAW_CALLS
from crossmargin.bridge.reported import split_reported
from crossmargin.bridge.responses import Responses, mapping_at, number, positive_number, required_text, text
from crossmargin.live.document import portfolio_of
from crossmargin.margin.fills import apply_fill
from crossmargin.model import InputError, Instrument, Position
from crossmargin.model.numbers import ZERO

LegKey = tuple[str, str, bool]
"""(account id, instrument, long): one side of a position."""
BalanceKey = tuple[str, str]
"""(account id, asset): a cross balance."""


def account_id(venue: str, key: str) -> str:
    """The document's id of a venue account: the venue, with the margin asset of a per-asset account appended
    (``binanceusdm-USDT``), as the importer names accounts."""
    return f"{venue}-{key}" if key else venue


class Skipped(Exception):
    """A venue update the book cannot take (``reason`` says why); the watcher reports it and goes on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Fill:
    """One own fill on the venue as a trade of the book: ``account`` buys (``size`` > 0) or sells ``|size|``
    contracts of ``instrument`` at ``price`` from the outside market; ``fee`` (settle units, >= 0) is the part of
    the venue's fee the ledger can carry (charged in the settle asset; a rebate or a fee in another asset is 0
    here and shows in the next balance snapshot). ``venue_fee`` is the fee as the venue charged it
    (cost, currency), ``trade_id`` the venue's id of the fill."""

    trade_id: str
    account: str
    instrument: str
    size: Decimal
    price: Decimal
    fee: Decimal
    venue_fee: tuple[Decimal, str] | None


@dataclass(frozen=True)
class Drift:
    """A difference between the venue and the book that the fills seen do not explain.

    ``kind`` ``position``: ``subject`` is the instrument (the ccxt symbol for a market the book does not hold,
    ``account`` then None), ``side`` ``long`` or ``short``, sizes signed contracts. ``kind`` ``balance``:
    ``subject`` is the asset, sizes are amounts of it, ``side`` None. ``venue`` minus ``book`` is the
    difference."""

    kind: str
    account: str | None
    subject: str
    side: str | None
    venue: Decimal
    book: Decimal

    @property
    def difference(self) -> Decimal:
        return self.venue - self.book


class BookTracker:
    """The book as the watcher knows it (see the module doc).

    ``legs``: each open side's position (size, entry price, isolated margin or None); ``balances``: each account's
    cross balance per asset. A difference must last ``settle_s`` seconds (a snapshot may be read before the fill
    that explains it arrives) before it is reported; once reported, the book takes the venue's figure, so each
    drift is reported once. A balance within the venue's printed quantum of the book's, one quantum more per fill
    since the last agreement (the venue rounds each fill), agrees.
    """

    def __init__(self, responses: Responses, settle_s: float) -> None:
        self.responses = responses
        self.venue = family(responses.venue)
        self.settle_s = settle_s
        positions = self.venue.positions(responses)
        self.names: dict[str, str] = instrument_names(responses, list(dict.fromkeys(p.symbol for p in positions)))
        document = document_from_responses(responses)
        portfolio, _ = portfolio_of(split_reported(document)[0])
        self.instruments: Mapping[str, Instrument] = portfolio.instruments
        self.accounts: tuple[str, ...] = tuple(a["id"] for a in document["accounts"])
        self.legs = self._legs(positions)
        self.balances = self._balances(self.venue.accounts(responses, positions))
        self.fills_since: dict[BalanceKey, int] = {}
        self.hedged = _hedged(responses)
        self._pending: dict[Any, float] = {}  # a difference not yet reported -> watcher time first seen
        self._outside: dict[tuple[str, str], Decimal] = {}
        self._static_raw = {name for name, _, _ in RAW_CALLS.get(responses.venue, ())}

    # ------------------------------------------------------------------ fills

    def fill_of(self, trade: Mapping[str, Any], where: str = "trade") -> Fill:
        """The book's fill for a ccxt trade structure (``symbol``, ``side``, ``amount`` in contracts, ``price``,
        ``fee`` {cost, currency}, ``id``); :class:`Skipped` when the book cannot take it."""
        try:
            symbol = required_text(trade, "symbol", where)
            name = self.names.get(symbol)
            if name is None:
                raise Skipped(f"{symbol} is not a market the book holds")
            side = text(trade, "side", where)
            if side not in ("buy", "sell"):
                raise Skipped(f"{where}.side must be 'buy' or 'sell', got {side!r}")
            amount = positive_number(trade, "amount", where)
            price = positive_number(trade, "price", where)
            settle = self.instruments[name].settle
            account = self._account_for(name, settle)
            if self.hedged:
                raise Skipped("the venue account is in hedge mode: the book trades one-way positions")
            venue_fee = _fee(trade, where)
            trade_id = text(trade, "id", where) or f"{symbol}:{trade.get('timestamp')}:{side}:{amount}@{price}"
        except InputError as err:
            raise Skipped(str(err)) from None
        fee = venue_fee[0] if venue_fee is not None and venue_fee[1] == settle and venue_fee[0] > 0 else ZERO
        return Fill(trade_id, account, name, amount if side == "buy" else -amount, price, fee, venue_fee)

    def apply(self, fill: Fill) -> None:
        """Move the book by ``fill`` as the clearing state moves the account's side of a trade: the position
        (averaged entry on adds, realized PnL on reductions, a flip reopened at the fill price), realized PnL
        less the fee into the cross balance, or into the isolated margin of an isolated position (what is left
        of it going back to the cross balance when the position closes)."""
        instrument = self.instruments[fill.instrument]
        sides = self._sides(fill.account, fill.instrument)
        old = sides[0] if sides else None
        if old is not None:
            del self.legs[(fill.account, fill.instrument, old.size > 0)]
        outcome = apply_fill(instrument, old, fill.size, fill.price)
        cash = outcome.realized_pnl - fill.fee
        margin = None if old is None else old.isolated_margin
        cross = (fill.account, instrument.settle)
        if margin is None:
            self._credit(cross, cash)
        elif outcome.position is None:
            self._credit(cross, margin + cash)
        else:
            margin += cash
        self.fills_since[cross] = self.fills_since.get(cross, 0) + 1
        if outcome.position is not None:
            new = replace(outcome.position, isolated_margin=margin)
            self.legs[(fill.account, fill.instrument, new.size > 0)] = new

    def _credit(self, key: BalanceKey, amount: Decimal) -> None:
        self.balances[key] = self.balances.get(key, ZERO) + amount

    def _sides(self, account: str, instrument: str) -> list[Position]:
        return [leg for (a, i, _), leg in self.legs.items() if a == account and i == instrument]

    def _account_for(self, instrument: str, settle: str) -> str:
        """The account a fill in ``instrument`` belongs to: the one holding it, else the account of its settle
        asset (per-asset venues), else the venue's one account."""
        holders = sorted({a for (a, i, _) in self.legs if i == instrument})
        if len(holders) == 1:
            return holders[0]
        for candidate in (account_id(self.responses.venue, settle), account_id(self.responses.venue, "")):
            if candidate in self.accounts:
                return candidate
        raise Skipped(f"no account of the book margins {instrument} (settled in {settle})")

    # ------------------------------------------------------------------ snapshots

    def observe(self, positions: Sequence[Any], balance: Any, now: float) -> list[Drift]:
        """Compare a snapshot (what ``fetch_positions`` and ``fetch_balance`` returned) with the book at watcher
        time ``now`` (seconds): the drifts to report now. Agreeing figures are taken from the venue (entry prices,
        isolated margins, balances within rounding), so the book follows the venue's own rounding."""
        held = [mapping_at(p, f"fetch_positions[{i}]") for i, p in enumerate(positions)]
        known = tuple(p for p in held if p.get("symbol") in self.names)
        snapshot = replace(
            self.responses,
            positions=known,
            balance=mapping_at(balance, "fetch_balance"),
            raw={k: v for k, v in self.responses.raw.items() if k in self._static_raw},
        )
        facts = self.venue.positions(snapshot)
        legs = self._legs(facts)
        balances = self._balances(self.venue.accounts(snapshot, facts))
        drifts = self._compare_legs(legs, now) + self._compare_balances(balances, now)
        return drifts + self._outside_markets([p for p in held if p.get("symbol") not in self.names])

    def next_due(self) -> float | None:
        """The watcher time at which the oldest unreported difference is due, None when there is none."""
        if not self._pending:
            return None
        return min(self._pending.values()) + self.settle_s

    def _due(self, key: Any, now: float) -> bool:
        first = self._pending.setdefault(key, now)
        if now - first >= self.settle_s:
            del self._pending[key]
            return True
        return False

    def _compare_legs(self, venue: dict[LegKey, Position], now: float) -> list[Drift]:
        drifts = []
        for key in sorted(set(self.legs) | set(venue)):
            ours, theirs = self.legs.get(key), venue.get(key)
            ours_size = ZERO if ours is None else ours.size
            theirs_size = ZERO if theirs is None else theirs.size
            if ours_size == theirs_size:
                self._pending.pop(key, None)
                if theirs is not None:
                    self.legs[key] = theirs
                continue
            if not self._due(key, now):
                continue
            account, instrument, long = key
            side = "long" if long else "short"
            drifts.append(Drift("position", account, instrument, side, theirs_size, ours_size))
            if theirs is None:
                del self.legs[key]
            else:
                self.legs[key] = theirs
        return drifts

    def _compare_balances(self, venue: dict[BalanceKey, Decimal], now: float) -> list[Drift]:
        drifts = []
        quantum = self.venue.conventions.money
        for key in sorted(set(self.balances) | set(venue)):
            ours, theirs = self.balances.get(key, ZERO), venue.get(key, ZERO)
            agrees = abs(theirs - ours) <= quantum * (1 + self.fills_since.get(key, 0))
            if agrees:
                self._pending.pop(key, None)
            elif not self._due(key, now):
                continue
            else:
                drifts.append(Drift("balance", key[0], key[1], None, theirs, ours))
            self.balances[key] = theirs
            self.fills_since.pop(key, None)
        return drifts

    def _outside_markets(self, positions: Iterable[Mapping[str, Any]]) -> list[Drift]:
        """Positions in markets the book does not hold, reported when their size changes (no settling: no fill
        of the book can explain them)."""
        now: dict[tuple[str, str], Decimal] = {}
        for i, position in enumerate(positions):
            where = f"fetch_positions[{i}]"
            contracts = number(position, "contracts", where)
            if not contracts:
                continue
            side = text(position, "side", where) or "long"
            symbol = required_text(position, "symbol", where)
            now[(symbol, side)] = abs(contracts) if side == "long" else -abs(contracts)
        drifts = [
            Drift("position", None, symbol, side, size, self._outside.get((symbol, side), ZERO))
            for (symbol, side), size in sorted(now.items())
            if self._outside.get((symbol, side)) != size
        ]
        drifts += [
            Drift("position", None, symbol, side, ZERO, size)
            for (symbol, side), size in sorted(self._outside.items())
            if (symbol, side) not in now
        ]
        self._outside = now
        return drifts

    def _legs(self, positions: Sequence[PositionFacts]) -> dict[LegKey, Position]:
        legs = {}
        for p in positions:
            name = self.names[p.symbol]
            legs[(account_id(self.responses.venue, p.pool), name, p.size > 0)] = Position(
                name, p.size, p.entry_price, p.isolated_margin
            )
        return legs

    def _balances(self, accounts: Sequence[AccountFacts]) -> dict[BalanceKey, Decimal]:
        return {
            (account_id(self.responses.venue, a.key), asset): amount
            for a in accounts
            for asset, amount in a.balances.items()
        }


def _fee(trade: Mapping[str, Any], where: str) -> tuple[Decimal, str] | None:
    """The venue's fee of a trade as (cost, currency), None when it gives none."""
    fee = trade.get("fee")
    if not isinstance(fee, Mapping):
        return None
    cost = number(fee, "cost", f"{where}.fee")
    currency = text(fee, "currency", f"{where}.fee")
    return None if cost is None or currency is None else (cost, currency)


def _hedged(responses: Responses) -> bool:
    """Whether the venue account is in hedge mode (``fetch_position_mode``, or a position flagged ``hedged``)."""
    mode = responses.calls.get("fetch_position_mode")
    if isinstance(mode, Mapping) and mode.get("hedged") is True:
        return True
    return any(p.get("hedged") is True for p in responses.positions)
