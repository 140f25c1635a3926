"""One AGI conversation over any line transport (a FastAGI socket or classic stdin/stdout)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from agi_scripts.env import AgiEnv, EnvCollector
from agi_scripts.errors import (
    AGICommandError,
    AGIDeadChannel,
    AGIError,
    AGIHangup,
    AGIProtocolError,
    AGITimeout,
)
from agi_scripts.wire import (
    HANGUP_LINE,
    AgiResponse,
    command_line,
    decode_line,
    mset_data,
    parse_response,
)

log = logging.getLogger(__name__)

_TRYING = 100
_OK = 200
_DEAD_CHANNEL = 511
_USAGE = 520
_HUNG_UP = -1  # an application's result when the channel hung up
_NO_APPLICATION = -2  # EXEC of an application this Asterisk does not have


class LineTransport(Protocol):
    """Bytes in and out: `readline()` returns b'' at end of input and raises ValueError for
    a line over the reader's limit; after `interrupt(exc)` a waiting or later read or write
    raises `exc`."""

    async def readline(self) -> bytes: ...

    async def write(self, data: bytes) -> None: ...

    def interrupt(self, exc: BaseException) -> None: ...


class AgiSession:
    """Sends commands and reads their replies, one at a time.

    The unsolicited `HANGUP` line Asterisk sends when the caller leaves arrives where the reply
    to the next command is expected (README lesson 3); it is recorded in `hung_up` and the real
    reply is still read, so replies never shift onto the wrong command.

    Each command has its own deadline, but they share one timer: replies take milliseconds and
    deadlines are seconds away, so the timer armed for the first command usually outlives the
    call, and when it fires early it moves on to the deadline of the command then in flight.
    (A timer per command costs a heap push and a cancelled handle each, in a heap that holds
    every call in progress.)
    """

    def __init__(self, transport: LineTransport, env: AgiEnv, command_timeout: float) -> None:
        self.env = env
        self.hung_up = False
        self._transport = transport
        self._timeout = command_timeout
        self._broken: AGIError | None = None
        self._mset = True
        self._deadline = 0.0  # loop time by which the command in flight must be answered; 0: none
        self._timer: asyncio.TimerHandle | None = None

    def mark_hung_up(self) -> None:
        """The caller is gone (classic AGI learns it from SIGHUP)."""
        self.hung_up = True

    async def send(
        self,
        words: tuple[str, ...],
        values: tuple[str, ...] = (),
        reply_within: float | None = None,
    ) -> AgiResponse:
        """Send one command and return its 200 reply; raise the matching AGIError otherwise."""
        if self._broken is not None:
            raise self._broken
        line = command_line(words, values)
        loop = asyncio.get_running_loop()
        self._deadline = loop.time() + (self._timeout if reply_within is None else reply_within)
        if self._timer is None or self._timer.when() > self._deadline:
            self._arm(loop)
        try:
            await self._transport.write(line)
            response = await self._read_reply()
        except TimeoutError:
            self._broken = AGITimeout(f"no reply to {words[0]} within the time allowed")
            raise self._broken from None
        except (ConnectionError, OSError) as exc:
            self._broken = AGIHangup(f"connection lost: {exc.__class__.__name__}")
            raise self._broken from None
        except AGIProtocolError as exc:
            self._broken = exc
            raise
        finally:
            self._deadline = 0.0
        return _checked(response)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(self._deadline, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._deadline:
            return  # nothing in flight: the next command arms a new timer
        if loop.time() < self._deadline:
            self._arm(loop)
        else:
            self._transport.interrupt(TimeoutError())

    async def _read_reply(self) -> AgiResponse:
        while True:
            line = await self._readline()
            if line == HANGUP_LINE:
                self.hung_up = True
                continue
            response = parse_response(line)
            if response.code == _TRYING:
                continue
            if response.code == _USAGE and response.line[3:4] == "-":
                await self._skip_usage()
            return response

    async def _skip_usage(self) -> None:
        while not (await self._readline()).startswith(f"{_USAGE} "):
            pass

    async def _readline(self) -> str:
        try:
            raw = await self._transport.readline()
        except ValueError:  # the line is over the reader's limit
            raise AGIProtocolError("reply line too long") from None
        if not raw:
            self._broken = AGIHangup("peer closed the connection")
            raise self._broken
        return decode_line(raw)

    # The small vocabulary the executor needs.

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set."""
        response = await self.send(("GET", "VARIABLE", name))
        return response.data if response.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        """An evaluated dialplan expression such as `${DEVICE_STATE(PJSIP/101)}`."""
        response = await self.send(("GET", "FULL", "VARIABLE", expression))
        return response.data if response.result == "1" else None

    async def set_variable(self, name: str, value: str) -> None:
        await self.send(("SET", "VARIABLE", name), (value,))

    async def set_variables(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Set several variables, in order, in one `EXEC MSet` round trip where that is safe.

        AGI has no command that sets more than one variable, and every command is a round trip
        the caller waits on. MSet is used only while the caller is up (an application does not
        run on a dead channel: `200 result=-1`) and for plain names and values (MSet splits on
        commas and strips quotes); otherwise, or when MSet did not run, one SET VARIABLE each.
        """
        data = mset_data(pairs) if len(pairs) > 1 and self._mset and not self.hung_up else None
        if data is not None:
            result = await self.exec("MSet", data)
            if result == 0:
                return
            self._mset = result != _NO_APPLICATION  # an Asterisk without MSet: not asked again
        for name, value in pairs:
            await self.set_variable(name, value)

    async def exec(self, application: str, data: str, reply_within: float | None = None) -> int:
        """Run a dialplan application; its result: -1 means the caller hung up, -2 that this
        Asterisk has no such application (res_agi's answer, the caller is still there)."""
        response = await self.send(("EXEC", application), (data,), reply_within)
        result = response.result_int
        if result == _HUNG_UP:
            self.hung_up = True
        return _HUNG_UP if result is None else result


async def read_env(
    readline: Callable[[], Awaitable[bytes]], within: float, line_limit: int = 16 * 1024
) -> AgiEnv:
    """Read the environment line by line (the classic script's stdin) within `within` seconds
    in all, through the same `EnvCollector` the FastAGI server feeds.

    A peer that closes early raises AGIHangup, one that is too slow AGITimeout, one that sends
    more than MAX_ENV_LINES lines or a line over the reader's limit AGIProtocolError: each
    costs its own session only.
    """
    collector = EnvCollector(line_limit)
    try:
        async with asyncio.timeout(within):
            while True:
                try:
                    raw = await readline()
                except ValueError:  # the line is over the reader's limit
                    raise AGIProtocolError("environment line too long") from None
                if not raw:
                    lines = collector.lines_so_far
                    raise AGIHangup(f"peer closed after {lines} environment lines")
                done = collector.add(raw)
                if done is not None:
                    return done[0]
    except TimeoutError:
        raise AGITimeout(f"environment incomplete after {within} s") from None


def _checked(response: AgiResponse) -> AgiResponse:
    if response.code == _OK:
        return response
    if response.code == _DEAD_CHANNEL:
        raise AGIDeadChannel(response.line)
    raise AGICommandError(response.code, response.line)
