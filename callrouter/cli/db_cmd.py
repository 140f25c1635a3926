"""`callrouter db …`: schema migrations.

Each command first says which database it works on (`database: …`, the password masked).
`db downgrade` loses data, so it needs `--yes`; without it, it says what would be lost (the
tables dropped with their rows, the columns dropped) — found by running the downgrade in a
transaction that is rolled back — and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from sqlalchemy import inspect, text

from models import migrate
from models.db import Database
from models.errors import InputError

from .common import AppContext, database_label, is_initialised, pass_app, run, sqlite_file_missing

EXIT_BEHIND = 1


@click.group("db")
def db_group() -> None:
    """The database schema."""


def _say_database(app: AppContext) -> None:
    click.echo(f"database: {database_label(app.settings.database_url)}")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="The revision to reach.")
@pass_app
def db_upgrade(app: AppContext, revision: str) -> None:
    """Create or bring the schema up to date (safe to run again)."""
    _say_database(app)

    async def work(db: Database) -> str | None:
        await migrate.upgrade(db.engine, revision)
        return await migrate.current_revision(db.engine)

    click.echo(f"database schema at revision {run(work, app, schema=False)}")


@dataclass(frozen=True)
class Loss:
    tables: dict[str, int]  # table → rows it holds
    columns: list[str]  # "table.column"

    def text(self) -> str:
        parts = [f"{name} ({rows} rows)" for name, rows in self.tables.items()]
        what = []
        if parts:
            what.append(f"drops {len(parts)} table(s) with their data: {', '.join(parts)}")
        if self.columns:
            what.append(f"drops column(s) {', '.join(self.columns)}")
        return "; ".join(what) if what else "drops no table or column"


def _preview(connection: Any, revision: str) -> Loss:
    """The downgrade's losses, found by running it in a transaction that is rolled back."""
    from alembic import command

    transaction = connection.begin()
    try:
        before = inspect(connection)
        tables = {
            name: {c["name"] for c in before.get_columns(name)}
            for name in before.get_table_names()
            if name != "alembic_version"
        }
        rows = {
            name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
            for name in tables
        }
        config = migrate.alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        after = inspect(connection)
        left = {
            name: {c["name"] for c in after.get_columns(name)} for name in after.get_table_names()
        }
    finally:
        transaction.rollback()
    dropped = {name: rows[name] for name in sorted(tables) if name not in left}
    columns = [
        f"{name}.{column}"
        for name in sorted(tables)
        if name in left
        for column in sorted(tables[name] - left[name])
    ]
    return Loss(dropped, columns)


@db_group.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Confirm: the tables and columns it drops are lost.")
@pass_app
def db_downgrade(app: AppContext, revision: str, yes: bool) -> None:
    """Revert the schema to REVISION ('base': nothing). Loses data: needs --yes."""
    _say_database(app)

    async def work(db: Database) -> tuple[Loss, str | None]:
        async with db.engine.connect() as connection:
            loss = await connection.run_sync(_preview, revision)
        if not yes:
            return loss, None
        await migrate.downgrade(db.engine, revision)
        return loss, await migrate.current_revision(db.engine)

    loss, current = run(work, app)
    if not yes:
        raise InputError(
            f"`db downgrade {revision}` {loss.text()}; nothing changed: add --yes to confirm"
        )
    click.echo(f"{loss.text()[:1].upper()}{loss.text()[1:]}.")
    click.echo(f"database schema at revision {current or 'none (base)'}")


@db_group.command("current")
@pass_app
def db_current(app: AppContext) -> None:
    """Print the schema revision and whether it is the latest (exit 1 when it is not)."""
    _say_database(app)
    head = migrate.head_revision()
    if sqlite_file_missing(app.settings.database_url):
        current = None
    else:

        async def work(db: Database) -> str | None:
            if not await is_initialised(db):
                return None
            return await migrate.current_revision(db.engine)

        current = run(work, app, schema=False)
    if current is None:
        click.echo("revision none: the database is not initialised: run `callrouter db upgrade`")
        raise SystemExit(EXIT_BEHIND)
    if current != head:
        click.echo(f"revision {current}: behind (latest is {head}): run `callrouter db upgrade`")
        raise SystemExit(EXIT_BEHIND)
    click.echo(f"revision {current}: up to date")
