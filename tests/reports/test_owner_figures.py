"""Figures an owner reads right (issue #14, point 10), hand-counted, on SQLite and PostgreSQL:
minutes on the line split inbound/outbound, the Lost Call Rate per caller next to the one per
call, and an activity baseline that leaves holidays and days off out."""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import pytest

from callrouter.reports.daily import build_daily
from callrouter.reports.model import DailyReport, GroupRow
from callrouter.reports.stats import build_stats
from core.settings import Settings
from models.db import Database
from models.tables import Holiday, WorkingHours

from .conftest import AS_OF, setup
from .office import DAY, NEXT_NOON, Builder, Office, at, build_day, build_office, number

MONDAY = date(2026, 11, 23)
TUESDAY = MONDAY + timedelta(1)
TUESDAY_NOON = at(TUESDAY, 12)


def settings() -> Settings:
    return Settings(timezone="Europe/Moscow")


def row(rows: list[GroupRow], label: str) -> GroupRow:
    return next(r for r in rows if r.label == label)


# --- (a) minutes on the line, inbound and outbound ---------------------------------------------


@pytest.fixture
async def friday(db: Database) -> DailyReport:
    await build_day(db)
    return await build_daily(db, DAY, NEXT_NOON, settings())


async def test_company_minutes_split_inbound_and_outbound(friday: DailyReport) -> None:
    c = friday.calls
    # Received and answered: c1 60 + c2 120 + c5 30 + c8 1200 = 1410 s.
    # Made and answered: o1 90 + o3 300 + o4 45 = 435 s (o2 unanswered, i1 internal).
    assert (c.inbound_talk_seconds, c.outbound_talk_seconds) == (1410, 435)
    assert c.inbound_talk_seconds + c.outbound_talk_seconds == c.talk_seconds
    assert (c.inbound_minutes, c.outbound_minutes) == (23.5, 7.25)


async def test_manager_and_department_minutes_split(friday: DailyReport) -> None:
    split = {
        r.label: (r.calls.inbound_talk_seconds, r.calls.outbound_talk_seconds)
        for r in friday.managers
    }
    # Анна answered c1 (60) and made o1 (90); Борис answered c2 (120) and c8 (1200);
    # the owner answered c5 (30); Гена made o3 (300); Вера made o4 (45); Head did nothing.
    assert split == {
        "Анна": (60, 90),
        "Борис": (1320, 0),
        "Head": (0, 0),
        "Owner": (30, 0),
        "Вера": (0, 45),
        "Гена": (0, 300),
    }
    depts = {
        r.label: (r.calls.inbound_talk_seconds, r.calls.outbound_talk_seconds)
        for r in friday.departments
    }
    assert depts == {"Продажи": (1380, 390), "Опт": (0, 45), "(no department)": (30, 0)}


async def test_stats_per_department_carry_the_split_up_to_the_total(db: Database) -> None:
    await build_day(db)
    table = await build_stats(db, DAY, DAY, "department", NEXT_NOON, settings())
    assert sum(r.calls.inbound_talk_seconds for r in table.rows) == 1410
    assert sum(r.calls.outbound_talk_seconds for r in table.rows) == 435
    assert (table.total.calls.inbound_talk_seconds, table.total.calls.outbound_talk_seconds) == (
        1410,
        435,
    )


def test_report_and_stats_print_the_split(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    text = cli_msk("report", "daily", "--date", "2026-11-20", *AS_OF).out
    assert "30.8 min on the line (inbound 23.5, outbound 7.2)" in text
    assert "min in" in text and "min out" in text
    data = json.loads(
        cli_msk("report", "daily", "--date", "2026-11-20", "--format", "json", *AS_OF).out
    )
    assert data["calls"]["talk_seconds"] == 1845  # the old key is still there
    assert (data["calls"]["inbound_talk_seconds"], data["calls"]["outbound_minutes"]) == (
        1410,
        7.25,
    )
    boris = next(m for m in data["managers"] if m["label"] == "Борис")
    assert boris["calls"]["inbound_minutes"] == 22.0
    html = cli_msk("report", "daily", "--date", "2026-11-20", "--format", "html", *AS_OF).out
    assert "<th>min in</th><th>min out</th>" in html
    stats = cli_msk("stats", "--from", "2026-11-20", "--by", "department", *AS_OF).out
    # The total line: 1845 s = 30.8 min, 1410 s in = 23.5, 435 s out = 7.2.
    total = next(line for line in stats.splitlines() if line.startswith("total"))
    assert total.split()[5:8] == ["30.8", "23.5", "7.2"]


# --- (b) the Lost Call Rate per caller ---------------------------------------------------------


async def build_callers(db: Database) -> Office:
    """Monday and Tuesday of repeat callers (Moscow local times)."""
    office = await build_office(db)
    async with db.transaction() as s:
        b = Builder(s, office)
        # Number 1 tries three times on Monday and never gets through: one caller lost.
        for i, hh in enumerate((9, 10, 11)):
            await b.call(f"n1.{i}", "inbound", at(MONDAY, hh), phone=number(1), answered=False)
        # Number 2 misses at 9:30 and gets through at 9:40: a caller who got through.
        await b.call("n2.miss", "inbound", at(MONDAY, 9, 30), phone=number(2), answered=False)
        await b.call(
            "n2.ok", "inbound", at(MONDAY, 9, 40), phone=number(2), manager="Анна", talk=60
        )
        # Number 3 gets through at once.
        await b.call("n3", "inbound", at(MONDAY, 12), phone=number(3), manager="Борис", talk=30)
        # An anonymous caller misses: counted per call, not per caller (no number to tell).
        await b.call("anon", "inbound", at(MONDAY, 13), answered=False)
        # Number 4 misses at 23:59 Monday and gets through at 00:05 Tuesday.
        await b.call("n4.miss", "inbound", at(MONDAY, 23, 59), phone=number(4), answered=False)
        await b.call(
            "n4.ok", "inbound", at(TUESDAY, 0, 5), phone=number(4), manager="Борис", talk=20
        )
        # Anna's call-back to number 1 on Monday is a recovery, not number 1 getting through.
        await b.call("cb1", "outbound", at(MONDAY, 15), phone=number(1), manager="Анна", talk=40)
    return office


async def test_lcr_per_caller_counts_each_number_once_a_day(db: Database) -> None:
    await build_callers(db)
    monday = await build_daily(db, MONDAY, TUESDAY_NOON, settings())
    i = monday.inbound
    # Per call: 8 inbound (n1 ×3, n2 ×2, n3, anon, n4), 6 missed.
    assert (i.offered, i.missed, i.lcr) == (8, 6, 0.75)
    # Per caller: numbers 1, 2, 3, 4 called; 1 and 4 never got through on Monday.
    assert (i.callers, i.callers_lost, i.lcr_per_caller) == (4, 2, 0.5)
    tuesday = await build_daily(db, TUESDAY, TUESDAY_NOON, settings())
    assert (tuesday.inbound.callers, tuesday.inbound.callers_lost) == (1, 0)


async def test_lcr_per_caller_over_a_period_counts_caller_days(db: Database) -> None:
    await build_callers(db)
    table = await build_stats(db, MONDAY, TUESDAY, "day", TUESDAY_NOON, settings())
    mon, tue = table.rows
    assert (mon.inbound.callers, mon.inbound.callers_lost) == (4, 2)
    assert (tue.inbound.callers, tue.inbound.callers_lost) == (1, 0)
    # Number 4 counts on Monday (lost) and on Tuesday (got through): 5 caller-days, 2 lost.
    total = table.total.inbound
    assert (total.callers, total.callers_lost, total.lcr_per_caller) == (5, 2, 0.4)
    assert (total.offered, total.missed) == (9, 6)
    by_manager = await build_stats(db, MONDAY, TUESDAY, "manager", TUESDAY_NOON, settings())
    assert by_manager.total.inbound.lcr_per_caller == 0.4


def test_lcr_per_caller_is_printed_next_to_the_per_call_rate(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_callers)
    as_of = ("--as-of", "2026-11-24 12:00")
    text = cli_msk("report", "daily", "--date", "2026-11-23", *as_of).out
    assert "Lost Call Rate: 75.0% all" in text
    assert "· 50.0% per caller (2 of 4 callers could not get through)" in text
    data = json.loads(
        cli_msk("report", "daily", "--date", "2026-11-23", "--format", "json", *as_of).out
    )
    assert (data["inbound"]["lcr"], data["inbound"]["lcr_per_caller"]) == (0.75, 0.5)
    stats = cli_msk("stats", "--from", "2026-11-23", "--to", "2026-11-24", "--by", "day", *as_of)
    assert "LCR per caller" in stats.out
    assert "40.0% per caller (2 of 5 callers could not get through)" in stats.out
    as_json = json.loads(
        cli_msk(
            "--json", "stats", "--from", "2026-11-23", "--to", "2026-11-24", "--by", "day", *as_of
        ).out
    )
    assert [r["inbound"]["lcr_per_caller"] for r in as_json["rows"]] == [0.5, 0.0]


# --- (c) the activity baseline counts only days on shift --------------------------------------


async def build_shifts(db: Database, today_holiday: bool = False) -> Office:
    """Продажи works Mon–Fri 9–18. Анна, 120 s a call, on the four Fridays before DAY:
    DAY−1w a holiday (no calls), DAY−2w her day off (no calls), DAY−3w and DAY−4w 10 calls each;
    on DAY (Friday 2026-11-20) 3 calls."""
    office = await build_office(db)
    sales = office.ids["Продажи"]
    async with db.transaction() as s:
        for weekday in range(5):
            s.add(
                WorkingHours(
                    department_id=sales, weekday=weekday, starts_at=time(9), ends_at=time(18)
                )
            )
        s.add(Holiday(department_id=sales, day=DAY - timedelta(weeks=1)))
        if today_holiday:
            s.add(Holiday(department_id=sales, day=DAY))
        b = Builder(s, office)
        for week in (3, 4):
            friday = DAY - timedelta(weeks=week)
            for i in range(10):
                await b.call(
                    f"w{week}.{i}",
                    "outbound",
                    at(friday, 10, i),
                    phone=number(50),
                    manager="Анна",
                    talk=120,
                )
        for i in range(3):
            await b.call(
                f"today.{i}", "outbound", at(DAY, 10, i), phone=number(50), manager="Анна", talk=120
            )
    return office


async def test_holidays_and_days_off_no_longer_hide_a_drop(db: Database) -> None:
    await build_shifts(db)
    report = await build_daily(db, DAY, NEXT_NOON, settings())
    flagged = {(a.subject, a.measure): a for a in report.alerts}
    # Анна on shift on two of the four Fridays (the holiday and her day off left out):
    # baseline 10 calls, 20 minutes; today 3 calls, 6 minutes — a drop. Counting the two days
    # as zeros (5 calls, 10 minutes) would have hidden it (3 ≥ 2.5, 6 ≥ 5).
    calls = flagged[("Анна", "calls")]
    assert (calls.today, calls.baseline, calls.baseline_days) == (3, 10, 2)
    assert "on an average Friday on shift (2 of the last 4 weeks)" in calls.message
    minutes = flagged[("Анна", "minutes")]
    assert (minutes.today, minutes.baseline) == (6, 20)
    # The department was open three of those Fridays (her day off is a day the department
    # worked, with nobody calling): (0 + 10 + 10) / 3 calls, (0 + 20 + 20) / 3 minutes.
    dept = flagged[("department Продажи", "calls")]
    assert (dept.baseline, dept.baseline_days) == (pytest.approx(6.7), 3)
    assert flagged[("department Продажи", "minutes")].baseline == pytest.approx(13.3)
    assert set(flagged) == {
        ("Анна", "calls"),
        ("Анна", "minutes"),
        ("department Продажи", "calls"),
        ("department Продажи", "minutes"),
    }


async def test_no_drop_is_flagged_on_a_day_the_department_is_closed(db: Database) -> None:
    await build_shifts(db, today_holiday=True)
    report = await build_daily(db, DAY, NEXT_NOON, settings())
    assert report.alerts == []
    saturday = await build_daily(db, DAY + timedelta(1), NEXT_NOON, settings())
    assert saturday.alerts == []


async def test_a_day_in_progress_judges_presence_on_the_whole_baseline_day(db: Database) -> None:
    office = await build_office(db)
    async with db.transaction() as s:
        b = Builder(s, office)
        # DAY−1w: Анна worked the afternoon only (10 calls from 15:00); DAY−2w: 10 calls from
        # 10:00; DAY−3w and DAY−4w: days off. Today by 11:00: one call.
        for week, hour in ((1, 15), (2, 10)):
            for i in range(10):
                friday = DAY - timedelta(weeks=week)
                await b.call(
                    f"w{week}.{i}",
                    "outbound",
                    at(friday, hour, i),
                    phone=number(50),
                    manager="Анна",
                    talk=120,
                )
        await b.call("today", "outbound", at(DAY, 10), phone=number(50), manager="Анна", talk=120)
    report = await build_daily(db, DAY, at(DAY, 11), settings())
    calls = next(a for a in report.alerts if a.subject == "Анна" and a.measure == "calls")
    # By 11:00 she had 0 calls on DAY−1w (yet she was at work that day) and 10 on DAY−2w:
    # baseline (0 + 10) / 2 = 5; the days off are left out.
    assert (calls.today, calls.baseline, calls.baseline_days) == (1, 5, 2)
