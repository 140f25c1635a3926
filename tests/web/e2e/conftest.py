"""End-to-end fixtures (issue #16): the real `callrouter web` and a real headless Chromium.

- `server` (one per database backend per module): a migrated database (SQLite file or
  PostgreSQL, tests/conftest.py's templates) seeded with a small company (`Company`), WAV
  recordings of known length under a recordings folder, and `callrouter web` (uvicorn) in a
  subprocess on a free port; readiness is polled over HTTP. `server.cli(...)` runs the
  `callrouter` CLI against the same settings; `server.database()` opens the database.
- `browser` (one per session): Debian's /usr/bin/chromium driven by Playwright (never
  `playwright install`), headless, with a fresh profile and no background networking.
- `shoot(page, name)`: a full-page screenshot under tests/web/e2e/artifacts/<backend>/ (git
  ignores it), the test artefacts the issue asks to look at.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from callrouter.demo_audio import Voices, write_recording
from crm import automation, contacts, deals, staff, tasks, users
from models.db import Database
from models.tables import Call, CallLeg
from models.values import DealSource, TaskType
from router.directory import Role
from tests.conftest import _fresh_database

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without the background-networking flags Chromium's own
# connections (updates, sync, safe browsing) are refused and slow everything down.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
ZONE = ZoneInfo("Europe/Moscow")
PASSWORD = "e2e correct horse battery"
SECRET_KEY = "e2e-secret-key-0123456789-abcdefghijklmnop"
STATUSES = ["new", "in_progress", "proposal_sent", "won", "lost"]
RULE_COMMENT = "Встреча с {contact_name}: обсудить КП"
READY_TIMEOUT = 60.0
PHONES = {"anna": "+79161110001", "anna2": "+79161110002", "boris": "+79162220002"}


@dataclass
class Company:
    """What the seed made: ids, logins, the day of traffic and the recordings' facts."""

    day: date  # yesterday in Moscow: the day the calls are on
    departments: dict[str, int] = field(default_factory=dict)
    managers: dict[str, int] = field(default_factory=dict)
    logins: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    recordings: dict[int, tuple[Path, float]] = field(default_factory=dict)  # call → file, s
    client_names: dict[str, str] = field(default_factory=dict)
    deal_titles: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    backend: str
    base_url: str
    db_url: str
    config: Path
    workdir: Path
    company: Company
    log: Path

    def database(self) -> Database:
        return Database(self.db_url)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real `callrouter` CLI (another process) on the server's settings file."""
        return subprocess.run(
            [sys.executable, "-c", "from callrouter.cli import entry; entry()", *args],
            env=server_env(self.config),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def server_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}
    env["CALLROUTER_CONFIG"] = str(config)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(
    key: str,
    start: datetime,
    *,
    direction: str = "inbound",
    number: str,
    manager: int | None,
    ring: float,
    talk: float,
    contact: int | None = None,
    deal: int | None = None,
    recording: str | None = None,
) -> Call:
    answered = talk > 0
    return Call(
        system="pbx1",
        linkedid=f"e2e-{key}",
        direction=direction,
        external_number=number,
        external_number_raw=number,
        started_at=start,
        answered_at=start + timedelta(seconds=ring) if answered else None,
        ended_at=start + timedelta(seconds=ring + talk),
        ring_seconds=ring,
        talk_seconds=talk,
        disposition="ANSWERED" if answered else "NO ANSWER",
        missed=direction == "inbound" and not answered,
        manager_id=manager if answered or direction == "outbound" else None,
        answered_by_manager_id=manager if answered and direction == "inbound" else None,
        contact_id=contact,
        deal_id=deal,
        recording_file=recording,
        variables={},
    )


async def seed(db_url: str, recordings: Path, now: datetime) -> Company:
    """A small company: two departments, a head, an owner, two managers (all with web
    accounts), clients, deals, tasks, a rule on "proposal sent", a day of calls (yesterday in
    Moscow) and today's unreturned miss; answered calls of Анна's deal carry WAV recordings."""
    local_today = now.astimezone(ZONE).date()
    company = Company(day=local_today - timedelta(days=1))
    db = Database(db_url)
    voices, rng = Voices(seed=16), random.Random(16)
    try:
        async with db.transaction() as s:
            sales = await staff.add_department(s, "Продажи", "Europe/Moscow")
            await staff.set_hours(s, sales, "mon-sun 09:00-18:00")
            wholesale = await staff.add_department(s, "Оптовые продажи", "Europe/Moscow")
            await staff.set_hours(s, wholesale, "mon-sun 09:00-18:00")
            company.departments = {"sales": sales.id, "wholesale": wholesale.id}
            people = [
                ("anna", "Анна Кузнецова", "PJSIP/101", Role.MANAGER, sales),
                ("boris", "Борис Смирнов", "PJSIP/102", Role.MANAGER, wholesale),
                ("head", "Ольга Руководитель", "PJSIP/103", Role.HEAD_OF_SALES, sales),
                ("owner", "Владелец", "PJSIP/200", Role.OWNER, None),
            ]
            rows = {}
            for key, name, endpoint, role, dept in people:
                rows[key] = await staff.add_manager(
                    s, name=name, endpoint=endpoint, role=role, department=dept
                )
                company.managers[key] = rows[key].id
                login = f"e2e-{key}"
                await users.add_user(
                    s,
                    login,
                    role=role.value,
                    password=PASSWORD,
                    manager=rows[key],
                    locale="en" if key == "owner" else None,  # others: the default, ru
                )
                company.logins[key] = login
            for rule_status in ("proposal_sent",):
                await automation.add_rule(
                    s,
                    name="meeting after the proposal",
                    on_status=rule_status,
                    task_type=TaskType.MEETING,
                    due_after=timedelta(days=2),
                    comment=RULE_COMMENT,
                    statuses=STATUSES,
                )
            clients = [
                ("anna", "anna", "ООО «Стройматериалы Северо-Запад»", "Поставка кирпича, 3 машины"),
                ("anna2", "anna", "Иван Петров", "Окна в загородный дом"),
                ("boris", "boris", "ЗАО «Тайный клиент Бориса»", "Секретная сделка Бориса"),
            ]
            for key, who, name, title in clients:
                contact = await contacts.add_contact(
                    s, PHONES[key], region="RU", name=name, responsible=rows[who]
                )
                deal = await deals.create_deal(
                    s,
                    contact,
                    source=DealSource.MANUAL,
                    now=now - timedelta(days=3),
                    title=title,
                    status="in_progress",
                )
                company.contacts[key], company.deals[key] = contact.id, deal.id
                company.client_names[key], company.deal_titles[key] = name, title
            # Анна's day: one overdue task, one today, one tomorrow.
            anna, deal = rows["anna"], await deals.get_deal(s, company.deals["anna"])
            for key, due, comment in (
                ("overdue", now - timedelta(days=1), "Перезвонить по счёту, клиент ждёт ответа"),
                ("today", now + timedelta(minutes=30), "Уточнить адрес доставки"),
                ("tomorrow", now + timedelta(days=1), "Отправить договор на подпись"),
            ):
                task = await tasks.add_task(
                    s,
                    deal=deal,
                    responsible=anna,
                    due_at=due,
                    task_type="call",
                    comment=comment,
                    now=now - timedelta(days=2),
                )
                company.tasks[key] = task.id
            boris_deal = await deals.get_deal(s, company.deals["boris"])
            task = await tasks.add_task(
                s,
                deal=boris_deal,
                responsible=rows["boris"],
                due_at=now + timedelta(hours=3),
                task_type="call",
                comment="Задача Бориса",
                now=now - timedelta(days=2),
            )
            company.tasks["boris"] = task.id

            # Yesterday's traffic, 09:00–18:00 Moscow and a little after hours.
            day_start = datetime.combine(company.day, clock_time(9), tzinfo=ZONE).astimezone(UTC)
            recorded = [
                ("anna-rec-1", "anna", 37.0, timedelta(hours=1)),
                ("anna-rec-2", "anna", 12.5, timedelta(hours=3)),
                ("boris-rec-1", "boris", 21.0, timedelta(hours=2)),
            ]
            for key, who, talk, offset in recorded:
                client = "anna" if who == "anna" else "boris"
                name = f"{company.day:%Y/%m/%d}/{key}.wav"
                call = _call(
                    key,
                    day_start + offset,
                    number=PHONES[client],
                    manager=rows[who].id,
                    ring=4.0,
                    talk=talk,
                    contact=company.contacts[client],
                    deal=company.deals[client],
                    recording=name,
                )
                s.add(call)
                await s.flush()
                s.add(
                    CallLeg(
                        call_id=call.id,
                        endpoint=rows[who].endpoint,
                        manager_id=call.manager_id,
                        answered=True,
                    )
                )
                company.calls[key] = call.id
                path = recordings / name
                write_recording(path, talk, rng, voices)
                company.recordings[call.id] = (path, talk)
            plain = [  # (key, who, direction, minutes after 09:00, ring, talk)
                ("in-1", "anna", "inbound", 20, 6.0, 95.0),
                ("in-2", "boris", "inbound", 50, 3.0, 240.0),
                ("in-3", "anna", "inbound", 200, 25.0, 0.0),
                ("in-4", "boris", "inbound", 320, 40.0, 0.0),
                ("in-5", "head", "inbound", 400, 8.0, 130.0),
                ("out-1", "anna", "outbound", 90, 12.0, 310.0),
                ("out-2", "anna", "outbound", 260, 30.0, 0.0),
                ("out-3", "boris", "outbound", 300, 9.0, 75.0),
                ("in-late", "anna", "inbound", 560, 15.0, 0.0),  # 18:20, after hours
            ]
            for key, who, direction, minutes, ring, talk in plain:
                number = f"+7495000{minutes:04d}"
                call = _call(
                    key,
                    day_start + timedelta(minutes=minutes),
                    direction=direction,
                    number=number,
                    manager=rows[who].id,
                    ring=ring,
                    talk=talk,
                )
                call.after_hours = minutes >= 540
                s.add(call)
                await s.flush()
                if direction == "inbound":
                    s.add(
                        CallLeg(
                            call_id=call.id,
                            endpoint=rows[who].endpoint,
                            manager_id=rows[who].id,
                            answered=talk > 0,
                        )
                    )
                company.calls[key] = call.id
            # Today: Анна's client Иван rang an hour ago, nobody answered, not called back yet.
            miss = _call(
                "miss-today",
                now - timedelta(hours=1),
                number=PHONES["anna2"],
                manager=None,
                ring=20.0,
                talk=0.0,
                contact=company.contacts["anna2"],
            )
            s.add(miss)
            await s.flush()
            s.add(
                CallLeg(
                    call_id=miss.id,
                    endpoint=rows["anna"].endpoint,
                    manager_id=rows["anna"].id,
                    answered=False,
                )
            )
            company.calls["miss-today"] = miss.id
    finally:
        await db.dispose()
    return company


def write_config(workdir: Path, db_url: str, recordings: Path) -> Path:
    config = workdir / "callrouter.toml"
    config.write_text(
        "\n".join(
            [
                f'database_url = "{db_url}"',
                'timezone = "Europe/Moscow"',
                f'recordings_dir = "{recordings}"',
                f'spool_dir = "{workdir / "spool"}"',
                "metrics_port = 0",
                "[web]",
                'host = "127.0.0.1"',
                f'secret_key = "{SECRET_KEY}"',
                'default_locale = "ru"',
                "",
            ]
        ),
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def wait_until_ready(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    """Poll GET /login until it answers 200; the server dying or the deadline fails loudly."""
    deadline = time.monotonic() + READY_TIMEOUT
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                pytest.fail(f"callrouter web exited with {process.returncode}:\n{log.read_text()}")
            try:
                if client.get("/login").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"callrouter web not ready in {READY_TIMEOUT} s:\n{log.read_text()}")
            time.sleep(0.05)  # a polling interval, not a synchronisation


@pytest.fixture(scope="module")
def server(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"e2e-{db_backend}")
    recordings = workdir / "recordings"
    recordings.mkdir()
    with _fresh_database(db_backend, request, workdir / "callrouter.sqlite3") as db_url:
        company = asyncio.run(seed(db_url, recordings, datetime.now(UTC)))
        config = write_config(workdir, db_url, recordings)
        port = free_port()
        log = workdir / "web.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", "from callrouter.cli import entry; entry()", "web",
                 "--port", str(port), "--metrics-port", "0"],
                env=server_env(config),
                cwd=workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(process, base_url, log)
            yield Server(db_backend, base_url, db_url, config, workdir, company, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # Playwright gives every launch a fresh temporary profile (user-data dir).
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def new_context(
    browser: Browser, server: Server, *, locale: str = "ru-RU", **kw: Any
) -> BrowserContext:
    """A fresh browser profile of its own (cookies, cache) as a person in Moscow has it."""
    context = await browser.new_context(
        base_url=server.base_url,
        accept_downloads=True,
        locale=locale,
        timezone_id="Europe/Moscow",
        **kw,
    )
    context.set_default_timeout(15_000)
    return context


async def log_in(context: BrowserContext, who: str, server: Server) -> Page:
    """The real log-in form, as a person fills it; returns the page it lands on."""
    page = await context.new_page()
    await page.goto("/login")
    await page.fill('input[name="login"]', server.company.logins[who])
    await page.fill('input[name="password"]', PASSWORD)
    async with page.expect_navigation():
        await page.click('button[type="submit"].primary')
    assert "/login" not in page.url, f"log-in as {who} failed: {await page.content()}"
    return page


async def shoot(page: Page, server: Server, name: str) -> Path:
    folder = ARTIFACTS / server.backend
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
