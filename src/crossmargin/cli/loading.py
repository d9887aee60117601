"""Reading portfolio documents from JSON and YAML files (numbers exact: see
:mod:`crossmargin.model.document_text`), and the portfolio a document file describes under its rulebook."""

from pathlib import Path
from typing import Any

from crossmargin.live.document import portfolio_of
from crossmargin.model import Portfolio, RuleChoices
from crossmargin.model.document_text import MAX_BYTES, decoded, parse_document
from crossmargin.model.errors import InputError


def load_document(path: Path) -> dict[str, Any]:
    """The mapping written in the JSON or YAML file at ``path``, numbers exact (see module doc).

    ``.json`` files are read as JSON, ``.yaml`` and ``.yml`` as YAML, anything else as JSON and then, if
    that fails, as YAML. The content is not validated: pass it to
    :func:`crossmargin.model.document.portfolio_from_document`. A missing or unreadable file, a syntax
    error (with its line), a file beyond the limits of :mod:`crossmargin.model.document_text` (size, nesting,
    values) or a top level that is not a mapping raises :class:`InputError` whose field is the file name.
    """
    return parse_document(read_text(path), str(path))


def read_text(path: Path) -> str:
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
