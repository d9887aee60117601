"""The service database's schema: the Alembic migrations build exactly the tables ``schema.py`` declares (the
code reads and writes through the declarations; the database is built by the migrations), on SQLite and on
the real PostgreSQL. Alembic's own comparison (``compare_metadata``, what ``alembic revision
--autogenerate`` would write) finds nothing to change on a freshly migrated database; a second method reads
the columns back through SQLAlchemy's inspector and checks them against the declarations."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crossmargin.service import schema
from crossmargin.service.store import Store, migrate


def test_the_migrations_build_exactly_the_declared_schema(database_url: str):
    store = Store(database_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, schema.metadata) == []
            assert context.get_current_revision() == "0001"
    finally:
        store.close()


def test_every_declared_column_is_in_the_database_with_its_nullability_and_keys(database_url: str):
    store = Store(database_url)
    try:
        inspector = sa.inspect(store.engine)
        declared = {"book", "events", "snapshots", "api_keys"}
        assert set(schema.metadata.tables) == declared
        # the version table is Alembic's; every other table is a declared one
        assert set(inspector.get_table_names()) == declared | {"alembic_version"}
        for name, table in schema.metadata.tables.items():
            columns = {c["name"]: c for c in inspector.get_columns(name)}
            assert list(columns) == [c.name for c in table.columns], name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (name, column.name)
            primary = inspector.get_pk_constraint(name)["constrained_columns"]
            assert primary == [c.name for c in table.primary_key.columns], name
        # one idempotency key per request, one key per digest: both unique in the database itself
        unique = {(name, tuple(u["column_names"])) for name in declared for u in inspector.get_unique_constraints(name)}
        unique |= {
            (name, tuple(str(c) for c in i["column_names"]))
            for name in declared
            for i in inspector.get_indexes(name)
            if i["unique"]
        }
        assert {("events", ("idempotency_key",)), ("api_keys", ("digest",))} <= unique
    finally:
        store.close()


def test_migrating_again_changes_nothing(database_url: str):
    store = Store(database_url)
    try:
        migrate(store.engine)  # a restarted service migrates an up-to-date database: a no-op
        Store(database_url).close()
        with store.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), schema.metadata) == []
            versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
        assert versions == ["0001"]
    finally:
        store.close()


def test_the_comparison_sees_a_column_the_migrations_do_not_build(sqlite_url: str):
    # the check above is not vacuous: a declaration with one more column, or a column's type changed, is
    # a difference Alembic reports
    store = Store(sqlite_url)
    try:
        wider = sa.MetaData()
        for table in schema.metadata.tables.values():
            table.to_metadata(wider)
        wider.tables["book"].append_column(sa.Column("extra", sa.Text, nullable=True))
        retyped = sa.MetaData()
        for table in schema.metadata.tables.values():
            copy = table.to_metadata(retyped)
            if table.name == "events":
                copy.c.kind.type = sa.Integer()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            added = compare_metadata(context, wider)
            changed = compare_metadata(context, retyped)
        assert [(d[0], d[2], d[3].name) for d in added] == [("add_column", "book", "extra")]
        assert [(d[0][0], d[0][2], d[0][3]) for d in changed] == [("modify_type", "events", "kind")]
    finally:
        store.close()
