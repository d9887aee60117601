"""The rulebooks crossmargin knows: the files bundled in ``venues/data``, by the name a document gives."""

from functools import cache
from importlib.resources import files

from crossmargin.model import InputError
from crossmargin.model.document_text import parse_yaml
from crossmargin.venues.rulebook import Rulebook, rulebook_from_data

_DATA = files("crossmargin.venues") / "data"


@cache
def _all() -> dict[str, Rulebook]:
    books: dict[str, Rulebook] = {}
    for entry in sorted(_DATA.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        origin = f"rulebook {entry.name}"
        book = rulebook_from_data(parse_yaml(entry.read_text(encoding="utf-8"), origin), origin)
        if book.name != entry.name.removesuffix(".yaml"):
            raise InputError(origin, f"names itself {book.name!r}: a rulebook file is named after its rulebook")
        books[book.name] = book
    return books


def available() -> tuple[str, ...]:
    """Names of the known rulebooks, sorted."""
    return tuple(sorted(_all()))


def rulebook(name: str) -> Rulebook:
    """The rulebook called ``name``."""
    try:
        return _all()[name]
    except KeyError:
        raise InputError("rulebook", f"unknown rulebook {name!r}; known: {', '.join(available())}") from None
