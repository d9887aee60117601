"""The double-entry ledger of record: exact balances per ledger account and asset, moved only by postings
that sum to zero in every asset, so money is never created or lost.

Ledger accounts are named by :class:`Book` kind and owner:

- ``user``: an account's cross balance (owner: the account id);
- ``isolated``: the margin of one isolated position (owner: ``account/instrument/long|short``);
- ``insurance_fund``, ``fee_pool``, ``liquidator``: the exchange's funds (no owner);
- ``clearing``: realized PnL settles through it (it holds minus the PnL realized so far);
- ``funding``: funding payments pass through it (zero when long and short open interest match);
- ``bad_debt``: losses nobody bore (negative: the debt written off);
- ``external``: the outside world: deposits come from it, withdrawals go to it (its balance is minus
  the net deposits).

Balances are in the asset's units; a positive balance is held, a negative one owed. The ledger is the
boundary where money is quantized: every posting is rounded (half even) to :data:`MONEY_QUANTUM`, so
balances stay exact sums (a transfer's two postings round alike and still cancel).
"""

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from crossmargin.model import InputError
from crossmargin.model.numbers import ZERO, exact, finite

MONEY_QUANTUM = Decimal("1E-18")
"""The smallest amount the ledger books, in asset units (balances up to 1e30 stay exact in 50 digits)."""


def money(amount: Decimal) -> Decimal:
    """``amount`` rounded to the ledger's quantum."""
    with exact():
        return amount.quantize(MONEY_QUANTUM)


class Book(StrEnum):
    """Kinds of ledger account (see module doc)."""

    USER = "user"
    ISOLATED = "isolated"
    INSURANCE_FUND = "insurance_fund"
    FEE_POOL = "fee_pool"
    LIQUIDATOR = "liquidator"
    CLEARING = "clearing"
    FUNDING = "funding"
    BAD_DEBT = "bad_debt"
    EXTERNAL = "external"


@dataclass(frozen=True, order=True)
class LedgerAccount:
    """One ledger account: a kind and, for user and isolated accounts, its owner."""

    book: Book
    owner: str = ""

    def __str__(self) -> str:
        return f"{self.book}:{self.owner}" if self.owner else str(self.book)


@dataclass(frozen=True)
class Posting:
    """``amount`` of ``asset`` into ``account`` (negative: out of it)."""

    account: LedgerAccount
    asset: str
    amount: Decimal


def transfer(source: LedgerAccount, target: LedgerAccount, asset: str, amount: Decimal) -> tuple[Posting, Posting]:
    """The two postings moving ``amount`` of ``asset`` from ``source`` to ``target``."""
    with exact():
        return Posting(source, asset, -amount), Posting(target, asset, amount)


class Ledger:
    """Balances per (ledger account, asset); :meth:`post` is the only way they change."""

    def __init__(self) -> None:
        self._balances: dict[tuple[LedgerAccount, str], Decimal] = {}
        self._by_account: dict[LedgerAccount, dict[str, Decimal]] = {}
        self._changed: set[LedgerAccount] = set()

    def balance(self, account: LedgerAccount, asset: str) -> Decimal:
        """The balance (asset units; zero if never posted)."""
        return self._balances.get((account, asset), ZERO)

    def balances_of(self, account: LedgerAccount) -> dict[str, Decimal]:
        """Every nonzero balance of one ledger account, by asset."""
        return {asset: amount for asset, amount in self._by_account.get(account, {}).items() if amount}

    def assets(self) -> set[str]:
        """Every asset ever posted."""
        return {asset for _, asset in self._balances}

    def post(self, postings: Iterable[Posting]) -> None:
        """Apply ``postings`` at once, each rounded to the quantum; they must then sum to zero in every asset
        (checked before any change)."""
        sums: dict[str, Decimal] = {}
        with exact():
            entries = [(e.account, e.asset, money(finite(e.amount, f"posting to {e.account}"))) for e in postings]
            for _, asset, amount in entries:
                sums[asset] = sums.get(asset, ZERO) + amount
            unbalanced = {asset: total for asset, total in sums.items() if total != 0}
            if unbalanced:
                raise InputError("postings", f"do not balance: {unbalanced}")
            for account, asset, amount in entries:
                key = (account, asset)
                self._balances[key] = self._balances.get(key, ZERO) + amount
                self._by_account.setdefault(account, {})[asset] = self._balances[key]
                self._changed.add(account)

    def take_changed(self) -> set[LedgerAccount]:
        """The ledger accounts posted to since the last call (for caches of values derived from them)."""
        changed, self._changed = self._changed, set()
        return changed

    def snapshot(self) -> Mapping[tuple[LedgerAccount, str], Decimal]:
        """Every balance posted, zero ones included, in the order first posted (a copy)."""
        return dict(self._balances)

    @classmethod
    def restored(cls, balances: Mapping[tuple[LedgerAccount, str], Decimal]) -> "Ledger":
        """A ledger holding exactly ``balances`` (as :meth:`snapshot` gives them: zero ones and their order
        kept), which must be finite and sum to zero in every asset (checked before anything is held)."""
        sums: dict[str, Decimal] = {}
        with exact():
            for (account, asset), amount in balances.items():
                sums[asset] = sums.get(asset, ZERO) + finite(amount, f"balances.{account}.{asset}")
        unbalanced = {asset: total for asset, total in sums.items() if total != 0}
        if unbalanced:
            raise InputError("balances", f"do not balance: {unbalanced}")
        ledger = cls()
        for (account, asset), amount in balances.items():
            ledger._balances[(account, asset)] = amount
            ledger._by_account.setdefault(account, {})[asset] = amount
        return ledger

    def digest(self) -> str:
        """A SHA-256 of every nonzero balance in a canonical order (equal ledgers hash the same)."""
        with exact():  # normalize() rounds to the context's precision: the exact one keeps every digit
            lines = sorted(
                f"{account}|{asset}|{amount.normalize()}"
                for (account, asset), amount in self._balances.items()
                if amount
            )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()
