"""AMI server: banner, Login/Logoff/Ping/Events/Filter, per-session filters, event fan-out,
chunked writes, connection drops and a restart that looks like ``core restart now``."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from . import events as ev
from .chunking import Splitter, whole

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
ALL_CLASSES = {
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
}


@dataclass
class AmiSession:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session_id: str
    authed: bool = False
    username: str = ""
    events_on: bool = True
    classes: set[str] = field(default_factory=lambda: set(ALL_CLASSES))
    include: list[re.Pattern[str]] = field(default_factory=list)
    exclude: list[re.Pattern[str]] = field(default_factory=list)
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)

    def wants(self, privilege: str, text: str) -> bool:
        if not (self.authed and self.events_on):
            return False
        classes = {c for c in privilege.split(",") if c != "all"}
        if not classes & self.classes:
            return False
        if self.include and not any(p.search(text) for p in self.include):
            return False
        return not any(p.search(text) for p in self.exclude)


def _parse_block(block: str) -> list[tuple[str, str]]:
    out = []
    for line in block.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out.append((k.strip(), v.strip()))
    return out


def _eventmask(value: str) -> set[str]:
    v = value.strip().lower()
    if v in ("on", "yes", "true", "all", ""):
        return set(ALL_CLASSES)
    if v in ("off", "no", "false", "none"):
        return set()
    return {c.strip() for c in v.split(",") if c.strip() in ALL_CLASSES}


class AmiServer:
    def __init__(
        self, now: Callable[[], float], users: dict[str, str], splitter: Splitter = whole
    ) -> None:
        self.now = now
        self.users = dict(users)
        self.splitter = splitter
        self.sessions: list[AmiSession] = []
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._session_seq = 0x7F2354000000
        self.booted_at = now()
        self.last_reload_at = self.booted_at
        self.booting = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_login: Callable[[AmiSession], Awaitable[None]] | None = None

    # ---- lifecycle -------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.host = host
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        await self.drop_connections()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def drop_connections(self) -> None:
        for s in list(self.sessions):
            s.queue.put_nowait(None)
        for s in list(self.sessions):
            with contextlib.suppress(Exception):
                s.writer.close()
        await asyncio.sleep(0)

    async def restart(self, down_for: float = 0.43, boot_for: float = 0.04) -> None:
        """``core restart now``: Shutdown event, EOF, one accepted-then-closed connect,
        refusals for ``down_for`` seconds (real time: a network effect), then a fresh process
        that accepts logins before it sends ``FullyBooted`` (Uptime 0)."""
        self.broadcast("Shutdown", "system,all", ev.shutdown(True))
        await self._flush_all()
        await asyncio.sleep(0.025)
        for s in list(self.sessions):
            s.queue.put_nowait(None)
        await self._flush_all()
        if self._server is not None:
            self._server.close()
            self._server = None
        dying = await asyncio.start_server(self._close_at_once, self.host, self.port)
        await asyncio.sleep(min(0.005, down_for / 10))
        dying.close()
        await asyncio.sleep(down_for)
        self.booting = True
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.booted_at = self.last_reload_at = self.now()
        self.broadcast(
            "VarSet", "dialplan,all", ev.global_varset("AGI_URL", "agi://127.0.0.1:4573/route")
        )
        await asyncio.sleep(boot_for)
        self.booting = False
        self.broadcast("FullyBooted", "system,all", ev.fully_booted_boot(0, 0))

    async def _close_at_once(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.close()

    async def _flush_all(self) -> None:
        for _ in range(50):
            if all(s.queue.empty() for s in self.sessions):
                break
            await asyncio.sleep(0)

    # ---- events ----------------------------------------------------------------------
    def broadcast(
        self, event: str, privilege: str, fields: ev.Fields, timestamp: bool = True
    ) -> ev.Fields:
        full = ev.with_header(event, privilege, fields, self.now() if timestamp else None)
        data = ev.render(full)
        text = data.decode("utf-8")
        for s in self.sessions:
            if s.wants(privilege, text):
                s.queue.put_nowait(data)
        return full

    def _send(self, s: AmiSession, fields: ev.Fields) -> None:
        s.queue.put_nowait(ev.render(fields))

    async def _writer_loop(self, s: AmiSession) -> None:
        try:
            while True:
                data = await s.queue.get()
                if data is None:
                    break
                for chunk in self.splitter(data):
                    s.writer.write(chunk)
                    await s.writer.drain()
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                s.writer.close()

    # ---- sessions --------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._session_seq += 0x1A0
        s = AmiSession(reader, writer, session_id=f"0x{self._session_seq:x}")
        self.sessions.append(s)
        writer.write(BANNER)
        wtask = asyncio.create_task(self._writer_loop(s))
        try:
            await self._read_loop(s)
        except asyncio.CancelledError:
            pass
        finally:
            s.queue.put_nowait(None)
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await wtask
            if s in self.sessions:
                self.sessions.remove(s)

    async def _read_loop(self, s: AmiSession) -> None:
        buf = b""
        while True:
            try:
                data = await s.reader.read(65536)
            except (ConnectionError, OSError):
                return
            if not data:
                return
            buf += data.replace(b"\r\n", b"\n")
            if len(buf) > 1 << 20:
                return
            while b"\n\n" in buf:
                raw, buf = buf.split(b"\n\n", 1)
                if not raw.strip():
                    continue
                keep = self._dispatch(s, _parse_block(raw.decode("utf-8", "replace")))
                if not keep:
                    await asyncio.sleep(0)
                    return

    def _reply(self, s: AmiSession, msg: dict[str, str], response: str, extra: ev.Fields) -> None:
        fields: ev.Fields = [("Response", response)]
        if "actionid" in msg:
            fields.append(("ActionID", msg["actionid"]))
        self._send(s, fields + extra)

    def _dispatch(self, s: AmiSession, pairs: list[tuple[str, str]]) -> bool:
        msg = {k.lower(): v for k, v in pairs}
        action = msg.get("action", "").lower()
        if not action:
            self._reply(s, msg, "Error", [("Message", "Missing action in request")])
            return True
        if not s.authed and action not in ("login", "challenge", "logoff"):
            self._reply(s, msg, "Error", [("Message", "Permission denied")])
            return True
        handler = self._actions.get(action)
        if handler is None:
            self._reply(s, msg, "Error", [("Message", "Invalid/unknown command")])
            return True
        return handler(self, s, msg)

    def _login(self, s: AmiSession, msg: dict[str, str]) -> bool:
        user, secret = msg.get("username", ""), msg.get("secret", "")
        if self.users.get(user) != secret or not user:
            self._reply(s, msg, "Error", [("Message", "Authentication failed")])
            return False
        s.authed, s.username = True, user
        if "events" in msg:
            s.classes = _eventmask(msg["events"])
        self._reply(s, msg, "Success", [("Message", "Authentication accepted")])
        now = self.now()
        if not self.booting and "system" in s.classes:
            self._send(
                s,
                [("Event", "FullyBooted"), ("Privilege", "system,all")]
                + ev.fully_booted_login(int(now - self.booted_at), int(now - self.last_reload_at)),
            )
        remote = s.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.broadcast(
            "SuccessfulAuth",
            "security,all",
            ev.successful_auth(
                now,
                "AMI",
                user,
                s.session_id,
                f"IPV4/TCP/{self.host}/{self.port}",
                f"IPV4/TCP/{remote[0]}/{remote[1]}",
                session_tv=True,
            ),
        )
        return True

    def _logoff(self, s: AmiSession, msg: dict[str, str]) -> bool:
        self._reply(s, msg, "Goodbye", [("Message", "Thanks for all the fish.")])
        return False

    def _ping(self, s: AmiSession, msg: dict[str, str]) -> bool:
        self._reply(s, msg, "Success", [("Ping", "Pong"), ("Timestamp", f"{self.now():.6f}")])
        return True

    def _events(self, s: AmiSession, msg: dict[str, str]) -> bool:
        mask = _eventmask(msg.get("eventmask", "on"))
        s.events_on = bool(mask)
        if mask:
            s.classes = mask
        self._reply(s, msg, "Success", [("Events", "On" if mask else "Off")])
        return True

    def _filter(self, s: AmiSession, msg: dict[str, str]) -> bool:
        op = msg.get("operation", "Add").lower()
        pattern = msg.get("filter", "")
        if op != "add" or not pattern:
            self._reply(s, msg, "Error", [("Message", "Unknown operation")])
            return True
        negate = pattern.startswith("!")
        try:
            rx = re.compile(pattern[1:] if negate else pattern)
        except re.error:
            self._reply(s, msg, "Error", [("Message", "Filter Not Added")])
            return True
        (s.exclude if negate else s.include).append(rx)
        self._reply(s, msg, "Success", [("Message", "Filter Added Successfully")])
        return True

    _actions: dict[str, Callable[[AmiServer, AmiSession, dict[str, str]], bool]] = {
        "login": _login,
        "logoff": _logoff,
        "ping": _ping,
        "events": _events,
        "filter": _filter,
    }
