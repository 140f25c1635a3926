"""Local calendar days and hours turned into UTC windows, in Python, so SQL never needs a zone.

A day is local midnight to the next local midnight; on a DST change that is 23 or 25 hours, and
the hour windows of such a day are the real local hours (two "02:00" in autumn, none in spring).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .model import Window


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC moment local `day` begins."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def day_window(day: date, tz: ZoneInfo) -> Window:
    return Window(day.isoformat(), local_midnight(day, tz), local_midnight(day + timedelta(1), tz))


def period_window(first: date, last: date, tz: ZoneInfo) -> Window:
    """Local days `first`..`last` inclusive, as one window."""
    return Window(
        f"{first.isoformat()}..{last.isoformat()}",
        local_midnight(first, tz),
        local_midnight(last + timedelta(1), tz),
    )


def day_windows(first: date, last: date, tz: ZoneInfo) -> list[Window]:
    """One window per local day, `first`..`last` inclusive."""
    count = (last - first).days + 1
    return [day_window(first + timedelta(i), tz) for i in range(count)]


def hour_windows(day: date, tz: ZoneInfo) -> list[Window]:
    """The real local hours of `day`: 24 usually, 23 or 25 on a DST change."""
    start, end = local_midnight(day, tz), local_midnight(day + timedelta(1), tz)
    windows = []
    at = start
    while at < end:
        nxt = min(at + timedelta(hours=1), end)
        windows.append(Window(at.astimezone(tz).strftime("%H:%M"), at, nxt))
        at = nxt
    return windows


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def cut_window(window: Window, day: date, now: datetime, tz: ZoneInfo) -> tuple[Window, bool]:
    """`window` (local `day`) ended at `now` if the day is still going on; and whether complete."""
    if now >= window.end:
        return window, True
    return Window(window.label, window.start, max(window.start, now)), False


def same_weekday_windows(day: date, weeks: int, tz: ZoneInfo, upto: time | None) -> list[Window]:
    """The same weekday of the previous `weeks` weeks, each up to local time `upto` (None: whole)."""
    windows = []
    for k in range(1, weeks + 1):
        earlier = day - timedelta(weeks=k)
        start = local_midnight(earlier, tz)
        if upto is None:
            end = local_midnight(earlier + timedelta(1), tz)
        else:
            end = datetime.combine(earlier, upto, tzinfo=tz).astimezone(UTC)
        windows.append(Window(earlier.isoformat(), start, end))
    return windows
