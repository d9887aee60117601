"""What-if questions a trader asks: how much can I withdraw, does this order pass, how large could it be,
and what would isolated margin do to my book.

All figures in base currency unless named otherwise; sizes in contracts; amounts in asset units.

- Withdrawals come from the cross balance of an asset, never beyond the amount held (no borrowing),
  and must leave initial equity at or above the initial margin, or above the rulebook's share of the
  open notional when that is larger (Hyperliquid keeps 10%).
- An order passes the initial-margin check when it only reduces its position (same sign, no flip:
  always allowed), or when, after the fill at the order price, the free collateral of the pool that
  holds the position is at or above zero and the position's notional stays within the top tier's
  ``max_notional`` (at the mark). Realized PnL settles into the settle-asset balance (cross) or the
  isolated margin. An order on an instrument with an isolated position joins that position; otherwise
  it is cross. Where the rulebook values initial margin at the entry price, the order's own notional at
  its price joins the position's entry value (reducing shrinks that value pro rata).
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.margin.account import cross_pool, evaluate_account, isolated_pool, leg_label
from crossmargin.margin.fills import apply_fill
from crossmargin.margin.pools import Pool, PoolFigures, evaluate_pool
from crossmargin.margin.positions import notional, notional_per_contract, unrealized_pnl
from crossmargin.model import Account, InputError, Portfolio, Position, RuleChoices, Side
from crossmargin.model.numbers import LIMIT, ZERO, exact, finite, positive


def max_withdrawable(account: Account, portfolio: Portfolio, rules: RuleChoices, asset: str) -> Decimal:
    """The largest amount of ``asset`` that can leave the cross balance (asset units)."""
    if asset not in portfolio.assets:
        raise InputError("asset", f"unknown asset {asset!r}")
    with exact():
        held = account.balances.get(asset, ZERO)
        figures = evaluate_pool(cross_pool(account), portfolio, rules)
        total_notional = sum((p.notional for p in figures.positions), ZERO)
        kept = max(figures.initial_margin, rules.withdrawal_notional_floor * total_notional)
        free = figures.initial_equity - kept
        if held <= 0 or free <= 0:
            return ZERO
        holding = portfolio.assets[asset]
        price = portfolio.market.price(asset)
        keep = holding.amount_for(holding.weighted_amount(held, Side.INITIAL) - free / price, Side.INITIAL)
        return max(ZERO, held - (keep if keep is not None else held))


_ROUNDING = Decimal("1E-40")
REDUCES = "reduces the position"
"""The reason of an order check that passes because the order only reduces its position."""


@dataclass(frozen=True)
class OrderCheck:
    """The initial-margin check of one order and the largest size (same direction) that passes.

    ``max_size`` is in contracts, positive, None when no size fails (open top tier and a price so
    favourable that each contract adds free collateral, or a limit beyond any size a document can state).
    """

    instrument: str
    size: Decimal
    price: Decimal
    passes: bool
    reason: str
    free_collateral_before: Decimal
    free_collateral_after: Decimal
    initial_margin_after: Decimal
    max_size: Decimal | None


@dataclass(frozen=True)
class _Order:
    account: Account
    portfolio: Portfolio
    rules: RuleChoices
    instrument: str
    direction: Decimal
    price: Decimal

    @property
    def existing(self) -> Position | None:
        held = [p for p in self.account.positions if p.instrument == self.instrument]
        if len(held) > 1:
            raise InputError(
                "instrument",
                f"{self.instrument!r} is held long and short (hedge mode): order checks take one-way positions",
            )
        return held[0] if held else None

    @property
    def start(self) -> Decimal:
        """The position size before the order (contracts, signed)."""
        existing = self.existing
        return ZERO if existing is None else existing.size

    def per_contract(self) -> Decimal:
        """Notional of one contract at the mark, in settle units."""
        mark = self.portfolio.market.mark(self.instrument)
        return notional_per_contract(self.portfolio.instruments[self.instrument], mark)

    def after(self, quantity: Decimal) -> tuple[Pool, Position | None]:
        """The pool holding the instrument once ``quantity`` contracts (>= 0) are filled, and the position."""
        instrument = self.portfolio.instruments[self.instrument]
        existing = self.existing
        outcome = apply_fill(instrument, existing, self.direction * quantity, self.price)
        if existing is not None and existing.isolated:
            assert existing.isolated_margin is not None
            margin = max(ZERO, existing.isolated_margin + outcome.realized_pnl)
            new = None if outcome.position is None else replace(outcome.position, isolated_margin=margin)
            return (
                Pool({instrument.settle: margin}, (), haircut=False)
                if new is None
                else isolated_pool(new, self.portfolio)
            ), new
        balances = dict(self.account.balances)
        balances[instrument.settle] = balances.get(instrument.settle, ZERO) + outcome.realized_pnl
        others = tuple(p for p in self.account.positions if p.instrument != self.instrument and not p.isolated)
        kept = others if outcome.position is None else (*others, outcome.position)
        return Pool(balances, kept), outcome.position

    def reduce_only_up_to(self) -> Decimal:
        existing = self.existing
        if existing is None or (existing.size > 0) == (self.direction > 0):
            return ZERO
        return abs(existing.size)

    def figures(self, quantity: Decimal) -> PoolFigures:
        return evaluate_pool(self.after(quantity)[0], self.portfolio, self.rules)

    def within_limit(self, quantity: Decimal) -> bool:
        instrument = self.portfolio.instruments[self.instrument]
        limit = instrument.tiers.limit
        position = self.after(quantity)[1]
        if limit is None or position is None:
            return True
        return notional(instrument, position.size, self.portfolio.market.mark(self.instrument)) <= limit

    def passes(self, quantity: Decimal) -> bool:
        if quantity <= self.reduce_only_up_to():
            return True
        return self.within_limit(quantity) and self.figures(quantity).free_collateral >= 0

    def entry_tier_points(self) -> set[Decimal]:
        """Quantities where the position's notional at entry crosses a tier edge: it shrinks pro rata from the
        held entry value while the order reduces, and grows by the order's notional at its price while it
        adds (or opens the rest after a flip)."""
        instrument = self.portfolio.instruments[self.instrument]
        existing = self.existing
        held = ZERO if existing is None else notional(instrument, existing.size, existing.entry_price)
        reduced = self.reduce_only_up_to()
        added = notional_per_contract(instrument, self.price)
        points: set[Decimal] = set()
        for edge in instrument.tiers.edges():
            if reduced > 0:
                points |= {reduced * (1 - edge / held), reduced + edge / added}
            else:
                points.add((edge - held) / added)
        return points

    def size_breakpoints(self) -> list[Decimal]:
        """Quantities where free collateral stops being linear in the quantity."""
        instrument = self.portfolio.instruments[self.instrument]
        existing = self.existing
        sizes = [edge / self.per_contract() for edge in instrument.tiers.edges()]
        points = {(signed - self.start) / self.direction for s in sizes for signed in (s, -s)}
        points.add(self.reduce_only_up_to())
        isolated = existing is not None and existing.isolated
        if self.rules.margin_valuation.at_entry(Side.INITIAL, isolated):
            points |= self.entry_tier_points()
        if existing is not None and not existing.isolated:
            per_unit = unrealized_pnl(instrument, -self.direction, existing.entry_price, self.price)
            held = self.account.balances.get(instrument.settle, ZERO)
            asset = self.portfolio.assets[instrument.settle]
            edges = {ZERO, *asset.weight.edges(), *asset.initial_weight.edges()}
            if per_unit != 0:
                points |= {(edge - held) / per_unit for edge in edges}
        return sorted(p for p in points if p > 0)

    def size_cap(self) -> Decimal | None:
        """The quantity at which the position reaches the top tier's limit (None: no limit)."""
        limit = self.portfolio.instruments[self.instrument].tiers.limit
        if limit is None:
            return None
        return max(ZERO, limit / self.per_contract() - self.start * self.direction)

    def max_size(self) -> Decimal | None:
        """The supremum of the quantities that pass, walking piecewise-linear free collateral up from 0."""
        low = self.reduce_only_up_to()
        cap = self.size_cap()
        if cap is not None and cap <= low:
            return low
        stops: list[Decimal | None] = [b for b in self.size_breakpoints() if b > low and (cap is None or b < cap)]
        stops.append(cap)
        for high in stops:
            crossing = self._zero_crossing(low, high)
            if crossing is not None:
                return crossing
            if high is None:
                return None
            if not self.passes(high):
                return high
            low = high
        return low

    def _zero_crossing(self, low: Decimal, high: Decimal | None) -> Decimal | None:
        """Where free collateral, linear on (low, high), falls below zero there; None if it does not.

        The line is read at ``low + d`` and ``low + 2d`` with ``d`` a power of ten inside the piece, so
        its value just right of ``low`` (``2 f1 - f2``) and its slope come out exact for linear
        contracts; inverse PnL is a quotient rounded at the 50th digit, so a value within that
        rounding of zero counts as zero.
        """
        width = (high - low) / 4 if high is not None else max(low, Decimal(1))
        step = Decimal(1).scaleb(width.adjusted())
        f1 = self.figures(low + step).free_collateral
        f2 = self.figures(low + 2 * step).free_collateral
        at_low = 2 * f1 - f2
        if at_low < -_ROUNDING * (abs(f1) + abs(f2)):
            return low
        at_low = max(at_low, ZERO)
        if f2 >= f1:
            return None
        root = low + at_low * step / (f1 - f2)
        if high is None and root >= LIMIT:
            return None  # no order size a document could express fails
        return root if high is None or root < high else None


def _order(
    account: Account, portfolio: Portfolio, rules: RuleChoices, instrument: str, size: Decimal, price: Decimal
) -> _Order:
    """The order, its arguments checked (unknown instrument, zero size, price <= 0, no mark)."""
    if instrument not in portfolio.instruments:
        raise InputError("instrument", f"unknown instrument {instrument!r}")
    if finite(size, "size") == 0:
        raise InputError("size", "must not be zero")
    positive(price, "price")
    if instrument not in portfolio.market.marks:
        raise InputError("instrument", f"missing mark price for {instrument!r}")
    return _Order(account, portfolio, rules, instrument, Decimal(1) if size > 0 else Decimal(-1), price)


def _verdict(order: _Order, quantity: Decimal, after: Callable[[], PoolFigures]) -> tuple[bool, str]:
    if quantity <= order.reduce_only_up_to():
        return True, REDUCES
    if not order.within_limit(quantity):
        return False, "the position would exceed the top tier's max_notional"
    if after().free_collateral >= 0:
        return True, "free collateral stays non-negative"
    return False, "free collateral would be negative"


def order_verdict(
    account: Account, portfolio: Portfolio, rules: RuleChoices, instrument: str, size: Decimal, price: Decimal
) -> tuple[bool, str]:
    """Whether the order passes the IM check, and why: :func:`check_order`'s ``passes`` and ``reason``
    without the figures and the largest size (one evaluation of the pool after the fill at most)."""
    with exact():
        order = _order(account, portfolio, rules, instrument, size, price)
        quantity = abs(size)
        return _verdict(order, quantity, lambda: order.figures(quantity))


def check_order(
    account: Account, portfolio: Portfolio, rules: RuleChoices, instrument: str, size: Decimal, price: Decimal
) -> OrderCheck:
    """Whether buying (``size`` > 0) or selling ``|size|`` contracts at ``price`` passes the IM check."""
    with exact():
        order = _order(account, portfolio, rules, instrument, size, price)
        quantity = abs(size)
        before = order.figures(ZERO)
        after = order.figures(quantity)
        passes, reason = _verdict(order, quantity, lambda: after)
        return OrderCheck(
            instrument=instrument,
            size=size,
            price=price,
            passes=passes,
            reason=reason,
            free_collateral_before=before.free_collateral,
            free_collateral_after=after.free_collateral,
            initial_margin_after=after.initial_margin,
            max_size=order.max_size(),
        )


@dataclass(frozen=True)
class ModeView:
    """One way of margining a book. ``collateral_required``: the smallest collateral value (base)
    that covers initial margin (per pool: ``max(0, IM - uPnL)``, uPnL as counted for initial margin,
    summed over pools)."""

    initial_margin: Decimal
    maintenance_margin: Decimal
    collateral_required: Decimal
    isolated_margins: dict[str, Decimal]
    liquidation_prices: dict[str, Decimal | None]


@dataclass(frozen=True)
class ModeComparison:
    """The same book in cross margin and in isolated margin."""

    cross: ModeView
    isolated: ModeView


def _required(figures: PoolFigures) -> Decimal:
    """Collateral value that covers the pool's initial margin, given its uPnL as counted for initial margin."""
    counted_pnl = figures.initial_equity - figures.initial_collateral_value
    return max(ZERO, figures.initial_margin - counted_pnl)


def all_cross(account: Account, portfolio: Portfolio) -> Account:
    """The account with every position cross and isolated margins folded into the settle balances."""
    balances = dict(account.balances)
    positions = []
    for position in account.positions:
        if position.isolated_margin is not None:
            settle = portfolio.instruments[position.instrument].settle
            balances[settle] = balances.get(settle, ZERO) + position.isolated_margin
        positions.append(replace(position, isolated_margin=None))
    return Account(account.id, balances, tuple(positions))


def _isolated_need(position: Position, portfolio: Portfolio, rules: RuleChoices) -> tuple[Decimal, Decimal]:
    """The initial margin of ``position`` isolated on nothing, and the collateral value that pool needs to meet
    it (:func:`_required`: the IM less the uPnL counted for initial margin, at least 0), both in base."""
    figures = evaluate_pool(isolated_pool(replace(position, isolated_margin=ZERO), portfolio), portfolio, rules)
    return figures.initial_margin, _required(figures)


def all_isolated(account: Account, portfolio: Portfolio, rules: RuleChoices) -> Account:
    """The account with every position isolated on the margin a trader would post (base currency unless named).

    The value split is the cross collateral value of :func:`all_cross` (maintenance weights, isolated
    margins folded in), ``V = max(0, collateral value)``. Each position is isolated on its own and gets:

    - its **need**, ``n_i = max(0, IM_i - uPnL_i)``: the collateral value that makes its isolated pool's
      initial equity reach its initial margin, ``uPnL_i`` its PnL as counted for initial margin (profits
      at the instrument's initial uPnL weight, losses in full) and ``IM_i`` its margin as an isolated
      position under ``rules`` (:func:`_required` on the pool holding it and no margin);
    - plus a share of the **surplus** ``S = V - sum n``, pro rata to initial margin (``S x IM_i / sum IM``;
      equal shares if every IM is 0).

    Where ``V`` falls short of the needs (``S < 0``: an account that could not post every position's
    initial margin on its own, e.g. one whose losses were carried by another position's profit in cross),
    ``V`` is split pro rata to need, ``V x n_i / sum n``, so each pool gets the same fraction of what it
    needs; the twin of such an account may be liquidatable at once. With ``V >= sum n`` every isolated
    pool meets its initial margin (initial equity >= IM), so it is not liquidatable where maintenance is
    at most initial margin and the liquidation threshold 1.

    Each margin is its base value divided by the settle asset's price, in settle-asset units (isolated
    margin counts at full price). Money is conserved: the margins valued in base sum to ``V``, exactly
    where the quotients terminate, else within the exact context's rounding (each quotient at the 50th
    significant digit: a relative error below 1E-49 per margin). The account keeps no balance.
    """
    with exact():
        crossed = all_cross(account, portfolio)
        value = max(ZERO, evaluate_pool(cross_pool(crossed), portfolio, rules).collateral_value)
        positions = crossed.positions
        terms = [_isolated_need(p, portfolio, rules) for p in positions]
        total_im = sum((im for im, _ in terms), ZERO)
        total_need = sum((need for _, need in terms), ZERO)
        surplus = value - total_need
        isolated = []
        for position, (im, need) in zip(positions, terms, strict=True):
            if surplus < 0:
                share = value * need / total_need
            elif total_im > 0:
                share = need + surplus * im / total_im
            else:
                share = need + surplus / len(positions)
            settle_price = portfolio.market.price(portfolio.instruments[position.instrument].settle)
            isolated.append(replace(position, isolated_margin=share / settle_price))
        return Account(account.id, {}, tuple(isolated))


def _view(account: Account, portfolio: Portfolio, rules: RuleChoices) -> ModeView:
    result = evaluate_account(account, portfolio.with_account(account), rules)
    pools = [result.cross, *(p.pool for p in result.positions if p.pool is not None)]
    return ModeView(
        initial_margin=sum((p.figures.initial_margin for p in result.positions), ZERO),
        maintenance_margin=sum((p.figures.maintenance_margin for p in result.positions), ZERO),
        collateral_required=sum((_required(p) for p in pools), ZERO),
        isolated_margins={
            leg_label(p.figures.position, account): p.figures.position.isolated_margin
            for p in result.positions
            if p.figures.position.isolated_margin is not None
        },
        liquidation_prices={leg_label(p.figures.position, account): p.liquidation_price for p in result.positions},
    )


def compare_modes(account: Account, portfolio: Portfolio, rules: RuleChoices) -> ModeComparison:
    """The account's book all in cross margin and all in isolated margin, side by side."""
    with exact():
        return ModeComparison(
            cross=_view(all_cross(account, portfolio), portfolio, rules),
            isolated=_view(all_isolated(account, portfolio, rules), portfolio, rules),
        )
