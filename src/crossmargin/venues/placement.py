"""Where a document's accounts are margined: one portfolio per venue.

An account's ``venue`` names the rulebook it is margined under; an account without one is at the document's
``rulebook``. The document splits into one portfolio per venue, in the order the venues first appear among the
accounts: each holds that venue's accounts (in document order) and is built from the document's own ``assets``,
``instruments`` and market with the venue's tables filled in (:meth:`Rulebook.apply_to`: the document's own
entries still win by name, for every venue).

One market for every venue: a price (``prices``) or a mark (``marks``, ``open_interest``, by instrument name) is
the same at every venue that knows the name. A venue is given only the names it knows (its assets, its
instruments' underlyings, its instruments), so a price of a coin only one venue lists is no error at the others; a
name no venue knows stays in, for the document check to name it. A document whose accounts are all at its own
rulebook is read exactly as before venues existed: the whole document is one portfolio.

Errors name the document's own path: an account's index is its place in the document's ``accounts``, not in
its venue's part.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crossmargin.model import InputError, Portfolio
from crossmargin.model.document import account_label, portfolio_from_document
from crossmargin.venues.registry import available, rulebook
from crossmargin.venues.rulebook import Rulebook

_ACCOUNT_INDEX = re.compile(r"^accounts\[(\d+)\]")
_INSTRUMENT_KEYED = ("marks", "open_interest")


@dataclass(frozen=True)
class VenuePart:
    """One venue's accounts: its rulebook, the portfolio of those accounts under the rulebook's tables, each
    account's index in the document's ``accounts`` list, and the document the portfolio was built from (the
    venue's accounts, the rulebook's tables filled in, the market narrowed to the names the venue knows)."""

    rulebook: Rulebook
    portfolio: Portfolio
    indices: tuple[int, ...]
    document: Mapping[str, Any]


def document_rulebook(raw: Mapping[str, Any]) -> Rulebook:
    """The rulebook the document names in ``rulebook`` (``generic`` when it names none)."""
    name = raw.get("rulebook", "generic")
    if not isinstance(name, str):
        portfolio_from_document(raw)  # reports the bad rulebook field as the document check words it
        raise InputError("rulebook", f"must be a rulebook name, got {name!r}")
    return rulebook(name)


def places_accounts(raw: Mapping[str, Any]) -> bool:
    """Whether some account of the document gives a ``venue`` or an ``owner`` (not null)."""
    return any(entry.get("venue") is not None or entry.get("owner") is not None for _, entry in _raw_accounts(raw))


def venues_of(raw: Mapping[str, Any], default: str) -> dict[str, list[int]]:
    """Venue name -> the indices of its accounts in the document, venues in order of first appearance; an account
    without a venue is at ``default``. A venue that is no known rulebook is an error naming the account's
    ``venue``; a venue that is not a name at all is left at ``default`` for the document check to name."""
    groups: dict[str, list[int]] = {}
    for index, entry in _raw_accounts(raw):
        venue = entry.get("venue")
        if not isinstance(venue, str) or not venue:
            venue = default
        elif venue not in available():
            field = f"{account_label(index, entry)}.venue"
            raise InputError(field, f"unknown rulebook {venue!r}; known: {', '.join(available())}")
        groups.setdefault(venue, []).append(index)
    return groups or {default: []}


def require_one_venue(raw: Mapping[str, Any]) -> Rulebook:
    """The document's rulebook, for a command that margins the whole book under one rulebook: an account placed
    at another venue is an error naming its ``venue``."""
    book = document_rulebook(raw)
    for venue, indices in venues_of(raw, book.name).items():
        if venue != book.name:
            index = indices[0]
            raise InputError(
                f"{account_label(index, raw['accounts'][index])}.venue",
                f"the account is at {venue!r}, but this margins the whole book under the document's rulebook "
                f"{book.name!r} (evaluate, what-if and compare margin each account at its own venue)",
            )
    return book


def venue_parts(raw: Mapping[str, Any]) -> tuple[VenuePart, ...]:
    """The document split by venue (see the module doc); account ids are unique across venues."""
    default = document_rulebook(raw)
    groups = venues_of(raw, default.name)
    if list(groups) == [default.name]:
        whole = default.apply_to(raw)
        portfolio = portfolio_from_document(whole)
        return (VenuePart(default, portfolio, tuple(range(len(portfolio.accounts))), whole),)
    merged = {venue: rulebook(venue).apply_to(raw) for venue in groups}
    known = {venue: _names_known(document) for venue, document in merged.items()}
    anywhere = (set().union(*(k[0] for k in known.values())), set().union(*(k[1] for k in known.values())))
    parts = []
    for venue, indices in groups.items():
        document = dict(merged[venue])
        document["rulebook"] = venue
        document["accounts"] = [raw["accounts"][i] for i in indices]
        assets, instruments = known[venue]
        _keep_known(document, "prices", assets, anywhere[0])
        for section in _INSTRUMENT_KEYED:
            _keep_known(document, section, instruments, anywhere[1])
        try:
            portfolio = portfolio_from_document(document)
        except InputError as err:
            raise _in_document(err, indices, venue) from None
        parts.append(VenuePart(rulebook(venue), portfolio, tuple(indices), document))
    _unique_ids(parts, raw)
    return tuple(parts)


def _raw_accounts(raw: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The document's account entries that are mappings, with their indices (anything else is left for the
    document check)."""
    accounts = raw.get("accounts")
    if isinstance(accounts, list):
        yield from ((i, entry) for i, entry in enumerate(accounts) if isinstance(entry, Mapping))


def _names_known(document: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The asset names (assets and instrument underlyings) and instrument names a merged document defines."""
    assets = document.get("assets")
    instruments = document.get("instruments")
    asset_names = set(assets) if isinstance(assets, Mapping) else set()
    instrument_names = set(instruments) if isinstance(instruments, Mapping) else set()
    if isinstance(instruments, Mapping):
        for entry in instruments.values():
            if isinstance(entry, Mapping) and isinstance(entry.get("underlying"), str):
                asset_names.add(entry["underlying"])
    return asset_names, instrument_names


def _keep_known(document: dict[str, Any], section: str, known: set[str], anywhere: set[str]) -> None:
    """Drop from ``document[section]`` the names another venue knows and this one does not."""
    entries = document.get(section)
    if isinstance(entries, Mapping):
        document[section] = {name: v for name, v in entries.items() if name in known or name not in anywhere}


def _in_document(err: InputError, indices: list[int], venue: str) -> InputError:
    """``err`` of a venue's part as the document reads: an account's index in the document's ``accounts`` in
    place of its index in the part, and the venue named."""
    message = f"{err.message} (at venue {venue!r})"
    found = _ACCOUNT_INDEX.match(err.field)
    if found is None:
        return InputError(err.field, message)
    return InputError(f"accounts[{indices[int(found.group(1))]}]{err.field[found.end() :]}", message)


def _unique_ids(parts: list[VenuePart], raw: Mapping[str, Any]) -> None:
    """Account ids are unique across the venues (each part checked its own)."""
    placed = sorted(
        (i, account.id) for part in parts for i, account in zip(part.indices, part.portfolio.accounts, strict=True)
    )
    seen: set[str] = set()
    for index, account_id in placed:
        if account_id in seen:
            raise InputError(
                f"{account_label(index, raw['accounts'][index])}.id", f"duplicate account id {account_id!r}"
            )
        seen.add(account_id)
