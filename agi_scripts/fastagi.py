"""The FastAGI server: `AGI(agi://127.0.0.1:4573/route)` lands here.

Each call runs in a task of its own, once its environment is in, with its own deadlines: a peer
that closes at once, sends half an environment or never answers costs that session only. Built
on an asyncio Protocol that cuts lines as bytes arrive (agi_scripts/lines.py); panoramisk's
FastAGI `Application` spins on an early close, decodes strictly and mistakes the HANGUP line
for a reply (see tests/agi/test_library_faults.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from agi_scripts.decision import Decider, RouteDecider, utc_now
from agi_scripts.env import AgiEnv, EnvCollector
from agi_scripts.errors import AGIProtocolError
from agi_scripts.executor import RouteOutcome
from agi_scripts.handler import route_call
from agi_scripts.lines import SocketLines
from agi_scripts.session import AgiSession
from agi_scripts.source import DirectorySource
from core.settings import AgiSettings, Settings

log = logging.getLogger(__name__)

LINE_LIMIT = 16 * 1024  # far above any AGI line; a longer one ends the session

RoutedHook = Callable[[RouteOutcome], None]


def _ignore(_outcome: RouteOutcome) -> None:
    pass


class FastAgiServer:
    """A running FastAGI server; `close()` stops accepting and waits for calls in progress.

    `on_routed` learns every routed call's outcome (the service counts them); it runs in the
    event loop, so it must be quick and not raise.
    """

    def __init__(
        self, settings: AgiSettings, decider: Decider, on_routed: RoutedHook = _ignore
    ) -> None:
        self.settings = settings
        self.decider = decider
        self._on_routed = on_routed
        self._server: asyncio.Server | None = None
        self._collecting: set[_Connection] = set()  # still receiving their environment
        self._sessions: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def active_sessions(self) -> int:
        return len(self._collecting) + len(self._sessions)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        self._refresher = asyncio.create_task(self.decider.keep_fresh())

    async def close(self) -> None:
        """Stop accepting; give running calls `shutdown_grace` seconds, then cut them. A call
        whose environment has not fully arrived goes back to the dialplan's fallback at once."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        if self._refresher is not None:
            self._refresher.cancel()
        for connection in list(self._collecting):
            connection.drop("the server is shutting down")
        if self._sessions:
            _, pending = await asyncio.wait(
                set(self._sessions), timeout=self.settings.shutdown_grace
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.decider.settle(self.settings.shutdown_grace)
        if self._server is not None:
            await self._server.wait_closed()

    def admit(self, connection: _Connection, peer: object) -> bool:
        """Whether a new connection may send its environment; refused ones are closed."""
        host = peer[0] if isinstance(peer, tuple) and peer else ""
        if self.settings.allowed_peers and host not in self.settings.allowed_peers:
            log.warning("FastAGI connection from %s refused: not in agi.allowed_peers", host)
            return False
        if self._closing:
            return False
        if self.active_sessions >= self.settings.max_sessions:
            log.warning("FastAGI connection refused: %d sessions running", self.active_sessions)
            return False
        self._collecting.add(connection)
        return True

    def forget(self, connection: _Connection) -> None:
        self._collecting.discard(connection)

    def route(self, connection: _Connection, env: AgiEnv) -> None:
        """The environment is complete (the connection no longer collecting): the call gets a
        task of its own."""
        if env.network_script != self.settings.script_name:
            log.warning("FastAGI request for unknown script %r", env.network_script[:40])
            connection.close()
            return
        task = asyncio.get_running_loop().create_task(self._session(connection, env))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _session(self, lines: SocketLines, env: AgiEnv) -> None:
        try:
            session = AgiSession(lines, env, self.settings.command_timeout)
            self._on_routed(await route_call(session, self.decider, self.settings.dial_max_seconds))
        except Exception:
            log.exception("FastAGI session failed")
        finally:
            lines.close()


class _Connection(SocketLines):
    """One FastAGI socket. Its environment is collected as the bytes arrive, without a task
    or a coroutine per line (Asterisk writes the 22 lines one by one); the call gets its task
    once the blank line is in, within `agi.env_timeout`."""

    def __init__(self, server: FastAgiServer) -> None:
        super().__init__(LINE_LIMIT)
        self._server = server
        self._env: EnvCollector | None = None
        self._env_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._server.admit(self, transport.get_extra_info("peername")):
            self.close()
            return
        self._env = EnvCollector(LINE_LIMIT)
        within = self._server.settings.env_timeout
        self._env_timer = asyncio.get_running_loop().call_later(
            within, self.drop, f"environment incomplete after {within} s"
        )

    def data_received(self, data: bytes) -> None:
        if self._env is None:
            super().data_received(data)
            return
        try:
            complete = self._env.add(data)
        except AGIProtocolError as exc:
            self.drop(str(exc))
            return
        if complete is not None:
            env, rest = complete
            self._stop_collecting()
            if rest:
                self.feed(rest)
            self._server.route(self, env)

    def eof_received(self) -> bool | None:
        super().eof_received()
        self._peer_closed()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._peer_closed()

    def _peer_closed(self) -> None:
        if self._env is not None:
            self.drop(f"peer closed after {self._env.lines_so_far} environment lines")

    def drop(self, reason: str) -> None:
        """Give up on a connection whose environment never completed."""
        if self._env is None:
            return
        self._stop_collecting()
        log.info("FastAGI session dropped before routing: %s", reason)
        self.close()

    def _stop_collecting(self) -> None:
        self._env = None
        if self._env_timer is not None:
            self._env_timer.cancel()
        self._server.forget(self)


async def start_fastagi_server(
    settings: Settings,
    source: DirectorySource,
    *,
    clock: Callable[[], datetime] = utc_now,
    host: str | None = None,
    port: int | None = None,
    on_routed: RoutedHook = _ignore,
) -> FastAgiServer:
    """Listen on settings.agi.host:port (or the overrides; port 0 picks a free one) and route
    every `agi://…/<settings.agi.script_name>` request with `source` as the directory."""
    decider = RouteDecider(source, settings.routing, settings.default_region, clock)
    server = FastAgiServer(settings.agi, decider, on_routed)
    await server.start(host or settings.agi.host, settings.agi.port if port is None else port)
    return server
