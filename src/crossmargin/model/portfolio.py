"""A whole book: assets, instruments, market state and accounts, checked against each other."""

from collections.abc import Iterable, Mapping
from copy import copy
from dataclasses import dataclass, replace

from crossmargin.model.accounts import Account
from crossmargin.model.assets import Asset
from crossmargin.model.errors import InputError, field_prefix
from crossmargin.model.instruments import ContractKind, Instrument
from crossmargin.model.market import Market


@dataclass(frozen=True)
class Portfolio:
    """Everything an evaluation needs; construction fails on the first inconsistency, naming it."""

    base: str
    rulebook: str
    assets: Mapping[str, Asset]
    instruments: Mapping[str, Instrument]
    market: Market
    accounts: tuple[Account, ...]

    def __post_init__(self) -> None:
        if self.market.base != self.base:
            raise InputError("base", f"market is priced in {self.market.base!r}, not {self.base!r}")
        for section, named in (("marks", self.market.marks), ("open_interest", self.market.open_interest)):
            for name in named:
                if name not in self.instruments:
                    raise InputError(f"{section}.{name}", f"unknown instrument {name!r}")
        underlyings = {i.underlying for i in self.instruments.values()}
        for name in self.market.prices:
            if name not in self.assets and name not in underlyings:
                raise InputError(f"prices.{name}", f"price for {name!r}, which is neither an asset nor an underlying")
        self._check_accounts()

    def _check_accounts(self) -> None:
        ids: set[str] = set()
        for i, account in enumerate(self.accounts):
            where = f"accounts[{i}] (id {account.id!r})"
            if account.id in ids:
                raise InputError(f"{where}.id", f"duplicate account id {account.id!r}")
            ids.add(account.id)
            self._check_account(account, where)

    def _check_valued(self, spec: Instrument, field: str) -> None:
        """An option without a mark is valued from the market: it needs a valuation time, a volatility and
        its underlying's price."""
        if self.market.valuation_time is None:
            raise InputError(field, f"{spec.name!r} has no mark: give valuation_time (and vols) to value it")
        with field_prefix(field):
            self.market.vol_points(spec.name, spec.underlying)
        self._check_priced(spec.underlying, field)

    def _check_priced(self, asset: str, field: str) -> None:
        if asset != self.base and asset not in self.market.prices:
            raise InputError(field, f"missing price for {asset!r} (add prices.{asset})")

    def _check_account(self, account: Account, where: str) -> None:
        for asset, amount in account.balances.items():
            if asset not in self.assets:
                raise InputError(f"{where}.balances.{asset}", f"unknown asset {asset!r} (add it under assets)")
            if amount != 0:
                self._check_priced(asset, f"{where}.balances.{asset}")
        for j, position in enumerate(account.positions):
            field = f"{where}.positions[{j}]"
            if position.instrument not in self.instruments:
                raise InputError(f"{field}.instrument", f"unknown instrument {position.instrument!r}")
            spec = self.instruments[position.instrument]
            if position.instrument not in self.market.marks:
                if spec.kind is not ContractKind.OPTION:
                    raise InputError(
                        f"{field}.instrument",
                        f"missing mark price for {position.instrument!r} (add marks.{position.instrument})",
                    )
                self._check_valued(spec, f"{field}.instrument")
            settle = spec.settle
            if settle not in self.assets:
                raise InputError(
                    f"{field}.instrument", f"settle asset {settle!r} of {position.instrument!r} is not under assets"
                )
            self._check_priced(settle, f"{field}.instrument")

    def account(self, account_id: str) -> Account:
        """The account with id ``account_id``."""
        for account in self.accounts:
            if account.id == account_id:
                return account
        raise InputError("account", f"no account with id {account_id!r}")

    def with_market(self, market: Market) -> "Portfolio":
        """The same book valued at another market state.

        A market with the same base and the same priced assets, marked instruments and open interest
        keeps every account valid, so the accounts are not checked again (this runs once per trial price
        in the liquidation-price solver).
        """
        old = self.market
        same_names = (
            market.base == old.base
            and market.prices.keys() == old.prices.keys()
            and market.marks.keys() == old.marks.keys()
            and market.open_interest.keys() == old.open_interest.keys()
        )
        if not same_names:
            return replace(self, market=market)
        moved = copy(self)
        object.__setattr__(moved, "market", market)
        return moved

    def of_accounts(self, accounts: Iterable[Account]) -> "Portfolio":
        """The same assets, instruments and market with ``accounts`` instead of this book's; only the
        accounts are checked (against each other and the book), the rest passed when this book was made."""
        moved = copy(self)
        object.__setattr__(moved, "accounts", tuple(accounts))
        moved._check_accounts()
        return moved

    def with_account(self, account: Account) -> "Portfolio":
        """The same book with ``account`` replacing the account of the same id (checked again)."""
        accounts = tuple(account if a.id == account.id else a for a in self.accounts)
        return replace(self, accounts=accounts)
