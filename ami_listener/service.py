"""The AMI listener process: connection → bounded queue → one consumer (tracker) → spool → sink.

- The connection only enqueues events. When the queue is full (the consumer is far behind),
  reading the socket pauses until there is room — nothing is dropped — and a warning is logged
  once per episode; TCP then holds the data back in Asterisk. If the pause outlasts Asterisk's
  `writetimeout`, Asterisk closes the session, we log it and reconnect: the loss is visible.
  The consumer never touches the database, so a slow database cannot fill the queue.
- Every completed call is first written to the durable spool by the spooler task, then handed
  to the sink by a separate delivery task, in order. A sink that cannot write now (the database
  is away) is retried with capped backoff while calls keep accumulating safely on disk; the
  owner that learns the database is back calls `retry_now()` and the wait ends at once. A sink
  that refuses a call (`CallRefused`) has it set aside in the spool's `refused/` area
  (`refused.py`) and the calls behind it are written at once. Spooled calls from an earlier run
  are delivered on start. The consumer never waits for the disk either: it hands calls over in
  memory, and both tasks work in batches of whatever has accumulated meanwhile (one thread hop,
  one directory fsync, one database transaction per batch), so the busier the line, the
  cheaper each call.
- `expire(now)` runs every `tick` seconds with Asterisk's clock estimated as the last event's
  Timestamp plus the monotonic time elapsed since, so host clock skew does not matter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from core.settings import AmiSettings

from .calls import CompletedCall
from .connection import EVENT_FILTERS, AmiConnection, Backoff
from .message import AmiMessage as Message
from .refused import RefusedCalls
from .sink import CallRefused, CallSink
from .spool import CallSpool
from .tracker import CallTracker, PhoneSource

log = logging.getLogger(__name__)

EventObserver = Callable[[Message], None]


RefusalObserver = Callable[[CompletedCall, CallRefused], None]


class MemorySink:
    """Collects calls in a list (tests, dry runs)."""

    def __init__(self) -> None:
        self.calls: list[CompletedCall] = []
        self.written = asyncio.Condition()

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        async with self.written:
            self.calls.extend(calls)
            self.written.notify_all()

    async def wait_for(self, count: int) -> list[CompletedCall]:
        """Wait until at least `count` calls were written."""
        async with self.written:
            await self.written.wait_for(lambda: len(self.calls) >= count)
        return self.calls


class AmiListener:
    """Runs the whole listener for one Asterisk system until `stop()`."""

    def __init__(
        self,
        settings: AmiSettings,
        system: str,
        sink: CallSink,
        *,
        spool_dir: Path = Path("spool") / "calls",
        region: str = "RU",
        tick: float = 1.0,
        batch_size: int = 100,
        event_filters: Sequence[str] = EVENT_FILTERS,
        sink_retry_initial: float = 0.5,
        sink_retry_max: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        refused_dir: Path | None = None,
        on_event: EventObserver | None = None,
        on_refused: RefusalObserver | None = None,
        phones: PhoneSource | None = None,
    ) -> None:
        """`on_event` sees every AMI event as it arrives, before it is queued (it must not
        block: counting, timing); `on_refused` hears of every call set aside. `refused_dir`
        defaults to `refused/` inside the spool directory. `phones` tells which endpoints are
        managers' phones (the directory's, asked as each call is assembled; it must not block);
        without it, or while it gives None, `settings.trunk_endpoints` and
        `settings.internal_max_digits` tell trunks from phones by their names."""
        self.settings = settings
        self.system = system
        self.sink = sink
        self.tracker = CallTracker(
            system,
            region=region,
            cdr_grace=settings.cdr_grace,
            trunk_endpoints=settings.trunk_endpoints,
            internal_max_digits=settings.internal_max_digits,
            phones=phones,
        )
        self.queue: asyncio.Queue[Message] = asyncio.Queue(settings.queue_size)
        self.connection = AmiConnection(settings, self._enqueue, filters=event_filters, sleep=sleep)
        self.spool = CallSpool(spool_dir)
        self.refused = RefusedCalls(refused_dir or Path(spool_dir) / "refused")
        self._on_event = on_event
        self._on_refused = on_refused
        self.tick = tick
        self.batch_size = batch_size
        self.stop_timeout = 5.0
        self.queue_full_episodes = 0
        self.sink_failures = 0  # writes that failed because the sink could not write then
        self.calls_refused = 0  # calls set aside in `refused/`
        self._sink_retry = (sink_retry_initial, sink_retry_max)
        self._sleep = sleep
        self._wake = asyncio.Event()  # delivery: there is something in the spool
        self._retry_now = asyncio.Event()  # delivery: the sink may write again, stop waiting
        self._idle = asyncio.Event()  # delivery: the spool was empty when last looked at
        self._unspooled: list[CompletedCall] = []  # ended calls the spooler has not written yet
        self._spool_wake = asyncio.Event()
        self._all_spooled = asyncio.Event()
        self._all_spooled.set()
        self.spool_failures = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._stopped = asyncio.Event()
        self._clock: tuple[float, float] | None = None  # (asterisk time, monotonic) at last event

    async def run(self) -> None:
        """Start everything; return after `stop()` (or raise if a part failed)."""
        self._wake.set()  # deliver what an earlier run left in the spool
        self._tasks = [
            asyncio.create_task(self.connection.run(), name="ami-connection"),
            asyncio.create_task(self._consume(), name="ami-consumer"),
            asyncio.create_task(self._spooler(), name="ami-spooler"),
            asyncio.create_task(self._deliver(), name="ami-delivery"),
            asyncio.create_task(self._expire_periodically(), name="ami-expire"),
        ]
        stopped = asyncio.create_task(self._stopped.wait())
        done, _ = await asyncio.wait({stopped, *self._tasks}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        for task in done:
            if task is stopped or (self._stopping and task.cancelled()):
                continue  # cancelled by stop(), not dead
            task.result()  # a part died: let the supervisor (systemd) see it

    async def stop(self) -> None:
        """Close the connection, finish queued events, spool ended calls, try to deliver them."""
        self._stopping = True
        timeout = self.stop_timeout
        await self.connection.stop()
        try:
            await asyncio.wait_for(self.queue.join(), timeout)
        except TimeoutError:
            log.error("stopping with %d AMI events unprocessed", self.queue.qsize())
        # Handing calls over is synchronous, so the expiry tick can never be caught holding
        # calls that are in neither the tracker nor the spooler's list.
        self._hand_over(self.tracker.flush())
        if self.tracker.in_flight:
            log.warning(
                "stopping with %d call(s) in flight; they will not be recorded",
                self.tracker.in_flight,
            )
        try:
            await asyncio.wait_for(self._all_spooled.wait(), timeout)
        except TimeoutError:
            log.error(
                "stopping with %d ended call(s) not spooled: the spool directory %s fails",
                len(self._unspooled),
                self.spool.directory,
            )
        self._idle.clear()
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("sink still failing at stop; calls stay in %s", self.spool.directory)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._stopped.set()

    def retry_now(self) -> None:
        """The sink can write again (its database is back): end a retry's backoff at once, so
        the spool drains now rather than after the current delay (up to `sink_retry_max`)."""
        self._retry_now.set()

    def now(self) -> float:
        """Asterisk's clock, estimated from the last event's Timestamp."""
        if self._clock is None:
            return time.time()
        asterisk_at, mono_at = self._clock
        return asterisk_at + (time.monotonic() - mono_at)

    # ---- parts ------------------------------------------------------------------------

    async def _enqueue(self, event: Message) -> None:
        if self._on_event is not None:
            self._on_event(event)
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.queue_full_episodes += 1
            log.warning(
                "AMI event queue full (%d); pausing the socket until the tracker catches up",
                self.queue.maxsize,
            )
            await self.queue.put(event)

    async def _consume(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                before = self.tracker.last_event_at
                calls = self.tracker.process(event, now=self.now())
                if self.tracker.last_event_at != before and self.tracker.last_event_at:
                    self._clock = (self.tracker.last_event_at, time.monotonic())
                self._hand_over(calls)
            except Exception:
                log.exception("AMI event could not be processed: %r", event)
            finally:
                self.queue.task_done()

    async def _expire_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self._hand_over(self.tracker.expire(self.now()))

    def _hand_over(self, calls: list[CompletedCall]) -> None:
        """Give ended calls to the spooler (in memory, no waiting: the consumer must not stall)."""
        if calls:
            self._unspooled.extend(calls)
            self._all_spooled.clear()
            self._spool_wake.set()

    async def _spooler(self) -> None:
        backoff = Backoff(*self._sink_retry)
        while True:
            await self._spool_wake.wait()
            self._spool_wake.clear()
            while self._unspooled:
                batch = self._unspooled[: self.batch_size]
                try:
                    await asyncio.to_thread(self.spool.put_many, batch)
                except OSError as exc:
                    # Disk full or gone: the calls stay in memory and are tried again.
                    self.spool_failures += 1
                    delay = backoff.next()
                    log.error(
                        "cannot spool %d call(s) to %s (%s); retrying in %.1f s",
                        len(self._unspooled),
                        self.spool.directory,
                        exc,
                        delay,
                    )
                    await self._sleep(delay)
                    continue
                backoff.reset()
                del self._unspooled[: len(batch)]
                # "call recorded" is logged once, by the sink, when the database has it.
                for call in batch:
                    log.debug(
                        "call %s %s %s spooled", call.linkedid, call.direction, call.disposition
                    )
                self._wake.set()
            self._all_spooled.set()

    async def _deliver(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while batch := await asyncio.to_thread(self.spool.oldest, self.batch_size):
                calls = [call for _, call in batch if call is not None]
                if calls:
                    refused = await self._write_until_done(calls)
                    if refused:
                        await self._set_aside(refused)
                await asyncio.to_thread(self.spool.remove_many, [path for path, _ in batch])
            if not self._wake.is_set():
                self._idle.set()

    async def _write_until_done(
        self, calls: list[CompletedCall]
    ) -> list[tuple[CompletedCall, CallRefused]]:
        """Write the batch, retrying while the sink cannot write; returns the calls it refused.

        A refused batch is written again call by call to find the refused ones: the others
        are written at once, in order.
        """
        backoff = Backoff(*self._sink_retry)
        while (outcome := await self._try_write(calls, backoff)) is False:
            pass
        if outcome is True:
            return []
        if len(calls) == 1:
            return [(calls[0], outcome)]
        refused = []
        for call in calls:
            while (outcome := await self._try_write([call], backoff)) is False:
                pass
            if outcome is not True:
                refused.append((call, outcome))
        return refused

    async def _try_write(self, calls: list[CompletedCall], backoff: Backoff) -> bool | CallRefused:
        """True: written. CallRefused: refused, do not retry as is. False: retry (slept)."""
        self._retry_now.clear()  # a `retry_now()` from here on ends this attempt's backoff
        try:
            await self.sink.write(calls)
            return True
        except asyncio.CancelledError:
            raise
        except CallRefused as refused:
            return refused
        except Exception as exc:
            self.sink_failures += 1
            delay = backoff.next()
            # The exception's class only: a database error's text holds the statement's data.
            log.warning(
                "sink could not write %s (%s); retrying in %.1f s, safe in the spool",
                f"call {calls[0].linkedid}" if len(calls) == 1 else f"{len(calls)} calls",
                _error_name(exc),
                delay,
            )
            await self._backoff(delay, backoff)
            return False

    async def _backoff(self, delay: float, backoff: Backoff) -> None:
        """Sleep `delay`, or less when `retry_now()` is called (the backoff then starts over)."""
        sleeping = asyncio.ensure_future(self._sleep(delay))
        woken = asyncio.ensure_future(self._retry_now.wait())
        try:
            await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            woken.cancel()
            await asyncio.gather(sleeping, woken, return_exceptions=True)
        if self._retry_now.is_set():
            backoff.reset()

    async def _set_aside(self, refused: list[tuple[CompletedCall, CallRefused]]) -> None:
        """Move refused calls to `refused/` (durably, before the spool forgets them)."""
        backoff = Backoff(*self._sink_retry)
        items = [(call, r.error, r.detail) for call, r in refused]
        while True:
            try:
                paths = await asyncio.to_thread(self.refused.put_many, items)
                break
            except OSError as exc:
                self.spool_failures += 1
                delay = backoff.next()
                log.error(
                    "cannot set %d refused call(s) aside in %s (%s); retrying in %.1f s",
                    len(items),
                    self.refused.directory,
                    exc,
                    delay,
                )
                await self._sleep(delay)
        for (call, reason), path in zip(refused, paths, strict=True):
            self.calls_refused += 1
            log.error(
                "call %s %s refused by the sink (%s); set aside as %s, the calls behind it "
                "go on (`callrouter refused list`)",
                call.system,
                call.linkedid,
                reason.error,
                path.name,
            )
            if self._on_refused is not None:
                self._on_refused(call, reason)


def _error_name(exc: BaseException) -> str:
    """`OperationalError (OperationalError)`: the class, and the driver's under it, if any."""
    orig = getattr(exc, "orig", None)
    if isinstance(orig, BaseException):
        return f"{type(exc).__name__} ({type(orig).__name__})"
    return type(exc).__name__
