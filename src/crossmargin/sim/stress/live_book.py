"""The live book as a stress run's input: the engine loop's state between two events, cut in a moment on the
loop's own thread, packed for another process and unpacked there.

**The cut** (:func:`live_book`) holds references, not copies: the clearing state never changes an account or
a market it handed out (a change makes a new one), so what the cut holds stays as it was while the loop moves
on. It costs about 0.5 µs an account (about 50 ms for 100,000 accounts here).

It holds every user account (balances, positions, isolated margins), the market now (index prices, and marks
as liquidations' impact left them), the book's assets and instruments, the rules and liquidation terms, the
oracle settings, each instrument's liquidity model scaled by the loop's depth multiplier now, and the
insurance fund's balance (base currency). It does not hold the oracle's sources, EMAs or statuses: a stress
run starts a fresh oracle at the cut's prices, as it does for a document. A book without liquidity models is
stressed at the calibrated default depth, as ``crossmargin stress --book`` stresses a document without them.

**Packing** (:func:`pack`) writes the accounts as MessagePack (msgspec) in chunks of :data:`PACK_CHUNK`
accounts, each about 3 ms of work here, so a thread packing a large book never holds the interpreter long (a
thread switch can come between chunks); the rest is small and pickled as it is. :func:`unpack` reads them
back equal.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

import msgspec

from crossmargin.clearing.state import INSURANCE_FUND
from crossmargin.liquidation.liquidity import LiquidityModel, scaled_depth
from crossmargin.live.loop import EngineLoop
from crossmargin.model import Account, Portfolio, RuleChoices
from crossmargin.model.numbers import ONE
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig
from crossmargin.sim.stress.comparison import StressBook

PACK_CHUNK = 1000
"""Accounts a packed chunk holds."""


@dataclass(frozen=True)
class LiveBook:
    """The live book after inbound event ``seq`` (see module doc). ``book``: its assets, instruments and market
    then, without accounts; ``accounts``: every user account then, in the order they opened;
    ``insurance_fund``: the fund's balance then, base currency."""

    seq: int
    book: Portfolio
    accounts: tuple[Account, ...]
    rules: RuleChoices
    terms: LiquidationTerms
    oracle: OracleConfig
    liquidity: Mapping[str, LiquidityModel]
    insurance_fund: Decimal

    @property
    def described(self) -> str:
        """How a stress report names the book."""
        return f"the live book after event {self.seq}: {len(self.accounts)} accounts, {self.book.rulebook} rulebook"

    def portfolio(self) -> Portfolio:
        """The accounts on the book (checked against it, as any portfolio is)."""
        return self.book.of_accounts(self.accounts)

    def stress_book(self) -> StressBook:
        """The book as a stress comparison takes it (:func:`~crossmargin.sim.stress.comparison.compared_configs`)."""
        return StressBook(self.portfolio(), self.rules, self.terms, self.liquidity, self.insurance_fund, self.oracle)


def live_book(loop: EngineLoop) -> LiveBook:
    """The loop's book now (module doc); call it between events, on the thread that drives the loop."""
    state, config = loop.state, loop.config
    liquidity = config.liquidity
    if loop.depth != ONE:
        liquidity = {name: scaled_depth(model, loop.depth) for name, model in liquidity.items()}
    return LiveBook(
        seq=loop.seq,
        book=state.portfolio_of(()),
        accounts=tuple(state.account(a) for a in state.account_ids),
        rules=config.rules,
        terms=config.terms,
        oracle=config.oracle,
        liquidity=liquidity,
        insurance_fund=state.value(INSURANCE_FUND),
    )


@dataclass(frozen=True)
class PackedBook:
    """A :class:`LiveBook` ready for another process: ``head`` the book without its accounts, ``chunks`` the
    accounts as MessagePack, in order."""

    head: LiveBook
    chunks: tuple[bytes, ...]


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(tuple[Account, ...])


def pack(live: LiveBook, chunk: int = PACK_CHUNK) -> PackedBook:
    """``live`` packed (module doc), ``chunk`` accounts a chunk."""
    accounts = live.accounts
    chunks = tuple(_ENCODER.encode(accounts[k : k + chunk]) for k in range(0, len(accounts), chunk))
    return PackedBook(replace(live, accounts=()), chunks)


def unpack(packed: PackedBook) -> LiveBook:
    """The :class:`LiveBook` that was packed."""
    accounts = tuple(account for chunk in packed.chunks for account in _DECODER.decode(chunk))
    return replace(packed.head, accounts=accounts)
