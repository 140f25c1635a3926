"""`callrouter users …` and `callrouter managers set-password`: accounts of the web application.

A password is read from a prompt (typed twice, not shown) or, with `--password-stdin`, from the
first line of standard input (for scripts: `echo "$PW" | callrouter users passwd anna
--password-stdin`); it is never an argument, so it never lands in the shell's history or `ps`.
Changing a password or deactivating an account ends every session of that account.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.ext.asyncio import AsyncSession

from callrouter.web.sessions import delete_user_sessions
from crm import staff, users
from models.db import Database
from models.errors import InputError

from .common import AppContext, emit_rows, json_option, pass_app, run

_STDIN_HELP = "Read the password from the first line of standard input."


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise InputError("no password on standard input")
    else:
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
    users.check_password(password)
    return password


async def _end_sessions(session: AsyncSession, user_id: int) -> int:
    return await delete_user_sessions(session, user_id)


@click.group("users")
def users_group() -> None:
    """Accounts of the web application (log-in, role, the manager they are)."""


@users_group.command("add")
@click.argument("login")
@click.option(
    "--role",
    default=None,
    help="manager | head_of_sales | owner | admin (default: the manager's own role).",
)
@click.option(
    "--manager", "manager_ref", default=None, help="The manager they are (101, #3, name)."
)
@click.option("--locale", default=None, help="ru | en (default: web.default_locale).")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
@pass_app
def user_add(
    app: AppContext,
    login: str,
    role: str | None,
    manager_ref: str | None,
    locale: str | None,
    password_stdin: bool,
) -> None:
    """Create an account. Managers and heads of sales name their manager (--manager); admin is
    for the people who run callrouter: they see everything and ring nobody."""
    users.normalize_login(login)
    if role is not None:
        users.check_role(role)
    users.check_locale(locale)
    password = _read_password(password_stdin)
    tech = app.settings.endpoint_technology

    async def work(db: Database) -> tuple[int, str, str]:
        async with db.transaction() as s:
            manager = await staff.get_manager(s, manager_ref, tech) if manager_ref else None
            if manager is not None and not manager.active:
                raise InputError(f"manager {manager.name!r} is deactivated")
            user = await users.add_user(
                s, login, role=role, password=password, manager=manager, locale=locale
            )
            return user.id, user.login, user.role

    user_id, name, given_role = run(work, app)
    click.echo(f"user {name!r} added (#{user_id}, {given_role})")


@users_group.command("list")
@json_option
@pass_app
def user_list(app: AppContext) -> None:
    """Every account: log-in, role, manager, language, active, last log-in."""

    async def work(db: Database) -> list[dict]:
        async with db.reader() as s:
            return [
                {
                    "id": user.id,
                    "login": user.login,
                    "role": user.role,
                    "manager": f"#{manager.id} {manager.name}" if manager else "",
                    "locale": user.locale or "",
                    "active": user.active,
                    "has_password": user.password_hash is not None,
                    "last_login_at": user.last_login_at,
                }
                for user, manager in await users.list_users(s)
            ]

    emit_rows(app, run(work, app), "no users yet")


@users_group.command("passwd")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
@pass_app
def user_passwd(app: AppContext, login: str, password_stdin: bool) -> None:
    """Set an account's password (its sessions end: it logs in again)."""

    async def find(db: Database) -> None:
        async with db.reader() as s:
            await users.get_user(s, login)

    run(find, app)  # an unknown log-in is refused before the password is asked
    password = _read_password(password_stdin)

    async def work(db: Database) -> str:
        async with db.transaction() as s:
            user = await users.get_user(s, login)
            await users.set_password(s, user, password)
            await _end_sessions(s, user.id)
            return user.login

    click.echo(f"password of {run(work, app)!r} changed")


@users_group.command("deactivate")
@click.argument("login")
@pass_app
def user_deactivate(app: AppContext, login: str) -> None:
    """The account can no longer log in; its sessions end now."""

    async def work(db: Database) -> tuple[str, int]:
        async with db.transaction() as s:
            user = await users.get_user(s, login)
            await users.deactivate_user(s, user)
            return user.login, await _end_sessions(s, user.id)

    name, ended = run(work, app)
    click.echo(f"user {name!r} deactivated ({ended} session(s) ended)")


@click.command("set-password")
@click.argument("manager")
@click.option("--login", default=None, help="Log-in of a new account (default: the extension).")
@click.option("--password-stdin", is_flag=True, help=_STDIN_HELP)
@pass_app
def manager_set_password(
    app: AppContext, manager: str, login: str | None, password_stdin: bool
) -> None:
    """Give MANAGER a web log-in, or a new password: the account is created on first use (log-in:
    the extension, e.g. 101) with the manager's role."""
    if login is not None:
        users.normalize_login(login)
    tech = app.settings.endpoint_technology

    async def find(db: Database) -> None:
        async with db.reader() as s:
            row = await staff.get_manager(s, manager, tech)
            if not row.active:
                raise InputError(f"manager {row.name!r} is deactivated")

    run(find, app)
    password = _read_password(password_stdin)

    async def work(db: Database) -> tuple[str, bool, str]:
        async with db.transaction() as s:
            row = await staff.get_manager(s, manager, tech)
            user, created = await users.set_manager_password(s, row, password, login)
            if not created:
                await _end_sessions(s, user.id)
            return user.login, created, row.name

    name, created, who = run(work, app)
    if created:
        click.echo(f"{who!r} can log in as {name!r}")
    else:
        click.echo(f"password of {name!r} ({who}) changed")
