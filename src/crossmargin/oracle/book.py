"""The oracle book: every source's latest update, aggregated into index prices and mark prices.

Index of an asset (at the oracle's clock, see below):

1. fresh sources: updated within ``max_age_s`` and with a confidence no wider than ``max_confidence``;
2. the median of the fresh prices; sources further than ``max_deviation`` from it are ignored and the
   median of the rest is the index (so one adversarial source among a quorum of honest ones cannot move
   it outside the honest prices); when none agrees with the median (two sources far apart), the median
   itself, below the quorum (step 3);
3. status: valid with at least ``quorum`` agreeing sources (degraded when a pegged asset is below its
   floor); with fewer (or none agreeing), unconfirmed while the price is within ``max_deviation`` of the
   last price a quorum gave, invalid beyond it (a lone survivor's jump is never taken as news); invalid with
   no fresh source (the reason says whether every source is stale; the last index is kept for display) and
   when the index is further than ``max_jump`` from its EMA (circuit breaker).

Own venue (``price_source`` a source's name, :class:`~crossmargin.oracle.config.Guards`): the index is that
source's fresh price alone, as a venue that values collateral at its own order book does (Binance's
Unified accounts on 10 October 2025, docs/oracle.md "Own-venue pricing"). No quorum and no deviation
filter apply (the venue is trusted by choice); the circuit breaker (invalid) and the peg floor (degraded)
do, and a valid or degraded own-venue price is the last price the book stood behind (the "last quorum
price" of step 3). When that source is not fresh (stale, too wide, or never reported) the index falls back
to steps 2-3 over the fresh sources, with their status and a reason that says so, as venues drop a
constituent that stops updating from their index and price at the rest.

Mark of an instrument: the median of (index, index + EMA of the basis, last traded price), as Binance and
others compute it, where the basis is traded price minus index and traded prices are the instrument's own
source updates; without a fresh trade, the median of the first two. Its status is the index's.

Symbols no feed ever mentions keep the document's price, valid. The oracle's clock is the latest feed time
seen, or a later time it is advanced to without a price (:meth:`OracleBook.advance`: a source that stops
reporting turns stale by time alone). Updates older than a source's latest (out of order), repeated
(duplicates) or already older than ``max_age_s`` when they arrive (a source whose clock lags) are ignored,
each with its reason; a source whose clock runs ahead moves the clock with it (a feed carries one time per
update, so it cannot be told from time passing). Everything is exact and deterministic: the same feed
gives the same prices.

:meth:`OracleBook.snapshot` holds every mutable part of the book (clock, each source's latest update per
symbol, EMAs, basis EMAs, last index and last quorum prices); :meth:`OracleBook.restore` puts it back into a
book built with the same configuration, prices, marks and underlyings, and :meth:`OracleBook.digest` hashes
it. Own-venue pricing keeps no state of its own: it reads the source's latest update, which both hold.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import msgspec

from crossmargin.model import InputError
from crossmargin.model.numbers import EXACT, ZERO, exact, non_negative
from crossmargin.oracle.config import OracleConfig, Status
from crossmargin.oracle.feed import SourceUpdate

_LN2 = EXACT.ln(Decimal(2))


@dataclass(frozen=True)
class OraclePrice:
    """A price, its status, why, and the sources it stands on."""

    symbol: str
    price: Decimal
    status: Status
    reason: str
    sources: tuple[str, ...]
    ema: Decimal


@dataclass
class _Ema:
    value: Decimal
    t: Decimal

    def update(self, value: Decimal, t: Decimal, half_life: Decimal) -> None:
        with exact():
            weight = 1 - (-(t - self.t) * _LN2 / half_life).exp()
            self.value += weight * (value - self.value)
            self.t = t


SNAPSHOT_VERSION = 1
"""The version of :class:`OracleSnapshot`; a snapshot of another version is refused."""


class EmaSnapshot(msgspec.Struct, frozen=True):
    """An EMA of ``symbol``: ``value`` (price units) as of feed time ``t`` (seconds)."""

    symbol: str
    value: Decimal
    t: Decimal


class OracleSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Every mutable part of an :class:`OracleBook`: the ``clock`` (seconds), each source's latest update (by
    symbol, then source, in the order first reported), the EMAs of prices and of instruments' basis (in the
    order created), the last index of each symbol (kept for display when no source is fresh) and the last
    price a quorum stood behind."""

    version: int = SNAPSHOT_VERSION
    clock: Decimal
    latest: tuple[SourceUpdate, ...]
    ema: tuple[EmaSnapshot, ...]
    basis: tuple[EmaSnapshot, ...]
    last_index: dict[str, Decimal]
    last_quorum: dict[str, Decimal]


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    with exact():
        return (ordered[middle - 1] + ordered[middle]) / 2


class OracleBook:
    """Source updates in, index and mark prices out (see module doc)."""

    def __init__(
        self,
        config: OracleConfig,
        prices: Mapping[str, Decimal],
        marks: Mapping[str, Decimal],
        underlying: Mapping[str, str],
    ) -> None:
        self.config = config
        self.document_prices = dict(prices)
        self.document_marks = dict(marks)
        self.underlying = dict(underlying)
        self.clock = ZERO
        self.latest: dict[str, dict[str, SourceUpdate]] = {}
        self.ema: dict[str, _Ema] = {s: _Ema(p, ZERO) for s, p in {**prices, **marks}.items()}
        self.basis: dict[str, _Ema] = {}
        for name, mark in marks.items():
            index = prices.get(underlying.get(name, ""))
            if index is not None:
                with exact():
                    self.basis[name] = _Ema(mark - index, ZERO)
        self.last_index: dict[str, Decimal] = dict(prices)
        self.last_quorum: dict[str, Decimal] = {**marks, **prices}  # the last price a quorum stood behind

    def advance(self, t: Decimal) -> None:
        """Move the clock forward to feed time ``t`` (seconds) with no price: a source whose latest update is
        then more than ``max_age_s`` old is stale. An earlier ``t`` leaves the clock where it is."""
        self.clock = max(self.clock, non_negative(t, "t"))

    def snapshot(self) -> OracleSnapshot:
        """The book's mutable state now (see :class:`OracleSnapshot`)."""
        return OracleSnapshot(
            clock=self.clock,
            latest=tuple(u for sources in self.latest.values() for u in sources.values()),
            ema=tuple(EmaSnapshot(s, e.value, e.t) for s, e in self.ema.items()),
            basis=tuple(EmaSnapshot(s, e.value, e.t) for s, e in self.basis.items()),
            last_index=dict(self.last_index),
            last_quorum=dict(self.last_quorum),
        )

    def restore(self, snapshot: OracleSnapshot) -> None:
        """Put the state of ``snapshot`` back (into a book built with the same configuration, prices, marks
        and underlyings as the one it was taken from): the book then answers and takes updates as that one
        did."""
        if snapshot.version != SNAPSHOT_VERSION:
            raise InputError(
                "version", f"oracle snapshots of version {snapshot.version} are not read here ({SNAPSHOT_VERSION} is)"
            )
        self.clock = non_negative(snapshot.clock, "clock")
        self.latest = {}
        for update in snapshot.latest:
            self.latest.setdefault(update.symbol, {})[update.source] = update
        self.ema = {e.symbol: _Ema(e.value, e.t) for e in snapshot.ema}
        self.basis = {e.symbol: _Ema(e.value, e.t) for e in snapshot.basis}
        self.last_index = dict(snapshot.last_index)
        self.last_quorum = dict(snapshot.last_quorum)

    def digest(self) -> str:
        """A SHA-256 of the book's mutable state, in a canonical (sorted) order: equal states hash the same."""
        with exact():
            lines = [f"clock|{self.clock.normalize()}"]
            for symbol, sources in self.latest.items():
                for source, u in sources.items():
                    confidence = None if u.confidence is None else u.confidence.normalize()
                    lines.append(f"latest|{symbol}|{source}|{u.t.normalize()}|{u.price.normalize()}|{confidence}")
            for kind, emas in (("ema", self.ema), ("basis", self.basis)):
                lines += [f"{kind}|{s}|{e.value.normalize()}|{e.t.normalize()}" for s, e in emas.items()]
            lines += [f"last_index|{s}|{p.normalize()}" for s, p in self.last_index.items()]
            lines += [f"last_quorum|{s}|{p.normalize()}" for s, p in self.last_quorum.items()]
        return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()

    def accept(self, update: SourceUpdate) -> str | None:
        """Take an update; None when accepted, else why it was ignored."""
        guards = self.config.guards(update.symbol)
        if self.clock - update.t > guards.max_age_s:
            return f"stale on arrival: stamped {update.t}, clock {self.clock} (a lagging source clock)"
        previous = self.latest.get(update.symbol, {}).get(update.source)
        if previous is not None and update == previous:
            return "duplicate"
        if previous is not None and update.t <= previous.t:
            return f"out of order: {update.source} already reported at {previous.t}"
        self.latest.setdefault(update.symbol, {})[update.source] = update
        self.clock = max(self.clock, update.t)
        if update.symbol in self.underlying and self._has_index(self.underlying[update.symbol]):
            self._record_trade(update)
        else:
            self._record_index(update.symbol)
        return None

    def _has_index(self, asset: str) -> bool:
        return asset in self.document_prices or asset in self.latest

    def _record_index(self, symbol: str) -> None:
        price = self.index(symbol)
        if price.status in (Status.VALID, Status.DEGRADED):
            self.last_quorum[symbol] = price.price
        if price.sources:
            self.last_index[symbol] = price.price
            ema = self.ema.setdefault(symbol, _Ema(price.price, self.clock))
            ema.update(price.price, self.clock, self.config.guards(symbol).ema_half_life_s)

    def _record_trade(self, update: SourceUpdate) -> None:
        index = self.index(self.underlying[update.symbol])
        guards = self.config.guards(update.symbol)
        with exact():
            basis = update.price - index.price
        ema = self.basis.setdefault(update.symbol, _Ema(basis, update.t))
        ema.update(basis, update.t, guards.ema_half_life_s)

    def _fresh(self, symbol: str) -> list[SourceUpdate]:
        guards = self.config.guards(symbol)
        fresh = []
        for update in self.latest.get(symbol, {}).values():
            if self.clock - update.t > guards.max_age_s:
                continue
            if update.confidence is not None and guards.max_confidence is not None:
                with exact():
                    if update.confidence / update.price > guards.max_confidence:
                        continue
            fresh.append(update)
        return fresh

    def price(self, symbol: str) -> OraclePrice:
        """The price of an instrument (its mark) or an asset (its index)."""
        return self.mark(symbol) if symbol in self.underlying else self.index(symbol)

    def index(self, symbol: str) -> OraclePrice:
        """The index of an asset now (module doc, steps 1-3; with own-venue pricing, "Own venue")."""
        if symbol not in self.latest:
            price = self.document_prices[symbol]
            return OraclePrice(symbol, price, Status.VALID, "document price (no feed)", (), price)
        fresh = self._fresh(symbol)
        venue = self.config.guards(symbol).own_venue
        if venue is None:
            return self._median_index(symbol, fresh)
        own = next((u for u in fresh if u.source == venue), None)
        if own is not None:
            return self._own_venue_index(symbol, own)
        fallback = self._median_index(symbol, fresh)
        return replace(fallback, reason=f"own venue {venue} not fresh, falling back to the median: {fallback.reason}")

    def _median_index(self, symbol: str, fresh: list[SourceUpdate]) -> OraclePrice:
        """The median of the ``fresh`` sources of ``symbol``, with its status (module doc, steps 2-3)."""
        guards = self.config.guards(symbol)
        ema = self.ema.get(symbol)
        last = self.last_index.get(symbol, next(iter(self.latest[symbol].values())).price)
        if not fresh:
            age = self.clock - max(u.t for u in self.latest[symbol].values())
            why = (
                f"stale, the newest report is {age} s old (max_age_s {guards.max_age_s})"
                if age > guards.max_age_s
                else f"every source's confidence is wider than {guards.max_confidence}"
            )
            return OraclePrice(symbol, last, Status.INVALID, f"no fresh source: {why}", (), ema.value if ema else last)
        middle = _median([u.price for u in fresh])
        with exact():
            kept = [u for u in fresh if abs(u.price - middle) <= guards.max_deviation * middle]
        price = _median([u.price for u in kept]) if kept else middle
        sources = tuple(sorted(u.source for u in kept or fresh))
        reference = ema.value if ema else price
        tripped, below_peg = self._breaker(symbol, price, reference), self._below_peg(symbol, price)
        if tripped is not None:
            status, reason = Status.INVALID, tripped
        elif len(kept) < guards.quorum:
            status, reason = self._below_quorum(symbol, price, len(kept), len(fresh), guards.quorum)
        elif below_peg is not None:
            status, reason = Status.DEGRADED, below_peg
        else:
            status, reason = Status.VALID, f"median of {len(kept)} fresh sources"
        return OraclePrice(symbol, price, status, reason, sources, reference)

    def _own_venue_index(self, symbol: str, own: SourceUpdate) -> OraclePrice:
        """The fresh price of the symbol's own venue alone: no quorum and no deviation filter (the venue is
        trusted by choice); the circuit breaker and the peg floor still apply (module doc, "Own venue")."""
        ema = self.ema.get(symbol)
        reference = ema.value if ema else own.price
        tripped, below_peg = self._breaker(symbol, own.price, reference), self._below_peg(symbol, own.price)
        venue = f"own venue {own.source}"
        if tripped is not None:
            status, reason = Status.INVALID, f"{venue}, {tripped}"
        elif below_peg is not None:
            status, reason = Status.DEGRADED, f"{venue}, {below_peg}"
        else:
            status, reason = Status.VALID, venue
        return OraclePrice(symbol, own.price, status, reason, (own.source,), reference)

    def _breaker(self, symbol: str, price: Decimal, reference: Decimal) -> str | None:
        """Why the circuit breaker trips (``price`` further than ``max_jump`` from the EMA ``reference``), or
        None."""
        guards = self.config.guards(symbol)
        with exact():
            jump = abs(price - reference) / reference
        if guards.max_jump is not None and jump > guards.max_jump:
            return f"circuit breaker: {jump:.4f} from the EMA {reference}"
        return None

    def _below_peg(self, symbol: str, price: Decimal) -> str | None:
        """Why a pegged symbol is degraded (``price`` below its peg floor), or None."""
        guards = self.config.guards(symbol)
        if guards.peg is None:
            return None
        with exact():
            floor = guards.peg * (1 - guards.peg_tolerance)
        return f"below its peg floor {floor}" if price < floor else None

    def _below_quorum(self, symbol: str, price: Decimal, agreeing: int, fresh: int, quorum: int) -> tuple[Status, str]:
        """Fewer agreeing fresh sources than the quorum: unconfirmed while ``price`` stays within
        ``max_deviation`` of the last price a quorum gave, invalid beyond it."""
        count = f"{agreeing} agreeing fresh sources, quorum {quorum}" if agreeing else f"{fresh} fresh sources disagree"
        last = self.last_quorum[symbol]
        with exact():
            move = abs(price - last) / last
        if move > self.config.guards(symbol).max_deviation:
            return Status.INVALID, f"{count}: {move:.4f} from the last quorum price {last}, not confirmed"
        return Status.UNCONFIRMED, f"{count}: within {move:.4f} of the last quorum price {last}"

    def mark(self, instrument: str) -> OraclePrice:
        """The mark of an instrument now: median of index, index + basis EMA and the last fresh trade."""
        underlying = self.underlying[instrument]
        if underlying not in self.latest and instrument not in self.latest:
            price = self.document_marks[instrument]
            return OraclePrice(instrument, price, Status.VALID, "document mark (no feed)", (), price)
        if not self._has_index(underlying):
            return self._traded_only(instrument)
        index = self.index(underlying)
        basis = self.basis.get(instrument)
        with exact():
            candidates = [index.price] if basis is None else [index.price, index.price + basis.value]
        trades = self._fresh(instrument)
        if trades:
            candidates.append(max(trades, key=lambda u: u.t).price)
        price = _median(candidates)
        return OraclePrice(instrument, price, index.status, f"mark: {index.reason}", index.sources, index.ema)

    def _traded_only(self, instrument: str) -> OraclePrice:
        """An instrument whose underlying has no index: its own trades are its index."""
        return replace(self.index(instrument), symbol=instrument)
