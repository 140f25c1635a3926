"""The database disappears while calls come in: routing answers within its time budget (from
the last directory it loaded when the database cannot answer), the listener keeps the finished
calls in its spool and writes each one exactly once when the database is back.

PostgreSQL: a private cluster is stopped for real (`pg_ctl stop -m fast`) and started again.
SQLite: another connection holds `BEGIN EXCLUSIVE`; in WAL mode that stops every writer but no
reader, so routing keeps its fresh lookups there. A SQLite file whose readers are locked out as
well (another process holding the WAL-index locks) is the second test."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from agi_scripts.fastagi import start_fastagi_server
from ami_listener.service import AmiListener
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from core import dialplan as var
from core.settings import AgiSettings, RoutingSettings, Settings
from crm.call_sink import DbCallSink
from models import db as db_module
from models.db import SQLITE_BUSY_TIMEOUT_MS, Database
from models.directory import DbDirectorySource
from tests.agi.fake_asterisk import assignments
from tests.agi.support import WEDNESDAY_NOON

from .conftest import Outage
from .support import (
    KNOWN,
    KNOWN_NAME,
    SCALE,
    SINK_RETRY,
    SYSTEM,
    TICK,
    AgiTap,
    TappedSession,
    WalIndexLock,
    listener_settings,
    recorded,
    seed_office,
    wait_until,
)

BUDGET = RoutingSettings().decision_budget_ms / 1000  # the real one: 300 ms
EPSILON = 0.25  # device-state queries and loopback hops before the Dial, on a loaded CI host
_LATER = "@callrouter-ring-delayed/n"  # the whole plan is one Dial; later phones wait (issue 18)
# The known client's responsible manager at once, the others added at their steps' offsets.
NORMAL_FIRST_DIAL = (
    f"SIP/101&Local/10-SIP-102{_LATER}&Local/10-SIP-103{_LATER}&Local/20-SIP-104{_LATER}"
    f"&Local/30-SIP-105{_LATER},40"
)
# The default plan from the last directory: the department at once.
FALLBACK_FIRST_DIAL = (
    f"SIP/101&SIP/102&SIP/103&Local/10-SIP-104{_LATER}&Local/20-SIP-105{_LATER},40"
)


def dial_args(line: str) -> str:
    return line.removeprefix("EXEC Dial ").strip('"')


def time_to_first_dial(session: TappedSession) -> tuple[float, str]:
    env_done = session.env_done_at()
    dial = session.first("EXEC Dial")
    assert env_done is not None and dial is not None, session.lines
    return dial[0] - env_done, dial_args(dial[1])


def decision_of(session: TappedSession) -> str:
    """CALLROUTER_DECISION as the session set it (SET VARIABLE or MSet)."""
    for _, direction, line in session.lines:
        if direction == "out":
            for name, value in assignments(line):
                if name == var.DECISION:
                    return value
    raise AssertionError(f"{var.DECISION} never set: {session.lines}")


async def test_database_outage_routes_within_budget_and_loses_no_call(
    outage: Outage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's busy timeout is part of the retry story: scaled down like the rest (10 s -> 1 s).
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", int(SQLITE_BUSY_TIMEOUT_MS * SCALE))
    setup = Database(outage.url)
    await seed_office(setup)
    await setup.dispose()

    # Two processes in production, so two engines here: the router's and the listener's.
    routing_db, listener_db = Database(outage.url), Database(outage.url)
    settings = Settings(
        agi=AgiSettings(env_timeout=2.0, command_timeout=2.0, shutdown_grace=1.0),
        routing=RoutingSettings(),
    )
    server = await start_fastagi_server(
        settings, DbDirectorySource(routing_db), clock=lambda: WEDNESDAY_NOON, port=0
    )
    tap = AgiTap(server.port)
    sim = AsteriskSimulator(
        SimConfig(agi_address=("127.0.0.1", await tap.start()), clock=VirtualClock(), seed=3)
    )
    for ext in ("101", "102", "103", "104", "105"):
        sim.add_phone(ext, Phone(answer_after=1.0, talk=2.0))
    port = await sim.start_ami(users={"callrouter": "secret"})
    listener = AmiListener(
        listener_settings(port),
        SYSTEM,
        DbCallSink(listener_db),
        spool_dir=tmp_path / "spool",
        tick=TICK,
        sink_retry_initial=SINK_RETRY[0],
        sink_retry_max=SINK_RETRY[1],
    )
    runner = asyncio.create_task(listener.run())
    in_outage = False
    try:
        await wait_until(listener.connection.connected.is_set, what="AMI login")
        await wait_until(lambda: server.decider.directory is not None, what="directory loaded")

        normal = await sim.inbound_call(Caller(KNOWN, KNOWN_NAME))
        _, first_dial = time_to_first_dial(tap.sessions[-1])
        assert first_dial == NORMAL_FIRST_DIAL
        await wait_until(lambda: _recorded_once(listener_db, {normal.linkedid}), what="call 1")

        await outage.begin()
        in_outage = True
        # One after another, so SIP/101 is free and the first Dial tells the plans apart.
        during = [await sim.inbound_call(Caller(KNOWN)) for _ in range(3)]
        readers_unaffected = outage.backend == "sqlite"  # WAL: only writers are locked out
        for session in tap.sessions[1:]:
            elapsed, first_dial = time_to_first_dial(session)
            if readers_unaffected:
                assert (first_dial, decision_of(session)) == (NORMAL_FIRST_DIAL, "directory")
            else:
                assert (first_dial, decision_of(session)) == (FALLBACK_FIRST_DIAL, "last_directory")
            assert elapsed <= BUDGET + EPSILON, f"first Dial after {elapsed:.3f} s"
        assert all(r.answered_by for r in during)

        # The finished calls are on disk while every write to the database fails.
        spooled = {r.linkedid for r in during}
        await wait_until(
            lambda: len(listener.spool.pending()) == 3 and listener.sink_failures >= 2,
            what="calls spooled while the sink fails",
        )
        assert all(any(i in p.name for p in listener.spool.pending()) for i in spooled)
        await outage.end()
        in_outage = False

        everything = spooled | {normal.linkedid}
        await wait_until(
            lambda: _recorded_once(listener_db, everything), within=15, what="spool delivered"
        )
        await wait_until(lambda: not listener.spool.pending(), what="spool emptied")

        # Routing is back to fresh lookups.
        after = await sim.inbound_call(Caller(KNOWN))
        _, first_dial = time_to_first_dial(tap.sessions[-1])
        assert first_dial == NORMAL_FIRST_DIAL
        await wait_until(lambda: _recorded_once(listener_db, everything | {after.linkedid}))
    finally:
        if in_outage:
            await outage.end()
        await listener.stop()
        await runner
        await sim.stop()
        await server.close()
        await tap.close()
        await routing_db.dispose()
        await listener_db.dispose()


async def _recorded_once(db: Database, linkedids: set[str]) -> bool:
    return await recorded(db) == dict.fromkeys(linkedids, 1)


async def test_sqlite_readers_locked_out_routing_falls_back_within_budget(
    sqlite_template: Path, tmp_path: Path
) -> None:
    path = tmp_path / "callrouter.sqlite3"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    setup = Database(url)
    await seed_office(setup)
    await setup.dispose()
    routing_db = Database(url)
    settings = Settings(
        agi=AgiSettings(env_timeout=2.0, command_timeout=2.0, shutdown_grace=1.0),
        routing=RoutingSettings(),
    )
    server = await start_fastagi_server(
        settings, DbDirectorySource(routing_db), clock=lambda: WEDNESDAY_NOON, port=0
    )
    tap = AgiTap(server.port)
    sim = AsteriskSimulator(
        SimConfig(agi_address=("127.0.0.1", await tap.start()), clock=VirtualClock(), seed=5)
    )
    for ext in ("101", "102", "103", "104", "105"):
        sim.add_phone(ext, Phone(answer_after=1.0, talk=2.0))
    lock = WalIndexLock(path)
    locked = False
    try:
        await wait_until(lambda: server.decider.directory is not None, what="directory loaded")
        await sim.inbound_call(Caller(KNOWN))
        assert time_to_first_dial(tap.sessions[-1])[1] == NORMAL_FIRST_DIAL

        await lock.acquire()
        locked = True
        # One after another, so SIP/101 is free and the first Dial tells the plans apart.
        during = [await sim.inbound_call(Caller(KNOWN)) for _ in range(3)]
        for session in tap.sessions[1:]:
            elapsed, first_dial = time_to_first_dial(session)
            assert (first_dial, decision_of(session)) == (FALLBACK_FIRST_DIAL, "last_directory")
            assert elapsed <= BUDGET + EPSILON, f"first Dial after {elapsed:.3f} s"
        assert all(r.answered_by for r in during)
        await lock.release()
        locked = False

        # The lookups cut off by the budget left no broken connection behind.
        await sim.inbound_call(Caller(KNOWN))
        assert time_to_first_dial(tap.sessions[-1])[1] == NORMAL_FIRST_DIAL
    finally:
        if locked:
            await lock.release()
        await sim.stop()
        await server.close()
        await tap.close()
        await routing_db.dispose()
