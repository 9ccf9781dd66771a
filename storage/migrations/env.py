"""Alembic environment: runs migrations against the URL storage.db.migrate passes in."""

from alembic import context
from sqlalchemy import engine_from_config, pool, text

from storage.models import Base

config = context.config
MIGRATION_LOCK = 0x5056_4D49_4752  # any fixed number; 'PVMIGR'


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Two app processes starting together on one database: one migrates while the
                # other waits here, then finds the schema current. Released at commit.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            context.run_migrations()


run_migrations_online()
