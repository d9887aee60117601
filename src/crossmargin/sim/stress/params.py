"""A parameter set: changes to a book's margin rules, liquidation terms, collateral weights, tier tables
and insurance fund, run beside the book's own in one stress run (``crossmargin stress --params FILE``).

Written as a mapping (the command line reads it from YAML or JSON); every key is optional::

    label: stricter                    # the run's name in the report (default: the file's name)
    rules:                             # RuleChoices fields, as in a rulebook file's `rules` section
      liquidation_threshold: 1
    liquidation:                       # LiquidationTerms fields, as in its `liquidation` section
      buffer: 0.2
      fee_rate: 0.01
    insurance_fund: 2000000            # base currency
    assets:                            # an asset's weights, replaced whole (a portfolio document's entry)
      BTC: {weight: 0.8}
    tiers:                             # an instrument's tier table, replaced whole (each bracket its mmr)
      BTC-PERP:
        - {max_notional: 1000000, mmr: 0.01, imr: 0.02}
        - {max_notional: null, mmr: 0.05, imr: 0.1}

Everything is checked when the set is read: an unknown key, rule, asset or instrument, or a bad value,
raises :class:`~crossmargin.model.InputError` naming its path, before any run starts. Every number passes the
input boundary of :func:`crossmargin.model.numbers.bounded` (finite, in range, at most 50 digits).
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from crossmargin.liquidation.liquidity import document_number
from crossmargin.liquidation.ranking import check_ranking
from crossmargin.model import Asset, InputError, Portfolio, RuleChoices
from crossmargin.model.document import asset_from_dict, tiers_from_list
from crossmargin.model.errors import UNPRINTABLE, field_prefix
from crossmargin.model.instruments import TierBasis
from crossmargin.model.numbers import bounded, non_negative
from crossmargin.model.rules import LiquidationTerms
from crossmargin.model.tiers import TierTable
from crossmargin.sim.stress.runner import StressConfig
from crossmargin.venues.rulebook import LiquidationFile, RulesFile

KEYS = ("label", "rules", "liquidation", "insurance_fund", "assets", "tiers")


@dataclass(frozen=True)
class ParameterSet:
    """What a parameter set changes; ``rules`` and ``liquidation`` hold only the fields it names."""

    label: str
    rules: Mapping[str, Any]
    liquidation: Mapping[str, Any]
    insurance_fund: Decimal | None
    assets: Mapping[str, Mapping[str, Any]]
    tiers: Mapping[str, list[Any]]


def parameter_set(data: Any, default_label: str) -> ParameterSet:
    """Read a parameter set's mapping (see module doc); its names are checked against a book in
    :func:`applied`."""
    if not isinstance(data, Mapping):
        raise InputError("", f"a parameter set is a mapping of keys, got {type(data).__name__}")
    unknown = sorted(str(key) for key in data if key not in KEYS)  # a YAML key may be a number or a boolean
    if unknown:
        raise InputError(unknown[0], f"unknown key (known: {', '.join(KEYS)})")
    label = data.get("label", default_label)
    if not isinstance(label, str) or not label.strip() or UNPRINTABLE.search(label):
        raise InputError("label", "must be a non-empty name of printable text")
    sections = {}
    for key in ("rules", "liquidation", "assets", "tiers"):
        section = data.get(key)
        section = {} if section is None else section
        if not isinstance(section, Mapping):
            raise InputError(key, f"must be a mapping, got {type(section).__name__}")
        sections[key] = dict(section)
    fund = data.get("insurance_fund")
    if fund is not None:
        fund = non_negative(bounded(document_number(fund, "insurance_fund"), "insurance_fund"), "insurance_fund")
    for key, model in (("rules", RulesFile), ("liquidation", LiquidationFile)):
        _numbers_bounded(sections[key], key)
        try:
            model.model_validate(sections[key])
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"])
            raise InputError(f"{key}.{field}", first["msg"]) from None
    if "adl_ranking" in sections["liquidation"]:
        check_ranking(sections["liquidation"]["adl_ranking"])
    return ParameterSet(label, sections["rules"], sections["liquidation"], fund, sections["assets"], sections["tiers"])


def _numbers_bounded(section: Mapping[str, Any], field: str) -> None:
    """Every number in a ``rules`` or ``liquidation`` section, however nested, passes the input boundary (a
    number written as text, e.g. ``"1e999999999"``, too: the section's models read such text as the number);
    an error names its path, e.g. ``liquidation.buffer``."""
    pending: list[tuple[str, Any]] = [(field, section)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, Mapping):
            pending += [(f"{path}.{key}", value) for key, value in node.items()]
        elif isinstance(node, list):
            pending += [(f"{path}[{i}]", value) for i, value in enumerate(node)]
        elif isinstance(node, int | Decimal) and not isinstance(node, bool):
            bounded(Decimal(node), path)
        elif isinstance(node, str) and (number := _as_number(node)) is not None:
            bounded(number, path)


def _as_number(text: str) -> Decimal | None:
    """The number ``text`` spells, or None."""
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        return None


def applied(config: StressConfig, params: ParameterSet) -> StressConfig:
    """``config`` (a run's book, rules, terms and fund) with the parameter set's changes, named ``params.label``."""
    portfolio = config.portfolio
    assets: dict[str, Asset] = dict(portfolio.assets)
    for name, entry in params.assets.items():
        if name not in assets:
            raise InputError(f"assets.{name}", f"the book has no asset {name!r}")
        with field_prefix(f"assets.{name}"):
            assets[name] = asset_from_dict(name, entry)
    instruments = dict(portfolio.instruments)
    for name, table in params.tiers.items():
        if name not in instruments:
            raise InputError(f"tiers.{name}", f"the book has no instrument {name!r}")
        instrument = instruments[name]
        with field_prefix(f"tiers.{name}"):
            tiers: TierTable = tiers_from_list(table, instrument.tier_basis is TierBasis.NOTIONAL)
        instruments[name] = replace(instrument, tiers=tiers)
    changed = Portfolio(portfolio.base, portfolio.rulebook, assets, instruments, portfolio.market, portfolio.accounts)
    return replace(
        config,
        label=params.label,
        portfolio=changed,
        rules=_rules(config.rules, params.rules),
        terms=_terms(config.terms, params.liquidation),
        insurance_fund=config.insurance_fund if params.insurance_fund is None else params.insurance_fund,
    )


def _rules(rules: RuleChoices, changes: Mapping[str, Any]) -> RuleChoices:
    """The book's rules with the set's changes; a rule the changes make invalid is named ``rules.<field>``."""
    current = {k: v for k, v in asdict(rules).items() if k in RulesFile.model_fields}
    with field_prefix("rules"):
        return RulesFile.model_validate({**current, **changes}).choices(rules.name)


def _terms(terms: LiquidationTerms, changes: Mapping[str, Any]) -> LiquidationTerms:
    """The book's liquidation terms with the set's changes; a bad term is named ``liquidation.<field>``."""
    current = {k: v for k, v in asdict(terms).items() if k in LiquidationFile.model_fields}
    with field_prefix("liquidation"):
        return replace(terms, **LiquidationFile.model_validate({**current, **changes}).model_dump())
