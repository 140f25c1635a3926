"""What every command shares: settings, the database, parsing of dates, and output."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from tabulate import tabulate

from core.settings import Settings, load_settings
from models.db import Database
from models.errors import InputError

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


def run(coro_fn: Callable[[Database], Awaitable[T]], app: AppContext) -> T:
    """Open the database, run one coroutine with it, close it."""

    async def main() -> T:
        db = Database(app.settings.database_url)
        try:
            return await coro_fn(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


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
    named_days = {"today": 0, "tomorrow": 1}
    if value.lower() in named_days:  # the end of that working day
        day = now.astimezone(tz).date() + timedelta(days=named_days[value.lower()])
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
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"invalid date {text!r}: use YYYY-MM-DD, 'YYYY-MM-DD HH:MM', today, tomorrow or +30m / +2h / +1d"
        ) from None
    if len(value) <= 10:  # a bare date means the end of that working day
        parsed = parsed.replace(hour=18, minute=0)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"invalid date {text!r}: use YYYY-MM-DD") from None


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
