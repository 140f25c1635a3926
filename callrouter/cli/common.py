"""What every command shares: settings, the database, parsing of dates, and output.

Light to import (issue #17): a listing loads this module and reads through `models/direct.py`
(`read`); SQLAlchemy, the ORM and asyncio are imported by `run`, for the commands that use them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

import click
from tabulate import tabulate

from callrouter.database_url import database_label, sqlite_file_missing
from core.settings import Settings, load_settings
from models.direct import NOT_INITIALISED, UNREACHABLE, Reader, open_reader, unavailable
from models.direct import DatabaseUnavailable as DatabaseUnavailable  # callrouter.cli's _failure
from models.errors import InputError

if TYPE_CHECKING:
    from models.db import Database

T = TypeVar("T")


@dataclass
class AppContext:
    config: str | None
    json_output: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def now(self) -> datetime:
        return datetime.now(UTC)


pass_app = click.make_pass_decorator(AppContext)


# Writing commands that say which database they wrote into (on stderr: stdout stays the data).
ANNOUNCED = frozenset({"contacts import", "backfill"})


def run(coro_fn: Callable[[Database], Awaitable[T]], app: AppContext, *, schema: bool = True) -> T:
    """Open the database, run one coroutine with it, close it.

    `schema`: the command needs the tables, so a database that was never `db upgrade`d is refused
    before anything is created (no empty SQLite file is left behind)."""
    import asyncio

    from models.db import Database

    url = app.settings.database_url
    if schema and sqlite_file_missing(url):
        raise InputError(NOT_INITIALISED)

    async def main() -> T:
        db = Database(url)
        try:
            if schema and not await is_initialised(db):
                raise InputError(NOT_INITIALISED)
            return await coro_fn(db)
        except UNREACHABLE as exc:
            raise unavailable(exc) from None
        finally:
            await db.dispose()

    result = asyncio.run(main())
    _announce(url)  # after the work: a refused command keeps its one line on stderr
    return result


def read(fn: Callable[[Reader], T], app: AppContext) -> T:
    """Run `fn` with a read-only connection straight on the driver (`models/direct.py`: no
    SQLAlchemy, no event loop on SQLite): the listings. The same refusals as `run`: not
    initialised, database unavailable."""
    with open_reader(app.settings.database_url) as reader:
        return fn(reader)


def _announce(url: str) -> None:
    context = click.get_current_context(silent=True)
    path = context.command_path.partition(" ")[2] if context is not None else ""
    if path in ANNOUNCED:
        click.echo(f"callrouter: database: {database_label(url)}", err=True)


async def is_initialised(db: Database) -> bool:
    """Whether `db upgrade` has run: Alembic's table holds a revision."""
    from sqlalchemy import inspect

    def check(connection: Any) -> bool:
        if not inspect(connection).has_table("alembic_version"):
            return False
        return (
            connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
            is not None
        )

    async with db.engine.connect() as connection:
        return await connection.run_sync(check)


def check_output_path(path: str | Path, what: str = "output") -> Path:
    """Refuse, before any work, an output file that cannot be written (InputError)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise InputError(f"cannot write the {what} to {target}: it is a folder")
    if not folder.is_dir():
        raise InputError(f"cannot write the {what} to {target}: the folder {folder} does not exist")
    writable = (
        os.access(target, os.W_OK) if target.exists() else os.access(folder, os.W_OK | os.X_OK)
    )
    if not writable:
        raise InputError(f"cannot write the {what} to {target}: permission denied")
    return target


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--json` on a command: the same as the global flag."""

    @click.option("--json", "json_flag", is_flag=True, help="Print JSON for scripts.")
    @click.pass_context
    @wraps(fn)
    def wrapper(ctx: click.Context, *args: Any, json_flag: bool, **kwargs: Any) -> Any:
        if json_flag:
            ctx.find_object(AppContext).json_output = True
        return ctx.invoke(fn, *args, **kwargs)

    return wrapper


def emit_rows(
    app: AppContext, rows: Sequence[dict[str, Any]], empty: str = "nothing found"
) -> None:
    if app.json_output:
        click.echo(json.dumps(list(rows), ensure_ascii=False, default=_json_default, indent=2))
        return
    if not rows:
        click.echo(empty)
        return
    click.echo(
        tabulate(
            [[_cell(v) for v in r.values()] for r in rows], headers=list(rows[0]), tablefmt="simple"
        )
    )


def emit_object(app: AppContext, obj: dict[str, Any], text: Callable[[], str]) -> None:
    if app.json_output:
        click.echo(json.dumps(obj, ensure_ascii=False, default=_json_default, indent=2))
    else:
        click.echo(text())


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def local_time(app: AppContext, value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(app.tz).strftime("%Y-%m-%d %H:%M")


_RELATIVE = re.compile(r"^\+(\d+)\s*([mhd])$")


def parse_when(text: str, tz: ZoneInfo, now: datetime) -> datetime:
    """'+30m', '+2h', '+1d', '2026-11-28', '2026-11-28 15:00' (company time zone) → aware UTC."""
    value = text.strip()
    if value.lower() in _NAMED_DAYS:  # the end of that working day
        day = now.astimezone(tz).date() + timedelta(days=_NAMED_DAYS[value.lower()])
        return datetime.combine(day, time(18, 0), tzinfo=tz).astimezone(UTC)
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (
            now
            + {
                "m": timedelta(minutes=amount),
                "h": timedelta(hours=amount),
                "d": timedelta(days=amount),
            }[unit]
        )
    value = iso_date(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"invalid date {text!r}: use YYYY-MM-DD, 'YYYY-MM-DD HH:MM', DD.MM.YYYY, today, tomorrow, yesterday or +30m / +2h / +1d"
        ) from None
    if len(value) <= 10:  # a bare date means the end of that working day
        parsed = parsed.replace(hour=18, minute=0)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


_NAMED_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?=$|[ T])")


def iso_date(text: str) -> str:
    """'28.11.2026' (and '28.11.2026 15:00'), as Russians write it, → '2026-11-28…'; any other
    text unchanged."""
    match = _DOTTED.match(text)
    if match is None:
        return text
    day, month, year = match.groups()
    return f"{year}-{int(month):02d}-{int(day):02d}{text[match.end() :]}"


def parse_day(text: str, today: date | None = None) -> date:
    """'YYYY-MM-DD'; with `today` (the company's local date) also today, yesterday, tomorrow."""
    value = text.strip()
    if today is not None and value.lower() in _NAMED_DAYS:
        return today + timedelta(days=_NAMED_DAYS[value.lower()])
    try:
        return date.fromisoformat(iso_date(value))
    except ValueError:
        named = ", today, yesterday or tomorrow" if today is not None else ""
        raise InputError(f"invalid date {text!r}: use YYYY-MM-DD, DD.MM.YYYY{named}") from None


def parse_duration(text: str) -> timedelta:
    match = re.match(r"^(\d+)\s*([mhd])$", text.strip())
    if not match:
        raise InputError(f"invalid duration {text!r}: use e.g. 30m, 2h or 1d")
    amount, unit = int(match.group(1)), match.group(2)
    return {
        "m": timedelta(minutes=amount),
        "h": timedelta(hours=amount),
        "d": timedelta(days=amount),
    }[unit]


def joined(items: Iterable[str]) -> str:
    return ", ".join(items)
