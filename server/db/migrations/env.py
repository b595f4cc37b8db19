"""Alembic environment: migrations run on the connection handed over by ``server.db.migrations``."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `python -m server.db upgrade`, which supplies the connection.")
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
