"""A 24/7 department (`00:00-24:00`) and night shifts (`22:00-06:00`): parsed by crm/staff.py,
counted by core/worktime.py, open or closed for routing (router/directory.py) — DST included."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.worktime import (
    add_working_days,
    add_working_time,
    end_of_working_day,
    new_lead_deadline,
    working_time_between,
)
from crm.staff import END_OF_DAY, format_hours, parse_hours
from models.errors import InputError
from router.directory import WorkingHours

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def schedule(spec: str, zone: str = "Europe/Moscow", holidays: tuple[date, ...] = ()):
    week = parse_hours(spec)
    return WorkingHours(
        {day: tuple(spans) for day, spans in week.items()}, zone, frozenset(holidays)
    )


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


# 2026-11-30 is a Monday.
ALWAYS = schedule("mon-sun 00:00-24:00")
NIGHTS = schedule("mon-fri 22:00-06:00")


def test_24_00_is_the_end_of_the_day_and_no_minute_is_lost_at_midnight() -> None:
    assert parse_hours("mon 00:00-24:00") == {0: [(time(0, 0), END_OF_DAY)]}
    assert ALWAYS.is_open(local(MOSCOW, 2026, 11, 30, 23, 59, 30))
    assert ALWAYS.is_open(local(MOSCOW, 2026, 12, 1, 0, 0))
    before_midnight = local(MOSCOW, 2026, 11, 30, 23, 50)
    assert add_working_time(ALWAYS, before_midnight, timedelta(minutes=20)) == local(
        MOSCOW, 2026, 12, 1, 0, 10
    )
    week = working_time_between(
        ALWAYS, local(MOSCOW, 2026, 11, 30, 0, 0), local(MOSCOW, 2026, 12, 7, 0, 0)
    )
    assert week == timedelta(days=7)


def test_a_24_7_week_across_the_spring_change_is_one_hour_short() -> None:
    berlin = schedule("mon-sun 00:00-24:00", "Europe/Berlin")
    # Clocks go forward on Sunday 2026-03-29 at 02:00 in Berlin.
    start, end = local(BERLIN, 2026, 3, 23, 0, 0), local(BERLIN, 2026, 3, 30, 0, 0)
    assert working_time_between(berlin, start, end) == timedelta(days=7, hours=-1)
    # The working day ends at midnight, every day: a 24/7 day is not one endless shift.
    assert end_of_working_day(berlin, local(BERLIN, 2026, 3, 28, 10, 0)) == local(
        BERLIN, 2026, 3, 29, 0, 0
    )


def test_a_night_shift_is_split_at_midnight_onto_the_next_weekday() -> None:
    week = parse_hours("mon-fri 22:00-06:00")
    assert week[0] == [(time(22, 0), END_OF_DAY)]  # Monday: the evening only
    assert week[1] == [(time(0, 0), time(6, 0)), (time(22, 0), END_OF_DAY)]
    assert week[5] == [(time(0, 0), time(6, 0))]  # Friday's night ends on Saturday
    assert 6 not in week
    assert parse_hours("sun 22:00-06:00") == {
        0: [(time(0, 0), time(6, 0))],
        6: [(time(22, 0), END_OF_DAY)],
    }
    assert parse_hours("mon 18:00-00:00") == {0: [(time(18, 0), END_OF_DAY)]}


@pytest.mark.parametrize(
    "spec",
    [
        "mon-fri 09:00-18:00",
        "mon-sun 00:00-24:00",
        "mon-fri 22:00-06:00",
        "sun 22:00-06:00",
        "mon-fri 09:00-18:00; sat 10:00-14:00",
        "mon-sun 20:00-08:00",
        "mon 18:00-24:00",
    ],
)
def test_the_week_is_printed_as_typed_and_reads_back_the_same(spec: str) -> None:
    week = parse_hours(spec)
    printed = format_hours(week)
    assert "23:59" not in printed
    assert parse_hours(printed) == week


def test_a_night_shift_prints_as_one_interval() -> None:
    assert format_hours(parse_hours("mon-fri 22:00-06:00")).split("; ") == [
        f"{day} 22:00-06:00" for day in ("Mon", "Tue", "Wed", "Thu", "Fri")
    ]
    assert format_hours(parse_hours("mon 00:00-24:00")) == "Mon 00:00-24:00"


@pytest.mark.parametrize(
    "spec", ["mon 09:00-09:00", "mon 24:00-06:00", "mon 25:00-26:00", "mon", "xyz 09:00-10:00"]
)
def test_a_shift_of_no_length_or_a_clock_that_does_not_exist_is_refused(spec: str) -> None:
    with pytest.raises(InputError, match="invalid working hours"):
        parse_hours(spec)


def test_overlapping_intervals_of_a_day_are_one() -> None:
    assert parse_hours("mon 09:00-13:00 12:00-18:00") == {0: [(time(9, 0), time(18, 0))]}
    # Overlaps would count working time twice.
    hours = schedule("mon 09:00-13:00 12:00-18:00")
    day = working_time_between(
        hours, local(MOSCOW, 2026, 11, 30, 0, 0), local(MOSCOW, 2026, 12, 1, 0, 0)
    )
    assert day == timedelta(hours=9)


def test_a_range_of_days_can_wrap_over_the_weekend() -> None:
    assert sorted(parse_hours("fri-mon 10:00-12:00")) == [0, 4, 5, 6]


def test_routing_sees_a_night_shift_open_and_the_day_closed() -> None:
    # Tuesday 03:00 is Monday's night shift; Monday 03:00 is nobody's (Sunday has no shift).
    assert NIGHTS.is_open(local(MOSCOW, 2026, 12, 1, 3, 0))
    assert NIGHTS.is_open(local(MOSCOW, 2026, 11, 30, 23, 0))
    assert not NIGHTS.is_open(local(MOSCOW, 2026, 12, 1, 7, 0))
    assert not NIGHTS.is_open(local(MOSCOW, 2026, 11, 30, 3, 0))
    assert NIGHTS.is_open(local(MOSCOW, 2026, 12, 5, 5, 59))  # Friday's night, Saturday 05:59
    assert not NIGHTS.is_open(local(MOSCOW, 2026, 12, 5, 22, 0))


def test_the_working_day_of_a_night_shift_ends_the_next_morning() -> None:
    tuesday_six = local(MOSCOW, 2026, 12, 1, 6, 0)
    assert end_of_working_day(NIGHTS, local(MOSCOW, 2026, 11, 30, 23, 0)) == tuesday_six
    assert end_of_working_day(NIGHTS, local(MOSCOW, 2026, 12, 1, 3, 0)) == tuesday_six
    # Tuesday noon is between shifts: the next one, Tuesday night, ends Wednesday 06:00.
    assert end_of_working_day(NIGHTS, local(MOSCOW, 2026, 12, 1, 12, 0)) == local(
        MOSCOW, 2026, 12, 2, 6, 0
    )
    # A lead answered at 23:00 is due by the end of that night, not at midnight.
    assert (
        new_lead_deadline(NIGHTS, local(MOSCOW, 2026, 11, 30, 23, 0), timedelta(minutes=30))
        == tuesday_six
    )


def test_working_time_runs_through_midnight_and_waits_for_the_next_night() -> None:
    monday_23 = local(MOSCOW, 2026, 11, 30, 23, 0)
    assert add_working_time(NIGHTS, monday_23, timedelta(hours=7)) == local(
        MOSCOW, 2026, 12, 1, 6, 0
    )
    assert add_working_time(NIGHTS, monday_23, timedelta(hours=7, minutes=30)) == local(
        MOSCOW, 2026, 12, 1, 22, 30
    )
    # A call-back 15 minutes after a miss on Saturday afternoon: Monday 22:15.
    assert add_working_time(
        NIGHTS, local(MOSCOW, 2026, 12, 5, 15, 0), timedelta(minutes=15)
    ) == local(MOSCOW, 2026, 12, 7, 22, 15)


def test_a_working_day_later_is_the_same_hour_of_the_next_night() -> None:
    assert add_working_days(NIGHTS, local(MOSCOW, 2026, 11, 30, 23, 0), 1) == local(
        MOSCOW, 2026, 12, 1, 23, 0
    )
    # 03:00 on Tuesday belongs to Monday's night: one working day later is Wednesday 03:00.
    assert add_working_days(NIGHTS, local(MOSCOW, 2026, 12, 1, 3, 0), 1) == local(
        MOSCOW, 2026, 12, 2, 3, 0
    )
    # Friday's night + 1 working day: Monday's night (the weekend has no shift).
    assert add_working_days(NIGHTS, local(MOSCOW, 2026, 12, 5, 3, 0), 1) == local(
        MOSCOW, 2026, 12, 8, 3, 0
    )


def test_a_night_shift_over_a_clock_change_is_as_long_as_that_night() -> None:
    saturday_nights = schedule("sat 22:00-06:00", "Europe/Berlin")
    spring = local(BERLIN, 2026, 3, 28, 12, 0), local(BERLIN, 2026, 3, 29, 12, 0)
    autumn = local(BERLIN, 2026, 10, 24, 12, 0), local(BERLIN, 2026, 10, 25, 12, 0)
    assert working_time_between(saturday_nights, *spring) == timedelta(hours=7)
    assert working_time_between(saturday_nights, *autumn) == timedelta(hours=9)
    assert end_of_working_day(saturday_nights, local(BERLIN, 2026, 3, 28, 23, 0)) == local(
        BERLIN, 2026, 3, 29, 6, 0
    )


def test_a_holiday_closes_its_calendar_day_even_the_tail_of_the_night_before() -> None:
    tuesday = date(2026, 12, 1)
    hours = schedule("mon-fri 22:00-06:00", holidays=(tuesday,))
    assert not hours.is_open(local(MOSCOW, 2026, 12, 1, 3, 0))
    assert end_of_working_day(hours, local(MOSCOW, 2026, 11, 30, 23, 0)) == local(
        MOSCOW, 2026, 12, 1, 0, 0
    )


@given(
    spec=st.sampled_from(
        [
            "mon-fri 22:00-06:00",
            "mon-sun 00:00-24:00",
            "mon-sun 20:00-08:00",
            "sat 22:00-06:00; mon-fri 09:00-18:00",
            "fri-mon 18:00-02:00",
        ]
    ),
    zone=st.sampled_from(["Europe/Moscow", "Europe/Berlin", "America/Santiago"]),
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=1, max_value=5000),
)
def test_working_time_added_over_nights_and_clock_changes_is_working_time_measured(
    spec: str, zone: str, start: datetime, minutes: int
) -> None:
    """America/Santiago changes its clocks at midnight, where a night shift is split."""
    hours = schedule(spec, zone)
    work = timedelta(minutes=minutes)
    due = add_working_time(hours, start, work)
    assert working_time_between(hours, start, due) == work
    assert hours.is_open(due - timedelta(seconds=1))
    end = end_of_working_day(hours, start)
    assert end > start and hours.is_open(end - timedelta(seconds=1))
