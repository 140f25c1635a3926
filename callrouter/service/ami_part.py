"""The recording half of the service: the AMI listener writing into the database."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ami_listener.calls import CompletedCall
from ami_listener.connection import down_reason
from ami_listener.message import AmiMessage as Message
from ami_listener.service import AmiListener
from ami_listener.sink import CallRefused
from callrouter import metrics
from core.settings import AmiSettings, Settings
from crm.call_sink import DbCallSink
from models.db import Database

from .degraded import DatabaseState, snapshot_path
from .phones import DirectoryPhones
from .sink import LostCallsToday, TimedSink
from .statusfile import HEARTBEAT, ListenerStatus, now_iso, status_path, write_status

log = logging.getLogger(__name__)

# A change to any of these needs a new AMI session; anything else keeps the connection.
CONNECTION_FIELDS = ("host", "port", "username", "secret", "secret_file")
STATUS_POLL = 0.5


def spool_calls_dir(settings: Settings) -> Path:
    return Path(settings.spool_dir) / "calls"


def refused_calls_dir(settings: Settings) -> Path:
    """Where the listener sets aside the calls the database refused (`callrouter refused`)."""
    return spool_calls_dir(settings) / "refused"


def connection_changed(old: AmiSettings, new: AmiSettings) -> bool:
    if any(getattr(old, f) != getattr(new, f) for f in CONNECTION_FIELDS):
        return True
    try:
        return old.resolved_secret() != new.resolved_secret()  # the secret file's content
    except OSError:
        return True


# After the last AGI session ends, how long its call may take to reach the listener in full.
DRAIN_EXTRA_SECONDS = 2.0


class WatchedSink:
    """The listener's sink, telling `on_failure` of every write that failed for another
    reason than a refused call (the degraded-mode monitor then checks the database)."""

    def __init__(self, inner: TimedSink, on_failure: Callable[[BaseException], None]) -> None:
        self.inner = inner
        self.on_failure = on_failure

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        try:
            await self.inner.write(calls)
        except CallRefused:
            raise
        except Exception as exc:
            self.on_failure(exc)
            raise


class AmiPart:
    """Runs one `AmiListener`; `stop()` flushes every ended call to the database.

    With `database` (the degraded-mode monitor, degraded.py) a failed write or directory load
    has it check the database, and its return ends the listener's retry wait at once (the
    spool drains now) and reloads the phones and today's lost calls."""

    name = "ami"

    def __init__(self, settings: Settings, database: DatabaseState | None = None) -> None:
        self.settings = settings
        self.database = database
        self.db = Database(settings.database_url)
        self.lost = LostCallsToday(settings.timezone)
        timed = TimedSink(
            DbCallSink(
                self.db, settings.leads, sales_department_id=settings.routing.sales_department_id
            ),
            self.lost,
        )
        self.sink: TimedSink | WatchedSink = (
            timed if database is None else WatchedSink(timed, database.suspect)
        )
        self.phones = DirectoryPhones(
            self.db,
            settings.routing.directory_refresh_seconds,
            snapshot=snapshot_path(settings.spool_dir),
            on_failure=database.suspect if database is not None else None,
        )
        self._phones_task: asyncio.Task[None] | None = None
        self.listener: AmiListener | None = None
        self.failed = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        if self.database is not None:
            self.database.on_back(self.database_back)
        try:
            await self.lost.load(self.db)
        except Exception as exc:
            log.warning("lost calls today not counted from the database (%s)", type(exc).__name__)
        metrics.LIVE.set_probe("callrouter_lost_calls_today", lambda: self.lost.count)
        await self.phones.refresh()
        self._phones_task = asyncio.create_task(self.phones.run(), name="ami-phones")
        self._start_listener(self.settings)

    def _start_listener(self, settings: Settings) -> None:
        listener = AmiListener(
            settings.ami,
            settings.asterisk_system,
            self.sink,
            spool_dir=spool_calls_dir(settings),
            refused_dir=refused_calls_dir(settings),
            region=settings.default_region,
            on_event=count_event,
            on_refused=count_refused,
            phones=self.phones,
        )
        self.listener = listener
        self._stopping = False
        self._run_task = asyncio.create_task(self._run(listener), name="ami-listener")
        self._watch_task = asyncio.create_task(self._watch(listener), name="ami-status")
        live = metrics.LIVE
        live.set_probe("callrouter_ami_connected", lambda: listener.connection.connected.is_set())
        live.set_probe("callrouter_ami_queue_depth", listener.queue.qsize)
        live.set_probe("callrouter_ami_calls_in_flight", lambda: listener.tracker.in_flight)
        live.set_probe("callrouter_spool_depth", lambda: len(listener.spool.pending()))
        live.set_probe("callrouter_refused_spool_depth", listener.refused.count)
        log.info(
            "AMI listener started for %s at %s:%d",
            settings.asterisk_system,
            settings.ami.host,
            settings.ami.port,
            extra={"event": "ami_started"},
        )

    async def _run(self, listener: AmiListener) -> None:
        try:
            await listener.run()
        except Exception:
            log.exception("AMI listener failed")
            self.failed.set()
            return
        if not self._stopping:
            log.error("AMI listener ended unexpectedly")
            self.failed.set()

    async def database_back(self) -> None:
        """The database answers again: deliver the spool now (not after the listener's retry
        backoff), then the phones and today's lost calls from it."""
        if self.listener is not None:
            self.listener.retry_now()
        await self.phones.refresh()
        await self.lost.load(self.db)

    async def drain(self, limit: float) -> None:
        """Give calls whose AGI session just ended time to send their last events (bounded)."""
        listener = self.listener
        if listener is None:
            return
        deadline = time.monotonic() + limit
        while listener.tracker.in_flight and time.monotonic() < deadline:
            if not listener.connection.connected.is_set():
                return
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Close the AMI session, spool every ended call and deliver it to the database."""
        listener = self.listener
        if listener is not None:
            self._stopping = True
            await listener.stop()
            if self._run_task is not None:
                await asyncio.gather(self._run_task, return_exceptions=True)
            if self._watch_task is not None:
                self._watch_task.cancel()
                await asyncio.gather(self._watch_task, return_exceptions=True)
            self._write_status(listener, connected=False, changed_at=now_iso(), running=False)
            pending = len(listener.spool.pending())
            if pending:
                log.warning("%d call(s) left in the spool for the next start", pending)
            self.listener = None
        for name in (
            "ami_connected",
            "ami_queue_depth",
            "ami_calls_in_flight",
            "spool_depth",
            "refused_spool_depth",
        ):
            metrics.LIVE.set_probe(f"callrouter_{name}", None)

    async def shut_down(self) -> None:
        """Wait (bounded) for the last events of calls just routed, then flush and close."""
        await self.drain(self.settings.ami.cdr_grace + DRAIN_EXTRA_SECONDS)
        await self.close()

    async def close(self) -> None:
        await self.stop()
        if self._phones_task is not None:
            self._phones_task.cancel()
            await asyncio.gather(self._phones_task, return_exceptions=True)
            self._phones_task = None
        metrics.LIVE.set_probe("callrouter_lost_calls_today", None)
        await self.db.dispose()

    async def reload(self, new: Settings) -> None:
        """Keep the AMI session unless its connection settings changed; reload the phones."""
        self.phones.refresh_seconds = new.routing.directory_refresh_seconds
        if await self.phones.refresh():
            log.info(
                "listener's phones reloaded: %d in the directory",
                len(self.phones() or ()),
                extra={"event": "phones_reloaded"},
            )
        if new.database_url != self.settings.database_url:
            log.warning("database_url changed: takes effect after a restart")
        if connection_changed(self.settings.ami, new.ami):
            log.info(
                "AMI connection settings changed: reconnecting", extra={"event": "ami_reconnect"}
            )
            await self.stop()
            self.settings = new.model_copy(update={"database_url": self.settings.database_url})
            self._start_listener(self.settings)
        elif self.listener is not None and self.listener.connection.connected.is_set():
            log.info("AMI connection kept", extra={"event": "ami_reloaded"})
        else:
            reason = down_reason(self.listener.connection.last_error if self.listener else None)
            log.info(
                "AMI not connected (%s): still retrying %s:%d with the same settings",
                reason or "connecting",
                self.settings.ami.host,
                self.settings.ami.port,
                extra={"event": "ami_reloaded"},
            )

    async def _watch(self, listener: AmiListener) -> None:
        """Write status.json when the connection comes up or goes down, and every HEARTBEAT s."""
        connected: bool | None = None
        changed_at = now_iso()
        written = 0.0
        reason: str | None = None
        while True:
            now_connected = listener.connection.connected.is_set()
            now_reason = _reason(listener, now_connected)
            if now_connected != connected:
                connected, changed_at, reason = now_connected, now_iso(), now_reason
                self._write_status(listener, connected, changed_at)
                written = time.monotonic()
            elif now_reason != reason:  # e.g. a refused login, after the first attempt
                reason = now_reason
                self._write_status(listener, connected, changed_at)
                written = time.monotonic()
            elif time.monotonic() - written >= HEARTBEAT:
                self._write_status(listener, connected, changed_at)
                written = time.monotonic()
            await asyncio.sleep(STATUS_POLL)

    def _write_status(
        self, listener: AmiListener, connected: bool, changed_at: str, running: bool = True
    ) -> None:
        ami = listener.settings
        status = ListenerStatus(
            pid=os.getpid(),
            ami_connected=connected,
            ami_address=f"{ami.host}:{ami.port}",
            changed_at=changed_at,
            updated_at=now_iso(),
            running=running,
            ami_error=_reason(listener, connected) if running else None,
        )
        try:
            write_status(status_path(self.settings.spool_dir), status)
        except OSError as exc:
            log.warning("status file not written: %s", exc)


def _reason(listener: AmiListener, connected: bool) -> str | None:
    return None if connected else down_reason(listener.connection.last_error)


def count_event(event: Message) -> None:
    """The listener's `on_event`: count every AMI event and its lag on the way in."""
    metrics.AMI_EVENTS.inc()
    stamp = event.get("Timestamp")
    if stamp:
        try:
            lag = max(0.0, time.time() - float(stamp))
        except ValueError:
            return
        metrics.AMI_LAG_SECONDS.observe(lag)
        metrics.AMI_LAST_LAG.set(lag)


def count_refused(call: CompletedCall, refused: CallRefused) -> None:
    """The listener's `on_refused`: one more call set aside."""
    metrics.CALLS_REFUSED.inc()
