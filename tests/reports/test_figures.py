"""The figures of the hand-counted Friday (tests/reports/office.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callrouter.reports.daily import build_daily
from callrouter.reports.model import DailyReport, GroupRow
from callrouter.reports.stats import build_stats
from core.settings import Settings
from models.db import Database

from .office import DAY, DAY_END, NEXT_NOON, Office, at, build_day, number


def settings(**report: object) -> Settings:
    return Settings(timezone="Europe/Moscow", report=report or {})


@pytest.fixture
async def friday(db: Database) -> tuple[Database, Office]:
    return db, await build_day(db)


@pytest.fixture
async def report(friday: tuple[Database, Office]) -> DailyReport:
    db, _ = friday
    return await build_daily(db, DAY, NEXT_NOON, settings())


def row(rows: list[GroupRow], label: str) -> GroupRow:
    return next(r for r in rows if r.label == label)


async def test_company_calls_and_minutes(report: DailyReport) -> None:
    c = report.calls
    # Outbound o1..o4; o2 unanswered. Inbound c1..c8. The internal call and Thursday's are out.
    assert (c.made, c.made_answered, c.received, c.received_answered) == (4, 3, 8, 4)
    assert c.answered == 7
    # 60 + 120 + 30 + 1200 (c8 crosses midnight, counted on Friday) + 90 + 300 + 45
    assert c.talk_seconds == pytest.approx(1845)
    assert c.talk_minutes == pytest.approx(30.75)
    assert c.longest_seconds == pytest.approx(1200)
    assert c.average_seconds == pytest.approx(1845 / 7)


async def test_inbound_lost_call_rate_both_ways(report: DailyReport) -> None:
    i = report.inbound
    assert (i.offered, i.answered, i.missed) == (8, 4, 4)
    assert i.short_abandons == 1  # c3 at 4.9 s; c4 at 5.1 s is not short
    assert (i.after_hours_offered, i.after_hours_missed) == (2, 1)
    assert i.lcr == pytest.approx(4 / 8)
    assert i.lcr_without_short == pytest.approx(3 / 7)
    assert i.lcr_working_hours == pytest.approx(3 / 6)
    # Waits of answered calls: 4, 8, 10, 35 → nearest rank p50 = 2nd = 8, p90 = 4th = 35.
    assert (i.answer_p50, i.answer_p90) == (pytest.approx(8), pytest.approx(35))


@pytest.mark.parametrize(
    "threshold, short, lcr", [(5.0, 1, 3 / 7), (5.2, 2, 2 / 6), (4.9, 0, 4 / 8)]
)
async def test_short_abandon_threshold_is_configurable(
    friday: tuple[Database, Office], threshold: float, short: int, lcr: float
) -> None:
    db, _ = friday
    report = await build_daily(db, DAY, NEXT_NOON, settings(short_abandon_seconds=threshold))
    assert report.inbound.short_abandons == short
    assert report.inbound.lcr_without_short == pytest.approx(lcr)
    assert report.inbound.lcr == pytest.approx(0.5)


async def test_recovery_counts_the_next_day_callback_once_it_happened(
    friday: tuple[Database, Office],
) -> None:
    db, _ = friday
    # As of Saturday noon: c3 recovered at 14:00:05 (4 h 0.1 s after it ended),
    # c4 on Saturday 09:00:05 (22 h 54 min 59.9 s); c6, c7 not. Median (nearest rank) = first.
    saturday = await build_daily(db, DAY, NEXT_NOON, settings())
    assert (saturday.recovery.missed_with_number, saturday.recovery.recovered) == (4, 2)
    assert saturday.recovery.rate == pytest.approx(0.5)
    assert saturday.recovery.median_seconds == pytest.approx(4 * 3600 + 0.1, abs=0.01)
    # As of Friday night the Saturday call-back has not happened yet.
    friday_night = await build_daily(db, DAY, DAY_END, settings())
    assert friday_night.recovery.recovered == 1
    assert friday_night.recovery.rate == pytest.approx(0.25)


async def test_per_manager_figures(report: DailyReport) -> None:
    anna = row(report.managers, "Анна")
    assert (anna.calls.made, anna.calls.made_answered, anna.calls.received) == (2, 1, 1)
    assert anna.calls.talk_seconds == pytest.approx(150)
    # Rang on c1 (picked up), c2, c3, c4, c5 (twice, counted once), c6.
    assert (anna.rung.rung, anna.rung.not_picked_up, anna.rung.rung_missed) == (6, 5, 3)
    assert (anna.inbound.answer_p50, anna.inbound.answer_p90) == (4, 4)
    boris = row(report.managers, "Борис")
    assert (boris.calls.received, boris.calls.made, boris.calls.talk_seconds) == (2, 0, 1320)
    assert (boris.rung.rung, boris.rung.not_picked_up, boris.rung.rung_missed) == (6, 4, 3)
    assert (boris.inbound.answer_p50, boris.inbound.answer_p90) == (8, 10)
    head = row(report.managers, "Head")
    assert head.calls.calls == 0
    assert (head.rung.rung, head.rung.not_picked_up, head.rung.rung_missed) == (2, 2, 1)
    owner = row(report.managers, "Owner")
    assert (owner.calls.received, owner.calls.talk_seconds) == (1, 30)
    assert (owner.rung.rung, owner.rung.not_picked_up) == (2, 1)


async def test_a_manager_who_has_left_still_shows_what_they_did(report: DailyReport) -> None:
    gena = row(report.managers, "Гена")
    assert gena.active is False
    assert (gena.calls.made, gena.calls.talk_seconds) == (1, 300)


async def test_tasks_per_manager(report: DailyReport) -> None:
    anna, boris = row(report.managers, "Анна"), row(report.managers, "Борис")
    # Анна: the call-back for number 6 (due Thursday, open) and one due Sunday.
    assert anna.tasks.open == 2 and anna.tasks.overdue == 1
    assert (anna.tasks.done_on_time, anna.tasks.done_late) == (0, 0)  # hers was done Thursday
    # Борис: one done on time, one late, the cancelled one counts nowhere.
    assert (boris.tasks.open, boris.tasks.done_on_time, boris.tasks.done_late) == (0, 1, 1)


async def test_per_department(report: DailyReport) -> None:
    sales = row(report.departments, "Продажи")  # Анна, Борис, Head, Гена
    assert (sales.calls.made, sales.calls.made_answered, sales.calls.received) == (3, 2, 3)
    assert sales.calls.talk_seconds == pytest.approx(150 + 1320 + 300)
    # Calls that rang anyone in sales: c1, c2, c3, c4, c5, c6, c8; not picked up by sales: c3-c6.
    assert (sales.rung.rung, sales.rung.not_picked_up, sales.rung.rung_missed) == (7, 4, 3)
    opt = row(report.departments, "Опт")
    assert (opt.calls.made, opt.calls.talk_seconds) == (1, 45)
    nodept = row(report.departments, "(no department)")  # the owner
    assert (nodept.calls.received, nodept.calls.talk_seconds) == (1, 30)


async def test_stats_by_department_adds_up_to_the_total(friday: tuple[Database, Office]) -> None:
    db, _ = friday
    table = await build_stats(db, DAY, DAY, "department", NEXT_NOON, settings())
    nobody = row(table.rows, "(no manager)")
    assert (nobody.calls.received, nobody.calls.received_answered) == (4, 0)  # the misses
    assert sum(r.calls.received for r in table.rows) == table.total.calls.received == 8
    assert sum(r.calls.talk_seconds for r in table.rows) == pytest.approx(1845)


async def test_stats_by_day_over_a_period(friday: tuple[Database, Office]) -> None:
    db, _ = friday
    thursday = DAY.replace(day=19)
    table = await build_stats(db, thursday, DAY, "day", NEXT_NOON, settings())
    thu, fri = table.rows
    # Thursday: thu_late (answered, 600 s, runs into Friday) and thu_miss.
    assert (thu.inbound.offered, thu.inbound.missed, thu.calls.talk_seconds) == (2, 1, 600)
    assert thu.recovery.missed_with_number == 1 and thu.recovery.recovered == 0
    assert (fri.inbound.offered, fri.inbound.missed, fri.calls.calls) == (8, 4, 12)
    assert table.total.inbound.offered == 10
    assert table.total.inbound.lcr == pytest.approx(5 / 10)


async def test_stats_by_manager_over_thirty_days_counts_the_baseline(
    friday: tuple[Database, Office],
) -> None:
    db, _ = friday
    first = DAY - timedelta(days=29)
    table = await build_stats(db, first, DAY, "manager", NEXT_NOON, settings())
    anna = row(table.rows, "Анна")
    # 40 baseline calls on four Fridays + o1, o2 made; c1 and thu_late received.
    assert (anna.calls.made, anna.calls.received) == (42, 2)


async def test_unrecovered_numbers_oldest_first(report: DailyReport) -> None:
    assert report.unrecovered_total == 2
    six, seven = report.unrecovered
    # Number 6: missed Thursday 15:00 and Friday 12:00; 45 h old at Saturday noon.
    assert (six.number, six.missed_calls, six.age_seconds) == (number(6), 2, 45 * 3600)
    assert six.responsible == "Анна" and six.overdue and not six.escalated
    # Number 7: missed Friday 20:00 after hours, 16 h; no task, no responsible.
    assert (seven.number, seven.missed_calls, seven.age_seconds) == (number(7), 1, 16 * 3600)
    assert seven.responsible is None and seven.task_id is None


async def test_hours_and_trend(report: DailyReport) -> None:
    hours = {h.label: h for h in report.hours}
    assert len(hours) == 24
    assert (hours["09:00"].inbound_answered, hours["10:00"].missed) == (2, 2)
    assert (hours["14:00"].made, hours["16:00"].made, hours["23:00"].inbound_answered) == (2, 1, 1)
    assert sum(h.missed for h in report.hours) == 4
    assert len(report.trend) == 30 and report.trend[-1].day == DAY
    thursday, friday = report.trend[-2], report.trend[-1]
    assert (thursday.offered, thursday.missed, thursday.lcr) == (2, 1, 0.5)
    assert (friday.offered, friday.lcr, friday.lcr_without_short) == (8, 0.5, pytest.approx(3 / 7))
    assert report.trend[0].lcr is None  # no inbound calls: no rate


async def test_activity_drop_is_flagged_against_the_same_weekday(report: DailyReport) -> None:
    # Анна: 10 calls and 10 minutes on each of the last four Fridays; today 3 calls, 2.5 minutes.
    flagged = {(a.subject, a.measure): a for a in report.alerts}
    assert flagged[("Анна", "calls")].today == 3
    assert flagged[("Анна", "calls")].baseline == 10
    assert flagged[("Анна", "minutes")].today == 2.5
    # Sales as a whole: baseline 10 calls / 10 min; today 6 calls, 29.5 minutes — fine.
    assert set(flagged) == {("Анна", "calls"), ("Анна", "minutes")}


async def test_a_day_in_progress_compares_with_the_same_time_of_day(
    friday: tuple[Database, Office],
) -> None:
    db, _ = friday
    # At 10:05 Анна has had c1 only; her Fridays had all 10 calls by 10:09 — 5 of them by 10:05
    # (10:00..10:04 start before 10:05), so the baseline is 5 calls and 1 is a drop.
    report = await build_daily(db, DAY, at(DAY, 10, 5), settings())
    assert report.complete is False
    calls = next(a for a in report.alerts if a.subject == "Анна" and a.measure == "calls")
    assert (calls.today, calls.baseline) == (1, 5)
