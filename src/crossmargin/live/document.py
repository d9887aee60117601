"""What a parsed portfolio document sets up: its portfolio under its rulebook, its accounts each at its own
venue, and the engine loop's whole configuration (rules, liquidation terms, oracle settings, insurance fund,
liquidity). The CLI's ``replay`` and the service (``crossmargin serve``) both start from here, so the same
document gives the same loop."""

from dataclasses import dataclass
from typing import Any

from crossmargin.liquidation.liquidity_document import liquidity_from_dict
from crossmargin.live.loop import LoopConfig
from crossmargin.margin.owners import VenueBook
from crossmargin.margin.valuation import with_option_marks
from crossmargin.model import Account, InputError, Portfolio, RuleChoices
from crossmargin.model.document import clearing_section, portfolio_from_document
from crossmargin.oracle.document import oracle_config
from crossmargin.venues import rulebook
from crossmargin.venues.placement import document_rulebook, places_accounts, require_one_venue, venue_parts


@dataclass(frozen=True)
class PlacedBook:
    """A document's accounts, each margined at its venue (:mod:`crossmargin.venues.placement`).

    ``rulebook``: the document's own, the venue of every account that names none; ``venues``: one book per venue,
    in the order the venues first appear; ``holders``: every account with its venue's book, in document order;
    ``placed``: some account gives a ``venue`` or an ``owner`` (then reports add the owner view).
    """

    base: str
    rulebook: str
    venues: tuple[VenueBook, ...]
    holders: tuple[tuple[Account, VenueBook], ...]
    placed: bool

    def holder(self, account_id: str) -> tuple[Account, VenueBook]:
        """The account with id ``account_id`` and its venue's book."""
        for account, book in self.holders:
            if account.id == account_id:
                return account, book
        raise InputError("account", f"no account with id {account_id!r}")


def portfolio_of(raw: dict[str, Any]) -> tuple[Portfolio, RuleChoices]:
    """The portfolio of a parsed document, with its rulebook's tables, and the rulebook's rules: the whole book
    under the document's rulebook (an account placed at another venue is an error naming its ``venue``; see
    :func:`placed_book`)."""
    book = require_one_venue(raw)
    return with_option_marks(portfolio_from_document(book.apply_to(raw))), book.rules


def placed_book(raw: dict[str, Any]) -> PlacedBook:
    """Every account of a parsed document margined at its venue, under that venue's rulebook and tables; a
    document that places no account elsewhere is one venue, its portfolio the one :func:`portfolio_of` gives."""
    parts = venue_parts(raw)
    books = tuple(VenueBook(with_option_marks(part.portfolio), part.rulebook.rules) for part in parts)
    placed = sorted(
        (
            (index, account, book)
            for part, book in zip(parts, books, strict=True)
            for index, account in zip(part.indices, book.portfolio.accounts, strict=True)
        ),
        key=lambda entry: entry[0],
    )
    return PlacedBook(
        books[0].portfolio.base,
        document_rulebook(raw).name,
        books,
        tuple((account, book) for _, account, book in placed),
        places_accounts(raw),
    )


def loop_config_of(raw: dict[str, Any]) -> LoopConfig:
    """The engine loop's configuration for a parsed document: its portfolio and rulebook, the rulebook's
    liquidation terms, the oracle settings, the insurance fund and each instrument's liquidity (a ``*``
    entry is every instrument's default; errors name ``liquidity.<instrument>...``)."""
    portfolio, rules = portfolio_of(raw)
    book = rulebook(raw.get("rulebook", "generic"))
    fund, sections = clearing_section(book.apply_to(raw))
    models = {name: liquidity_from_dict(section, f"liquidity.{name}") for name, section in sections.items()}
    default = models.pop("*", None)
    if default is not None:
        models = {name: models.get(name, default) for name in portfolio.instruments}
    return LoopConfig(portfolio, rules, book.liquidation, oracle_config(raw), models, fund)
