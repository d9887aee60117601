"""``crossmargin import`` and ``crossmargin reconcile``: bring a venue account in through ccxt (live, or from
recorded responses) as a portfolio document, and set our figures beside the venue's (docs/import.md)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from crossmargin.bridge.importer import document_from_responses
from crossmargin.bridge.live import live_recording
from crossmargin.bridge.reconcile import reconcile_document
from crossmargin.bridge.reported import split_reported
from crossmargin.bridge.responses import VENUES, read_responses
from crossmargin.bridge.views import reconciliation_dict, reconciliation_view
from crossmargin.bridge.writing import document_text, json_text
from crossmargin.cli.loading import load_document
from crossmargin.cli.output import emit_json, emit_view
from crossmargin.cli.user_input import user_errors
from crossmargin.live.document import portfolio_of
from crossmargin.model import InputError


def recorded_document(data: dict[str, Any], origin: str, venue: str | None = None) -> dict[str, Any]:
    """The document of recorded responses read from the file ``origin`` (checked to be ``venue``'s when given);
    errors name the file and the field, e.g. ``rec.json: fetch_positions[0].entryPrice``."""
    try:
        responses = read_responses(data)
    except InputError as err:
        raise InputError(f"{origin}: {err.field}", err.message) from None
    if venue is not None and responses.venue != venue:
        raise InputError(f"{origin}: venue", f"the file records {responses.venue!r}, not {venue!r}")
    return imported(responses, origin)


def imported(responses: Any, origin: str) -> dict[str, Any]:
    """The document of ``responses``, checked to evaluate (errors name ``origin`` and the field)."""
    try:
        document = document_from_responses(responses)
        portfolio_of(split_reported(document)[0])
    except InputError as err:
        raise InputError(f"{origin}: {err.field}" if err.field else origin, err.message) from None
    return document


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(str(path), f"cannot be written: {err.strerror}") from None


def import_command(
    venue: Annotated[str, typer.Argument(help=f"The ccxt exchange id: {', '.join(VENUES)}.", show_default=False)],
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="Recorded responses (JSON) to import instead of calling the venue."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the document here (.yaml/.yml as YAML, else JSON); default: JSON on stdout."),
    ] = None,
    record_to: Annotated[
        Path | None,
        typer.Option(
            "--record", help="Live import: also write the venue's responses here, to replay with --from-file."
        ),
    ] = None,
) -> None:
    """Import a venue account through ccxt as a portfolio document with the venue's reported figures.

    Live (no --from-file): read-only keys from CROSSMARGIN_<VENUE>_API_KEY, _SECRET, _PASSWORD (OKX) or
    _WALLET_ADDRESS (Hyperliquid, dYdX)."""
    with user_errors():
        if venue not in VENUES:
            raise InputError("VENUE", f"unknown venue {venue!r}; crossmargin imports {', '.join(VENUES)}")
        if from_file is not None:
            if record_to is not None:
                raise InputError("--record", "only goes with a live import (without --from-file)")
            document = recorded_document(load_document(from_file), str(from_file), venue)
        else:
            recording = live_recording(venue)
            document = imported(read_responses(recording), f"{venue} (live)")
            if record_to is not None:
                _write(record_to, json_text(recording))
        if out is not None:
            _write(out, document_text(document, out.name))
    if out is None:
        typer.echo(json_text(document), nl=False)


def reconcile(
    file: Annotated[
        Path,
        typer.Argument(
            help="An imported document (with reported: sections) or recorded responses.", show_default=False
        ),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the versioned JSON result instead of tables.")
    ] = False,
) -> None:
    """Set our figures beside the venue's for every account and position: the difference, and the rule that
    explains it when it is beyond the venue's display rounding."""
    with user_errors():
        data = load_document(file)
        document = recorded_document(data, str(file)) if "venue" in data and "version" not in data else data
        result = reconcile_document(document)
    if json_output:
        emit_json(reconciliation_dict(result))
    else:
        emit_view(reconciliation_view(result))
