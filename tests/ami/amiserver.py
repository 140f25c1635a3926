"""A tiny AMI server for tests: real loopback socket, login check, recorded bytes replayed.

Each accepted connection gets the banner, answers Login / Filter / Ping / Logoff, and after a
successful login sends the next scripted session's bytes in random-sized chunks (so chunk
borders fall anywhere, including inside UTF-8 characters).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


@dataclass
class ServerSession:
    """What to send after login; `close_after` closes the socket when sent (EOF)."""

    payload: bytes = b""
    close_after: bool = False


@dataclass
class FakeAmiServer:
    secret: str = "s3cret"
    sessions: list[ServerSession] = field(default_factory=list)
    seed: int = 0
    max_chunk: int = 97
    answer_pings: bool = True
    logins: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    pings: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.login_ok = asyncio.Event()
        self.sent_any = asyncio.Event()  # a session's payload was sent in full
        self.sent_all = asyncio.Event()  # ... and no scripted session is left
        self.connections = 0
        self.ping_seen = asyncio.Event()
        self.login_events: list[str] = []
        self._logged_in = asyncio.Condition()
        self.successful_logins = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop listening and drop every connection (new connects are refused)."""
        if self.server is not None:
            self.server.close()
            for writer in self._writers:
                writer.close()
            await self.server.wait_closed()
            self.server = None

    async def wait_logins(self, count: int) -> None:
        """Wait until `count` logins have succeeded in total."""
        async with self._logged_in:
            await self._logged_in.wait_for(lambda: self.successful_logins >= count)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            writer.write(BANNER)
            while True:
                action = await _read_action(reader)
                if action is None:
                    return
                name = action.get("Action", "")
                self.actions.append(name)
                action_id = action.get("ActionID", "")
                if name == "Login":
                    self.logins.append(action.get("Secret", ""))
                    if action.get("Secret") != self.secret:
                        writer.write(_response(action_id, "Error", "Authentication failed"))
                        continue
                    writer.write(_response(action_id, "Success", "Authentication accepted"))
                    self.login_events.append(action.get("Events", ""))
                    self.login_ok.set()
                    async with self._logged_in:
                        self.successful_logins += 1
                        self._logged_in.notify_all()
                    session = self.sessions.pop(0) if self.sessions else ServerSession()
                    await self._send_chunked(writer, session.payload)
                    if session.close_after:
                        writer.close()
                        return
                elif name == "Filter":
                    self.filters.append(action.get("Filter", ""))
                    writer.write(_response(action_id, "Success", "Filter Added Successfully"))
                elif name == "Ping":
                    self.pings += 1
                    self.ping_seen.set()
                    if self.answer_pings:
                        writer.write(
                            f"Response: Success\r\nActionID: {action_id}\r\n"
                            "Ping: Pong\r\n\r\n".encode()
                        )
                elif name == "Logoff":
                    writer.write(_response(action_id, "Goodbye", "Thanks for all the fish."))
                    writer.close()
                    return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return

    async def _send_chunked(self, writer: asyncio.StreamWriter, payload: bytes) -> None:
        pos = 0
        while pos < len(payload):
            size = self.rng.randint(1, self.max_chunk)
            writer.write(payload[pos : pos + size])
            await writer.drain()
            pos += size
            if self.rng.random() < 0.2:
                await asyncio.sleep(0)  # let the reader see a partial message
        self.sent_any.set()
        if not self.sessions:
            self.sent_all.set()


async def _read_action(reader: asyncio.StreamReader) -> dict[str, str] | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    fields: dict[str, str] = {}
    for line in raw.decode().split("\r\n"):
        if ": " in line:
            key, value = line.split(": ", 1)
            fields[key] = value
    return fields


def _response(action_id: str, response: str, message: str) -> bytes:
    return f"Response: {response}\r\nActionID: {action_id}\r\nMessage: {message}\r\n\r\n".encode()
