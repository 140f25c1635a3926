"""How figures read: durations, rates, local times, names. Shared by the text and HTML renderers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from .model import GroupRow, InboundFigures

NO_VALUE = "—"


def duration(seconds: float | None) -> str:
    """'0:45', '4:24', '1:02:03'; '—' for no value."""
    if seconds is None:
        return NO_VALUE
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def age(seconds: float) -> str:
    """'45 min', '16 h', '2 d 3 h'."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min" if hours < 10 else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


def percent(rate: float | None) -> str:
    return NO_VALUE if rate is None else f"{rate * 100:.1f}%"


def seconds(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:.0f} s"


def minutes(value_seconds: float) -> str:
    return f"{value_seconds / 60:.1f}"


def local(moment: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if moment is None else moment.astimezone(tz).strftime(fmt)


def label(row: GroupRow) -> str:
    return row.label if row.active else f"{row.label} (left)"


def lcr_line(inbound: InboundFigures, short_seconds: float, _: Callable[[str], str] = str) -> str:
    return _(
        "%(all)s all · %(without)s without short abandons (<%(short)s s) · %(hours)s in "
        "working hours · %(caller)s per caller (%(lost)s of %(callers)s callers could not get "
        "through)"
    ) % {
        "all": percent(inbound.lcr),
        "without": percent(inbound.lcr_without_short),
        "short": f"{short_seconds:g}",
        "hours": percent(inbound.lcr_working_hours),
        "caller": percent(inbound.lcr_per_caller),
        "lost": inbound.callers_lost,
        "callers": inbound.callers,
    }
