"""The oracle policy as the clearing state takes it: a :class:`~crossmargin.clearing.events.Guard` built
from the oracle's prices and statuses now."""

from collections.abc import Iterable
from decimal import Decimal

from crossmargin.clearing.events import Guard
from crossmargin.oracle.book import OracleBook
from crossmargin.oracle.config import Policy


def policy_guard(oracle: OracleBook, assets: Iterable[str], policy: Policy) -> Guard:
    """The guard ``policy`` gives at the oracle's prices now.

    ``frozen``: each of ``assets`` whose index, and each instrument the oracle marks whose mark, has a status
    in ``freeze_on``. ``held`` / ``owed``: for each of ``assets`` whose index has a status in
    ``conservative_on``, the lower and the higher of its index and EMA (base currency per unit). ``assets``
    are those the clearing state prices, the base currency left out (its price is 1).
    """
    held: dict[str, Decimal] = {}
    owed: dict[str, Decimal] = {}
    frozen: set[str] = set()
    for asset in assets:
        quote = oracle.index(asset)
        if quote.status in policy.conservative_on:
            held[asset], owed[asset] = min(quote.price, quote.ema), max(quote.price, quote.ema)
        if quote.status in policy.freeze_on:
            frozen.add(asset)
    frozen |= {name for name in oracle.underlying if oracle.mark(name).status in policy.freeze_on}
    return Guard(frozenset(frozen), held, owed)
