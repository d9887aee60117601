"""Market state: asset prices and instrument marks, with the checks every price passes."""

from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import ONE, finite, non_negative, positive


@dataclass(frozen=True)
class Market:
    """``prices``: asset -> price in the base currency; ``marks``: instrument -> mark price;
    ``open_interest``: instrument -> open interest as a notional in settle units (for rules that scale
    margin with it; an instrument left out has none).

    Option valuation inputs: ``valuation_time`` (timezone-aware), ``vols``: an option instrument or an
    underlying -> its annualized volatility as (moneyness K/F, vol) points, ascending in moneyness (one
    point: a flat volatility; several: a smile, interpolated linearly and flat beyond its ends), and
    ``rate``: the annual continuously compounded discount rate. ``correlations``: (asset, asset) -> the
    correlation of their returns, for the VaR floor; a pair left out is taken as 1 (no diversification).

    ``margin_multipliers``: underlying -> the multiplier (> 0) of the maintenance and initial requirements of
    every position on it, set by a venue's risk action (:class:`crossmargin.live.events.MarginMultipliers`);
    an underlying left out is at 1 (its tables as they are).

    The base currency's own price is one and need not be given.
    """

    base: str
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    marks: Mapping[str, Decimal] = field(default_factory=dict)
    open_interest: Mapping[str, Decimal] = field(default_factory=dict)
    valuation_time: datetime | None = None
    vols: Mapping[str, tuple[tuple[Decimal, Decimal], ...]] = field(default_factory=dict)
    rate: Decimal = Decimal(0)
    correlations: Mapping[tuple[str, str], Decimal] = field(default_factory=dict)
    margin_multipliers: Mapping[str, Decimal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for asset, price in self.prices.items():
            positive(price, f"prices.{asset}")
        for instrument, mark in self.marks.items():
            positive(mark, f"marks.{instrument}")
        for instrument, interest in self.open_interest.items():
            non_negative(interest, f"open_interest.{instrument}")
        if self.valuation_time is not None and self.valuation_time.utcoffset() is None:
            raise InputError("valuation_time", "needs a UTC offset, e.g. 2025-03-28T08:00:00Z")
        finite(self.rate, "rate")
        for name, points in self.vols.items():
            if not points:
                raise InputError(f"vols.{name}", "needs a volatility or at least one (moneyness, vol) point")
            for k, (moneyness, vol) in enumerate(points):
                positive(moneyness, f"vols.{name}[{k}][0]")
                non_negative(vol, f"vols.{name}[{k}][1]")
                if k and moneyness <= points[k - 1][0]:
                    raise InputError(f"vols.{name}[{k}][0]", "moneyness must rise from point to point")
        for (a, b), rho in self.correlations.items():
            if a == b or not -ONE <= finite(rho, f"correlations.{a}.{b}") <= ONE:
                raise InputError(f"correlations.{a}.{b}", f"a correlation of two assets in [-1, 1], got {rho}")
        for underlying, factor in self.margin_multipliers.items():
            positive(factor, f"margin_multipliers.{underlying}")
        if self.base in self.prices and self.prices[self.base] != ONE:
            raise InputError(f"prices.{self.base}", f"the base currency is priced at 1, got {self.prices[self.base]}")

    def price(self, asset: str) -> Decimal:
        """Price of ``asset`` in base currency."""
        if asset == self.base:
            return ONE
        try:
            return self.prices[asset]
        except KeyError:
            raise InputError(f"prices.{asset}", "missing price") from None

    def vol_points(self, instrument: str, underlying: str) -> tuple[tuple[Decimal, Decimal], ...]:
        """The volatility points of an option: its own entry in ``vols``, else its underlying's."""
        points = self.vols.get(instrument, self.vols.get(underlying))
        if points is None:
            raise InputError(f"vols.{instrument}", f"missing volatility (give it for {instrument!r} or {underlying!r})")
        return points

    def correlation(self, a: str, b: str) -> Decimal:
        """The correlation of ``a``'s and ``b``'s returns (1 for one asset, or a pair not given)."""
        return self.correlations.get((a, b), self.correlations.get((b, a), ONE))

    def mark(self, instrument: str) -> Decimal:
        """Mark price of ``instrument``."""
        try:
            return self.marks[instrument]
        except KeyError:
            raise InputError(f"marks.{instrument}", "missing mark price") from None

    def margin_multiplier(self, underlying: str) -> Decimal:
        """The multiplier of the requirements of positions on ``underlying`` (1 when none is set)."""
        return self.margin_multipliers.get(underlying, ONE)

    def with_multipliers(self, multipliers: Mapping[str, Decimal]) -> "Market":
        """The same market with ``multipliers`` (underlying -> multiplier > 0) merged into its margin
        multipliers; a multiplier of exactly 1 removes the underlying's entry (its tables as they are)."""
        for underlying, factor in multipliers.items():
            positive(factor, f"margin_multipliers.{underlying}")
        merged = {**self.margin_multipliers, **multipliers}
        return replace(self, margin_multipliers={u: m for u, m in merged.items() if m != ONE})

    def moved(
        self, prices: Mapping[str, Decimal] | None = None, marks: Mapping[str, Decimal] | None = None
    ) -> "Market":
        """The same market with some prices and marks replaced. Only the new figures are checked (the rest
        passed when this market was made): the engine moves one or two prices of a market hundreds of
        thousands of times in a cascade. A name not priced (or marked) here yet gets the full checks."""
        prices, marks = prices or {}, marks or {}
        if not (prices.keys() <= self.prices.keys() and marks.keys() <= self.marks.keys()):
            return replace(self, prices={**self.prices, **prices}, marks={**self.marks, **marks})
        for asset, price in prices.items():
            positive(price, f"prices.{asset}")
            if asset == self.base and price != ONE:
                raise InputError(f"prices.{asset}", f"the base currency is priced at 1, got {price}")
        for instrument, mark in marks.items():
            positive(mark, f"marks.{instrument}")
        new = copy(self)
        object.__setattr__(new, "prices", {**self.prices, **prices})
        object.__setattr__(new, "marks", {**self.marks, **marks})
        return new
