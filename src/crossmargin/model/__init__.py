"""The domain model: assets, instruments, risk tiers, accounts, market state, portfolios.

Everything here is exact (``Decimal``), immutable and validated on construction; an invalid value
raises :class:`InputError` naming its field.
"""

from crossmargin.model.accounts import Account, Position
from crossmargin.model.assets import Asset, Side, WeightBand, WeightSchedule
from crossmargin.model.errors import InputError
from crossmargin.model.instruments import ContractKind, Instrument, OptionRight
from crossmargin.model.market import Market
from crossmargin.model.numbers import EXACT, exact
from crossmargin.model.portfolio import Portfolio
from crossmargin.model.rules import RuleChoices
from crossmargin.model.tiers import RiskTier, TierSpec, TierTable

__all__ = [
    "EXACT",
    "Account",
    "Asset",
    "ContractKind",
    "InputError",
    "Instrument",
    "Market",
    "OptionRight",
    "Portfolio",
    "Position",
    "RiskTier",
    "RuleChoices",
    "Side",
    "TierSpec",
    "TierTable",
    "WeightBand",
    "WeightSchedule",
    "exact",
]
