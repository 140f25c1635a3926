"""Deadlines counted in working time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from core.worktime import add_working_time, end_of_working_day
from router.directory import WorkingHours

OFFICE = WorkingHours.office(timezone="Europe/Moscow")  # Mon–Fri 09:00–18:00 Moscow (UTC+3)
OFFICE_ZONE = ZoneInfo("Europe/Moscow")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_fifteen_minutes_inside_the_day() -> None:
    assert add_working_time(OFFICE, utc(2026, 11, 27, 7, 0), timedelta(minutes=15)) == utc(
        2026, 11, 27, 7, 15
    )


def test_friday_evening_rolls_over_to_monday_morning() -> None:
    assert add_working_time(OFFICE, utc(2026, 11, 27, 14, 55), timedelta(minutes=15)) == utc(
        2026, 11, 30, 6, 10
    )


def test_holiday_is_skipped() -> None:
    hours = WorkingHours(OFFICE.week, OFFICE.timezone, frozenset({date(2026, 11, 30)}))
    assert add_working_time(hours, utc(2026, 11, 28, 10, 0), timedelta(minutes=15)) == utc(
        2026, 12, 1, 6, 15
    )


def test_end_of_working_day_inside_and_after_hours() -> None:
    assert end_of_working_day(OFFICE, utc(2026, 11, 27, 8, 0)) == utc(2026, 11, 27, 15, 0)
    assert end_of_working_day(OFFICE, utc(2026, 11, 27, 16, 0)) == utc(2026, 11, 30, 15, 0)


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=1, max_value=3 * 540),
)
def test_deadline_is_never_earlier_than_the_work_and_falls_in_working_hours(
    start: datetime, minutes: int
) -> None:
    due = add_working_time(OFFICE, start, timedelta(minutes=minutes))
    assert due >= start + timedelta(minutes=minutes)
    local = due.astimezone(OFFICE_ZONE)
    assert local.weekday() < 5 and (9, 0) <= (local.hour, local.minute) <= (18, 0)
