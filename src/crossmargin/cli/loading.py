"""Reading portfolio documents from JSON and YAML files (numbers exact: see
:mod:`crossmargin.model.document_text`), and the portfolio a document describes under its rulebook."""

from pathlib import Path
from typing import Any

from crossmargin.margin.valuation import with_option_marks
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.document import portfolio_from_document
from crossmargin.model.document_text import MAX_BYTES, decoded, parse_either, parse_json, parse_yaml
from crossmargin.model.errors import InputError
from crossmargin.venues import rulebook


def load_document(path: Path) -> dict[str, Any]:
    """The mapping written in the JSON or YAML file at ``path``, numbers exact (see module doc).

    ``.json`` files are read as JSON, ``.yaml`` and ``.yml`` as YAML, anything else as JSON and then, if
    that fails, as YAML. The content is not validated: pass it to
    :func:`crossmargin.model.document.portfolio_from_document`. A missing or unreadable file, a syntax
    error (with its line), a file beyond the limits of :mod:`crossmargin.model.document_text` (size, nesting,
    values) or a top level that is not a mapping raises :class:`InputError` whose field is the file name.
    """
    text = _read(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        data = parse_json(text, str(path))
    elif suffix in (".yaml", ".yml"):
        data = parse_yaml(text, str(path))
    else:
        data = parse_either(text, str(path))
    if not isinstance(data, dict):
        found = "nothing" if data is None else f"a {type(data).__name__}"
        raise InputError(str(path), f"the document must be a mapping of keys (version, base, ...), found {found}")
    return data


def _read(path: Path) -> str:
    """The text of the file at ``path``, read no further than the size limit (a device such as /dev/zero
    included)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a document") from None
    except OSError as err:
        raise InputError(str(path), f"cannot be read: {err.strerror}") from None
    return decoded(data, str(path))


def load_portfolio(path: Path) -> tuple[Portfolio, RuleChoices]:
    """The portfolio of the document at ``path``, with its rulebook's tables, and the rulebook's rules."""
    return portfolio_of(load_document(path))


def portfolio_of(raw: dict[str, Any]) -> tuple[Portfolio, RuleChoices]:
    """The portfolio of a parsed document, with its rulebook's tables, and the rulebook's rules."""
    name = raw.get("rulebook", "generic")
    if not isinstance(name, str):
        portfolio_from_document(raw)  # reports the bad rulebook field as the document check words it
        raise InputError("rulebook", f"must be a rulebook name, got {name!r}")
    book = rulebook(name)
    return with_option_marks(portfolio_from_document(book.apply_to(raw))), book.rules
