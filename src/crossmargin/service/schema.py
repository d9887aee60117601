"""The service database's tables (SQLAlchemy Core). The schema itself is created and changed by the Alembic
migrations in ``migrations/``; these declarations are what the code reads and writes, and a test holds them
equal to what the migrations build.

- ``book``: one row, the portfolio document the service was started with (its text and file name, so it
  parses exactly as it did).
- ``events``: the log. One row per inbound event, ``seq`` from 1 without gaps; ``record`` is the event as
  :func:`crossmargin.live.events.encode` writes it, ``outbound`` the JSON array of the records of what it
  caused (liquidation fills, ADL, insurance, socialized and bad-debt lines among them). A request's first
  event holds its ``idempotency_key`` (the API key's id and the client's ``Idempotency-Key``: unique, so one
  key is applied once) and ``request_events``, how many events the request appended (a price post appends
  one per line) and ``request_digest`` (the SHA-256 of the request's path and body: a key
  reused with another request is refused), its others None, 0 and None.
- ``snapshots``: the engine loop after event ``seq`` (:mod:`crossmargin.live.snapshot`).
- ``api_keys``: each key's SHA-256 (the key itself is never stored), scope, name, and when it was revoked.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

book = sa.Table(
    "book",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=True, unique=True),
    sa.Column("request_events", sa.Integer, nullable=False),
    sa.Column("request_digest", sa.Text, nullable=True),
    sa.Column("record", sa.Text, nullable=False),
    sa.Column("outbound", sa.Text, nullable=False),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("digest", sa.Text, nullable=False, unique=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked", sa.DateTime(timezone=True), nullable=True),
)
