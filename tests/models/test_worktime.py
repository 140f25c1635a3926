"""Deadlines counted in working time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.worktime import (
    add_working_time,
    end_of_working_day,
    local_instant,
    new_lead_deadline,
    rule_deadline,
    working_time_between,
)
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


# --- Daylight saving time (Europe/Berlin): 2026-03-29 02:00 CET → 03:00 CEST, and
# 2026-10-25 03:00 CEST → 02:00 CET. A working hour is sixty real minutes, whatever the clock says.

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_OFFICE = WorkingHours.office(timezone="Europe/Berlin")
BERLIN_ALWAYS = WorkingHours.always("Europe/Berlin")  # a support line open round the clock
BERLIN_SUNDAY_NIGHT = WorkingHours({6: ((time(0, 0), time(6, 0)),)}, "Europe/Berlin")


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)


def test_two_hours_across_the_spring_change_are_two_real_hours() -> None:
    # Sunday 01:00 CET (00:00 UTC); the clocks skip 02:00–03:00, so two hours later it is 04:00 CEST.
    due = add_working_time(BERLIN_ALWAYS, berlin(2026, 3, 29, 1, 0), timedelta(hours=2))
    assert due == utc(2026, 3, 29, 2, 0)
    assert due.astimezone(BERLIN).hour == 4


def test_two_hours_across_the_autumn_change_are_two_real_hours() -> None:
    # Sunday 01:00 CEST (Saturday 23:00 UTC); 02:00–03:00 happens twice, so it is 02:00 CET.
    due = add_working_time(BERLIN_ALWAYS, berlin(2026, 10, 25, 1, 0), timedelta(hours=2))
    assert due == utc(2026, 10, 25, 1, 0)
    assert due.astimezone(BERLIN) == berlin(2026, 10, 25, 2, 0, fold=1)


def test_office_deadline_over_the_change_weekend() -> None:
    # Friday 17:00 CET + 2 h of work: 1 h on Friday, 1 h on Monday — 10:00 CEST is 08:00 UTC.
    friday = berlin(2026, 3, 27, 17, 0)
    assert add_working_time(BERLIN_OFFICE, friday, timedelta(hours=2)) == utc(2026, 3, 30, 8, 0)
    friday = berlin(2026, 10, 23, 17, 0)
    assert add_working_time(BERLIN_OFFICE, friday, timedelta(hours=2)) == utc(2026, 10, 26, 9, 0)


def test_a_night_shift_is_as_long_as_the_night_really_is() -> None:
    spring = berlin(2026, 3, 29, 0, 0), berlin(2026, 3, 29, 6, 0)
    autumn = berlin(2026, 10, 25, 0, 0), berlin(2026, 10, 25, 6, 0)
    assert working_time_between(BERLIN_SUNDAY_NIGHT, *spring) == timedelta(hours=5)
    assert working_time_between(BERLIN_SUNDAY_NIGHT, *autumn) == timedelta(hours=7)
    assert add_working_time(BERLIN_SUNDAY_NIGHT, spring[0], timedelta(hours=5)) == utc(
        2026, 3, 29, 4, 0
    )


def test_a_wall_time_the_clocks_skip_is_the_moment_they_jump() -> None:
    assert local_instant(date(2026, 3, 29), time(2, 30), BERLIN) == utc(2026, 3, 29, 1, 0)
    # Shown twice: the first showing.
    assert local_instant(date(2026, 10, 25), time(2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        add_working_time(OFFICE, datetime(2026, 11, 27, 10, 0), timedelta(minutes=15))


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=0, max_value=3 * 24 * 60),
    hours=st.sampled_from([BERLIN_OFFICE, BERLIN_ALWAYS, BERLIN_SUNDAY_NIGHT]),
)
def test_working_time_added_is_working_time_measured(
    start: datetime, minutes: int, hours: WorkingHours
) -> None:
    due = add_working_time(hours, start, timedelta(minutes=minutes))
    assert working_time_between(hours, start, due) == timedelta(minutes=minutes)


# --- Deadlines people can meet.

MIN_LEAD = timedelta(minutes=30)


def moscow(*args: int) -> datetime:
    return datetime(*args, tzinfo=OFFICE_ZONE)


def test_whole_days_of_a_rule_are_working_days() -> None:
    friday_afternoon = moscow(2026, 11, 27, 15, 0)
    assert rule_deadline(OFFICE, friday_afternoon, timedelta(days=1), MIN_LEAD) == moscow(
        2026, 11, 30, 15, 0
    )
    assert rule_deadline(OFFICE, friday_afternoon, timedelta(days=2), MIN_LEAD) == moscow(
        2026, 12, 1, 15, 0
    )
    # Friday evening counts from Monday morning.
    assert rule_deadline(OFFICE, moscow(2026, 11, 27, 20, 0), timedelta(days=1), MIN_LEAD) == (
        moscow(2026, 12, 1, 9, 0)
    )
    # A holiday is not a working day.
    hours = WorkingHours(OFFICE.week, OFFICE.timezone, frozenset({date(2026, 11, 30)}))
    assert rule_deadline(hours, friday_afternoon, timedelta(days=1), MIN_LEAD) == moscow(
        2026, 12, 1, 15, 0
    )


def test_a_working_day_across_the_spring_change_keeps_the_time_of_day() -> None:
    friday = berlin(2026, 3, 27, 15, 0)  # 14:00 UTC
    due = rule_deadline(BERLIN_OFFICE, friday, timedelta(days=1), MIN_LEAD)
    assert due == berlin(2026, 3, 30, 15, 0) == utc(2026, 3, 30, 13, 0)


def test_hours_of_a_rule_are_working_hours_and_never_sooner_than_the_minimum() -> None:
    assert rule_deadline(OFFICE, moscow(2026, 11, 27, 17, 0), timedelta(hours=2), MIN_LEAD) == (
        moscow(2026, 11, 30, 10, 0)
    )
    assert rule_deadline(OFFICE, moscow(2026, 11, 27, 17, 55), timedelta(0), MIN_LEAD) == (
        moscow(2026, 11, 30, 9, 25)
    )


def test_a_lead_answered_at_the_last_minute_is_due_the_next_morning() -> None:
    assert new_lead_deadline(OFFICE, moscow(2026, 11, 26, 17, 59, 30), MIN_LEAD) == moscow(
        2026, 11, 27, 9, 29, 30
    )
    assert new_lead_deadline(OFFICE, moscow(2026, 11, 27, 17, 59, 30), MIN_LEAD) == moscow(
        2026, 11, 30, 9, 29, 30
    )
    # With time left in the day, the end of the day.
    assert new_lead_deadline(OFFICE, moscow(2026, 11, 27, 10, 0), MIN_LEAD) == moscow(
        2026, 11, 27, 18, 0
    )


@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=0, max_value=3 * 24 * 60),
    min_lead=st.integers(min_value=0, max_value=600),
)
def test_no_deadline_leaves_less_than_the_minimum_working_time(
    start: datetime, minutes: int, min_lead: int
) -> None:
    lead = timedelta(minutes=min_lead)
    for due in (
        rule_deadline(BERLIN_OFFICE, start, timedelta(minutes=minutes), lead),
        new_lead_deadline(BERLIN_OFFICE, start, lead),
    ):
        assert working_time_between(BERLIN_OFFICE, start, due) >= lead
