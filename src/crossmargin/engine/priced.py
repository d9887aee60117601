"""The engine under an oracle: prices from :class:`~crossmargin.oracle.book.OracleBook`, the policy applied.

Each account is valued at the prices it depends on (its nonzero balances, its positions' marks and settle
assets). Under the policy (:class:`~crossmargin.oracle.config.Policy`): collateral at a price whose status
is in ``conservative_on`` counts at the lower of index and EMA when held and the higher when owed; an
account valued at any price whose status is in ``freeze_on`` is frozen (no withdrawal, no new risk:
:meth:`PricedEngine.can_withdraw`, :meth:`PricedEngine.can_open`); an account is liquidated only when it
is confirmed below maintenance on the exact state and every price it depends on has a status in
``liquidate_on`` (otherwise the liquidation is suppressed and reported).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal

from crossmargin.margin.account import cross_pool, isolated_pool
from crossmargin.margin.pools import evaluate_pool
from crossmargin.margin.whatif import REDUCES, check_order, max_withdrawable
from crossmargin.model import Account, ContractKind, InputError, Market, Portfolio, RuleChoices
from crossmargin.oracle.book import OracleBook
from crossmargin.oracle.config import OracleConfig, Policy, Status
from crossmargin.oracle.feed import SourceUpdate

Event = dict[str, object]


def depends_on(account: Account, portfolio: Portfolio) -> Iterator[str]:
    """The symbols whose prices value the account: held or owed assets and its positions' instruments and
    settle assets (the base currency aside)."""
    yield from (asset for asset, amount in account.balances.items() if amount and asset != portfolio.base)
    for position in account.positions:
        yield position.instrument
        settle = portfolio.instruments[position.instrument].settle
        if settle != portfolio.base:
            yield settle


def may_liquidate(status: Callable[[str], Status], policy: Policy, account: Account, portfolio: Portfolio) -> bool:
    """Whether every price the account depends on has a status (``status(symbol)``, e.g. the oracle's
    now) that ``policy`` liquidates on."""
    return all(status(s) in policy.liquidate_on for s in depends_on(account, portfolio))


@dataclass(frozen=True)
class AccountState:
    """An account under the oracle: exact figures (base currency) and what the engine does."""

    equity: Decimal
    maintenance_margin: Decimal
    below_maintenance: bool
    liquidate: bool
    frozen: bool
    statuses: dict[str, str]


def check_oracle_priced(portfolio: Portfolio) -> None:
    """Refuse a position the oracle-driven paths (replay, stress runner) cannot follow yet: an option (its
    premium is a Black-76 value of the underlying, not an oracle mark of its own)."""
    for account in portfolio.accounts:
        for position in account.positions:
            if portfolio.instruments[position.instrument].kind is ContractKind.OPTION:
                raise InputError(
                    "instruments",
                    f"{position.instrument!r} is an option: replays and stress runs do not price them yet",
                )


class PricedEngine:
    """Accounts of a portfolio valued at oracle prices; events in, engine decisions out."""

    def __init__(self, portfolio: Portfolio, rules: RuleChoices, config: OracleConfig) -> None:
        check_oracle_priced(portfolio)
        self.portfolio = portfolio
        self.rules = rules
        self.config = config
        market = portfolio.market
        prices = {
            a: market.price(a) for a in (*portfolio.assets, *market.prices) if a in market.prices or a == portfolio.base
        }
        underlying = {name: i.underlying for name, i in portfolio.instruments.items() if name in market.marks}
        self.oracle = OracleBook(config, prices, dict(market.marks), underlying)
        self.states = {a.id: self.state(a) for a in portfolio.accounts}

    def set_accounts(self, accounts: tuple[Account, ...]) -> None:
        """Replace the accounts (after liquidations changed them); their states are taken again, silently."""
        p = self.portfolio
        self.portfolio = Portfolio(p.base, p.rulebook, p.assets, p.instruments, p.market, accounts)
        self.states = {a.id: self.state(a) for a in accounts}

    def may_liquidate(self, account: Account) -> bool:
        """Whether every price the account depends on has a status the policy liquidates on."""
        return may_liquidate(lambda s: self.oracle.price(s).status, self.config.policy, account, self.portfolio)

    def market_for(self, account: Account) -> Market:
        """The market the account is valued at: oracle prices, conservative where the policy says."""
        prices = dict(self.portfolio.market.prices)
        for asset in prices:
            quote = self.oracle.index(asset)
            price = quote.price
            if quote.status in self.config.policy.conservative_on:
                owed = account.balances.get(asset, Decimal(0)) < 0
                price = max(quote.price, quote.ema) if owed else min(quote.price, quote.ema)
            prices[asset] = price
        marks = {name: self.oracle.mark(name).price for name in self.portfolio.market.marks}
        return replace(self.portfolio.market, prices=prices, marks=marks)

    def state(self, account: Account) -> AccountState:
        """The account's exact figures and the engine's decisions at the current oracle prices."""
        portfolio = Portfolio(
            self.portfolio.base, self.portfolio.rulebook, self.portfolio.assets, self.portfolio.instruments,
            self.market_for(account), (account,),
        )  # fmt: skip
        cross = evaluate_pool(cross_pool(account), portfolio, self.rules)
        pools = [
            evaluate_pool(isolated_pool(p, portfolio), portfolio, self.rules) for p in account.positions if p.isolated
        ]
        below = cross.liquidatable or any(p.liquidatable for p in pools)
        statuses = {
            symbol: self.oracle.price(symbol).status for symbol in dict.fromkeys(depends_on(account, self.portfolio))
        }
        policy = self.config.policy
        return AccountState(
            equity=cross.equity,
            maintenance_margin=cross.maintenance_margin,
            below_maintenance=below,
            liquidate=below and all(s in policy.liquidate_on for s in statuses.values()),
            frozen=any(s in policy.freeze_on for s in statuses.values()),
            statuses={k: str(v) for k, v in statuses.items()},
        )

    def can_withdraw(self, account_id: str, asset: str, amount: Decimal) -> bool:
        """Whether ``amount`` of ``asset`` may leave the account now (not frozen, within free collateral)."""
        account = self.portfolio.account(account_id)
        if self.state(account).frozen:
            return False
        portfolio = self.portfolio.with_market(self.market_for(account))
        return max_withdrawable(account, portfolio, self.rules, asset) >= amount

    def can_open(self, account_id: str, instrument: str, size: Decimal, price: Decimal) -> bool:
        """Whether an order may add risk now: not frozen (reducing orders always may) and it passes the
        initial-margin check at the policy's prices."""
        account = self.portfolio.account(account_id)
        portfolio = self.portfolio.with_market(self.market_for(account))
        check = check_order(account, portfolio, self.rules, instrument, size, price)
        return check.passes and (check.reason == REDUCES or not self.state(account).frozen)

    def check(self, update: SourceUpdate) -> None:
        """Refuse an update for a symbol that is neither a priced asset nor a marked instrument."""
        if update.symbol not in self.oracle.document_prices and update.symbol not in self.oracle.underlying:
            raise InputError("symbol", f"{update.symbol!r} is neither a priced asset nor a marked instrument")

    def feed(self, update: SourceUpdate) -> list[Event]:
        """Apply one source update; the events it causes, in order."""
        self.check(update)
        ignored = self.oracle.accept(update)
        events: list[Event] = []
        touched = [update.symbol, *(i for i, u in self.oracle.underlying.items() if u == update.symbol)]
        for symbol in dict.fromkeys(touched):
            quote = self.oracle.price(symbol)
            events.append(
                {
                    "t": update.t, "event": "price_status", "symbol": symbol, "status": str(quote.status),
                    "price": quote.price, "reason": quote.reason, "sources": list(quote.sources),
                    "source": update.source, "ignored": ignored,
                }
            )  # fmt: skip
        for account in self.portfolio.accounts:
            before, after = self.states[account.id], self.state(account)
            self.states[account.id] = after
            if after.liquidate and not before.liquidate:
                events.append(self._account_event(update.t, "liquidatable", account.id, after))
            elif (
                after.below_maintenance
                and not after.liquidate
                and not (before.below_maintenance and not before.liquidate)
            ):
                events.append(self._account_event(update.t, "liquidation_suppressed", account.id, after))
            if after.frozen != before.frozen:
                events.append(
                    self._account_event(update.t, "frozen" if after.frozen else "unfrozen", account.id, after)
                )
        return events

    @staticmethod
    def _account_event(t: Decimal, kind: str, account_id: str, state: AccountState) -> Event:
        return {
            "t": t, "event": kind, "account": account_id, "equity": state.equity,
            "maintenance_margin": state.maintenance_margin, "statuses": state.statuses,
        }  # fmt: skip

    def end(self) -> Event:
        """The final state: every price with its status, every account's figures and decisions."""
        quotes = [self.oracle.price(s) for s in (*self.oracle.document_prices, *self.oracle.underlying)]
        return {
            "t": self.oracle.clock,
            "event": "end",
            "prices": {q.symbol: {"price": q.price, "status": str(q.status)} for q in quotes},
            "accounts": [
                {
                    "id": account_id, "equity": state.equity, "maintenance_margin": state.maintenance_margin,
                    "liquidatable": state.liquidate, "below_maintenance": state.below_maintenance,
                    "frozen": state.frozen,
                }
                for account_id, state in self.states.items()
            ],
        }  # fmt: skip
