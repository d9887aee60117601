"""Writing a report's files so that none is ever left half-written."""

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from crossmargin.model import InputError


def write_files(out: Path, files: Sequence[tuple[str, str]]) -> None:
    """Each ``(name, text)`` of ``files`` as ``out/name`` (``out`` made if needed), UTF-8: all written whole under
    temporary names in ``out``, then renamed into place; a failure raises InputError on ``--out`` and leaves no
    file half-written and no temporary file behind."""
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files:
            written.append(out / f".{name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
            with written[-1].open("x", encoding="utf-8") as handle:
                handle.write(text)
        for (name, _), path in zip(files, written, strict=True):
            path.replace(out / name)
    except OSError as err:
        raise InputError("--out", f"cannot write {out}: {err.strerror or err}") from None
    finally:
        for path in written:
            path.unlink(missing_ok=True)
