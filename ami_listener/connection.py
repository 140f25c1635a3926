"""The AMI connection: log in, ask only for the events we need, keep it alive, reconnect.

Why our own protocol on asyncio streams instead of panoramisk's `Manager`:
- `Manager`'s protocol decodes each TCP chunk on its own and drops a UTF-8 character split
  across two reads (Cyrillic caller names get damaged); `wire.AmiFramer` decodes whole messages.
- `Manager` reconnects on a fixed delay, does not tell a wrong secret from a network error,
  has no watchdog for a half-open connection, and logs and swallows errors in callbacks.
- Header parsing is `message.AmiMessage` (panoramisk's `Message` was too slow on the hot path).
  Action/response matching by ActionID is the ten lines in `_request` below.

Faults and what happens (each has a test in tests/ami/test_connection.py):
- wrong secret: `AmiAuthError` logged as an error naming the user, retried with the capped
  backoff (an operator may fix manager.conf without restarting us); never a busy loop.
- refused / reset / EOF / accepted-then-closed / no banner: reconnect with capped exponential
  backoff, reset to the initial delay after a successful login.
- half-open connection (no Ping reply within `ping_timeout`): closed and reconnected. A reader
  that is only waiting for room in our own event queue is not mistaken for a dead peer.
- Asterisk restart: `Shutdown` and `FullyBooted` are delivered like any event; the tracker
  resets its call state on them.
- a call that starts and ends while the session is being set up (a busy host answers the
  `Filter` action late): recorded whole, because the event whitelist is one `Filter` action,
  never a partial list that lets a call's `Newchannel` through but not its `Hangup`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence

from core import dialplan
from core.settings import AmiSettings

from .message import AmiMessage as Message
from .wire import AmiFramer, AmiProtocolError, encode_action, encode_action_lines, event_filter

log = logging.getLogger(__name__)

EventHandler = Callable[[Message], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

# AMI event classes the tracker needs (Login `Events:`): call = channels/dial/hangup,
# cdr = Cdr, dialplan = VarSet, system = FullyBooted/Shutdown.
EVENT_CLASSES = "call,cdr,dialplan,system"
# Whitelist filters (regular expressions on the event text) so Asterisk sends only these.
# They are sent as one `Filter` action, their alternation (see `_send_filters`).
EVENT_FILTERS: tuple[str, ...] = (
    "Event: Newchannel",
    "Event: NewCallerid",
    "Event: DialBegin",
    "Event: DialEnd",
    "Event: Hangup",  # also matches HangupRequest, which the tracker uses for abandons
    "Event: Cdr",
    "Event: FullyBooted",
    "Event: Shutdown",
    f"Variable: {dialplan.PREFIX}",
    f"Variable: {dialplan.ASTERISK_MIXMONITOR_FILENAME}",
)


class AmiError(Exception):
    """The AMI session ended; the connection loop reconnects."""


class AmiAuthError(AmiError):
    """Asterisk refused the login (wrong username or secret, or a host not permitted)."""

    def __init__(self, message: str, reason: str = "authentication failed") -> None:
        super().__init__(message)
        self.reason = reason  # short, for `callrouter status`


def down_reason(error: BaseException | None) -> str | None:
    """Why the last session ended or never began, in a few words (for `callrouter status`)."""
    if error is None:
        return None
    if isinstance(error, AmiAuthError):
        return error.reason
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)[:1].lower() + os.strerror(error.errno)[1:]
    return str(error) or type(error).__name__


class Backoff:
    """Capped exponential delays: initial, 2x, 4x … up to `maximum`."""

    def __init__(self, initial: float, maximum: float, factor: float = 2.0) -> None:
        self.initial, self.maximum, self.factor = initial, max(maximum, initial), factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class AmiConnection:
    """Keeps one logged-in AMI session alive and hands every event to `on_event`.

    `on_event` is awaited for each event in arrival order; it should only enqueue. It is fixed
    at construction: whoever wants to see the events too (metrics) is composed into it by the
    owner (`AmiListener(on_event=…)`), never patched in. `sleep` is the backoff sleeper
    (tests pass a virtual one).
    """

    def __init__(
        self,
        settings: AmiSettings,
        on_event: EventHandler,
        *,
        filters: Sequence[str] = EVENT_FILTERS,
        event_classes: str = EVENT_CLASSES,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self.filters = tuple(filters)
        self._keep = event_filter(self.filters)
        self.event_classes = event_classes
        self.backoff = Backoff(settings.reconnect_initial_delay, settings.reconnect_max_delay)
        self.connected = asyncio.Event()
        self.login_attempts = 0
        self.sessions = 0
        self.ping_timeouts = 0
        self.last_error: Exception | None = None
        self._sleep = sleep
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._delivering = False
        self._stopping = False

    async def run(self) -> None:
        """Connect, serve, reconnect, until `stop()`."""
        while not self._stopping:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except AmiAuthError as exc:
                self.last_error = exc
                log.error("%s; retrying with backoff", exc)
            except (OSError, TimeoutError, AmiError, AmiProtocolError, ValueError) as exc:
                if self._stopping:
                    break
                self.last_error = exc
                log.warning(
                    "AMI %s:%s: %s",
                    self.settings.host,
                    self.settings.port,
                    exc or type(exc).__name__,
                )
            finally:
                self.connected.clear()
            if not self._stopping:
                await self._sleep(self.backoff.next())

    async def stop(self) -> None:
        """Log off and close; `run()` returns."""
        self._stopping = True
        writer = self._writer
        if writer is not None:
            try:
                writer.write(encode_action("Logoff", "logoff"))
                await asyncio.wait_for(writer.drain(), 1.0)
            except (OSError, TimeoutError):
                pass
            writer.close()

    # ---- one session ------------------------------------------------------------------

    async def _session(self) -> None:
        settings = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(settings.host, settings.port), settings.connect_timeout
        )
        self._writer = writer
        framer = AmiFramer(keep=self._keep)
        banner = asyncio.get_running_loop().create_future()
        read_task = asyncio.create_task(self._read(reader, framer, banner))
        try:
            await asyncio.wait(
                {banner, read_task},
                timeout=settings.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if read_task.done():
                read_task.result()
            if not banner.done():
                raise AmiError(f"no AMI banner within {settings.connect_timeout:g} s")
            await self._login()
            self.sessions += 1
            self.backoff.reset()
            await self._send_filters()
            self.connected.set()
            log.info("AMI connected to %s:%s (%s)", settings.host, settings.port, framer.version)
            watchdog = asyncio.create_task(self._watchdog())
            done, _ = await asyncio.wait({read_task, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            watchdog.cancel()
            for task in done:
                task.result()
        finally:
            read_task.cancel()
            await asyncio.gather(read_task, return_exceptions=True)
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            self._writer = None
            writer.close()
            if framer.pending_bytes:
                log.warning(
                    "discarded %d bytes of a half-written AMI message at disconnect",
                    framer.pending_bytes,
                )

    async def _read(
        self, reader: asyncio.StreamReader, framer: AmiFramer, banner: asyncio.Future[None]
    ) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    when = "before the AMI banner" if not banner.done() else "by Asterisk"
                    raise AmiError(f"connection closed {when}")
                messages = framer.feed(data)
                if framer.version is not None and not banner.done():
                    banner.set_result(None)
                for message in messages:
                    await self._dispatch(message)
        finally:
            # Whoever awaits a response must not wait for a connection that is gone.
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(AmiError("connection lost while waiting for a reply"))
            self._pending.clear()

    async def _dispatch(self, message: Message) -> None:
        if "Event" not in message:
            future = self._pending.pop(message.action_id or "", None)
            if future is not None and not future.done():
                future.set_result(message)
            return
        self._delivering = True
        try:
            await self._on_event(message)
        finally:
            self._delivering = False

    async def _request(
        self,
        action: str,
        fields: dict[str, str] | None = None,
        lines: Sequence[tuple[str, str]] = (),
    ) -> Message:
        if self._writer is None:
            raise AmiError("not connected")
        action_id = f"callrouter-{next(self._ids)}"
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = future
        if lines:
            payload = encode_action_lines(action, action_id, lines)
        else:
            payload = encode_action(action, action_id, fields)
        try:
            self._writer.write(payload)
            await self._writer.drain()
            return await future
        finally:
            # An abandoned request (its caller timed out) must not leave a future that a later
            # disconnect fails with nobody to retrieve the error.
            self._pending.pop(action_id, None)

    async def _login(self) -> None:
        settings = self.settings
        self.login_attempts += 1
        request = self._request(
            "Login",
            {
                "Username": settings.username,
                "Secret": settings.resolved_secret(),
                "Events": self.event_classes,
            },
        )
        response = await self._reply(request, settings.connect_timeout, "Login")
        if response.get("Response") != "Success":
            said = response.get("Message") or response.get("Response")
            raise AmiAuthError(
                f"AMI login as {settings.username!r} at {settings.host}:{settings.port} refused: "
                f"{said} (check ami.username / "
                f"ami.secret and the [{settings.username}] section of manager.conf)",
                reason=f"authentication failed ({said}) as {settings.username!r}: check "
                "ami.username / ami.secret and manager.conf",
            )

    async def _send_filters(self) -> None:
        """Install the whitelist as ONE filter: the alternation of all the expressions.

        Asterisk applies a whitelist filter from the moment it is added and sends only what
        matches some filter already added. Added one by one, the first (`Event: Newchannel`)
        would let a call's start through while its DialBegin, Hangup, Cdr and CALLROUTER_
        variables were dropped until their own filters arrived, round trips later: a call
        that starts during the set-up would never end for us. One action has no such window:
        before it every event comes (and the framer keeps what the filters would), after it
        exactly the whitelist does.
        """
        if not self.filters:
            return
        expression = "|".join(self.filters)
        request = self._request("Filter", {"Operation": "Add", "Filter": expression})
        response = await self._reply(request, self.settings.connect_timeout, "Filter")
        if response.get("Response") != "Success":
            # Only an optimisation: the tracker ignores what it does not need.
            log.warning(
                "AMI refused event filter %r: %s (needs write=system)",
                expression,
                response.get("Message"),
            )

    async def _watchdog(self) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(settings.ping_interval)
            try:
                await self._reply(self._request("Ping"), settings.ping_timeout, "Ping")
            except TimeoutError:
                self.ping_timeouts += 1
                raise AmiError(
                    f"no reply to Ping within {settings.ping_timeout:g} s; connection presumed dead"
                ) from None

    async def _reply(self, request: Awaitable[Message], limit: float, what: str) -> Message:
        """Await a reply; time out only while the reader is free to read it.

        When the reader waits for room in our own event queue, the reply may sit unread in
        the socket: that is our backpressure, not a dead peer.
        """
        future = asyncio.ensure_future(request)
        while True:
            done, _ = await asyncio.wait({future}, timeout=limit)
            if done:
                return future.result()
            if not self._delivering:
                future.cancel()
                raise TimeoutError(f"no reply to {what} within {limit:g} s")
