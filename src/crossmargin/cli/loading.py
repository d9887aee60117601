"""Reading portfolio documents from JSON and YAML files (numbers exact: see
:mod:`crossmargin.model.document_text`)."""

from pathlib import Path
from typing import Any

from crossmargin.model.document_text import parse_either, parse_json, parse_yaml
from crossmargin.model.errors import InputError


def load_document(path: Path) -> dict[str, Any]:
    """The mapping written in the JSON or YAML file at ``path``, numbers exact (see module doc).

    ``.json`` files are read as JSON, ``.yaml`` and ``.yml`` as YAML, anything else as JSON and then, if
    that fails, as YAML. The content is not validated: pass it to
    :func:`crossmargin.model.document.portfolio_from_document`. A missing or unreadable file, a syntax
    error (with its line) or a top level that is not a mapping raises :class:`InputError` whose field is
    the file name.
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
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), "no such file") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a directory, not a document") from None
    except UnicodeDecodeError as err:
        raise InputError(str(path), f"not UTF-8 text (byte {err.start}: {err.reason})") from None
    except OSError as err:
        raise InputError(str(path), f"cannot be read: {err.strerror}") from None
