"""A night shift does not make the next morning a working day of its own (issue #17).

`22:00-06:00` is stored as that evening's 22:00-24:00 plus the next weekday's 00:00-06:00; the
activity-drop alerts compare working days, so Saturday must not count as one for a department
that works Monday to Friday nights, while a 24/7 department works every day.
"""

from __future__ import annotations

from datetime import date

from callrouter.reports.queries import working_days
from crm.staff import add_department, set_hours
from models.db import Database

MONDAY = date(2026, 11, 30)


async def test_the_morning_end_of_a_night_shift_is_not_a_working_day(db: Database) -> None:
    async with db.transaction() as s:
        nights = await add_department(s, "Ночная смена")
        await set_hours(s, nights, "mon-fri 22:00-06:00")
        always = await add_department(s, "Круглосуточно")
        await set_hours(s, always, "mon-sun 00:00-24:00")
        days = await add_department(s, "Дневная")
        await set_hours(s, days, "mon-fri 09:00-18:00")
        ids = nights.id, always.id, days.id
    async with db.transaction() as s:
        calendars = await working_days(s, MONDAY, MONDAY)
    assert calendars[ids[0]].weekdays == frozenset({0, 1, 2, 3, 4})
    assert calendars[ids[1]].weekdays == frozenset(range(7))
    assert calendars[ids[2]].weekdays == frozenset({0, 1, 2, 3, 4})
