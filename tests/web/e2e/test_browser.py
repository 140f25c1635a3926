"""Issue #16, "Done when": the web application in a real headless Chromium against the real
`callrouter web` on SQLite and PostgreSQL — log-in, the deal card's player (play, duration,
seek over HTTP Range) and download, the task form's error, the status rule, role isolation,
the owner's analytics against `callrouter report daily --format json`, a phone's 390 px
viewport and the two languages. Screenshots land in tests/web/e2e/artifacts/<backend>/."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Response
from sqlalchemy import func, select

from callrouter.web.security import SESSION_COOKIE
from models.tables import AutomationRule, Task, User

from .conftest import RULE_COMMENT, Server, log_in, new_context, shoot

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def widths(page: Page) -> tuple[int, int]:
    """The document's scroll width and the viewport's width, in CSS pixels."""
    return tuple(
        await page.evaluate(
            "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
        )
    )  # type: ignore[return-value]


async def task_count(server: Server, **where: Any) -> int:
    db = server.database()
    try:
        async with db.reader() as s:
            query = select(func.count()).select_from(Task)
            for column, value in where.items():
                query = query.where(getattr(Task, column) == value)
            return int(await s.scalar(query) or 0)
    finally:
        await db.dispose()


def watch_console(page: Page, problems: list[str]) -> None:
    """Collect console errors and uncaught exceptions (a CSP violation, a missing icon or
    stylesheet is one)."""

    def console(message: ConsoleMessage) -> None:
        url = message.location.get("url") or ""
        if message.type == "error":
            problems.append(f"{message.text} ({url})")

    page.on("console", console)
    page.on("pageerror", lambda e: problems.append(str(e)))


async def test_every_page_renders_for_the_manager_and_the_owner(
    browser: Browser, server: Server
) -> None:
    c = server.company
    problems: list[str] = []
    context = await new_context(browser, server)
    try:
        page = await context.new_page()
        watch_console(page, problems)
        await page.goto("/login")
        await shoot(page, server, "01-login")
        # A wrong password: the form says so and nobody is logged in.
        await page.fill('input[name="login"]', c.logins["anna"])
        await page.fill('input[name="password"]', "not the password")
        async with page.expect_response(lambda r: r.request.method == "POST") as refused:
            await page.click('button[type="submit"].primary')
        assert (await refused.value).status == 400
        await page.wait_for_selector("p.error")
        assert page.url.endswith("/login")
        assert SESSION_COOKIE not in {cookie["name"] for cookie in await context.cookies()}
        await shoot(page, server, "02-login-refused")
        # The browser reports the 400 answer itself; nothing else may be there.
        assert [p for p in problems if "status of 400" not in p] == [], problems
        problems.clear()
        await page.close()

        page = await log_in(context, "anna", server)
        watch_console(page, problems)
        assert page.url.endswith("/my-day"), page.url  # a manager's home
        for section in ("overdue", "today", "tomorrow", "missed"):
            assert await page.locator(f"section#{section}").count() == 1, section
        shown = {
            int(x) for x in await page.locator("[data-task-id]").evaluate_all(
                "els => els.map(e => e.dataset.taskId)"
            )
        }  # fmt: skip
        assert {c.tasks["overdue"], c.tasks["today"], c.tasks["tomorrow"]} <= shown
        assert c.tasks["boris"] not in shown
        assert await page.locator(f'#overdue [data-task-id="{c.tasks["overdue"]}"]').count() == 1
        assert await page.locator("#missed li").count() >= 1
        await shoot(page, server, "03-my-day")
        pages = [
            ("04-deals", "/deals"),
            ("05-deal-card", f"/deals/{c.deals['anna']}"),
            ("06-contacts", "/contacts"),
            ("07-contact-card", f"/contacts/{c.contacts['anna']}"),
            ("08-missed", "/missed"),
        ]
        for name, url in pages:
            response = await page.goto(url)
            assert response is not None and response.status == 200, (url, response)
            await shoot(page, server, name)
        assert problems == [], problems
    finally:
        await context.close()

    context = await new_context(browser, server, locale="en-GB")
    try:
        page = await log_in(context, "owner", server)
        watch_console(page, problems)
        assert page.url.endswith("/analytics"), page.url  # the owner's home
        # (Yesterday's page is the analytics test's: the app keeps a computed report a
        # minute, and the tests in between change the open tasks it counts.)
        response = await page.goto("/analytics")
        assert response is not None and response.status == 200
        await shoot(page, server, "10-analytics-today")
        await page.goto(f"/deals?manager={c.managers['boris']}")
        await shoot(page, server, "11-deals-owner")
        assert problems == [], problems
    finally:
        await context.close()


async def test_the_manager_plays_seeks_and_downloads_a_recording(
    browser: Browser, server: Server
) -> None:
    c = server.company
    call_id = c.calls["anna-rec-1"]
    path, seconds = c.recordings[call_id]
    context = await new_context(browser, server)
    try:
        page = await log_in(context, "anna", server)
        await page.goto("/deals")
        # Open the card the way a person does: from the list.
        async with page.expect_navigation():
            await page.click(f'a[href="/deals/{c.deals["anna"]}"]')
        assert page.url.endswith(f"/deals/{c.deals['anna']}")
        assert c.deal_titles["anna"] in await page.inner_text("h1")
        ranges: list[Response] = []
        page.on(
            "response",
            lambda r: ranges.append(r) if f"/calls/{call_id}/recording" in r.url else None,
        )
        audio = page.locator(f'article.call[data-call-id="{call_id}"] audio')
        assert await audio.count() == 1
        # Its length as the browser decoded it from the served file.
        await audio.evaluate(
            """a => a.readyState >= 1 ? null : new Promise((ok, bad) => {
                a.addEventListener("loadedmetadata", ok, {once: true});
                a.addEventListener("error", () => bad(new Error("audio error " + a.error.code)));
                a.load();
            })"""
        )
        duration = await audio.evaluate("a => a.duration")
        assert abs(duration - seconds) <= 1.0, (duration, seconds)
        # Play: currentTime moves on.
        await audio.evaluate("a => a.play()")
        await page.wait_for_function(
            "a => !a.paused && a.currentTime > 0.3", arg=await audio.element_handle()
        )
        # Seek to the middle: the player asks for a byte range, and carries on from there.
        middle = duration / 2
        await audio.evaluate(
            """(a, t) => new Promise(ok => {
                a.addEventListener("seeked", ok, {once: true});
                a.currentTime = t;
            })""",
            middle,
        )
        now = await audio.evaluate("a => a.currentTime")
        assert abs(now - middle) <= 1.0, (now, middle)
        await page.wait_for_function(
            "([a, t]) => a.currentTime > t + 0.2",
            arg=[await audio.element_handle(), middle],
        )
        await audio.evaluate("a => a.pause()")
        # The player got byte ranges (206), so it knows the whole length is seekable.
        assert any(r.status == 206 for r in ranges), [(r.status, r.url) for r in ranges]
        for r in ranges:
            assert r.headers.get("accept-ranges") == "bytes"
        seekable = await audio.evaluate(
            "a => a.seekable.length === 1 ? [a.seekable.start(0), a.seekable.end(0)] : null"
        )
        assert seekable is not None and seekable[0] == 0 and abs(seekable[1] - duration) < 0.5
        # The middle of the file asked for by the page itself, with the session's cookie.
        data = path.read_bytes()
        half = len(data) // 2
        status, content_range, tail_hex = await page.evaluate(
            """async ([url, start]) => {
                const r = await fetch(url, {headers: {Range: `bytes=${start}-`}});
                const bytes = new Uint8Array(await r.arrayBuffer());
                return [r.status, r.headers.get("content-range"),
                        Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("")];
            }""",
            [f"/calls/{call_id}/recording", half],
        )
        assert (status, content_range) == (206, f"bytes {half}-{len(data) - 1}/{len(data)}")
        assert bytes.fromhex(tail_hex) == data[half:]
        await shoot(page, server, "12-deal-card-playing")

        # Download: the browser saves the file's exact bytes under the name.
        async with page.expect_download() as info:
            await page.click(f'article.call[data-call-id="{call_id}"] a.download')
        download = await info.value
        saved = await download.path()
        assert saved is not None and saved.read_bytes() == path.read_bytes()
        assert re.fullmatch(
            rf"{c.day.isoformat()}_\+?\d+_{call_id}\.wav", download.suggested_filename
        ), download.suggested_filename
    finally:
        await context.close()


async def test_a_task_without_a_deadline_shows_the_error_and_writes_nothing(
    browser: Browser, server: Server
) -> None:
    c = server.company
    before = await task_count(server)
    context = await new_context(browser, server)
    try:
        page = await log_in(context, "anna", server)
        await page.goto(f"/deals/{c.deals['anna']}")
        form = page.locator("#tasks form.new-task")
        await form.locator('select[name="responsible"]').select_option(str(c.managers["anna"]))
        await form.locator('select[name="type"]').select_option("meeting")
        await form.locator('textarea[name="comment"]').fill("Встреча на объекте")
        async with page.expect_response(
            lambda r: r.url.endswith(f"/deals/{c.deals['anna']}/tasks")
        ) as answer:
            await form.locator('button[type="submit"]').click()
        assert (await answer.value).status == 400
        error = page.locator('#tasks p.error[data-field="due"]')
        await error.wait_for()
        assert (await error.inner_text()).strip()
        # The form comes back with what was typed.
        form = page.locator("#tasks form.new-task")
        assert await form.locator('textarea[name="comment"]').input_value() == "Встреча на объекте"
        assert await form.locator('select[name="type"]').input_value() == "meeting"
        assert await page.locator('#tasks p.error:not([data-field="due"])').count() == 0
        await shoot(page, server, "13-task-without-deadline")
    finally:
        await context.close()
    assert await task_count(server) == before


async def test_proposal_sent_shows_the_rules_task(browser: Browser, server: Server) -> None:
    c = server.company
    deal_id = c.deals["anna2"]
    assert await task_count(server, deal_id=deal_id, created_by="rule") == 0
    context = await new_context(browser, server)
    try:
        page = await log_in(context, "anna", server)
        await page.goto(f"/deals/{deal_id}")
        await page.select_option('#deal-status select[name="status"]', "proposal_sent")
        async with page.expect_navigation():
            await page.click('#deal-status button[type="submit"]')
        assert page.url.split("#")[0].endswith(f"/deals/{deal_id}"), page.url
        expected = RULE_COMMENT.format(contact_name=c.client_names["anna2"])
        tasks = page.locator("#tasks")
        assert expected in await tasks.inner_text()
        assert await page.locator('[data-status="proposal_sent"]').count() == 1
        await shoot(page, server, "14-proposal-sent")
    finally:
        await context.close()
    db = server.database()
    try:
        async with db.reader() as s:
            rules = await s.scalar(
                select(func.count())
                .select_from(AutomationRule)
                .where(AutomationRule.on_status == "proposal_sent", AutomationRule.active.is_(True))
            )
    finally:
        await db.dispose()
    assert rules and await task_count(server, deal_id=deal_id, created_by="rule") == rules


async def test_the_manager_cannot_open_a_colleagues_deal_or_recording(
    browser: Browser, server: Server
) -> None:
    c = server.company
    secrets = [
        c.client_names["boris"],
        c.deal_titles["boris"],
        "Бориса",
        "2220002",
        "222-00-02",
        "boris-rec-1",
        "RIFF",
    ]
    context = await new_context(browser, server)
    try:
        page = await log_in(context, "anna", server)
        boris_call = c.calls["boris-rec-1"]
        for url in (
            f"/deals/{c.deals['boris']}",
            f"/contacts/{c.contacts['boris']}",
            f"/calls/{boris_call}/recording",
            f"/calls/{boris_call}/recording?download=1",
        ):
            answer = await context.request.get(url, headers={"Range": "bytes=0-99"})
            assert answer.status == 404, (url, answer.status)
            assert "content-disposition" not in answer.headers
            body = await answer.text()
            for secret in secrets:
                assert secret not in body, (url, secret)
        response = await page.goto(f"/deals/{c.deals['boris']}")
        assert response is not None and response.status == 404
        shown = await page.inner_text("body")
        assert not any(secret in shown for secret in secrets), shown
        await shoot(page, server, "15-colleagues-deal-404")
    finally:
        await context.close()


def resolve(report: Any, path: str) -> Any:
    """The JSON report's value at a data-metric path (a list is entered by its rows' `key`)."""
    node = report
    for part in path.split("."):
        if node is None:  # a manager without inbound calls has no inbound figures: "—"
            return None
        if isinstance(node, list):
            rows = [row for row in node if str(row.get("key")) == part]
            assert len(rows) == 1, f"{path}: one row keyed {part}"
            node = rows[0]
        else:
            assert isinstance(node, dict) and part in node, f"{path}: no {part!r} in the JSON"
            node = node[part]
    return node


def reads_as(value: Any, text: str) -> bool:
    """The figure as the English page prints it: 1,234 · 12.5% · 3.4 · 1:05 · — for none."""
    text = text.strip()
    if value is None:
        return text in ("—", "-", "")
    if isinstance(value, bool):
        return text.lower() in (str(value).lower(), "yes" if value else "no")
    if isinstance(value, int):
        return text.replace(",", "") == str(value) or (
            ":" in text and abs(seconds_of(text) - value) <= 0.5
        )
    if isinstance(value, float):
        if ":" in text:
            return abs(seconds_of(text) - value) <= 0.5
        if text.endswith("%"):
            return abs(float(text[:-1].replace(",", "")) - value * 100) <= 0.05 + 1e-9
        return abs(float(text.replace(",", "")) - value) <= 0.05 + 1e-9
    return text == str(value)


def seconds_of(text: str) -> float:
    return float(sum(int(p) * 60**i for i, p in enumerate(reversed(text.split(":")))))


async def test_the_owners_analytics_equal_the_json_report(browser: Browser, server: Server) -> None:
    c = server.company
    context = await new_context(browser, server, locale="en-GB")
    try:
        page = await log_in(context, "owner", server)  # an English-speaking owner
        response = await page.goto(f"/analytics?date={c.day.isoformat()}")
        assert response is not None and response.status == 200
        await shoot(page, server, "09-analytics-day")
        figures = await page.locator("[data-metric]").evaluate_all(
            "els => els.map(e => [e.dataset.metric, e.dataset.value, e.textContent])"
        )
    finally:
        await context.close()
    done = server.cli("report", "daily", "--format", "json", "--date", c.day.isoformat())
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert figures, "the page marks its figures with data-metric"
    for path, raw, text in figures:
        expected = resolve(report, path)
        if raw is not None:
            got = json.loads(raw)
            assert got == (pytest.approx(expected) if isinstance(expected, float) else expected), (
                f"{path}: page {got!r}, JSON {expected!r}"
            )
        assert reads_as(expected, text), f"{path}: {text!r} is not {expected!r}"
    paths = {path for path, _, _ in figures}
    for manager in ("anna", "boris", "head"):
        assert f"managers.{c.managers[manager]}.calls.made" in paths, manager
        assert f"managers.{c.managers[manager]}.calls.received" in paths, manager
    for department in c.departments.values():
        assert f"departments.{department}.calls.calls" in paths
    assert {"calls.made", "calls.received", "inbound.lcr"} <= paths
    # Not a comparison of zeros: the seeded day has traffic, misses and talk.
    assert report["calls"]["made"] > 0 and report["calls"]["received"] > 0
    assert report["inbound"]["missed"] > 0 and report["inbound"]["lcr"] > 0


async def test_no_horizontal_scroll_on_a_phone(browser: Browser, server: Server) -> None:
    c = server.company
    context = await new_context(
        browser, server, viewport={"width": 390, "height": 844}, device_scale_factor=2
    )
    try:
        page = await log_in(context, "anna", server)
        for name, url in (
            ("16-phone-my-day", "/my-day"),
            ("17-phone-deal-card", f"/deals/{c.deals['anna']}"),
        ):
            await page.goto(url)
            width, client = await widths(page)
            await shoot(page, server, name)
            assert width <= client, f"{url}: {width} px wide in a {client} px viewport"
    finally:
        await context.close()


async def test_russian_and_english(browser: Browser, server: Server) -> None:
    c = server.company
    context = await new_context(browser, server)
    try:
        page = await log_in(context, "head", server)  # no language of their own: ru by default
        nav = page.locator('nav a[href="/deals"]')
        assert (await nav.inner_text()).strip() == "Сделки"
        assert await page.get_attribute("html", "lang") == "ru"
        await page.goto("/deals")
        async with page.expect_navigation():
            await page.click('form.lang button[value="en"]')
        assert page.url.endswith("/deals"), page.url  # back on the same page
        assert (await nav.inner_text()).strip() == "Deals"
        assert await page.get_attribute("html", "lang") == "en"
        await shoot(page, server, "18-deals-english")
        await page.goto("/missed")  # the choice is kept
        assert (await nav.inner_text()).strip() == "Deals"
        db = server.database()
        try:
            async with db.reader() as s:
                stored = await s.scalar(select(User.locale).where(User.login == c.logins["head"]))
        finally:
            await db.dispose()
        assert stored == "en"
        async with page.expect_navigation():
            await page.click('form.lang button[value="ru"]')
        assert (await nav.inner_text()).strip() == "Сделки"
    finally:
        await context.close()
