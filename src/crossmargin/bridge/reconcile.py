"""Our figures next to the venue's: for every account and position of an imported document, each figure the venue
reported (docs/import.md, "Reconcile"), the difference, and what accounts for it.

A figure's *status*:

- ``agrees``: equal, or within the venue's display rounding (one unit of the last digit it prints: venues
  round or truncate); the rule then reads ``display rounding to N decimals``.
- ``explained``: beyond the rounding, and one of the venue's rules (:mod:`crossmargin.bridge.explanations`)
  recomputes the venue's figure within its rounding; the rule is named.
- ``noted``: beyond the rounding, and the venue documents the behaviour but it cannot be recomputed.
- ``missing``: the venue reported nothing (absent, empty, NaN; a liquidation price of 0; a zero where ours is
  not): flagged, and ours fills it.
- ``unexplained``: none of the above.

Units: an account's money in the report's ``currency``, a position's in its settle asset, liquidation prices
in mark units, margin ratios as fractions. ``difference`` is the venue's figure minus ours.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crossmargin.bridge.explanations import (
    ACCOUNT_RULES,
    POSITION_RULES,
    AccountCase,
    Candidate,
    Figures,
    PositionCase,
)
from crossmargin.bridge.families import family
from crossmargin.bridge.family import ACCOUNT_FIGURES, POSITION_FIGURES, Conventions
from crossmargin.bridge.reported import AccountReport, PositionReport, split_reported
from crossmargin.live.document import portfolio_of
from crossmargin.margin.account import AccountResult, PositionResult, evaluate_account, leg_label
from crossmargin.model import InputError, Portfolio, RuleChoices
from crossmargin.model.numbers import ZERO, exact

AGREES, EXPLAINED, NOTED, MISSING, UNEXPLAINED = "agrees", "explained", "noted", "missing", "unexplained"
STATUSES = (AGREES, EXPLAINED, NOTED, MISSING, UNEXPLAINED)
RATIO_QUANTUM = Decimal("1E-4")
"""Display rounding of a margin ratio when the venue's conventions do not give one."""


@dataclass(frozen=True)
class Line:
    """One figure: ours, the venue's, ``difference`` = venue - ours, the ``tolerance`` its display rounding
    allows, the status and the rule that accounts for a difference (see the module doc)."""

    figure: str
    unit: str
    ours: Decimal | None
    venue: Decimal | None
    difference: Decimal | None
    tolerance: Decimal
    status: str
    rule: str | None


@dataclass(frozen=True)
class PositionLines:
    """A position's lines; ``label`` names a hedge-mode leg (``BTC-PERP long``)."""

    label: str
    isolated: bool
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class AccountLines:
    """An account's lines (figures over the report's ``scope``, money in ``currency``) and its positions'."""

    account_id: str
    venue: str
    currency: str
    scope: str
    lines: tuple[Line, ...]
    positions: tuple[PositionLines, ...]


@dataclass(frozen=True)
class Reconciliation:
    """Every reported account of a document, reconciled."""

    base: str
    rulebook: str
    accounts: tuple[AccountLines, ...]

    def lines(self) -> Iterator[tuple[str, str | None, Line]]:
        """Every line with its account id and position label (None for an account figure)."""
        for account in self.accounts:
            for line in account.lines:
                yield account.account_id, None, line
            for position in account.positions:
                for line in position.lines:
                    yield account.account_id, position.label, line


def reconcile_document(document: Mapping[str, Any]) -> Reconciliation:
    """Evaluate ``document`` (its ``reported:`` sections set aside) and reconcile every reported account."""
    plain, reports = split_reported(document)
    if not reports:
        raise InputError("accounts", "no account has a reported: section (the venue's figures) to reconcile against")
    portfolio, rules = portfolio_of(plain)
    accounts = []
    for report in reports:
        account = portfolio.account(report.account_id)
        result = evaluate_account(account, portfolio, rules)
        accounts.append(reconcile_account(report, result, portfolio, rules))
    return Reconciliation(portfolio.base, portfolio.rulebook, tuple(accounts))


def cases_of(
    report: AccountReport, result: AccountResult, portfolio: Portfolio, rules: RuleChoices
) -> tuple[list[PositionCase], AccountCase]:
    """What the explanations read: each position of the account with its reported figures and facts (in the
    account's order), and the account with the positions in the report's scope."""
    account = result.account
    by_position = {id(p.figures.position): p for p in result.positions}
    owns = [report.positions.get(index, PositionReport({}, {})) for index in range(len(account.positions))]
    facts = {id(position): own.facts for position, own in zip(account.positions, owns, strict=True)}
    cases = [
        PositionCase(account, by_position[id(position)], portfolio, rules, own.figures, own.facts, facts)
        for position, own in zip(account.positions, owns, strict=True)
    ]
    in_scope = [c for c in cases if report.scope == "total" or not c.result.isolated]
    price = portfolio.market.price(report.currency)
    ours = our_account_figures(result, report.scope, price)
    return cases, AccountCase(result, portfolio, ours, report.figures, report.facts, in_scope, price)


def reconcile_account(
    report: AccountReport, result: AccountResult, portfolio: Portfolio, rules: RuleChoices
) -> AccountLines:
    """One account's lines and its positions' (positions in the account's order)."""
    conventions = family(report.venue).conventions
    cases, case = cases_of(report, result, portfolio, rules)
    positions = tuple(_position_lines(position, conventions) for position in cases)
    lines = tuple(
        judge(
            figure,
            RATIO_UNIT if figure == "margin_ratio" else report.currency,
            case.ours[figure],
            report.figures.get(figure),
            _quantum(conventions, figure, None, account=True),
            _account_candidates(case, conventions, figure),
        )
        for figure in ACCOUNT_FIGURES
    )
    return AccountLines(report.account_id, report.venue, report.currency, report.scope, lines, positions)


RATIO_UNIT = "ratio"


def our_account_figures(result: AccountResult, scope: str, currency_price: Decimal) -> Figures:
    """Our account figures over ``scope`` in the report's currency: ``total`` adds the isolated pools to the
    cross pool (equity, IM, MM, and the margin ratio of those sums); free collateral is the cross pool's."""
    cross = result.cross
    isolated = [p.pool for p in result.positions if p.pool is not None] if scope == "total" else []
    with exact():
        equity = cross.equity + sum((pool.equity for pool in isolated), ZERO)
        initial = cross.initial_margin + sum((pool.initial_margin for pool in isolated), ZERO)
        maintenance = cross.maintenance_margin + sum((pool.maintenance_margin for pool in isolated), ZERO)
        return {
            "equity": equity / currency_price,
            "initial_margin": initial / currency_price,
            "maintenance_margin": maintenance / currency_price,
            "margin_ratio": maintenance / equity if equity > 0 else None,
            "free_collateral": cross.free_collateral / currency_price,
        }


def our_position_figures(case: PositionCase) -> Figures:
    """Our figures of one position: money in its settle asset, the liquidation price in mark units."""
    figures = case.result.figures
    return {
        "liquidation_price": case.result.liquidation_price,
        "initial_margin": case.in_settle(figures.initial_margin),
        "maintenance_margin": case.in_settle(figures.maintenance_margin),
        "unrealized_pnl": figures.pnl_settle,
    }


def _position_lines(case: PositionCase, conventions: Conventions) -> PositionLines:
    result: PositionResult = case.result
    instrument = case.instrument
    ours = our_position_figures(case)
    lines = []
    for figure in POSITION_FIGURES:
        unit = "price" if figure == "liquidation_price" else instrument.settle
        lines.append(
            judge(
                figure,
                unit,
                ours[figure],
                case.venue.get(figure),
                _quantum(conventions, figure, case.facts.get("price_tick")),
                _position_candidates(case, conventions, figure),
                cross=not result.isolated,
            )
        )
    return PositionLines(leg_label(result.figures.position, case.account), result.isolated, tuple(lines))


def _position_candidates(case: PositionCase, conventions: Conventions, figure: str) -> Iterator[Candidate]:
    for name in conventions.rules.get(figure, ()):
        yield from POSITION_RULES[name](case)


def _account_candidates(case: AccountCase, conventions: Conventions, figure: str) -> Iterator[Candidate]:
    for name in conventions.rules.get(f"account_{figure}", ()):
        yield from ACCOUNT_RULES[name](case)


def _quantum(conventions: Conventions, figure: str, tick: Decimal | None, account: bool = False) -> Decimal:
    """The value of the last digit the venue prints for ``figure``."""
    key = f"account_{figure}" if account else figure
    if key in conventions.quanta:
        return conventions.quanta[key]
    if figure in conventions.quanta:
        return conventions.quanta[figure]
    if figure == "liquidation_price" and tick is not None:
        return tick
    if figure == "margin_ratio":
        return RATIO_QUANTUM
    return conventions.money


def rounding_rule(quantum: Decimal) -> str:
    """How a report names agreement within ``quantum``: ``display rounding to N decimals`` for a power of ten,
    else ``display rounding to the tick Q``."""
    if quantum.normalize().as_tuple().digits == (1,):
        places = max(-quantum.normalize().as_tuple().exponent, 0)  # type: ignore[operator]
        return f"display rounding to {places} decimals"
    return f"display rounding to the tick {quantum.normalize()}"


def judge(
    figure: str,
    unit: str,
    ours: Decimal | None,
    venue: Decimal | None,
    quantum: Decimal,
    candidates: Iterator[Candidate],
    cross: bool = False,
) -> Line:
    """One figure's line (see the module doc for the statuses); ``candidates`` are tried in order."""
    if figure == "liquidation_price" and venue is not None and venue <= 0:
        venue = None
    if venue is None:
        if ours is None:
            return Line(figure, unit, None, None, None, quantum, AGREES, "no figure on either side")
        what = "no liquidation price (0, empty or NaN)" if figure == "liquidation_price" else "nothing"
        where = " under cross" if figure == "liquidation_price" and cross else ""
        return Line(figure, unit, ours, None, None, quantum, MISSING, f"venue reports {what}{where}: filled with ours")
    if ours is None:
        return _tried(figure, unit, ours, venue, quantum, candidates, "the venue reports a figure we have none for")
    with exact():
        difference = venue - ours
    if difference == 0:
        return Line(figure, unit, ours, venue, difference, quantum, AGREES, None)
    if abs(difference) <= quantum:
        return Line(figure, unit, ours, venue, difference, quantum, AGREES, rounding_rule(quantum))
    if venue == 0 and figure != "margin_ratio":
        return Line(
            figure,
            unit,
            ours,
            venue,
            difference,
            quantum,
            MISSING,
            "venue reports 0 where ours is not: filled with ours",
        )
    return _tried(figure, unit, ours, venue, quantum, candidates, None)


def _tried(
    figure: str,
    unit: str,
    ours: Decimal | None,
    venue: Decimal,
    quantum: Decimal,
    candidates: Iterator[Candidate],
    fallback: str | None,
) -> Line:
    difference = None if ours is None else venue - ours
    noted = None
    for candidate in candidates:
        if candidate.value is None:
            noted = noted or candidate.rule
        elif abs(venue - candidate.value) <= quantum * candidate.slack:
            return Line(figure, unit, ours, venue, difference, quantum, EXPLAINED, candidate.rule)
    if noted is not None:
        return Line(figure, unit, ours, venue, difference, quantum, NOTED, noted)
    return Line(figure, unit, ours, venue, difference, quantum, UNEXPLAINED, fallback)
