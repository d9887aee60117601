"""``crossmargin serve``, ``crossmargin keys`` and ``crossmargin log``: the live service, its API keys and
its event log (see docs/service.md)."""

from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.limits import MAX_ACCOUNTS, MAX_SEED, MIN_ACCOUNTS, parse_count
from crossmargin.cli.loading import read_text
from crossmargin.cli.stress import agents_from_file
from crossmargin.cli.user_input import user_errors
from crossmargin.model import InputError
from crossmargin.service.api import Limits, create_app
from crossmargin.service.books import generated
from crossmargin.service.history import CAPACITY
from crossmargin.service.host import SNAPSHOT_EVERY, BookHost
from crossmargin.service.keys import Scope, add_key
from crossmargin.service.store import DEFAULT_DB, Store
from crossmargin.sim.agents.config import AgentsConfig

DbOption = Annotated[
    str, typer.Option("--db", help="Database URL: sqlite:///FILE (default) or postgresql://USER@HOST:PORT/DB.")
]


def serve(
    book: Annotated[
        Path | None,
        typer.Option("--book", help="Portfolio document to start a new database from (leave out to resume)."),
    ] = None,
    generate: Annotated[
        str | None,
        typer.Option("--generate", metavar="N", help="Start a new database from a synthetic book of N accounts."),
    ] = None,
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of the generated book.")] = "7",
    db: DbOption = DEFAULT_DB,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[str, typer.Option("--port", help="Port to listen on.")] = "8000",
    new_key: Annotated[
        str | None,
        typer.Option("--new-key", metavar="SCOPE", help="Make a key of SCOPE and print it before starting."),
    ] = None,
    rate: Annotated[str, typer.Option("--rate", help="Requests a second each key may make.")] = "2000",
    threads: Annotated[
        str | None,
        typer.Option(
            "--threads",
            metavar="N",
            help="Threads for the risk book's kernels (default: every core; 1 on a busy "
            "two-core machine, where a kernel's second thread waits for a core).",
        ),
    ] = None,
    snapshot_every: Annotated[
        str, typer.Option("--snapshot-every", help="Events between snapshots of the engine.")
    ] = str(SNAPSHOT_EVERY),
    history_points: Annotated[
        str,
        typer.Option(
            "--history-points",
            metavar="N",
            help="Margin-ratio history points kept per account (even; 16 bytes each: the default 240 holds "
            "3.9 GB at a million accounts once full).",
        ),
    ] = str(CAPACITY),
    agents: Annotated[
        Path | None,
        typer.Option(
            "--agents",
            metavar="FILE",
            help="Run these risk agents after each price batch (the YAML of stress --agents; see docs/agents.md).",
        ),
    ] = None,
) -> None:
    """Serve the book over HTTP and WebSocket: every event logged before it is acknowledged."""
    import uvicorn

    with user_errors():
        listen = parse_count(port, "--port", 1, 65535)
        per_second = parse_count(rate, "--rate", 1, 10_000_000)
        every = parse_count(snapshot_every, "--snapshot-every", 1, 10_000_000)
        points = parse_count(history_points, "--history-points", 2, 100_000)
        if points % 2:
            raise InputError("--history-points", f"must be even (halving keeps every other point), got {points}")
        if threads is not None:
            import numba

            numba.set_num_threads(parse_count(threads, "--threads", 1, numba.get_num_threads()))
        if new_key is not None:
            try:
                Scope.parse(new_key)
            except InputError as err:  # the scope was given as --new-key here
                raise InputError("--new-key", err.message) from None
        if book is not None and generate is not None:
            raise InputError("--generate", "give --book or --generate, not both")
        policies: AgentsConfig | None = None if agents is None else agents_from_file(agents)
        document: tuple[str, str] | None = None
        if generate is not None:
            accounts = parse_count(generate, "--generate", MIN_ACCOUNTS, MAX_ACCOUNTS)
            document = generated(accounts, parse_count(seed, "--seed", 0, MAX_SEED))
        elif book is not None:
            document = (book.name, read_text(book))
        store = Store(db)
        store.lock()
        service = BookHost.open(store, document, every, points, policies)
        key = None if new_key is None else add_key(store, new_key, "serve --new-key")[1]
    typer.echo(f"crossmargin serving {len(service.loop.book.accounts)} accounts on http://{host}:{listen}")
    shown = store.engine.url.render_as_string(hide_password=True)  # a password in --db is not printed
    typer.echo(f"database {shown}, {service.loop.seq} events applied")
    if policies is not None:
        typer.echo(f"risk agents: {policies.label()} (GET /v1/agents)")
    if key is not None:
        typer.echo(f"new {new_key} key: {key}")
    app = create_app(service, Limits(rate=per_second, burst=2 * per_second))
    try:
        uvicorn.run(app, host=host, port=listen, log_level="warning")
    finally:
        store.close()  # lets the database go for the next writer


keys = typer.Typer(help="Make, list and revoke the service's API keys.", no_args_is_help=True)


@keys.command("add")
def keys_add(
    scope: Annotated[str, typer.Option("--scope", help="admin, feeder, matcher or account:<id>.")],
    db: DbOption = DEFAULT_DB,
    name: Annotated[str, typer.Option("--name", help="A name to tell the key by.")] = "",
) -> None:
    """Make a key; it is printed once, on the last line (only its SHA-256 is stored)."""
    with user_errors():
        key_id, key = add_key(Store(db), scope, name)
    typer.echo(f"key {key_id} ({scope}{', ' + name if name else ''}); keep it, it is not shown again:")
    typer.echo(key)


@keys.command("list")
def keys_list(db: DbOption = DEFAULT_DB) -> None:
    """Every key's id, scope, name and whether it is revoked (never the key)."""
    with user_errors():
        records = Store(db).keys()
    for record in records:
        typer.echo(f"{record.id}\t{record.scope}\t{record.name}\t{'revoked' if record.revoked else 'live'}")


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Option("--id", help="The key's id (keys list).")], db: DbOption = DEFAULT_DB
) -> None:
    """Revoke a key: from the next request on, it is refused (401)."""
    with user_errors():
        Store(db).revoke_key(parse_count(key_id, "--id", 1, 2**62))
    typer.echo(f"key {key_id} revoked")


def log(db: DbOption = DEFAULT_DB) -> None:
    """Print the service's inbound events, one JSON record a line: ``crossmargin replay BOOK --events FILE``
    applies them again."""
    with user_errors():
        records = Store(db).records_after(0)
        for _, record in records:
            typer.echo(record)
