"""`callrouter db …`: schema migrations."""

from __future__ import annotations

import click

from models import migrate
from models.db import Database

from .common import AppContext, pass_app, run


@click.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@pass_app
def db_upgrade(app: AppContext, revision: str) -> None:
    """Create or bring the schema up to date (safe to run again)."""

    async def work(db: Database) -> str | None:
        await migrate.upgrade(db.engine, revision)
        return await migrate.current_revision(db.engine)

    click.echo(f"database schema at revision {run(work, app)}")


@db_group.command("downgrade")
@click.argument("revision")
@pass_app
def db_downgrade(app: AppContext, revision: str) -> None:
    async def work(db: Database) -> str | None:
        await migrate.downgrade(db.engine, revision)
        return await migrate.current_revision(db.engine)

    click.echo(f"database schema at revision {run(work, app)}")


@db_group.command("current")
@pass_app
def db_current(app: AppContext) -> None:
    """Print the schema revision and whether it is the latest."""

    async def work(db: Database) -> str | None:
        return await migrate.current_revision(db.engine)

    current, head = run(work, app), migrate.head_revision()
    state = (
        "up to date"
        if current == head
        else f"behind (latest is {head}): run `callrouter db upgrade`"
    )
    click.echo(f"revision {current or 'none'}: {state}")
