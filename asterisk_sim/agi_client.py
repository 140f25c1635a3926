"""FastAGI client side of res_agi: connect, send the environment, answer commands.

The call logic (variables, Dial, answer, hangup) lives in the call object passed in; this module
only knows the wire protocol and res_agi's response texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Protocol

from .channels import Channel

DEAD_MSG = "Command Not Permitted on a dead channel or intercept routine"
UNKNOWN_MSG = "Invalid or unknown command"
USAGE_MSG = "End of proper usage"
RESULT_TEXT = {0: "Success", 1: "Usage", 2: "Failure"}


class AgiCall(Protocol):
    """What an AGI session needs from the call it runs on."""

    caller: Channel

    def emit(self, event: str, privilege: str, fields: list[tuple[str, str]]) -> None: ...

    def get_variable(self, name: str) -> str | None: ...

    def substitute(self, expr: str) -> str: ...

    def set_variable(self, name: str, value: str) -> None: ...

    async def exec_app(self, app: str, data: str) -> int: ...

    async def answer(self) -> int: ...

    async def hangup_by_agi(self) -> None: ...

    def agi_env(self) -> list[tuple[str, str]]: ...

    def poll(self) -> None: ...


def parse_args(line: str) -> list[str]:
    """res_agi's parse_args (res/res_agi.c), step for step: whitespace splits outside quotes,
    a quote toggles quoting and, coming off whitespace, starts a new word (so `X "\\"a"` is two
    words), a backslash makes the next character literal."""
    words: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for c in line:
        if c == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                words.append([])
                whitespace = False
            continue
        if c in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if c == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            words.append([])
            whitespace = False
        words[-1].append(c)
        escaped = False
    return ["".join(word) for word in words]


Handler = Callable[["AgiSession", list[str]], Awaitable[tuple[int, str, int]]]


class AgiSession:
    def __init__(
        self,
        call: AgiCall,
        address: tuple[str, int],
        hold: Callable[[], AbstractContextManager[None]],
        rng: random.Random,
    ) -> None:
        self.call = call
        self.address = address
        self.hold = hold
        self.rng = rng
        self.sent: list[str] = []
        self.received: list[str] = []
        self._writer: asyncio.StreamWriter | None = None
        self._hangup_sent = False

    # ---- transport -------------------------------------------------------------------
    async def _send(self, line: str) -> None:
        assert self._writer is not None
        self.sent.append(line)
        self._writer.write((line + "\n").encode("utf-8"))
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    async def run(self) -> str:
        """Run one AGI() application; returns AGISTATUS."""
        host, port = self.address
        with self.hold():
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                return "FAILURE"
        self._writer = writer
        try:
            for k, v in self.call.agi_env():
                await self._send(f"{k}: {v}")
            await self._send("")
            while True:
                with self.hold():
                    try:
                        raw = await reader.readline()
                    except (ConnectionError, OSError):
                        raw = b""
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                self.received.append(line)
                if not line.strip():
                    continue
                await self._command(line)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return "HANGUP" if self.call.caller.dead else "SUCCESS"

    async def notify_hangup(self) -> None:
        """The unsolicited ``HANGUP`` line res_agi sends once the channel is gone."""
        if self.call.caller.dead and not self._hangup_sent and self._writer is not None:
            self._hangup_sent = True
            await self._send("HANGUP")

    # ---- commands --------------------------------------------------------------------
    async def _command(self, line: str) -> None:
        self.call.poll()
        await self.notify_hangup()
        argv = parse_args(line)
        command_id = self.rng.randrange(1 << 31)
        ch = self.call.caller
        self.call.emit("AGIExecStart", "agi,all", _exec_start(ch, command_id, line))
        handler, dead_ok, nwords = self._find(argv)
        if handler is None:
            await self._send(f"510 {UNKNOWN_MSG}")
            code, text = 510, UNKNOWN_MSG
        elif ch.dead and not dead_ok:
            await self._send(f"511 {DEAD_MSG}")
            code, text = 511, DEAD_MSG
        else:
            res, body, code = await handler(self, argv)
            text = RESULT_TEXT.get(res, "Unknown Result") if code == 200 else USAGE_MSG
            await self._send(body)
        self.call.emit(
            "AGIExecEnd",
            "agi,all",
            _exec_start(self.call.caller, command_id, line)
            + [("ResultCode", str(code)), ("Result", text)],
        )
        await self.notify_hangup()

    def _find(self, argv: list[str]) -> tuple[Handler | None, bool, int]:
        words = [a.upper() for a in argv]
        for n in (3, 2, 1):
            key = tuple(words[:n])
            if len(key) == n and key in COMMANDS:
                handler, dead_ok = COMMANDS[key]
                return handler, dead_ok, n
        return None, False, 0

    async def _get_variable(self, argv: list[str]) -> tuple[int, str, int]:
        if len(argv) != 3:
            return 1, "520 Invalid command syntax.  Proper usage not available.", 520
        value = self.call.get_variable(argv[2])
        if value is None:
            return 0, "200 result=0", 200
        return 0, f"200 result=1 ({value})", 200

    async def _get_full_variable(self, argv: list[str]) -> tuple[int, str, int]:
        if len(argv) not in (4, 5):
            return 1, "520 Invalid command syntax.  Proper usage not available.", 520
        return 0, f"200 result=1 ({self.call.substitute(argv[3])})", 200

    async def _set_variable(self, argv: list[str]) -> tuple[int, str, int]:
        if len(argv) != 4:
            return 1, "520 Invalid command syntax.  Proper usage not available.", 520
        self.call.set_variable(argv[2], argv[3])
        return 0, "200 result=1", 200

    async def _exec(self, argv: list[str]) -> tuple[int, str, int]:
        if len(argv) < 2:
            return 1, "520 Invalid command syntax.  Proper usage not available.", 520
        res = await self.call.exec_app(argv[1], argv[2] if len(argv) > 2 else "")
        return (0 if res == 0 else res), f"200 result={res}", 200

    async def _verbose(self, argv: list[str]) -> tuple[int, str, int]:
        return 0, "200 result=1", 200

    async def _noop(self, argv: list[str]) -> tuple[int, str, int]:
        return 0, "200 result=0", 200

    async def _answer(self, argv: list[str]) -> tuple[int, str, int]:
        res = await self.call.answer()
        return (0 if res == 0 else 2), f"200 result={res}", 200

    async def _hangup(self, argv: list[str]) -> tuple[int, str, int]:
        await self.call.hangup_by_agi()
        return 0, "200 result=1", 200

    async def _channel_status(self, argv: list[str]) -> tuple[int, str, int]:
        return 0, f"200 result={self.call.caller.state}", 200


def _exec_start(ch: Channel, command_id: int, line: str) -> list[tuple[str, str]]:
    from .events import agi_exec_start

    return agi_exec_start(ch, command_id, line)


COMMANDS: dict[tuple[str, ...], tuple[Handler, bool]] = {
    ("GET", "VARIABLE"): (AgiSession._get_variable, True),
    ("GET", "FULL", "VARIABLE"): (AgiSession._get_full_variable, True),
    ("SET", "VARIABLE"): (AgiSession._set_variable, True),
    ("EXEC",): (AgiSession._exec, True),
    ("VERBOSE",): (AgiSession._verbose, True),
    ("NOOP",): (AgiSession._noop, True),
    ("ANSWER",): (AgiSession._answer, False),
    ("HANGUP",): (AgiSession._hangup, True),
    ("CHANNEL", "STATUS"): (AgiSession._channel_status, True),
}
