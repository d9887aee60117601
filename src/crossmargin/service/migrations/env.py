"""Alembic's environment for the service database: the connection comes from the caller
(:func:`crossmargin.service.store.migrate`), the target schema from :mod:`crossmargin.service.schema`."""

from alembic import context

from crossmargin.service.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
