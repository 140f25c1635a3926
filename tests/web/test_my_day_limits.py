"""My day stays small however much work piles up (issue #16, Speed): each section shows its 20 most
urgent entries, counts them all, and links to the rest; every page says its server time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from callrouter.web.pages.my_day import SECTION_LIMIT
from crm import contacts, staff
from crm.call_sink import DbCallSink
from models.db import Database
from tests.crm.test_access import build_world
from tests.sink.test_call_sink import T0, inbound
from tests.web.test_pages_my_day import _task, section, task_ids

# The app's clock (tests/web/conftest.py): Wednesday 2 December 2026, 12:00 in Moscow.


async def test_a_long_overdue_list_shows_the_most_urgent_and_links_to_the_rest(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)  # Анна's one task is due 27 November: overdue
    base = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    extra = [
        await _task(db, "101", base + timedelta(hours=i), f"late {i}")
        for i in range(SECTION_LIMIT + 2)
    ]
    today = await _task(db, "101", datetime(2026, 12, 2, 15, 0, tzinfo=UTC), "today")
    anna = await make_user("manager", w.managers["anna"], locale="en")
    async with client_for(anna) as client:
        page = await client.get("/my-day")
        everything = await client.get("/my-day?all=1")
    assert page.status_code == everything.status_code == 200
    overdue = section(page.text, "overdue")
    every_overdue = [w.tasks["anna"], *extra]  # soonest due first
    assert task_ids(overdue) == every_overdue[:SECTION_LIMIT]
    assert f'<span class="badge overdue">{len(every_overdue)}</span>' in overdue
    more = len(every_overdue) - SECTION_LIMIT
    assert f'<a href="/my-day?all=1#overdue">and {more} more</a>' in overdue
    # A section within the limit shows no link.
    assert task_ids(section(page.text, "today")) == [today]
    assert "more</a>" not in section(page.text, "today")
    # The whole list.
    assert task_ids(section(everything.text, "overdue")) == every_overdue
    assert "more</a>" not in section(everything.text, "overdue")


async def test_many_unreturned_misses_show_the_oldest_and_link_to_the_board(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    numbers = [f"+7916555{i:04d}" for i in range(SECTION_LIMIT + 3)]
    async with db.transaction() as s:
        manager = await staff.get_manager(s, "101", "PJSIP")
        for n in numbers:
            await contacts.add_contact(s, n, region="RU", name=None, responsible=manager)
    sink = DbCallSink(db)
    for i, n in enumerate(numbers):
        call = inbound(f"lim.{i}", at=T0 + timedelta(minutes=i), answered_by=None, number=n)
        await sink.store(call)
    anna = await make_user("manager", w.managers["anna"], locale="ru")
    async with client_for(anna) as client:
        page = await client.get("/my-day")
    missed = section(page.text, "missed")
    shown = re.findall(r'data-number="([^"]+)"', missed)
    assert shown == numbers[:SECTION_LIMIT]  # the oldest first
    assert f'<span class="badge missed">{len(numbers)}</span>' in missed
    assert '<a href="/missed">и ещё 3</a>' in missed


async def test_every_answer_says_its_server_time(db: Database, make_user, client_for) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"])
    async with client_for(anna) as client:
        for path in ("/my-day", f"/deals/{w.deals['anna']}", "/deals/999999", "/static/app.css"):
            answer = await client.get(path)
            timing = answer.headers.get("server-timing", "")
            assert re.fullmatch(r"app;dur=\d+\.\d", timing), (path, timing)
