"""The rules that explain why a venue's figure differs from ours, each checked by computing the figure the venue
would print under that rule.

An explanation is named by an id a venue family lists for a figure (:class:`~crossmargin.bridge.family.
Conventions` ``rules``). Given the position or account, it yields a :class:`Candidate`: the value the venue
would report under the rule (in the venue's units: a position's money in its settle asset, an account's in
the report's currency), and the rule's name as reports print it. A candidate without a value is a documented
venue behaviour that cannot be recomputed (Bybit's cross liquidation price is an estimate); a report shows it
as *noted*, never as *explained*.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.margin import positions as pos
from crossmargin.margin.account import AccountResult, PositionResult, cross_pool, isolated_pool, solver_follows
from crossmargin.margin.liquidation_price import liquidation_scale
from crossmargin.margin.pools import Pool, position_figures
from crossmargin.margin.scaling import Move
from crossmargin.model import Account, Instrument, Portfolio, Position, RuleChoices, Side
from crossmargin.model.numbers import ZERO, exact
from crossmargin.model.rules import MarginValuation, PriceMove, Valuation

Figures = dict[str, Decimal | None]

TRANSFER_FLOOR = Decimal("0.1")
"""Hyperliquid keeps 10 % of open notional out of what can be withdrawn."""


@dataclass(frozen=True)
class Candidate:
    """What the venue would report under ``rule`` (None: not recomputable), allowing ``slack`` units of its
    display rounding (a total of printed parts carries one unit per part)."""

    value: Decimal | None
    rule: str
    slack: int = 1


@dataclass(frozen=True)
class PositionCase:
    """One position with everything an explanation may read: our result, the venue's figures and facts
    (leverage, price tick), and the facts of every position of the account (by ``id`` of its position)."""

    account: Account
    result: PositionResult
    portfolio: Portfolio
    rules: RuleChoices
    venue: Figures
    facts: Figures
    account_facts: Mapping[int, Figures]

    @property
    def instrument(self) -> Instrument:
        return self.portfolio.instruments[self.result.figures.position.instrument]

    @property
    def settle_price(self) -> Decimal:
        return self.portfolio.market.price(self.instrument.settle)

    def in_settle(self, base_amount: Decimal) -> Decimal:
        """A base-currency amount in the settle asset."""
        with exact():
            return base_amount / self.settle_price


@dataclass(frozen=True)
class AccountCase:
    """One account: our result and figures (``ours``, in the report's currency), the venue's figures and
    facts, the positions in the report's scope and the price of the report's currency in the base."""

    result: AccountResult
    portfolio: Portfolio
    ours: Figures
    venue: Figures
    facts: Figures
    positions: Sequence[PositionCase]
    currency_price: Decimal

    def in_currency(self, case: PositionCase, settle_amount: Decimal) -> Decimal:
        """A position's settle-asset amount in the report's currency."""
        with exact():
            return settle_amount * case.settle_price / self.currency_price


PositionRule = Callable[[PositionCase], Iterator[Candidate]]
AccountRule = Callable[[AccountCase], Iterator[Candidate]]


def shown(value: Decimal) -> str:
    """A number as a rule's text quotes it: fixed point, no trailing zeros (``20``, not ``20.0``)."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _leverage(case: PositionCase) -> Decimal | None:
    leverage = case.facts.get("leverage")
    return leverage if leverage is not None and leverage > 0 else None


def _entry_notional(case: PositionCase) -> Decimal:
    position = case.result.figures.position
    return pos.notional(case.instrument, position.size, position.entry_price)


def user_leverage(case: PositionCase) -> Iterator[Candidate]:
    """Initial margin = notional at the mark / the user's leverage (ours: at the bracket's max leverage)."""
    leverage = _leverage(case)
    if leverage is not None:
        with exact():
            value = case.result.figures.notional_settle / leverage
        yield Candidate(
            value, f"initial margin at the user's leverage {shown(leverage)}x (ours: the bracket's maximum leverage)"
        )


def user_leverage_entry(case: PositionCase) -> Iterator[Candidate]:
    """Initial margin = notional at the entry price / the user's leverage."""
    leverage = _leverage(case)
    if leverage is not None:
        with exact():
            value = _entry_notional(case) / leverage
        yield Candidate(
            value,
            f"initial margin at the user's leverage {shown(leverage)}x on the entry value (ours: the bracket's "
            "maximum leverage on the mark value)",
        )


def fee_to_close(instrument: Instrument, position: Position, leverage: Decimal) -> Decimal:
    """The fee to close (settle units) at the bankruptcy price of ``position`` opened at its entry at
    ``leverage``: the close fee rate on the notional at ``entry x (1 -/+ 1/L)`` for a linear long / short,
    ``entry / (1 +/- 1/L)`` for an inverse one."""
    side = 1 if position.size > 0 else -1
    if instrument.inverse:
        bankruptcy = position.entry_price / (1 + side / leverage)
    else:
        bankruptcy = position.entry_price * (1 - side / leverage)
    return pos.notional(instrument, position.size, bankruptcy) * instrument.close_fee_rate


def _bracket_leverage(instrument: Instrument, position: Position, mark: Decimal) -> Decimal:
    """The maximum leverage of the bracket the position's notional at ``mark`` falls in (1 / its imr)."""
    tier = instrument.tiers.tiers[
        pos.bracket_index(instrument, position.size, pos.notional(instrument, position.size, mark))
    ]
    return 1 / tier.imr


def user_leverage_fee_to_close(case: PositionCase) -> Iterator[Candidate]:
    """Initial margin = notional (at the mark, else at the entry) / the user's leverage + the fee to close at that
    leverage's bankruptcy price (Bybit)."""
    leverage = _leverage(case)
    if leverage is None or case.instrument.close_fee_rate == 0:
        return
    position = case.result.figures.position
    for label, price in (("mark", case.result.figures.mark), ("entry", position.entry_price)):
        with exact():
            value = pos.notional(case.instrument, position.size, price) / leverage + fee_to_close(
                case.instrument, position, leverage
            )
        yield Candidate(
            value,
            f"initial margin at the user's leverage {shown(leverage)}x on the {label} value, its fee to close "
            "included (ours: the bracket's maximum leverage)",
        )


def fee_to_close_at_user_leverage(case: PositionCase) -> Iterator[Candidate]:
    """Maintenance margin with the fee to close at the user's leverage's bankruptcy price (ours: at the
    bracket's maximum leverage, as the venue's published minimum)."""
    leverage = _leverage(case)
    if leverage is None or case.instrument.close_fee_rate == 0:
        return
    figures = case.result.figures
    position, instrument = figures.position, case.instrument
    with exact():
        maximum = _bracket_leverage(instrument, position, figures.mark)
        ours_fee = fee_to_close(instrument, position, maximum)
        value = case.in_settle(figures.maintenance_margin) - ours_fee + fee_to_close(instrument, position, leverage)
    yield Candidate(
        value,
        f"fee to close at the user's leverage {shown(leverage)}x (ours: at the bracket's maximum leverage "
        f"{shown(maximum)}x)",
    )


def liquidation_fee_apart(case: PositionCase) -> Iterator[Candidate]:
    """Maintenance margin without the liquidation fee (ours adds the fee rate on the notional at the mark, as the
    venue's liquidation condition does; the venue prints the two apart, OKX's ``mmr``)."""
    rate = case.instrument.liquidation_fee_rate
    if rate:
        figures = case.result.figures
        with exact():
            value = case.in_settle(figures.maintenance_margin) - figures.notional_settle * rate
        yield Candidate(
            value, f"the venue's maintenance margin leaves out the liquidation fee ({shown(rate)} of notional)"
        )


def _flipped(valuation: MarginValuation, side: Side, isolated: bool) -> MarginValuation:
    name = f"{'isolated' if isolated else 'cross'}_{'initial' if side is Side.INITIAL else 'maintenance'}"
    current = getattr(valuation, name)
    return replace(valuation, **{name: Valuation.ENTRY if current is Valuation.MARK else Valuation.MARK})


def _valued_otherwise(case: PositionCase, side: Side) -> Iterator[Candidate]:
    position = case.result.figures.position
    valuation = case.rules.margin_valuation
    ours = "entry" if valuation.at_entry(side, position.isolated) else "mark"
    theirs = "mark" if ours == "entry" else "entry"
    with exact():
        figures = position_figures(position, case.portfolio, _flipped(valuation, side, position.isolated))
        amount = figures.initial_margin if side is Side.INITIAL else figures.maintenance_margin
        value = case.in_settle(amount)
    what = "initial" if side is Side.INITIAL else "maintenance"
    yield Candidate(value, f"{theirs}- vs {ours}-valued {what} margin (the venue values it at the {theirs} price)")


def entry_valued_initial(case: PositionCase) -> Iterator[Candidate]:
    """Initial margin on the other valuation (entry where ours is at the mark, or the reverse)."""
    yield from _valued_otherwise(case, Side.INITIAL)


def entry_valued_maintenance(case: PositionCase) -> Iterator[Candidate]:
    """Maintenance margin on the other valuation."""
    yield from _valued_otherwise(case, Side.MAINTENANCE)


def other_price_move(case: PositionCase) -> Iterator[Candidate]:
    """The liquidation price with the other choice of what moves (the position's own mark alone, or every
    price on its underlying)."""
    if not solver_follows(case.rules):
        return
    figures = case.result.figures
    position = figures.position
    other = PriceMove.INSTRUMENT if case.rules.liquidation_price_moves is PriceMove.UNDERLYING else PriceMove.UNDERLYING
    pool = isolated_pool(position, case.portfolio) if position.isolated else cross_pool(case.account)
    with exact():
        move = Move.of(case.portfolio, position.instrument, other)
        scale = liquidation_scale(
            pool, case.portfolio, replace(case.rules, liquidation_price_moves=other), move, position.size > 0
        )
        if scale is None:
            return
        value = figures.mark * scale
    moved = "the position's own mark alone" if other is PriceMove.INSTRUMENT else "every price on its underlying"
    yield Candidate(value, f"the venue's liquidation price moves {moved}")


def liquidation_fee_to_close_at_user_leverage(case: PositionCase) -> Iterator[Candidate]:
    """The liquidation price with every position of the pool carrying its fee to close at the user's leverage
    instead of the bracket's maximum (the fee is a constant in maintenance margin: the difference is taken from
    the settle asset's balance, exact where that asset counts at weight 1)."""
    if not solver_follows(case.rules):
        return
    figures = case.result.figures
    position = figures.position
    pool = isolated_pool(position, case.portfolio) if position.isolated else cross_pool(case.account)
    shift: dict[str, Decimal] = {}
    with exact():
        for other in pool.positions:
            instrument = case.portfolio.instruments[other.instrument]
            leverage = case.account_facts.get(id(other), {}).get("leverage")
            if not instrument.close_fee_rate or leverage is None or leverage <= 0:
                continue
            maximum = _bracket_leverage(instrument, other, case.portfolio.market.mark(other.instrument))
            delta = fee_to_close(instrument, other, leverage) - fee_to_close(instrument, other, maximum)
            shift[instrument.settle] = shift.get(instrument.settle, ZERO) + delta
        if not shift:
            return
        balances = dict(pool.balances)
        for asset, delta in shift.items():
            balances[asset] = balances.get(asset, ZERO) - delta
        moved = Pool(balances, pool.positions, pool.haircut)
        move = Move.of(case.portfolio, position.instrument, case.rules.liquidation_price_moves)
        scale = liquidation_scale(moved, case.portfolio, case.rules, move, position.size > 0)
        if scale is None:
            return
        value = figures.mark * scale
    yield Candidate(
        value, "fees to close at the users' leverage in maintenance margin (ours: at the brackets' maximum)"
    )


def hedge_shared_liquidation_price(case: PositionCase) -> Iterator[Candidate]:
    """A hedge-mode leg against the net position: the venue prints the legs' one liquidation price, where the
    net position liquidates (ours solves each leg in its own adverse direction)."""
    figures = case.result.figures
    position = figures.position
    legs = [
        p for p in case.account.positions if p.instrument == position.instrument and p.isolated == position.isolated
    ]
    net = sum((p.size for p in legs), ZERO)
    if len(legs) < 2 or net == 0 or (net > 0) == (position.size > 0) or not solver_follows(case.rules):
        return
    pool = isolated_pool(position, case.portfolio) if position.isolated else cross_pool(case.account)
    with exact():
        move = Move.of(case.portfolio, position.instrument, case.rules.liquidation_price_moves)
        scale = liquidation_scale(pool, case.portfolio, case.rules, move, net > 0)
        if scale is None:
            return
        value = figures.mark * scale
    yield Candidate(
        value, "hedge mode: the venue prints the legs' one liquidation price, where the net position liquidates"
    )


def cross_liquidation_estimate(case: PositionCase) -> Iterator[Candidate]:
    """A cross position's liquidation price that the venue documents as an estimate (no value to recompute)."""
    if not case.result.figures.position.isolated:
        yield Candidate(None, "the venue's cross liquidation price is an estimate it does not publish a formula for")


def venue_positions_initial_margin(case: AccountCase) -> Iterator[Candidate]:
    """Account initial margin = the positions' initial margin as the venue reports each + open orders'."""
    amounts = [c.venue.get("initial_margin") for c in case.positions]
    if any(amount is None for amount in amounts):
        return
    orders = case.facts.get("open_orders_initial_margin") or ZERO
    with exact():
        value = sum((case.in_currency(c, a) for c, a in zip(case.positions, amounts, strict=True) if a), ZERO) + orders
    yield Candidate(
        value,
        f"the positions' initial margin as the venue charges it (see each position) plus open orders' {shown(orders)}",
        slack=len(amounts) + 1,
    )


def user_leverage_positions(case: AccountCase) -> Iterator[Candidate]:
    """Account initial margin = each position's notional at the mark / the user's leverage, + open orders'."""
    leverages = [c.facts.get("leverage") for c in case.positions]
    if not leverages or any(not leverage for leverage in leverages):
        return
    orders = case.facts.get("open_orders_initial_margin") or ZERO
    with exact():
        value = (
            sum(
                (
                    case.in_currency(c, c.result.figures.notional_settle / lev)
                    for c, lev in zip(case.positions, leverages, strict=True)
                    if lev
                ),
                ZERO,
            )
            + orders
        )
    yield Candidate(
        value, f"initial margin at the users' leverage on each position plus open orders' {shown(orders)}", 2
    )


def venue_positions_maintenance_margin(case: AccountCase) -> Iterator[Candidate]:
    """Account maintenance margin = the positions' maintenance margin as the venue reports each."""
    amounts = [c.venue.get("maintenance_margin") for c in case.positions]
    if any(amount is None for amount in amounts):
        return
    with exact():
        value = sum((case.in_currency(c, a) for c, a in zip(case.positions, amounts, strict=True) if a), ZERO)
    yield Candidate(
        value, "the positions' maintenance margin as the venue reports each (see each position)", len(amounts) + 1
    )


def venue_initial_margin(case: AccountCase) -> Iterator[Candidate]:
    """Free collateral = our initial equity of the cross pool - the venue's initial margin of the cross pool
    (its account initial margin less its isolated positions')."""
    venue_im = case.venue.get("initial_margin")
    if venue_im is None:
        return
    isolated = [(c, c.venue.get("initial_margin")) for c in case.positions if c.result.isolated]
    if any(amount is None for _, amount in isolated):
        return
    with exact():
        cross_im = venue_im - sum((case.in_currency(c, a) for c, a in isolated if a), ZERO)
        value = case.result.cross.initial_equity / case.currency_price - cross_im
    yield Candidate(
        value, "free collateral after the venue's own initial margin (see initial margin)", len(isolated) + 2
    )


def transfer_floor(case: AccountCase) -> Iterator[Candidate]:
    """What can be withdrawn = equity - max(the venue's initial margin, 10 % of open notional) (Hyperliquid)."""
    venue_im = case.venue.get("initial_margin")
    if venue_im is None:
        return
    with exact():
        notional = sum((c.result.figures.notional for c in case.positions if not c.result.isolated), ZERO)
        floor = notional * TRANSFER_FLOOR / case.currency_price
        value = max(case.result.cross.equity / case.currency_price - max(venue_im, floor), ZERO)
    yield Candidate(
        value,
        "the venue reports what can be withdrawn: equity less the larger of its initial margin and 10 % of "
        "open notional",
        slack=2,
    )


def equity_over_maintenance(case: AccountCase) -> Iterator[Candidate]:
    """The venue's margin ratio is equity / maintenance margin, the inverse of ours."""
    ours = case.ours.get("margin_ratio")
    if ours:
        with exact():
            yield Candidate(1 / ours, "the venue's margin ratio is equity / maintenance margin (ours: the inverse)")


def venue_ratio_of_own_figures(case: AccountCase) -> Iterator[Candidate]:
    """The venue's margin ratio from its own maintenance margin and equity (which the lines above reconcile)."""
    equity, maintenance = case.venue.get("equity"), case.venue.get("maintenance_margin")
    if equity and maintenance is not None and equity > 0:
        with exact():
            yield Candidate(maintenance / equity, "the venue's ratio of its own maintenance margin and equity", 2)


POSITION_RULES: dict[str, PositionRule] = {
    "user_leverage": user_leverage,
    "user_leverage_entry": user_leverage_entry,
    "user_leverage_fee_to_close": user_leverage_fee_to_close,
    "fee_to_close_at_user_leverage": fee_to_close_at_user_leverage,
    "liquidation_fee_apart": liquidation_fee_apart,
    "entry_valued_initial": entry_valued_initial,
    "entry_valued_maintenance": entry_valued_maintenance,
    "other_price_move": other_price_move,
    "hedge_shared_liquidation_price": hedge_shared_liquidation_price,
    "liquidation_fee_to_close_at_user_leverage": liquidation_fee_to_close_at_user_leverage,
    "cross_liquidation_estimate": cross_liquidation_estimate,
}
"""Explanations of a position's figure, by the id a family lists."""

ACCOUNT_RULES: dict[str, AccountRule] = {
    "venue_positions_initial_margin": venue_positions_initial_margin,
    "user_leverage_positions": user_leverage_positions,
    "venue_positions_maintenance_margin": venue_positions_maintenance_margin,
    "venue_initial_margin": venue_initial_margin,
    "transfer_floor": transfer_floor,
    "equity_over_maintenance": equity_over_maintenance,
    "venue_ratio_of_own_figures": venue_ratio_of_own_figures,
}
"""Explanations of an account's figure, by the id a family lists."""
