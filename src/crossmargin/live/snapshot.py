"""Snapshots of the engine loop: state = snapshot + the log after it.

A snapshot holds everything :meth:`~crossmargin.live.loop.EngineLoop.digest` covers: the exact clearing
state, the oracle's sources, EMAs and clock, the sequence numbers, the depth multiplier, the last prices
pushed to the book, the marks' liquidation displacements and who is reported frozen or suppressed. The risk
book is not saved: it is rebuilt from the exact state (it only mirrors it). The configuration (book, rules,
terms, oracle settings, liquidity) is not saved either: restore with the configuration the loop ran under.

Serialised as msgspec JSON with a version, Decimals as strings: :func:`decode` of :func:`encode` is equal.
"""

from decimal import Decimal

import msgspec

from crossmargin.clearing.state import ClearingSnapshot, ClearingState
from crossmargin.live.loop import EngineLoop, LoopConfig, oracle_book
from crossmargin.model import InputError
from crossmargin.oracle.book import OracleSnapshot

VERSION = 1
"""The version of the serialised snapshot; another is refused."""


class LoopSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The loop between two events (see module doc); ``seq``: the last inbound event applied."""

    version: int = VERSION
    seq: int
    emitted: int
    depth: Decimal
    synced: dict[str, Decimal]
    displaced: dict[str, tuple[Decimal, Decimal]]
    frozen: tuple[str, ...]
    suppressed: tuple[str, ...]
    clearing: ClearingSnapshot
    oracle: OracleSnapshot


def snapshot(loop: EngineLoop) -> LoopSnapshot:
    """The loop's state now (between events)."""
    return LoopSnapshot(
        seq=loop.seq,
        emitted=loop.emitted,
        depth=loop.depth,
        synced=dict(loop.synced),
        displaced=dict(loop.displaced),
        frozen=tuple(sorted(loop.frozen)),
        suppressed=tuple(sorted(loop.suppressed)),
        clearing=loop.state.snapshot(),
        oracle=loop.oracle.snapshot(),
    )


def restored(config: LoopConfig, saved: LoopSnapshot) -> EngineLoop:
    """A loop in the state ``saved`` under ``config``: its next event is ``saved.seq + 1``."""
    if saved.version != VERSION:
        raise InputError("version", f"snapshots of version {saved.version} are not read here (this is {VERSION})")
    state = ClearingState.restored(config.portfolio, config.rules, saved.clearing)
    oracle = oracle_book(config)
    oracle.restore(saved.oracle)
    loop = EngineLoop(config, state, oracle)
    loop.seq, loop.emitted = saved.seq, saved.emitted
    loop.set_depth(saved.depth)
    loop.synced = dict(saved.synced)
    loop.displaced = dict(saved.displaced)
    loop.frozen, loop.suppressed = set(saved.frozen), set(saved.suppressed)
    loop.carried |= loop.suppressed  # held back then: screened again first, as the loop saved would
    return loop


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(LoopSnapshot)


def encode(saved: LoopSnapshot) -> bytes:
    """The snapshot as JSON."""
    return _ENCODER.encode(saved)


def decode(data: bytes | str) -> LoopSnapshot:
    """The snapshot written by :func:`encode`; a malformed one raises InputError."""
    try:
        return _DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise InputError("snapshot", f"not a valid snapshot: {err}") from None
