"""The FastAGI server: `AGI(agi://127.0.0.1:4573/route)` lands here.

Each connection is its own task with its own timeouts: a peer that closes at once, sends half
an environment or never answers costs that session only. Built on an asyncio Protocol that cuts
lines as bytes arrive (agi_scripts/lines.py); panoramisk's FastAGI `Application` spins on an
early close, decodes strictly and mistakes the HANGUP line for a reply (see
tests/agi/test_library_faults.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from agi_scripts.decision import RouteDecider, utc_now
from agi_scripts.env import read_env
from agi_scripts.errors import AGIError
from agi_scripts.handler import route_call
from agi_scripts.lines import SocketLines
from agi_scripts.session import AgiSession
from agi_scripts.source import DirectorySource
from callrouter import metrics
from callrouter.settings import AgiSettings, Settings

log = logging.getLogger(__name__)

LINE_LIMIT = 16 * 1024  # far above any AGI line; a longer one ends the session


class FastAgiServer:
    """A running FastAGI server; `close()` stops accepting and waits for calls in progress."""

    def __init__(self, settings: AgiSettings, decider: RouteDecider) -> None:
        self.settings = settings
        self.decider = decider
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        self._refresher = asyncio.create_task(self.decider.keep_fresh())

    async def close(self) -> None:
        """Stop accepting; give running calls `shutdown_grace` seconds, then cut them."""
        if self._server is not None:
            self._server.close()
        if self._refresher is not None:
            self._refresher.cancel()
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

    def _connected(self, lines: SocketLines, peer: object) -> None:
        """A new connection: refused at once, or given its own task."""
        host = peer[0] if isinstance(peer, tuple) and peer else ""
        if self.settings.allowed_peers and host not in self.settings.allowed_peers:
            log.warning("FastAGI connection from %s refused: not in agi.allowed_peers", host)
            lines.close()
            return
        if len(self._sessions) >= self.settings.max_sessions:
            log.warning("FastAGI connection refused: %d sessions running", len(self._sessions))
            lines.close()
            return
        task = asyncio.get_running_loop().create_task(self._session(lines))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _session(self, lines: SocketLines) -> None:
        try:
            await self._serve(lines)
        except Exception:
            log.exception("FastAGI session failed")
        finally:
            lines.close()

    async def _serve(self, lines: SocketLines) -> None:
        try:
            env = await read_env(lines.readline, self.settings.env_timeout)
        except AGIError as exc:
            log.info("FastAGI session dropped before routing: %s", exc)
            return
        if env.network_script != self.settings.script_name:
            log.warning("FastAGI request for unknown script %r", env.network_script[:40])
            return
        session = AgiSession(lines, env, self.settings.command_timeout)
        metrics.record_routed(
            await route_call(session, self.decider, self.settings.dial_max_seconds)
        )


class _Connection(SocketLines):
    def __init__(self, server: FastAgiServer) -> None:
        super().__init__(LINE_LIMIT)
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._server._connected(self, transport.get_extra_info("peername"))


async def start_fastagi_server(
    settings: Settings,
    source: DirectorySource,
    *,
    clock: Callable[[], datetime] = utc_now,
    host: str | None = None,
    port: int | None = None,
) -> FastAgiServer:
    """Listen on settings.agi.host:port (or the overrides; port 0 picks a free one) and route
    every `agi://…/<settings.agi.script_name>` request with `source` as the directory."""
    decider = RouteDecider(source, settings.routing, settings.default_region, clock)
    server = FastAgiServer(settings.agi, decider)
    await server.start(host or settings.agi.host, settings.agi.port if port is None else port)
    return server
