"""Replaying a price feed with liquidations executed: the oracle decides prices and who may be liquidated,
the clearing state keeps the money, the liquidation engine acts.

After each source update: the updated symbols' oracle prices go into the clearing state (with the set of
symbols whose price is not valid, which freezes withdrawals); then every account that is liquidatable on
the clearing state's exact figures, and whose prices all have a status the oracle policy liquidates on,
is liquidated, again while the fills' permanent impact pushes others under. A mark moved by impact stays
until the feed updates that instrument again. Events: the engine's (price statuses, liquidatable,
suppressed, frozen) and the liquidation engine's notices (``liquidation`` per fill, ``adl`` per
deleveraged account, ``insurance``, ``socialized``, ``bad_debt``, ``collateral_sale``).
"""

from collections.abc import Mapping
from decimal import Decimal

from crossmargin.clearing.events import PriceUpdate
from crossmargin.clearing.state import BAD_DEBT, FEE_POOL, INSURANCE_FUND, ClearingState
from crossmargin.engine.priced import Event, PricedEngine
from crossmargin.liquidation.engine import Liquidator
from crossmargin.liquidation.liquidity import LiquidityModel
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.numbers import ZERO
from crossmargin.model.rules import LiquidationTerms
from crossmargin.oracle.config import OracleConfig, Status
from crossmargin.oracle.feed import SourceUpdate

_ROUNDS = 100  # cascade rounds after one update at most


class Replay:
    """A portfolio under an oracle, a clearing state and a liquidation engine (see module doc)."""

    def __init__(
        self,
        portfolio: Portfolio,
        rules: RuleChoices,
        terms: LiquidationTerms,
        config: OracleConfig,
        liquidity: Mapping[str, LiquidityModel],
        insurance_fund: Decimal = ZERO,
    ) -> None:
        self.engine = PricedEngine(portfolio, rules, config)
        self.state = ClearingState(portfolio, rules, insurance_fund)
        self.liquidator = Liquidator(self.state, terms, liquidity)

    def check(self, update: SourceUpdate) -> None:
        """Refuse an update for a symbol the document does not price."""
        self.engine.check(update)

    def feed(self, update: SourceUpdate) -> list[Event]:
        """Apply one source update; the events it causes, in order."""
        events = self.engine.feed(update)
        self._sync(update.symbol)
        for notice in self._liquidate():
            events.append({"t": update.t, **notice})
        return events

    def _sync(self, symbol: str) -> None:
        engine, state = self.engine, self.state
        underlying = engine.oracle.underlying
        marks = {name: engine.oracle.price(name).price for name, u in underlying.items() if symbol in (name, u)}
        prices = {symbol: engine.oracle.price(symbol).price} if symbol in state.market.prices else {}
        symbols = [*state.market.prices, *underlying]
        untrusted = frozenset(s for s in symbols if engine.oracle.price(s).status is not Status.VALID)
        state.apply(PriceUpdate(prices=prices, marks=marks, untrusted=untrusted))

    def _liquidate(self) -> list[Event]:
        notices: list[Event] = []
        state = self.state
        for _ in range(_ROUNDS):
            progressed = False
            for account_id in state.account_ids:
                account = state.account(account_id)
                if not (self.engine.may_liquidate(account) and state.liquidatable(account_id)):
                    continue
                before = state.digest()
                notices += self.liquidator.liquidate(account_id)
                self.liquidator.apply_impact()
                progressed |= state.digest() != before
            if not progressed:
                break
        if notices:
            self.engine.set_accounts(tuple(state.account(a) for a in state.account_ids))
        return notices

    def end(self) -> Event:
        """The engine's end line with the money: insurance fund, fee pool and bad debt (base currency), and
        every account's balances and open positions."""
        end = self.engine.end()
        state = self.state
        end["insurance_fund"] = state.value(INSURANCE_FUND)
        end["fee_pool"] = state.value(FEE_POOL)
        end["bad_debt"] = -state.value(BAD_DEBT)
        accounts = end["accounts"]
        assert isinstance(accounts, list)
        for line in accounts:
            account = state.account(line["id"])
            line["balances"] = dict(account.balances)
            line["positions"] = [
                {
                    "instrument": p.instrument, "size": p.size, "entry_price": p.entry_price,
                    "isolated_margin": p.isolated_margin,
                }
                for p in account.positions
            ]  # fmt: skip
        return end
