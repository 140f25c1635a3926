"""AMI → database throughput and listener memory (issues #5 and #8).

    python -m bench.ami_bench --calls 3000 --db sqlite
    python -m bench.ami_bench --calls 3000 --db postgresql
    python -m bench.ami_bench --memory-events 1000000
    python -m bench.ami_bench --smoke

End to end: a loopback AMI server writes recorded calls (renamed copies of five real Asterisk 20
scenarios, ~180 events a call, VarSet/CEL noise included) as fast as the socket takes them; the
real listener (byte-safe framing → queue → CallTracker → spool → DbCallSink → commit) records
them. Events per second = all events sent / time until the last call is committed. The floor, in
the same run, is a raw asyncio Protocol that only splits the same bytes into messages and parses
their headers. The stream is rendered before the clock starts, so the Asterisk side costs next
to nothing in either measurement. Lost or corrupted: calls missing from the database, wrong talk
seconds, or caller names that did not survive intact (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import func, select

from ami_listener.calls import CompletedCall
from ami_listener.service import AmiListener
from bench.ami_stream import BANNER, CallTemplate, load_templates, stream
from core.settings import AmiSettings
from crm.call_sink import DbCallSink
from crm.staff import add_department, add_manager
from models import migrate
from models.db import Database
from models.tables import Call
from router.directory import Role

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench"


# ---- the Asterisk side -------------------------------------------------------------------------


Rendered = Iterable[tuple[int, bytes]]  # (events, bytes) per call


def render_lazily(templates: list[CallTemplate], calls: int) -> Iterator[tuple[int, bytes]]:
    return ((len(blocks), b"".join(blocks)) for _, blocks in stream(templates, calls))


def render(templates: list[CallTemplate], calls: int) -> list[tuple[int, bytes]]:
    return list(render_lazily(templates, calls))


class StreamingAmi:
    """Banner, answers every action with Success, then writes the calls as fast as allowed."""

    def __init__(self, calls: Rendered) -> None:
        self.calls = calls
        self.go = asyncio.Event()
        self.events_sent = 0
        self.started = 0.0
        self.finished = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        answering = asyncio.create_task(self._answer(reader, writer))
        await self.go.wait()
        self.started = time.perf_counter()
        batch: list[bytes] = []
        pending = 0
        for events, data in self.calls:
            batch.append(data)
            self.events_sent += events
            pending += events
            if pending >= 256:
                writer.write(b"".join(batch))
                batch.clear()
                pending = 0
                await writer.drain()
        writer.write(b"".join(batch))
        await writer.drain()
        self.finished.set()
        await answering

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                fields = dict(
                    line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line
                )
                reply = f"Response: Success\r\nActionID: {fields.get('ActionID', '')}\r\n"
                if fields.get("Action", "").lower() == "ping":
                    reply += f"Ping: Pong\r\nTimestamp: {time.time():.6f}\r\n"
                writer.write((reply + "\r\n").encode())
        except (asyncio.IncompleteReadError, ConnectionError):
            return


# ---- the floor ---------------------------------------------------------------------------------


class FloorProtocol(asyncio.Protocol):
    """The least a reader can do: split on the blank line and parse headers into a dict."""

    def __init__(self, expected: int, done: asyncio.Future[float]) -> None:
        self.buffer = b""
        self.count = 0
        self.expected = expected
        self.done = done

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        *blocks, self.buffer = self.buffer.split(b"\r\n\r\n")
        for block in blocks:
            if block.startswith(b"Asterisk Call Manager"):
                block = block.split(b"\r\n", 1)[1] if b"\r\n" in block else b""
                if not block:
                    continue
            {k: v for k, _, v in (line.partition(": ") for line in block.decode().split("\r\n"))}
            self.count += 1
        if self.count >= self.expected and not self.done.done():
            self.done.set_result(time.perf_counter())


async def floor_rate(rendered: list[tuple[int, bytes]]) -> float:
    total = sum(events for events, _ in rendered)
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    server = StreamingAmi(rendered)
    ami = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = ami.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(
        lambda: FloorProtocol(total, done), "127.0.0.1", port
    )
    server.go.set()
    finished = await done
    transport.close()
    ami.close()
    return total / (finished - server.started)


# ---- the listener ------------------------------------------------------------------------------


class CountingSink:
    def __init__(self, inner: DbCallSink | None, expected: int) -> None:
        self.inner = inner
        self.expected = expected
        self.written = 0
        self.names: set[str] = set()
        self.done = asyncio.Event()
        self.finished_at = 0.0

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        if self.inner is not None:
            await self.inner.write(calls)
        self.written += len(calls)
        self.names.update(call.caller_name for call in calls if call.caller_name)
        if self.written >= self.expected:
            self.finished_at = time.perf_counter()
            self.done.set()


async def listener_run(calls: Rendered, sink: CountingSink, spool: Path) -> tuple[float, int]:
    server = StreamingAmi(calls)
    ami = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = ami.sockets[0].getsockname()[1]
    listener = AmiListener(
        AmiSettings(port=port, username="bench", secret=SECRET, cdr_grace=0.5, queue_size=10_000),
        "pbx1",
        sink,
        spool_dir=spool,
        tick=0.2,
    )
    running = asyncio.create_task(listener.run())
    await listener.connection.connected.wait()
    server.go.set()
    await server.finished.wait()
    await sink.done.wait()
    elapsed = sink.finished_at - server.started
    await listener.stop()
    await running
    ami.close()
    return server.events_sent / elapsed, server.events_sent


async def prepare_database(kind: str) -> tuple[Database, str | None]:
    if kind == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="callrouter-ami-bench-")) / "bench.sqlite3"
        db, name = Database(f"sqlite+aiosqlite:///{path}"), None
    else:
        name = f"callrouter_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(POSTGRES_ADMIN)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        db = Database(POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name)
    await migrate.upgrade(db.engine)
    async with db.transaction() as s:
        sales = await add_department(s, "Sales", "Europe/Moscow")
        for ext in ("101", "102", "103"):
            await add_manager(s, name=f"Manager {ext}", endpoint=f"SIP/{ext}", department=sales)
        await add_manager(
            s, name="Head", endpoint="SIP/104", role=Role.HEAD_OF_SALES, department=sales
        )
    return db, name


async def drop_database(db: Database, name: str | None) -> None:
    url = db.url
    await db.dispose()
    if name is None:
        shutil.rmtree(Path(url.split("///", 1)[1]).parent, ignore_errors=True)
        return
    conn = await asyncpg.connect(POSTGRES_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


@dataclass
class ThroughputResult:
    db: str
    calls: int
    events: int
    rate: float
    floor: float
    lost: int
    corrupted: int


async def throughput(kind: str, calls: int) -> ThroughputResult:
    templates = load_templates()
    rendered = render(templates, calls)
    floor = await floor_rate(rendered)
    db, name = await prepare_database(kind)
    spool = Path(tempfile.mkdtemp(prefix="callrouter-ami-spool-"))
    try:
        sink = CountingSink(DbCallSink(db), calls)
        rate, events = await listener_run(rendered, sink, spool)
        expected_talk = sum(templates[i % len(templates)].billsec for i in range(calls))
        async with db.reader() as s:
            stored = await s.scalar(select(func.count()).select_from(Call))
            talk = await s.scalar(select(func.coalesce(func.sum(Call.talk_seconds), 0)))
            names = set(await s.scalars(select(Call.caller_name).distinct()))
        expected_names = {t.caller_name for t in templates} | {None}
        corrupted = int(talk != expected_talk) + len(names - expected_names)
        return ThroughputResult(kind, calls, events, rate, floor, calls - stored, corrupted)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        await drop_database(db, name)


def rss_kib() -> tuple[int, int]:
    fields = dict(
        line.split(":", 1)
        for line in Path("/proc/self/status").read_text().splitlines()
        if ":" in line
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


async def memory(events_target: int) -> tuple[int, int, int, int]:
    """Listener alone (no database): RSS before, peak, after, and events sent."""
    templates = load_templates()
    per_call = sum(t.events for t in templates) / len(templates)
    calls = int(events_target / per_call) + 1
    spool = Path(tempfile.mkdtemp(prefix="callrouter-ami-spool-"))
    before, _ = rss_kib()
    try:
        sink = CountingSink(None, calls)
        # Rendered as it is sent: a million events held in memory would swamp the reading.
        _, events = await listener_run(render_lazily(templates, calls), sink, spool)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    after, peak = rss_kib()
    return before, peak, after, events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--memory-events", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a few calls, to prove it still runs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    calls = 40 if args.smoke else args.calls
    if args.memory_events or args.smoke:
        # First: the throughput runs leave their rendered streams in the allocator's arenas.
        target = 20_000 if args.smoke else args.memory_events
        before, peak, after, events = asyncio.run(memory(target))
        print(
            f"listener memory over {events} events: RSS {before / 1024:.0f} MiB before, "
            f"peak {peak / 1024:.0f} MiB, {after / 1024:.0f} MiB after"
        )
    print(f"AMI → database, {calls} calls; {platform.machine()}, {platform.python_version()}")
    print(
        f"{'db':<11}{'events':>9}{'events/s':>11}{'floor/s':>11}{'ratio':>8}{'lost':>6}{'corrupt':>9}"
    )
    for kind in args.db.split(","):
        r = asyncio.run(throughput(kind, calls))
        print(
            f"{r.db:<11}{r.events:>9}{r.rate:>11.0f}{r.floor:>11.0f}{r.rate / r.floor:>8.2f}{r.lost:>6}{r.corrupted:>9}"
        )


if __name__ == "__main__":
    main()
