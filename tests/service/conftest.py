"""The databases the service's tests run on: a fresh SQLite file, and a fresh schema on the real PostgreSQL
server every developer's and CI's machine runs (127.0.0.1:5432, trust auth, database ``test``), never a
mock. Each test gets its own database (a schema dropped afterwards), so tests and concurrent runs do not see
each other's rows."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_schema_url(schema: str) -> str:
    """The URL of ``schema`` on the test server (psycopg passes ``options`` to the server)."""
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A new, empty schema on the test server, dropped with all it holds on leaving."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_schema() as schema:
        yield postgres_schema_url(schema)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs twice: on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))
