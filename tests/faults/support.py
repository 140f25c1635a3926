"""Shared pieces of the fault tests: waiting with deadlines, the listener's settings scaled down,
the office in the database, counting calls, and the faults themselves (a private PostgreSQL that
is stopped for real, a SQLite file locked by another connection, a timing AGI tap)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from asterisk_sim import AsteriskSimulator
from core.settings import AmiSettings
from crm.contacts import add_contact
from crm.staff import add_department, add_manager
from models.db import Database
from models.tables import Call
from router.directory import Role

SYSTEM = "pbx1"
AMI_USER, AMI_SECRET = "callrouter", "secret"
KNOWN = "+79161234567"
KNOWN_NAME = "Иван Петров"

# The production defaults (core/settings.py, ami_listener/service.py) scaled down so a
# fault that lasts minutes in the field lasts about a second here: same shape, same code paths.
SCALE = 0.1
REAL_RECONNECT = (0.5, 30.0)  # AmiSettings.reconnect_initial_delay / reconnect_max_delay
REAL_SINK_RETRY = (0.5, 60.0)  # AmiListener sink_retry_initial / sink_retry_max
RECONNECT = (REAL_RECONNECT[0] * SCALE, 0.4)  # the cap cut further: 3 s would outlast the test
SINK_RETRY = (REAL_SINK_RETRY[0] * SCALE, 0.4)
TICK = 0.05  # AmiListener tick (real: 1 s)
CDR_GRACE = 0.2  # AmiSettings.cdr_grace (real: 2 s of Asterisk event time)


def listener_settings(port: int, **overrides: object) -> AmiSettings:
    values: dict[str, object] = dict(
        host="127.0.0.1",
        port=port,
        username=AMI_USER,
        secret=AMI_SECRET,
        reconnect_initial_delay=RECONNECT[0],
        reconnect_max_delay=RECONNECT[1],
        connect_timeout=2.0,
        ping_interval=2.0,
        ping_timeout=1.0,
        cdr_grace=CDR_GRACE,
    )
    values.update(overrides)
    return AmiSettings(**values)  # type: ignore[arg-type]


def listener_env(port: int) -> dict[str, str]:
    """The same settings as CALLROUTER_* variables, for a listener in its own process."""
    return {
        "CALLROUTER_AMI__HOST": "127.0.0.1",
        "CALLROUTER_AMI__PORT": str(port),
        "CALLROUTER_AMI__USERNAME": AMI_USER,
        "CALLROUTER_AMI__SECRET": AMI_SECRET,
        "CALLROUTER_AMI__RECONNECT_INITIAL_DELAY": str(RECONNECT[0]),
        "CALLROUTER_AMI__RECONNECT_MAX_DELAY": str(RECONNECT[1]),
        "CALLROUTER_AMI__CONNECT_TIMEOUT": "2.0",
        "CALLROUTER_AMI__PING_INTERVAL": "2.0",
        "CALLROUTER_AMI__PING_TIMEOUT": "1.0",
        "CALLROUTER_AMI__CDR_GRACE": str(CDR_GRACE),
        "CALLROUTER_ASTERISK_SYSTEM": SYSTEM,
    }


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    within: float = 10.0,
    what: str = "condition",
    interval: float = 0.02,
) -> None:
    """Poll `condition` (sync or async) until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(interval)


async def seed_office(db: Database) -> None:
    """The lab office: SIP/101…105 in Sales, and one known client whose manager is SIP/101."""
    async with db.transaction() as session:
        sales = await add_department(session, "Sales", "Europe/Moscow")
        ivan = await add_manager(session, name="Ivan", endpoint="SIP/101", department=sales)
        await add_manager(session, name="Olga", endpoint="SIP/102", department=sales)
        await add_manager(session, name="Petr", endpoint="SIP/103", department=sales)
        await add_manager(
            session, name="Head", endpoint="SIP/104", role=Role.HEAD_OF_SALES, department=sales
        )
        await add_manager(session, name="Owner", endpoint="SIP/105", role=Role.OWNER)
        await add_contact(session, KNOWN, region="RU", name=KNOWN_NAME, responsible=ivan)


async def recorded(db: Database) -> dict[str, int]:
    """Rows per linkedid of this system's calls (every value should be 1)."""
    async with db.reader() as session:
        rows = await session.execute(
            select(Call.linkedid, func.count()).where(Call.system == SYSTEM).group_by(Call.linkedid)
        )
        return {linkedid: count for linkedid, count in rows.all()}


async def recorded_at(url: str) -> dict[str, int]:
    db = Database(url)
    try:
        return await recorded(db)
    finally:
        await db.dispose()


def authed_sessions(sim: AsteriskSimulator) -> int:
    return sum(1 for s in (sim.ami.sessions if sim.ami else []) if s.authed)


class Traffic:
    """Calls started in the background; remembers each call's linkedid once it is known."""

    def __init__(self) -> None:
        self.tasks: dict[str, list[asyncio.Task[object]]] = {}

    def start(self, group: str, coro: Awaitable[object]) -> None:
        self.tasks.setdefault(group, []).append(asyncio.ensure_future(coro))

    async def finish(self, group: str | None = None, within: float = 15.0) -> None:
        groups = [group] if group else list(self.tasks)
        pending = [t for g in groups for t in self.tasks.get(g, [])]
        async with asyncio.timeout(within):
            await asyncio.gather(*pending)

    def linkedids(self, *groups: str) -> set[str]:
        return {t.result().linkedid for g in groups for t in self.tasks.get(g, [])}  # type: ignore[attr-defined]

    def running(self, group: str) -> int:
        return sum(1 for t in self.tasks.get(group, []) if not t.done())


# ---- a private PostgreSQL that can be stopped for real ---------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb in a temporary directory, run as `postgres`,
    since initdb refuses root), so a test may stop and start it without touching the shared
    server other tests use."""

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="callrouter-pg-")))
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.bin = _postgres_bin()
        self.data = self.root / "data"
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def _as_postgres(self, *argv: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off"
        )
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.root / "log"), "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# ---- a SQLite file locked by another connection ----------------------------------------------


class SqliteLock:
    """Another connection holding `BEGIN EXCLUSIVE` on the database file, from a thread.

    In WAL mode (models/db.py) that locks out every writer, while readers go on: the
    router's lookups keep working, the listener's writes fail after the busy timeout.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held = threading.Event()
        self._release = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._hold, name="sqlite-lock", daemon=True)

    def _hold(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            try:
                conn.execute("BEGIN EXCLUSIVE")
                self._held.set()
                self._release.wait()
                conn.execute("ROLLBACK")
            finally:
                conn.close()
        except BaseException as exc:  # surfaced by acquire()
            self._error = exc
            self._held.set()

    async def acquire(self) -> None:
        self._thread.start()
        await asyncio.to_thread(self._held.wait, 15)
        if self._error is not None:
            raise self._error
        assert self._held.is_set(), "could not lock the SQLite file"

    async def release(self) -> None:
        self._release.set()
        await asyncio.to_thread(self._thread.join, 15)


_WAL_INDEX_LOCKER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)
print("locked", flush=True)
sys.stdin.read()
"""


class WalIndexLock:
    """Another process holding every lock of the WAL index (`<db>-shm` bytes 120..127: write,
    checkpoint, recover and the five read marks), as a process stuck inside SQLite would.
    Readers and writers alike wait (about 10 s inside SQLite, whatever the busy timeout), then
    fail with "locking protocol". It must be another process: fcntl locks are per process."""

    def __init__(self, path: Path) -> None:
        self.shm = Path(f"{path}-shm")
        self._process: asyncio.subprocess.Process | None = None

    async def acquire(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WAL_INDEX_LOCKER, str(self.shm),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._process.stdout is not None
        line = await asyncio.wait_for(self._process.stdout.readline(), 10)
        assert line == b"locked\n", "could not lock the WAL index"

    async def release(self) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        await asyncio.wait_for(self._process.wait(), 10)


# ---- the AGI conversation, timed on the wire ----------------------------------------------


@dataclass
class TappedSession:
    opened_at: float
    lines: list[tuple[float, str, str]] = field(default_factory=list)  # (t, "in"|"out", text)

    def env_done_at(self) -> float | None:
        """When Asterisk finished sending the environment (its blank line)."""
        return next((t for t, d, text in self.lines if d == "in" and text == ""), None)

    def first(self, prefix: str) -> tuple[float, str] | None:
        return next(((t, x) for t, d, x in self.lines if d == "out" and x.startswith(prefix)), None)


class AgiTap:
    """A loopback TCP relay between Asterisk and the FastAGI server that timestamps each line."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.sessions: list[TappedSession] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, a_reader: asyncio.StreamReader, a_writer: asyncio.StreamWriter) -> None:
        session = TappedSession(time.monotonic())
        self.sessions.append(session)
        try:
            s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            a_writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str) -> None:
            try:
                while line := await src.readline():
                    session.lines.append(
                        (time.monotonic(), way, line.decode("utf-8", "replace").rstrip("\n"))
                    )
                    dst.write(line)
                    await dst.drain()
            except (ConnectionError, ValueError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pump(a_reader, s_writer, "in"), pump(s_reader, a_writer, "out"))


# ---- event loop responsiveness -------------------------------------------------------------


class Heartbeat:
    """A task that wakes every `period` seconds and remembers its worst lateness: a blocked
    event loop (a busy loop, blocking I/O, a quadratic parse) shows up as a late beat."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.worst = 0.0
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, time.monotonic() - before - self.period)
            self.beats += 1

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class ErrorLog(logging.Handler):
    """Collects ERROR (and worse) records of a logger while in the `with` block."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logging.ERROR)
        self.logger = logger
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> ErrorLog:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.logger.removeHandler(self)
