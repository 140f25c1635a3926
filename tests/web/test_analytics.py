"""GET /analytics shows the figures of `callrouter report daily --format json` (one day) and of
`callrouter stats --json` (a period), key by key, on SQLite and PostgreSQL; a head of sales sees
their department's rows, a manager no analytics at all."""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callrouter.cli import main
from crm.staff import add_department
from models.db import Database
from models.tables import Call, CallLeg

ZONE = ZoneInfo("Europe/Moscow")
DAY = date(2026, 11, 25)  # a Wednesday; the app's clock stands at 2 December, 12:00 Moscow
AS_OF = "2026-12-02 12:00"
METRIC = re.compile(r'<span data-metric="([^"]+)" data-value="([^"]*)">([^<]*)</span>')


async def fill(db: Database, managers: list[int], seed: int = 4) -> None:
    """A seeded fortnight of calls ending on DAY: inbound answered and missed (short abandons,
    after hours, recovered or not), outbound made and answered, with the legs that rang."""
    rnd = random.Random(seed)
    async with db.transaction() as s:
        n = 0
        for back in range(14):
            day = DAY - timedelta(days=back)
            for _ in range(rnd.randint(8, 16) if back else 30):
                n += 1
                hour = rnd.choice([8, 9, 10, 11, 12, 14, 15, 16, 17, 19])
                local = datetime.combine(day, time(hour), tzinfo=ZONE) + timedelta(
                    seconds=rnd.randint(0, 3599)
                )
                start = local.astimezone(UTC)
                who = rnd.choice(managers)
                number = f"+7916000{rnd.randint(0, 40):04d}"
                outbound = rnd.random() < 0.35
                answered = rnd.random() < (0.7 if outbound else 0.75)
                ring = rnd.uniform(2, 30)
                talk = rnd.uniform(15, 400) if answered else 0.0
                abandon = None if answered or outbound else rnd.uniform(1, 12)
                call = Call(
                    system="pbx1",
                    linkedid=f"an-{n}",
                    direction="outbound" if outbound else "inbound",
                    external_number=number,
                    external_number_raw=number,
                    started_at=start,
                    answered_at=start + timedelta(seconds=ring) if answered else None,
                    ended_at=start + timedelta(seconds=ring + talk),
                    ring_seconds=ring,
                    talk_seconds=talk,
                    disposition="ANSWERED" if answered else "NO ANSWER",
                    missed=not outbound and not answered,
                    abandoned=abandon is not None,
                    abandon_seconds=abandon,
                    after_hours=not outbound and (hour < 9 or hour >= 18),
                    manager_id=who if answered or outbound else None,
                    answered_by_manager_id=who if answered and not outbound else None,
                    variables={},
                )
                if call.missed and rnd.random() < 0.5:
                    call.recovered_at = start + timedelta(minutes=rnd.randint(5, 90))
                s.add(call)
                await s.flush()
                if not outbound:
                    for rung in {who, rnd.choice(managers)}:
                        s.add(
                            CallLeg(
                                call_id=call.id,
                                endpoint=f"PJSIP/{rung}",
                                manager_id=rung,
                                ring_seconds=ring,
                                answered=answered and rung == who,
                            )
                        )


def figures(page: str) -> dict[str, tuple[Any, str]]:
    found = {
        html.unescape(path): (json.loads(html.unescape(raw)), html.unescape(text))
        for path, raw, text in METRIC.findall(page)
    }
    assert found, "the page marks its figures"
    return found


def resolve(data: Any, path: str) -> Any:
    """The JSON report's value at a data-metric path (a list of rows entered by its `key`)."""
    node = data
    for part in path.split("."):
        if node is None:
            return None
        if isinstance(node, list):
            rows = [row for row in node if str(row["key"]) == part]
            assert len(rows) == 1, f"{path}: one row with key {part}"
            node = rows[0]
        else:
            node = node[part]
    return node


def reads_as(value: Any, text: str) -> bool:
    """The text on the page is that value (English forms: 1,234 · 12.5% · 3.4 · 1:05)."""
    if value is None:
        return text == "—"
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return text == f"{value:,}"
    if ":" in text:
        parts = [int(p) for p in text.split(":")]
        seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
        return abs(seconds - value) <= 0.5
    if text.endswith("%"):
        return abs(float(text[:-1].replace(",", "")) - value * 100) <= 0.05 + 1e-9
    return abs(float(text.replace(",", "")) - value) <= 0.05 + 1e-9


async def cli_json(monkeypatch, capsys, db_url: str, *args: str) -> Any:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", db_url)
    monkeypatch.setenv("CALLROUTER_TIMEZONE", "Europe/Moscow")
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(args))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


@pytest.fixture
async def company(db: Database, make_user):  # type: ignore[no-untyped-def]
    async with db.transaction() as s:
        north = (await add_department(s, "North", "Europe/Moscow")).id
        south = (await add_department(s, "South", "Europe/Moscow")).id
    people = {
        "anna": await make_user("manager", department_id=north, name="Anna"),
        "boris": await make_user("manager", department_id=north, name="Boris"),
        "vera": await make_user("manager", department_id=south, name="Vera"),
        "head": await make_user("head_of_sales", department_id=north, name="Head", locale="en"),
        "owner": await make_user("owner", locale="en"),
    }
    managers = [people[k].manager_id for k in ("anna", "boris", "vera", "head")]
    await fill(db, managers)
    return people, north, south


def compare(page: str, report: Any) -> dict[str, tuple[Any, str]]:
    shown = figures(page)
    for path, (raw, text) in shown.items():
        expected = resolve(report, path)
        assert raw == pytest.approx(expected) if isinstance(expected, float) else raw == expected, (
            f"{path}: page {raw!r}, JSON {expected!r}"
        )
        assert reads_as(expected, text), f"{path}: {text!r} does not read as {expected!r}"
    return shown


async def test_the_owners_day_equals_the_json_report(
    company, client_for, db_url: str, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    people, north, south = company
    report = await cli_json(
        monkeypatch, capsys, db_url,
        "report", "daily", "--date", DAY.isoformat(), "--as-of", AS_OF, "--format", "json",
    )  # fmt: skip
    async with client_for(people["owner"]) as client:
        answer = await client.get(f"/analytics?date={DAY.isoformat()}")
    assert answer.status_code == 200
    shown = compare(answer.text, report)
    # The figures the issue names are all there, per manager and per department too.
    for path in (
        "calls.made", "calls.received", "calls.inbound_minutes", "calls.outbound_minutes",
        "inbound.lcr", "inbound.lcr_without_short", "inbound.lcr_per_caller",
        "inbound.lcr_working_hours", "recovery.recovered", "recovery.rate",
        "recovery.median_seconds", "inbound.answer_p50",
    ):  # fmt: skip
        assert path in shown, path
    for manager in ("anna", "boris", "vera", "head"):
        key = people[manager].manager_id
        for what in (
            "calls.made",
            "calls.received",
            "calls.inbound_minutes",
            "calls.outbound_minutes",
        ):
            assert f"managers.{key}.{what}" in shown
    for dept in (north, south):
        assert f"departments.{dept}.calls.calls" in shown
    # Not a vacuous comparison: the day has traffic, misses and a rate.
    assert report["calls"]["made"] > 0 and report["calls"]["received"] > 0
    assert report["inbound"]["missed"] > 0 and report["inbound"]["lcr"] is not None
    assert "<svg" in answer.text  # the charts, drawn on the server
    assert re.search(r"<script(?![^>]*\bsrc=)", answer.text) is None  # no inline script


async def test_a_period_equals_the_stats_json(
    company, client_for, db_url: str, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    people, north, south = company
    first = DAY - timedelta(days=6)
    period = ("--from", first.isoformat(), "--to", DAY.isoformat(), "--as-of", AS_OF)
    data = {
        "by_manager": await cli_json(
            monkeypatch, capsys, db_url, "--json", "stats", *period, "--by", "manager"
        ),
        "by_department": await cli_json(
            monkeypatch, capsys, db_url, "--json", "stats", *period, "--by", "department"
        ),
    }
    async with client_for(people["owner"]) as client:
        answer = await client.get(f"/analytics?from={first.isoformat()}&to={DAY.isoformat()}")
    assert answer.status_code == 200
    shown = compare(answer.text, data)
    assert "by_manager.total.calls.made" in shown and "by_manager.total.inbound.lcr" in shown
    assert f"by_manager.rows.{people['vera'].manager_id}.calls.received" in shown
    assert f"by_department.rows.{south}.calls.calls" in shown
    assert data["by_manager"]["total"]["calls"]["calls"] > 50


async def test_a_head_of_sales_sees_their_department(
    company, client_for, db_url: str, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    people, north, south = company
    report = await cli_json(
        monkeypatch, capsys, db_url,
        "report", "daily", "--date", DAY.isoformat(), "--as-of", AS_OF, "--format", "json",
    )  # fmt: skip
    async with client_for(people["head"]) as client:
        answer = await client.get(f"/analytics?date={DAY.isoformat()}")
    assert answer.status_code == 200
    shown = compare(answer.text, report)
    rows = {p.split(".")[1] for p in shown if p.startswith("managers.")}
    north_people = {str(people[k].manager_id) for k in ("anna", "boris", "head")}
    assert rows == north_people
    assert {p.split(".")[1] for p in shown if p.startswith("departments.")} == {str(north)}
    assert "Vera" not in answer.text and "South" not in answer.text


async def test_managers_have_no_analytics_and_bad_periods_are_explained(
    company, client_for
) -> None:  # type: ignore[no-untyped-def]
    people, _, _ = company
    async with client_for(people["anna"]) as client:
        assert (await client.get("/analytics")).status_code == 404
        assert (await client.get(f"/analytics?date={DAY.isoformat()}")).status_code == 404
    async with client_for(people["owner"]) as client:
        today = await client.get("/analytics")
        assert today.status_code == 200 and "so far, as of" in today.text
        for query, message in (
            ("date=25.11.2026", "Not a date: use YYYY-MM-DD."),
            ("from=2026-11-25&to=2026-11-20", "The period ends before it starts."),
            ("from=2024-01-01&to=2026-11-20", "The period is longer than 366 days."),
        ):
            answer = await client.get(f"/analytics?{query}")
            assert answer.status_code == 400
            assert f'<p class="error" data-field="period">{message}</p>' in answer.text


async def test_the_page_in_russian_shows_the_same_figures(
    company, make_user, client_for, db_url: str, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    owner_ru = await make_user("owner", locale="ru")
    report = await cli_json(
        monkeypatch, capsys, db_url,
        "report", "daily", "--date", DAY.isoformat(), "--as-of", AS_OF, "--format", "json",
    )  # fmt: skip
    async with client_for(owner_ru) as client:
        answer = await client.get(f"/analytics?date={DAY.isoformat()}")
    assert answer.status_code == 200
    for word in ("Аналитика", "Звонки по часам", "Доля потерянных звонков", "все пропущенные"):
        assert word in answer.text, word
    assert "Calls per hour" not in answer.text
    shown = figures(answer.text)
    for path, (raw, _shown) in shown.items():
        expected = resolve(report, path)
        assert raw == (pytest.approx(expected) if isinstance(expected, float) else expected)
    lcr = report["inbound"]["lcr"]
    assert shown["inbound.lcr"][1] == f"{lcr * 100:.1f}".replace(".", ",") + "%"  # 12,5%


async def test_the_report_cache_computes_once_for_everyone_and_a_minute_at_most() -> None:
    from callrouter.web.pages.analytics import ReportCache

    cache = ReportCache(seconds=60)
    runs = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal runs
        runs += 1
        await release.wait()
        return runs

    at = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    waiting = [asyncio.create_task(cache.get(("day", DAY), at, compute)) for _ in range(20)]
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 20  # twenty readers, one computation
    assert await cache.get(("day", DAY), at + timedelta(seconds=59), compute) == 1
    assert await cache.get(("day", DAY), at + timedelta(seconds=60), compute) == 2
    assert await cache.get(("day", DAY - timedelta(1)), at, compute) == 3  # another day

    async def fail() -> int:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        await cache.get(("period", DAY), at, fail)
    assert await cache.get(("period", DAY), at, compute) == 4  # a failure is not kept
