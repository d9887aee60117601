"""Derivative instruments: linear and inverse perpetuals and dated futures.

Sign and unit conventions (used throughout crossmargin):

- A position's ``size`` is in contracts, positive long, negative short.
- A *linear* contract is ``contract_size`` units of the underlying, quoted and settled in the settle
  asset (BTCUSDT: 1 contract = 0.001 BTC, PnL in USDT). Its mark is in settle units per underlying.
- An *inverse* contract is ``contract_size`` units of the quote currency (usually USD), settled in the
  underlying coin (BTCUSD coin-margined: 1 contract = 100 USD, PnL in BTC). Its mark is in quote units
  per underlying. Notional, margin and tier brackets are then in the settle coin.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from crossmargin.model.errors import InputError
from crossmargin.model.numbers import positive
from crossmargin.model.tiers import TierTable


class ContractKind(StrEnum):
    """What kind of contract an instrument is."""

    PERPETUAL = "perpetual"
    FUTURE = "future"


@dataclass(frozen=True)
class Instrument:
    """A tradable contract on ``underlying``, margined and settled in ``settle``."""

    name: str
    kind: ContractKind
    underlying: str
    settle: str
    contract_size: Decimal
    inverse: bool
    tiers: TierTable
    expiry: datetime | None = None

    def __post_init__(self) -> None:
        positive(self.contract_size, "contract_size")
        if self.inverse and self.settle != self.underlying:
            raise InputError(
                "settle",
                f"an inverse contract settles in its underlying ({self.underlying!r}), not {self.settle!r}",
            )
        if not self.inverse and self.settle == self.underlying:
            raise InputError(
                "settle",
                f"a linear contract settles in its quote asset, not its underlying {self.underlying!r} "
                "(coin-margined contracts are inverse: set inverse: true)",
            )
        if self.kind is ContractKind.PERPETUAL and self.expiry is not None:
            raise InputError("expiry", "a perpetual has no expiry")
