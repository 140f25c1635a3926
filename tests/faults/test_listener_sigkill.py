"""The listener process (`callrouter ami`) is SIGKILLed while Asterisk streams calls, then
started again.

- Calls already in the database stay; calls finished and spooled (on disk, not yet written
  because the database was slow) are delivered by the next process; a call the killed process
  had written but not yet removed from its spool is written again and still stored once.
- Every call whose events Asterisk sent after the new process logged in is recorded.
- Calls that were in flight in the killed process's memory, and calls that happened while no
  listener ran, are not seen by any listener: `callrouter backfill --from Master.csv` records
  them, and a second backfill adds nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from ami_listener.backfill import parse_master_csv
from ami_listener.spool import CallSpool
from asterisk_sim import AsteriskSimulator, Caller, Phone, RealClock, SimConfig

from .support import (
    SYSTEM,
    SqliteLock,
    Traffic,
    authed_sessions,
    listener_env,
    recorded_at,
    wait_until,
)

CALLROUTER = Path(sys.executable).with_name("callrouter")  # the installed console script


class WriterBlock:
    """Makes every database write wait, so finished calls pile up in the spool: SQLite,
    another connection's BEGIN EXCLUSIVE; PostgreSQL, another session's ACCESS EXCLUSIVE
    lock on `calls`."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._sqlite: SqliteLock | None = None
        self._pg: asyncpg.Connection | None = None

    async def acquire(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            assert self.url.database is not None
            self._sqlite = SqliteLock(Path(self.url.database))
            await self._sqlite.acquire()
            return
        plain = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pg = await asyncpg.connect(plain)
        await self._pg.execute("BEGIN; LOCK TABLE calls IN ACCESS EXCLUSIVE MODE")

    async def release(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.release()
        if self._pg is not None:
            await self._pg.execute("ROLLBACK")
            await self._pg.close()
        self._sqlite = self._pg = None


class ListenerProcess:
    """`callrouter ami`, the production listener process, with settings from CALLROUTER_*."""

    def __init__(self, db_url: str, port: int, spool_dir: Path, log: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CALLROUTER_")}
        self.env.update(listener_env(port))
        self.env.update(CALLROUTER_DATABASE_URL=db_url, CALLROUTER_SPOOL_DIR=str(spool_dir))
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(CALLROUTER), "ami", "--metrics-port", "0",
                cwd=self.log.parent, env=self.env, stdout=out, stderr=out,
            )  # fmt: skip

    async def signal(self, signum: int, within: float = 10.0) -> int:
        assert self.process is not None
        self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), within)


def spooled_linkedids(spool: Path) -> set[str]:
    # <sequence>-<system>-<linkedid>.json
    return {p.name.split("-", 2)[2].removesuffix(".json") for p in spool.glob("*.json")}


def inbound(n: int) -> Caller:
    return Caller(f"+7916777{n:04d}", "Клиент")


async def play(db_url: str, tmp_path: Path) -> tuple[Traffic, dict[str, set[str]], Path]:
    master_csv = tmp_path / "Master.csv"
    sim = AsteriskSimulator(
        SimConfig(agi_address=None, clock=RealClock(), master_csv=master_csv, seed=11)
    )
    sim.add_phone("102", Phone(answer_after=0.05, talk=0.15))
    port = await sim.start_ami(users={"callrouter": "secret"})
    spool = tmp_path / "spool" / "calls"
    first = ListenerProcess(db_url, port, tmp_path / "spool", tmp_path / "listener.log")
    second = ListenerProcess(db_url, port, tmp_path / "spool", tmp_path / "listener.log")
    block = WriterBlock(db_url)
    traffic = Traffic()
    seen: dict[str, set[str]] = {}
    try:
        await first.start()
        await wait_until(lambda: authed_sessions(sim) == 1, what="first listener's AMI login")

        # 1. Calls the first process writes to the database (acknowledged).
        for n in range(3):
            traffic.start("written", sim.inbound_call(inbound(n)))
        await traffic.finish("written")
        written = traffic.linkedids("written")
        await wait_until(lambda: _includes(db_url, written), what="first calls in the database")

        # 2. The database is slow: finished calls wait in the spool. Two long calls are still
        #    going on (their state lives only in the process's memory) when it is killed.
        await block.acquire()
        for n in range(2):
            traffic.start(
                "in_memory",
                sim.outbound_call("101", f"+7903111{n:04d}", answer_after=0.05, talk=2.0),
            )
        for n in range(3, 6):
            traffic.start("spooled", sim.inbound_call(inbound(n)))
        await traffic.finish("spooled")
        spooled = traffic.linkedids("spooled")
        await wait_until(lambda: spooled_linkedids(spool) == spooled, what="calls spooled")
        assert traffic.running("in_memory") == 2
        assert await first.signal(signal.SIGKILL) == -signal.SIGKILL
        seen["spooled_at_kill"] = spooled_linkedids(spool)
        await block.release()

        # 3. No listener at all.
        await wait_until(lambda: authed_sessions(sim) == 0, what="Asterisk notices the EOF")
        for n in range(6, 8):
            traffic.start("unheard", sim.inbound_call(inbound(n)))
        await traffic.finish("unheard")

        # The killed process could also have died between its commit and the spool cleanup:
        # leave one already written call in the spool, as such a crash would.
        calls, _ = parse_master_csv(master_csv.read_text(), system=SYSTEM, region="RU")
        rewritten = next(c for c in calls if c.linkedid in written)
        CallSpool(spool).put(rewritten)
        seen["rewritten"] = {rewritten.linkedid}

        # 4. The new process: spool delivered, every call from its login on recorded.
        await second.start()
        await wait_until(lambda: authed_sessions(sim) == 1, what="second listener's AMI login")
        for n in range(8, 11):
            traffic.start("after", sim.inbound_call(inbound(n)))
        await traffic.finish()
        expected = written | spooled | traffic.linkedids("after")
        await wait_until(
            lambda: _includes(db_url, expected), what="spool and new calls in the database"
        )
        await wait_until(lambda: not spooled_linkedids(spool), what="spool emptied")
        assert await second.signal(signal.SIGTERM) == 0
        return traffic, seen, master_csv
    finally:
        await block.release()
        for listener in (first, second):
            if listener.process is not None and listener.process.returncode is None:
                listener.process.kill()
                await listener.process.wait()
        await sim.stop()


async def _includes(db_url: str, linkedids: set[str]) -> bool:
    return linkedids <= set(await recorded_at(db_url))


def test_sigkill_mid_stream_loses_nothing_acknowledged_and_writes_nothing_twice(
    db_url: str, tmp_path: Path, cli: Callable[..., object]
) -> None:
    traffic, seen, master_csv = asyncio.run(play(db_url, tmp_path))
    assert seen["spooled_at_kill"] == traffic.linkedids("spooled")

    rows = asyncio.run(recorded_at(db_url))
    heard = traffic.linkedids("written", "spooled", "after")
    assert rows == dict.fromkeys(heard, 1)  # the re-spooled written call is still one row
    not_heard = traffic.linkedids("in_memory", "unheard")
    assert not_heard.isdisjoint(rows)

    first = cli("backfill", "--from", str(master_csv))
    assert first.code == 0, first.err  # type: ignore[attr-defined]
    assert f"{len(not_heard)} added, {len(heard)} already recorded" in first.out  # type: ignore[attr-defined]
    everything = heard | not_heard
    assert asyncio.run(recorded_at(db_url)) == dict.fromkeys(everything, 1)

    second = cli("backfill", "--from", str(master_csv))
    assert f"0 added, {len(everything)} already recorded" in second.out  # type: ignore[attr-defined]
    assert asyncio.run(recorded_at(db_url)) == dict.fromkeys(everything, 1)
