"""What the oracle policy decides about one account, and what the oracle-driven loop can price."""

from collections.abc import Callable

from crossmargin.margin.account import depends_on
from crossmargin.model import Account, ContractKind, InputError, Portfolio
from crossmargin.oracle.config import Policy, Status


def may_liquidate(status: Callable[[str], Status], policy: Policy, account: Account, portfolio: Portfolio) -> bool:
    """Whether every price the account is valued at (``status(symbol)``: its status now) has a status
    ``policy`` liquidates on."""
    return all(status(s) in policy.liquidate_on for s in depends_on(account, portfolio))


def check_oracle_priced(portfolio: Portfolio) -> None:
    """Refuse a position the engine loop cannot price from an oracle yet: an option (its premium is a
    Black-76 value of the underlying, not an oracle mark of its own)."""
    for account in portfolio.accounts:
        for position in account.positions:
            if portfolio.instruments[position.instrument].kind is ContractKind.OPTION:
                raise InputError(
                    "instruments",
                    f"{position.instrument!r} is an option: replays and stress runs do not price them yet",
                )
