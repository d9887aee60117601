"""Risk agents as data: the settings of the trader's de-risking agent and the venue's risk agent, read from a
mapping (a YAML document's, read by the command that names it) and checked, each error naming its field.

A document::

    trader:                   # the traders' de-risking agent (crossmargin.sim.agents.trader)
      share: 0.5              # share of accounts that run it, chosen by seed (0 < share <= 1)
      seed: 0
      reaction_s: 60          # seconds from the alarm to the trade
      threshold: 2            # act when the buffer (in sigma x sqrt(reaction_s)) is below this
      target: 3               # reduce until the buffer is back at this (>= threshold)
      min_volatility: 0.2     # annualized volatility floor of the buffer's sigma
      hedge: false            # first hedge in a correlated underlying the account does not hold
      hedge_instruments: [ETH-PERP]   # the instruments a hedge may trade (default: every instrument)
      correlation_half_life_s: 3600   # half-life of the realized correlations a hedge is sized on
    venue:                    # the venue's risk agent (crossmargin.sim.agents.venue)
      reference_volatility: 0.8   # annualized; the multiplier is volatility / reference, at least 1
      cap: 3                      # the multiplier's ceiling
      max_daily_fall: 0.25        # release: the multiplier falls by at most this share of itself a day
      step: 0.05                  # multipliers are published in steps of this (rounded up)
      open_interest_headroom: 0.1 # limit open interest to (1 + this) x its level / multiplier (left out: none)

Either part may be left out, not both. Volatilities are annualized fractions (0.8 = 80 %), times in seconds.
"""

from collections.abc import Mapping
from typing import Any

import msgspec

from crossmargin.model import InputError


class TraderAgentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The de-risking agent's settings (module doc); ``half_life_s``: the volatility index's half-life it
    reads (None: the loop's headline one); ``hedge``, ``hedge_instruments`` (None: every instrument) and
    ``correlation_half_life_s`` as :mod:`crossmargin.sim.agents.trader` states them."""

    name: str = "trader"
    share: float = 1.0
    seed: int = 0
    reaction_s: float = 60.0
    threshold: float = 2.0
    target: float = 3.0
    min_volatility: float = 0.2
    half_life_s: float | None = None
    hedge: bool = False
    hedge_instruments: tuple[str, ...] | None = None
    correlation_half_life_s: float = 3600.0


class VenueAgentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The venue risk agent's settings (module doc); ``underlyings``: the underlyings it margins (None: every
    instrument's); ``half_life_s`` as for the trader; ``open_interest_headroom`` (None: no limits) as
    :mod:`crossmargin.sim.agents.venue` states it."""

    name: str = "venue"
    reference_volatility: float = 0.8
    cap: float = 3.0
    max_daily_fall: float = 0.25
    step: float = 0.05
    half_life_s: float | None = None
    underlyings: tuple[str, ...] | None = None
    open_interest_headroom: float | None = None


class AgentsConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Which agents run: the traders' (``trader``), the venue's (``venue``), or both."""

    trader: TraderAgentConfig | None = None
    venue: VenueAgentConfig | None = None

    def label(self) -> str:
        """``trader``, ``venue`` or ``trader+venue``."""
        return "+".join(name for name, part in (("trader", self.trader), ("venue", self.venue)) if part)


def _positive(value: float, field: str) -> None:
    if not value > 0 or value == float("inf"):
        raise InputError(field, f"must be a positive number, got {value}")


def _check_trader(config: TraderAgentConfig) -> None:
    if not 0 < config.share <= 1:
        raise InputError("trader.share", f"must be above 0 and at most 1, got {config.share}")
    for name in ("reaction_s", "threshold", "target", "min_volatility"):
        _positive(getattr(config, name), f"trader.{name}")
    if config.target < config.threshold:
        raise InputError("trader.target", f"must be at least the threshold {config.threshold}, got {config.target}")
    if config.half_life_s is not None:
        _positive(config.half_life_s, "trader.half_life_s")
    _positive(config.correlation_half_life_s, "trader.correlation_half_life_s")
    if config.hedge_instruments is not None and not config.hedge_instruments:
        raise InputError("trader.hedge_instruments", "names no instrument: leave it out for every instrument")


def _check_venue(config: VenueAgentConfig) -> None:
    for name in ("reference_volatility", "step"):
        _positive(getattr(config, name), f"venue.{name}")
    if not 1 <= config.cap < float("inf"):
        raise InputError("venue.cap", f"must be at least 1, got {config.cap}")
    if not 0 <= config.max_daily_fall <= 1:
        raise InputError("venue.max_daily_fall", f"must be from 0 to 1, got {config.max_daily_fall}")
    if config.half_life_s is not None:
        _positive(config.half_life_s, "venue.half_life_s")
    headroom = config.open_interest_headroom
    if headroom is not None and not 0 <= headroom < float("inf"):
        raise InputError("venue.open_interest_headroom", f"must be a share of at least 0, got {headroom}")


def agents_from_dict(data: Mapping[str, Any]) -> AgentsConfig:
    """The agents a document describes (module doc); a wrong type, an unknown key or a value out of range
    raises InputError naming the field (``trader.threshold``)."""
    if not isinstance(data, Mapping):
        raise InputError("agents", f"must be a mapping with trader and/or venue, got {type(data).__name__}")
    try:
        config = msgspec.convert(dict(data), AgentsConfig, strict=False)
    except msgspec.ValidationError as err:
        text = str(err)
        where = text.rsplit("at `$.", 1)
        field = where[1].rstrip("`") if len(where) == 2 else "agents"
        message = where[0].removesuffix(" - ").strip()
        unknown = message.split("unknown field `", 1)
        if len(unknown) == 2:
            field = f"{'' if field == 'agents' else field + '.'}{unknown[1].rstrip('`')}"
            message = "is not a setting of this agent" if "." in field else "is not an agent (trader, venue)"
        raise InputError(field, message) from None
    if config.trader is None and config.venue is None:
        raise InputError("agents", "names no agent: give trader, venue or both")
    if config.trader is not None:
        _check_trader(config.trader)
    if config.venue is not None:
        _check_venue(config.venue)
    if config.trader is not None and config.venue is not None and config.trader.name == config.venue.name:
        raise InputError("trader.name", f"must differ from the venue agent's name, {config.venue.name!r}")
    return config
