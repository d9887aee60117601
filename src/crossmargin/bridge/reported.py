"""The ``reported:`` sections of an imported portfolio document: the venue's own figures, kept beside the
account and position they belong to so ``crossmargin reconcile`` can set ours next to them.

An account's section (money in ``currency``; ``scope`` ``total``: the cross pool and the isolated positions
together, ``cross``: the cross pool alone)::

    reported: {venue: binanceusdm, currency: USDT, scope: total, equity: 104005.1501486,
               initial_margin: 10130.75087021, maintenance_margin: 913.07508702, margin_ratio: null,
               free_collateral: 93874.39927838, open_orders_initial_margin: 0}

A position's section (money in the instrument's settle asset, the liquidation price in mark units; ``leverage``
is the user's setting, ``price_tick`` the market's price increment)::

    reported: {liquidation_price: 5101.89178683, initial_margin: 5074.82461538,
               maintenance_margin: 457.48246153, unrealized_pnl: 1758.3076924, leverage: 20, price_tick: 0.01}

``null`` (or a key left out) is a figure the venue did not report. Evaluation ignores these sections:
:func:`split_reported` returns the document without them and the reports apart.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from crossmargin.bridge.family import ACCOUNT_FACTS, ACCOUNT_FIGURES, POSITION_FACTS, POSITION_FIGURES, Figures
from crossmargin.model import InputError
from crossmargin.model.document import ReportedAccount, ReportedPosition


@dataclass(frozen=True)
class PositionReport:
    """The venue's figures (:data:`~crossmargin.bridge.family.POSITION_FIGURES`) and facts of one position."""

    figures: Figures
    facts: Figures


@dataclass(frozen=True)
class AccountReport:
    """The venue's figures of one account and of its positions (by index in the account's ``positions``)."""

    account_id: str
    venue: str
    currency: str
    scope: str
    figures: Figures
    facts: Figures
    positions: Mapping[int, PositionReport]


def split_reported(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[AccountReport]]:
    """``document`` without its ``reported:`` sections, and the reports of the accounts that have one.

    A malformed section raises :class:`InputError` naming it, e.g.
    ``accounts[0] (id 'binanceusdm-USDT').reported.equity``; the rest of the document is left for the
    portfolio document's own validation.
    """
    plain = dict(document)
    accounts = document.get("accounts")
    if not isinstance(accounts, list):
        return plain, []
    reports = []
    stripped = []
    for i, account in enumerate(accounts):
        if not isinstance(account, Mapping):
            stripped.append(account)
            continue
        where = f"accounts[{i}] (id {str(account.get('id'))!r})"
        own = dict(account)
        section = own.pop("reported", None)
        positions = own.get("positions")
        position_reports: dict[int, PositionReport] = {}
        if isinstance(positions, list):
            own["positions"] = []
            for j, position in enumerate(positions):
                if isinstance(position, Mapping) and "reported" in position:
                    kept = dict(position)
                    parsed = _parsed(ReportedPosition, kept.pop("reported"), f"{where}.positions[{j}].reported")
                    position_reports[j] = PositionReport(_pick(parsed, POSITION_FIGURES), _pick(parsed, POSITION_FACTS))
                    own["positions"].append(kept)
                else:
                    own["positions"].append(position)
        stripped.append(own)
        if section is None:
            continue
        parsed_account = _parsed(ReportedAccount, section, f"{where}.reported")
        assert isinstance(parsed_account, ReportedAccount)
        reports.append(
            AccountReport(
                account_id=str(account.get("id")),
                venue=parsed_account.venue,
                currency=parsed_account.currency,
                scope=parsed_account.scope,
                figures=_pick(parsed_account, ACCOUNT_FIGURES),
                facts=_pick(parsed_account, ACCOUNT_FACTS),
                positions=position_reports,
            )
        )
    plain["accounts"] = stripped
    return plain, reports


def _parsed(model: type[BaseModel], section: Any, where: str) -> BaseModel:
    if not isinstance(section, Mapping):
        raise InputError(where, f"must be a mapping of reported figures, got {type(section).__name__}")
    try:
        return model.model_validate(dict(section))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        path = ".".join(str(part) for part in first["loc"])
        raise InputError(f"{where}.{path}" if path else where, first["msg"]) from None


def _pick(section: BaseModel, names: tuple[str, ...]) -> dict[str, Decimal | None]:
    return {name: getattr(section, name) for name in names}
