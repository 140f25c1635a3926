"""Apply, revert and inspect the schema migrations from code (the CLI and the tests use this)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

# The Alembic scripts are data to this module: found as the `migrations` package's folder, not
# imported (migrations/env.py imports models, so an import here would make a cycle).
MIGRATIONS_DIR = Path(str(files("migrations")))


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    await _run(engine, lambda config: command.upgrade(config, revision))


async def upgrade_url(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` with an engine of its own, disposed afterwards."""
    from models.db import create_engine

    engine = create_engine(url)
    try:
        await upgrade(engine, revision)
    finally:
        await engine.dispose()


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    await _run(engine, lambda config: command.downgrade(config, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def is_current(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()


async def _run(engine: AsyncEngine, action) -> None:  # type: ignore[no-untyped-def]
    def run(connection: Connection) -> None:
        # Batch mode rebuilds a SQLite table by dropping it, and with foreign keys on, the drop
        # deletes or nulls every row that refers to it (a deal's tasks and history). So on
        # SQLite the keys are off while the scripts run (a pragma outside the transaction),
        # and checked before the commit instead.
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _foreign_keys(connection, on=False)
        try:
            with connection.begin():
                config = alembic_config()
                config.attributes["connection"] = connection
                action(config)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the migration left rows pointing at nothing")
        finally:
            if sqlite:
                _foreign_keys(connection, on=True)

    async with engine.connect() as connection:
        await connection.run_sync(run)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()
