"""Deadlines in working time: '15 minutes of working time' after a call at 17:55 on a Friday
lands on Monday morning, not on Friday night. Pure functions over `WorkingHours`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from router.directory import WorkingHours

_SEARCH_DAYS = 370  # a year of holidays is the most a schedule can skip


def _intervals_from(hours: WorkingHours, at: datetime):  # type: ignore[no-untyped-def]
    """Working intervals (start, end) as aware datetimes, from the one containing `at` onwards."""
    zone = ZoneInfo(hours.timezone)
    local = at.astimezone(zone)
    for offset in range(_SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if day in hours.holidays:
            continue
        for start, end in sorted(hours.week.get(day.weekday(), ())):
            start_at = datetime.combine(day, start, tzinfo=zone)
            end_at = datetime.combine(day, end, tzinfo=zone)
            if end_at > local:
                yield max(start_at, local), end_at


def add_working_time(hours: WorkingHours, at: datetime, duration: timedelta) -> datetime:
    """The moment `duration` of working time after `at` (UTC); `at` itself if no schedule."""
    remaining = duration
    for start, end in _intervals_from(hours, at):
        if end - start >= remaining:
            return (start + remaining).astimezone(UTC)
        remaining -= end - start
    return (at + duration).astimezone(UTC)


def end_of_working_day(hours: WorkingHours, at: datetime) -> datetime:
    """The end of the working day `at` falls in, or of the next working day after hours (UTC)."""
    for start, end in _intervals_from(hours, at):
        day_end = max(
            (
                datetime.combine(start.date(), e, tzinfo=start.tzinfo)
                for _, e in hours.week.get(start.weekday(), ())
            ),
            default=end,
        )
        return day_end.astimezone(UTC)
    return (at + timedelta(hours=8)).astimezone(UTC)
