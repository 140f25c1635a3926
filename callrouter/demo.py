"""`callrouter demo`: a compressed working day of a sales department, end to end.

A fresh SQLite database gets a sample company; the real FastAGI server and the real AMI listener
run against the project's Asterisk simulator on loopback, which plays a seeded day on a virtual
clock: known clients reaching their manager, busy and absent managers, escalations to the head
and the owner, new numbers becoming leads, abandoned and after-hours calls, managers calling
missed clients back. Then deals move to "proposal sent" (the automation rule gives their
managers a task) and the owner's daily report for that day is printed and written as HTML.
Every answered call gets a real WAV recording exactly its talk time long (callrouter/demo_audio.py),
every person of the staff a web account (printed with its demo password), and a settings file
names the database, the recordings and a web secret key for `callrouter --config FILE web`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from agi_scripts.fastagi import start_fastagi_server
from ami_listener.calls import CompletedCall
from ami_listener.service import AmiListener
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from asterisk_sim.scenario import CallResult
from callrouter import demo_audio
from callrouter.demo_company import (
    STAFF,
    Client,
    DemoLogin,
    create_company,
    create_users,
    make_clients,
    person_name,
)
from callrouter.reports import render_html, render_text
from callrouter.reports.daily import build_daily
from callrouter.reports.model import DailyReport
from core.settings import AgiSettings, AmiSettings, Settings
from crm import deals, tasks
from crm.call_sink import DbCallSink
from models import migrate
from models.db import Database
from models.directory import DbDirectorySource
from models.tables import Deal, Task
from models.values import TaskPurpose, TaskStatus
from router.directory import Role

TECH = "PJSIP"
ZONE = ZoneInfo("Europe/Moscow")
AMI_SECRET = "demo"
HEAD = next(s.extension for s in STAFF if s.role is Role.HEAD_OF_SALES)


@dataclass
class DayCall:
    at: datetime  # local time
    kind: str  # "inbound" | "outbound"
    number: str
    name: str = ""
    abandon_after: float | None = None
    phone: str = ""  # the manager's extension, for outbound calls
    answers: bool = True  # outbound: does the client pick up


@dataclass
class DemoResult:
    day: date
    calls: int
    missed: int
    callbacks: int
    report: DailyReport
    report_text: str
    html_path: Path
    database: Path
    results: list[CallResult] = field(default_factory=list)
    recordings_dir: Path | None = None
    recordings: int = 0  # audio files written
    recordings_bytes: int = 0
    config_path: Path | None = None
    logins: list[DemoLogin] = field(default_factory=list)


def demo_day(today: date) -> date:
    """The most recent working day (Mon–Fri) up to `today`."""
    day = today
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def plan_inbound(rng: random.Random, day: date, calls: int, clients: list[Client]) -> list[DayCall]:
    """Business-hour calls (about half from known clients), a few before and after hours."""
    plan: list[DayCall] = []
    new_callers: list[tuple[str, str]] = []

    def caller() -> tuple[str, str]:
        roll = rng.random()
        if roll < 0.55:
            client = rng.choice(clients)
            return client.phone, client.name
        if roll < 0.62 and new_callers:  # a new number that calls again
            return rng.choice(new_callers)
        number = (
            f"+7903{rng.randrange(10**7):07d}",
            person_name(rng) if rng.random() < 0.7 else "",
        )
        new_callers.append(number)
        return number

    def at(start: time, end: time) -> datetime:
        first = datetime.combine(day, start, tzinfo=ZONE)
        span = (datetime.combine(day, end, tzinfo=ZONE) - first).total_seconds()
        return first + timedelta(seconds=rng.uniform(0, span))

    for _ in range(calls):
        number, name = caller()
        abandon = rng.uniform(2.0, 25.0) if rng.random() < 0.15 else None
        plan.append(DayCall(at(time(9, 0), time(17, 55)), "inbound", number, name, abandon))
    for start, end, count in ((time(8, 0), time(8, 55), 3), (time(18, 5), time(19, 30), 4)):
        for _ in range(count):
            number, name = caller()
            plan.append(DayCall(at(start, end), "inbound", number, name))
    for _ in range(max(5, calls // 6)):  # managers calling their own clients
        client = rng.choice(clients)
        plan.append(
            DayCall(
                at(time(9, 30), time(17, 30)),
                "outbound",
                client.phone,
                phone=client.manager_extension,
                answers=rng.random() < 0.7,
            )
        )
    return sorted(plan, key=lambda c: c.at)


class Progress:
    """Counts what the listener stored, for the lines printed while the day plays."""

    def __init__(self, sink: DbCallSink) -> None:
        self.sink = sink
        self.stored = 0
        self.missed = 0
        self.leads = 0
        self._changed = asyncio.Condition()

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        results = await self.sink.store_many(calls)
        async with self._changed:
            for call, result in zip(calls, results, strict=True):
                self.stored += 1
                self.missed += call.direction == "inbound" and call.disposition != "ANSWERED"
                self.leads += bool(result.lead and result.lead.created_deal)
            self._changed.notify_all()

    async def wait_for(self, count: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self.stored >= count)


async def run_demo(
    database: Path,
    html_path: Path,
    *,
    calls: int = 120,
    seed: int = 1,
    today: date | None = None,
    out: Callable[[str], None] = print,
    recordings_dir: Path | None = None,
    config_path: Path | None = None,
) -> DemoResult:
    """Play the day into a fresh `database`; recordings go to `recordings_dir` (default: the
    database's name + "-recordings", emptied first) and a settings file naming both to
    `config_path` (default: the database's name + ".toml"), for `callrouter --config … web`."""
    rng = random.Random(seed)
    day = demo_day(today or datetime.now(ZONE).date())
    recordings_dir = recordings_dir or database.parent / f"{database.stem}-recordings"
    config_path = config_path or database.with_suffix(".toml")
    await asyncio.to_thread(_remove_database, database)
    await asyncio.to_thread(demo_audio.clear_recordings, recordings_dir)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        endpoint_technology=TECH,
        recordings_dir=recordings_dir,
        agi=AgiSettings(env_timeout=5.0, command_timeout=5.0, shutdown_grace=2.0),
    )
    db = Database(settings.database_url)
    try:
        result = await _play(db, settings, database, html_path, day, calls, rng, out)
        count, size = await demo_audio.record_calls(db, recordings_dir, seed)
        out(f"Recordings: {count} audio files ({size / 2**20:.0f} MB) in {recordings_dir}")
        async with db.transaction() as session:
            result.logins = await create_users(session, random.Random(seed))
    finally:
        await db.dispose()
    await asyncio.to_thread(write_config, config_path, settings)
    result.recordings_dir, result.recordings, result.recordings_bytes = recordings_dir, count, size
    result.config_path = config_path
    return result


async def _play(
    db: Database,
    settings: Settings,
    database: Path,
    html_path: Path,
    day: date,
    calls: int,
    rng: random.Random,
    out: Callable[[str], None],
) -> DemoResult:
    start = datetime.combine(day, time(7, 55), tzinfo=ZONE)
    await migrate.upgrade(db.engine)
    clients = make_clients(rng, 300)
    async with db.transaction() as session:
        await create_company(session, clients, TECH, rng, start - timedelta(days=7))
    out(f"Company: {len(STAFF)} people, {len(clients)} clients — database {database}")

    clock = VirtualClock(start=start.timestamp())
    server = await start_fastagi_server(
        settings,
        DbDirectorySource(db),
        clock=lambda: datetime.fromtimestamp(clock.now(), UTC),
        host="127.0.0.1",
        port=0,
    )
    sim = AsteriskSimulator(
        SimConfig(
            tech=TECH,
            agi_address=("127.0.0.1", server.port),
            fallback_targets=[f"{TECH}/{HEAD}"],
            clock=clock,
            seed=rng.randrange(10**6),
            queue_members=(),
            monitor_dir=str(settings.recordings_dir),
        )
    )
    for member in STAFF:
        sim.add_phone(
            member.extension,
            Phone(registered=member.registered, answer_after=member.answer_after, name=member.name),
        )
    ami_port = await sim.start_ami(users={"callrouter": AMI_SECRET})
    progress = Progress(DbCallSink(db, settings.leads))
    listener = AmiListener(
        AmiSettings(port=ami_port, username="callrouter", secret=AMI_SECRET, cdr_grace=0.5),
        settings.asterisk_system,
        progress,
        spool_dir=database.parent / f".{database.name}.spool",
        tick=0.1,
    )
    listening = asyncio.create_task(listener.run())
    try:
        async with asyncio.timeout(20):
            await listener.connection.connected.wait()
        plan = plan_inbound(rng, day, calls, clients)
        out(f"Playing {day.isoformat()}: {len(plan)} planned calls on a virtual clock")
        results, callbacks = await _play_day(sim, clock, plan, clients, rng, out, progress)
        async with asyncio.timeout(60):
            await progress.wait_for(len(results))
    finally:
        await listener.stop()
        await listening
        await sim.stop()
        await server.close()

    qualified = await _qualify_leads(
        db, settings, rng, datetime.combine(day, time(17, 30), tzinfo=ZONE)
    )
    out(f"Leads: {qualified} qualified by their managers (task done, deal in progress)")
    moved = await _move_deals(db, settings, rng, datetime.combine(day, time(17, 45), tzinfo=ZONE))
    out(
        f"Deals: {moved['proposal_sent']} moved to proposal sent (automation gave each a call task), "
        f"{moved['won']} won, {moved['lost']} lost"
    )
    report = await build_daily(
        db, day, datetime.combine(day, time(20, 0), tzinfo=ZONE).astimezone(UTC), settings
    )
    text = render_text.render_daily(report)
    await asyncio.to_thread(
        html_path.write_text, render_html.render_daily(report), encoding="utf-8"
    )
    missed = sum(1 for r in results if r.answered_by is None and r.agi_status is not None)
    return DemoResult(
        day, len(results), missed, callbacks, report, text, html_path, database, results
    )


async def _play_day(
    sim: AsteriskSimulator,
    clock: VirtualClock,
    plan: list[DayCall],
    clients: list[Client],
    rng: random.Random,
    out: Callable[[str], None],
    progress: Progress,
) -> tuple[list[CallResult], int]:
    owner_of = {c.phone: c.manager_extension for c in clients}
    absent = {s.extension for s in STAFF if not s.registered}
    results: list[CallResult] = []
    callbacks: list[asyncio.Task[CallResult]] = []

    async def outbound(call: DayCall) -> CallResult:
        await clock.sleep_until(call.at.timestamp())
        talk = rng.uniform(30, 300)
        return await sim.outbound_call(
            call.phone,
            call.number,
            answer_after=4.0 if call.answers else None,
            talk=talk,
            dial_timeout=25,
        )

    async def inbound(call: DayCall) -> CallResult:
        await clock.sleep_until(call.at.timestamp())
        for phone in sim.phones.values():
            phone.talk = rng.uniform(40, 420)
        result = await sim.inbound_call(Caller(call.number, call.name, call.abandon_after))
        local = call.at.astimezone(ZONE)
        if result.answered_by is None and local.time() < time(17, 30):
            who = owner_of.get(call.number, HEAD)
            who = HEAD if who in absent else who
            opening = datetime.combine(local.date(), time(9, 5), tzinfo=ZONE)
            back = DayCall(
                max(call.at, opening) + timedelta(minutes=rng.uniform(5, 50)),
                "outbound",
                call.number,
                phone=who,
                answers=rng.random() < 0.8,
            )
            callbacks.append(asyncio.create_task(outbound(back)))
        return result

    async def busy_manager() -> None:
        """Глеб is on a long external meeting call from 11:00 to 13:00: his phone reads in use."""
        day = plan[0].at.astimezone(ZONE).date()
        await clock.sleep_until(datetime.combine(day, time(11), tzinfo=ZONE).timestamp())
        sim.phones["104"].in_use = True
        await clock.sleep_until(datetime.combine(day, time(13), tzinfo=ZONE).timestamp())
        sim.phones["104"].in_use = False

    async def hourly() -> None:
        day = plan[0].at.astimezone(ZONE).date()
        for hour in range(9, 21):
            await clock.sleep_until(datetime.combine(day, time(hour), tzinfo=ZONE).timestamp())
            out(
                f"  {hour:02d}:00  calls placed {sum(1 for c in plan if c.at.hour < hour):>4}   "
                f"recorded {progress.stored:>4}   missed {progress.missed:>3}   new leads {progress.leads:>3}"
            )

    ticker = asyncio.create_task(hourly())
    meeting = asyncio.create_task(busy_manager())
    for call in plan:  # an absent manager's planned calls are made by the head of sales
        if call.kind == "outbound" and call.phone in absent:
            call.phone = HEAD
    planned = await asyncio.gather(
        *(inbound(c) if c.kind == "inbound" else outbound(c) for c in plan)
    )
    results.extend(planned)
    while callbacks:
        pending, callbacks[:] = list(callbacks), []
        results.extend(await asyncio.gather(*pending))
    await meeting
    ticker.cancel()
    return results, len(results) - len(planned)


async def _qualify_leads(
    db: Database, settings: Settings, rng: random.Random, now: datetime
) -> int:
    """Before the day ends the managers qualify most of the day's new leads: the lead's task is
    done and its deal moves on. The rest stay for tomorrow (some already late)."""
    leads = settings.leads
    done = 0
    async with db.transaction() as session:
        open_leads = (
            await session.scalars(
                select(Task)
                .where(
                    Task.status == TaskStatus.OPEN.value,
                    Task.purpose == TaskPurpose.NEW_LEAD.value,
                )
                .order_by(Task.id)
            )
        ).all()
        for task in open_leads:
            if rng.random() < 0.3:
                continue
            await tasks.close_task(
                session, task, status=TaskStatus.DONE, reason="qualified on the phone", now=now
            )
            deal = await session.get(Deal, task.deal_id)
            if deal is not None and deal.status == "new":
                await deals.set_status(
                    session,
                    deal,
                    "in_progress",
                    statuses=leads.deal_statuses,
                    closed_statuses=leads.closed_statuses,
                    now=now,
                    actor="demo",
                    min_lead=timedelta(minutes=leads.min_lead_minutes),
                )
            done += 1
    return done


async def _move_deals(
    db: Database, settings: Settings, rng: random.Random, now: datetime
) -> dict[str, int]:
    moved = {"proposal_sent": 0, "won": 0, "lost": 0}
    leads = settings.leads
    async with db.transaction() as session:
        open_deals = (
            await session.scalars(
                select(Deal).where(Deal.status.in_(["new", "in_progress"])).order_by(Deal.id)
            )
        ).all()
        candidates = [d for d in open_deals if d.responsible_manager_id is not None]
        rng.shuffle(candidates)
        for deal, status in zip(
            candidates, ["proposal_sent"] * 12 + ["won"] * 3 + ["lost"] * 2, strict=False
        ):
            await deals.set_status(
                session,
                deal,
                status,
                statuses=leads.deal_statuses,
                closed_statuses=leads.closed_statuses,
                now=now,
                actor="demo",
                min_lead=timedelta(minutes=leads.min_lead_minutes),
            )
            moved[status] += 1
    return moved


def write_config(path: Path, settings: Settings) -> None:
    """The demo's settings file: its database and recordings, for `callrouter --config PATH …`."""
    lines = [
        "# Written by `callrouter demo`: its database and recordings.",
        f"database_url = {_toml_string(settings.database_url)}",
        f"recordings_dir = {_toml_string(str(settings.recordings_dir))}",
        f"endpoint_technology = {_toml_string(settings.endpoint_technology)}",
        f"timezone = {_toml_string(settings.timezone)}",
        "",
        "[web]",
        "# `callrouter --config THIS_FILE web` → http://127.0.0.1:8080",
        f"secret_key = {_toml_string(secrets.token_urlsafe(32))}",
        "",
    ]
    # It holds a secret: readable by its owner only (callrouter refuses a world-readable one).
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def quiet_logs() -> None:
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
