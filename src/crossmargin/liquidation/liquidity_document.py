"""A liquidity model read from a plain document section (a stress run's or a service's ``liquidity``): every
model of :mod:`crossmargin.liquidation.liquidity`, the two-sided :class:`~crossmargin.liquidation.order_book.OrderBook`
and the pools of :mod:`crossmargin.liquidation.amm`, each error naming its path."""

from collections.abc import Mapping, Sequence
from decimal import Decimal

from crossmargin.liquidation.amm import pool_from_dict
from crossmargin.liquidation.liquidity import (
    AtMark,
    DepthLevels,
    LinearImpact,
    LiquidityModel,
    SquareRootImpact,
    document_number,
)
from crossmargin.liquidation.order_book import OrderBook
from crossmargin.model.errors import InputError

_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # model -> (required settings, optional ones)
    "mark": ((), ()),
    "levels": (("levels",), ("permanent_impact",)),
    "linear": (("depth_units",), ("permanent_impact",)),
    "sqrt": (("coefficient", "depth_units"), ("permanent_impact",)),
    "book": (("bids", "asks"), ("permanent_impact",)),
    "constant_product": (("base_reserve", "quote_reserve"), ("fee", "permanent_impact")),
    "concentrated": ((), ("positions", "ticks", "fee", "permanent_impact")),  # one of positions, ticks
    "stableswap": (("amplification", "base_reserve", "quote_reserve"), ("fee", "permanent_impact")),
}
_POOLS = ("constant_product", "concentrated", "stableswap")


def _levels(value: object, name: str = "levels") -> tuple[tuple[Decimal, Decimal], ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InputError(name, f"must be a list of [offset, units] pairs, got {value!r}")
    pairs = []
    for i, level in enumerate(value):
        where = f"{name}[{i}]"
        if isinstance(level, str) or not isinstance(level, Sequence) or len(level) != 2:
            raise InputError(where, f"must be a pair [offset, units], got {level!r}")
        pairs.append((document_number(level[0], f"{where}.offset"), document_number(level[1], f"{where}.units")))
    return tuple(pairs)


def _model(raw: Mapping[str, object]) -> LiquidityModel:
    kind = raw.get("model")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise InputError("model", f"must be one of {', '.join(map(repr, _KEYS))}, got {kind!r}")
    required, optional = _KEYS[kind]
    for key in raw:
        if key != "model" and key not in required and key not in optional:
            known = ", ".join(sorted(("model", *required, *optional)))
            raise InputError(str(key), f"is not a setting of the {kind!r} model (known: {known})")
    for key in required:
        if key not in raw:
            raise InputError(key, f"is required by the {kind!r} model")
    if kind in _POOLS:
        return pool_from_dict(kind, raw)
    impact = document_number(raw.get("permanent_impact", 0), "permanent_impact")
    if kind == "book":
        return OrderBook(_levels(raw["bids"], "bids"), _levels(raw["asks"], "asks"), impact)
    if kind == "levels":
        return DepthLevels(_levels(raw["levels"]), impact)
    if kind == "linear":
        return LinearImpact(document_number(raw["depth_units"], "depth_units"), impact)
    if kind == "sqrt":
        coefficient = document_number(raw["coefficient"], "coefficient")
        return SquareRootImpact(coefficient, document_number(raw["depth_units"], "depth_units"), impact)
    return AtMark()


def liquidity_from_dict(raw: Mapping[str, object], field: str) -> LiquidityModel:
    """The model a plain document section describes; errors name their path under ``field``.

    ``{"model": "mark"}``, ``{"model": "levels", "levels": [[offset, units], ...]}``,
    ``{"model": "linear", "depth_units": d}``, ``{"model": "sqrt", "coefficient": c, "depth_units": d}``,
    ``{"model": "book", "bids": [[offset, units], ...], "asks": [[offset, units], ...]}`` (an
    :class:`~crossmargin.liquidation.order_book.OrderBook`); all but ``mark`` take an optional
    ``permanent_impact`` (default 0). The pools of :mod:`crossmargin.liquidation.amm`:
    ``{"model": "constant_product", "base_reserve": x, "quote_reserve": y}``,
    ``{"model": "concentrated", "positions": [[tick_lower, tick_upper, liquidity], ...]}`` (or ``"ticks":
    [[tick, liquidity_net], ...]``), ``{"model": "stableswap", "amplification": A, "base_reserve": x,
    "quote_reserve": y}``, each with an optional ``fee`` (default 0) and ``permanent_impact`` (default 1).
    Numbers may be int, str or Decimal (a float is read through its shortest repr, ``0.1`` as
    ``Decimal("0.1")``); ticks are integers.
    """
    try:
        if not isinstance(raw, Mapping):
            raise InputError("", f"must be a mapping with a 'model' key, got {raw!r}")
        return _model(raw)
    except InputError as err:
        raise (err.within(field) if field else err) from None
