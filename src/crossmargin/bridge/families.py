"""The venue families by ccxt exchange id: which module reads each venue's responses."""

from crossmargin.bridge.binance import COINM, USDM
from crossmargin.bridge.bybit import BYBIT
from crossmargin.bridge.dydx import DYDX
from crossmargin.bridge.family import Family
from crossmargin.bridge.hyperliquid import HYPERLIQUID
from crossmargin.bridge.okx import OKX
from crossmargin.bridge.responses import VENUES
from crossmargin.model import InputError

FAMILIES: dict[str, Family] = {family.venue: family for family in (USDM, COINM, BYBIT, OKX, HYPERLIQUID, DYDX)}
"""Each importable venue's family."""


def family(venue: str) -> Family:
    """The family that reads ``venue``'s responses; an error naming ``venue`` for one crossmargin does not import."""
    try:
        return FAMILIES[venue]
    except KeyError:
        known = ", ".join(v for v in VENUES if v in FAMILIES)
        raise InputError("venue", f"importing {venue!r} is not supported; crossmargin imports {known}") from None
