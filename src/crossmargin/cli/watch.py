"""``crossmargin watch``: keep an imported venue book current from ccxt's streams, printing each update as a JSON
line and, with ``--serve``, feeding it to a running ``crossmargin serve`` (docs/import.md, "Watch")."""

import asyncio
import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from crossmargin.bridge.live import credentials, live_recording
from crossmargin.bridge.posting import ServiceFeed
from crossmargin.bridge.responses import VENUES, Responses, read_responses
from crossmargin.bridge.watch import Event, Pacing, Watcher, json_line, streaming_exchange
from crossmargin.cli.bridge import imported, recorded_document
from crossmargin.cli.loading import load_document
from crossmargin.cli.user_input import parse_decimal, user_errors
from crossmargin.model import InputError

SERVICE_KEY = "CROSSMARGIN_SERVICE_KEY"
"""The environment variable holding the service key that posts prices (scope feeder or admin)."""
MATCHER_KEY = "CROSSMARGIN_MATCHER_KEY"
"""The environment variable holding the service key that posts fills (scope matcher or admin)."""
POLL_RANGE = (0.01, 86_400.0)
"""Seconds between two polls: at least this, at most a day."""
RATE_RANGE = (0.1, 10_000.0)
"""Requests a second to the service."""


def _seconds(text: str, option: str, low: float, high: float) -> float:
    value = parse_decimal(text, option)
    if not low <= value <= high:
        raise InputError(option, f"must be between {low:g} and {high:g}, got {text}")
    return float(value)


def _environment_credentials(venue: str) -> dict[str, str]:
    try:
        return credentials(venue, os.environ)
    except InputError as err:  # the live import names its option --live; here the keys are the watch's own
        raise InputError("environment", err.message) from None


def _responses(venue: str, from_file: Path | None) -> Responses:
    """The import the book starts from: the recording in ``from_file`` (checked to be ``venue``'s), or a live
    import now."""
    if from_file is not None:
        data = load_document(from_file)
        recorded_document(data, str(from_file), venue)
        return read_responses(data)
    try:
        recording = live_recording(venue)
    except InputError as err:
        raise InputError("VENUE", err.message) from None
    responses = read_responses(recording)
    imported(responses, f"{venue} (live)")
    return responses


async def _watch(
    venue: str,
    responses: Responses,
    secrets: Mapping[str, str],
    pacing: Pacing,
    serve: str | None,
    keys: tuple[str, str] | None,
    rate: float,
) -> None:
    """Watch until Ctrl-C (or a fatal error), printing each line and posting what the service takes."""
    feed: ServiceFeed | None = None

    async def emit(event: Event) -> None:
        typer.echo(json_line(event))
        if feed is not None:
            feed.offer(event)

    if serve is not None and keys is not None:
        feed = ServiceFeed(serve, keys[0], keys[1], emit, rate)
        health = await feed.health()
        if health.status != 200:
            raise InputError("--serve", f"no crossmargin service answers at {serve}: {health.body}")
    watcher = Watcher(streaming_exchange(venue, secrets), responses, emit, pacing, tuple(secrets.values()),
                      about={"serve": serve})  # fmt: skip
    if feed is not None:
        feed.start()
    try:
        await watcher.run()
    finally:
        if feed is not None:
            await feed.close()
        typer.echo(json_line({"event": "stopped", "venue": venue}))


def watch(
    venue: Annotated[str, typer.Argument(help=f"The ccxt exchange id: {', '.join(VENUES)}.", show_default=False)],
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            help="The recording the book was imported from (import --record); default: import live now.",
        ),
    ] = None,
    serve: Annotated[
        str | None,
        typer.Option("--serve", metavar="URL", help="Feed a running crossmargin serve at URL (http://HOST:PORT)."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar=SERVICE_KEY,
            show_envvar=True,
            show_default=False,
            help="The service key posting prices (scope feeder or admin); prefer the environment variable.",
        ),
    ] = None,
    matcher_key: Annotated[
        str | None,
        typer.Option(
            "--matcher-key",
            envvar=MATCHER_KEY,
            show_envvar=True,
            show_default=False,
            help="The service key posting fills (scope matcher or admin); default: --key.",
        ),
    ] = None,
    poll: Annotated[
        str, typer.Option("--poll", metavar="SECONDS", help="Seconds between polls where the venue has no stream.")
    ] = "5",
    rate: Annotated[str, typer.Option("--rate", help="Requests a second to the service at most.")] = "10",
) -> None:
    """Keep an imported venue book current: marks as price lines, own fills as trades against the outside
    market, and what the fills do not explain as drift, one JSON line each; with --serve also posted to the
    service. Streams through ccxt.pro where the venue has them, polls every --poll seconds where not. Read-only
    venue keys from CROSSMARGIN_<VENUE>_API_KEY, _SECRET, _PASSWORD or _WALLET_ADDRESS. Ctrl-C stops it."""
    with user_errors():
        if venue not in VENUES:
            raise InputError("VENUE", f"unknown venue {venue!r}; crossmargin imports {', '.join(VENUES)}")
        poll_s = _seconds(poll, "--poll", *POLL_RANGE)
        per_second = _seconds(rate, "--rate", *RATE_RANGE)
        keys = None
        if serve is not None:
            if not serve.startswith(("http://", "https://")):
                raise InputError("--serve", f"an http:// or https:// URL, got {serve!r}")
            if not key:
                raise InputError("--key", f"posting to a service needs its key: set {SERVICE_KEY} (feeder or admin)")
            keys = (key, matcher_key or key)
        secrets = _environment_credentials(venue)
        responses = _responses(venue, from_file)
        pacing = Pacing(poll_s=poll_s, settle_s=poll_s, snapshot_gap_s=min(poll_s, Pacing.snapshot_gap_s))
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the watch has closed and said so
            asyncio.run(_watch(venue, responses, secrets, pacing, serve, keys, per_second))
