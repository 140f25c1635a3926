"""The FastAGI server: `AGI(agi://127.0.0.1:4573/route)` lands here.

Each connection is its own task with its own timeouts: a peer that closes at once, sends half
an environment or never answers costs that session only. Built on asyncio streams directly;
panoramisk's FastAGI `Application` spins on an early close, decodes strictly and mistakes the
HANGUP line for a reply (see tests/agi/test_library_faults.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from agi_scripts.decision import RouteDecider, utc_now
from agi_scripts.env import read_env
from agi_scripts.errors import AGIError
from agi_scripts.handler import route_call
from agi_scripts.session import AgiSession, StreamTransport
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
        self._server = await asyncio.start_server(self._accept, host, port, limit=LINE_LIMIT)
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

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._serve(reader, writer)
        except Exception:
            log.exception("FastAGI session failed")
        finally:
            self._sessions.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        host = peer[0] if peer else ""
        if self.settings.allowed_peers and host not in self.settings.allowed_peers:
            log.warning("FastAGI connection from %s refused: not in agi.allowed_peers", host)
            return
        if len(self._sessions) > self.settings.max_sessions:
            log.warning("FastAGI connection refused: %d sessions running", len(self._sessions))
            return
        transport = StreamTransport(reader, writer)
        try:
            env = await read_env(transport.readline, self.settings.env_timeout)
        except AGIError as exc:
            log.info("FastAGI session dropped before routing: %s", exc)
            return
        if env.network_script != self.settings.script_name:
            log.warning("FastAGI request for unknown script %r", env.network_script[:40])
            return
        session = AgiSession(transport, env, self.settings.command_timeout)
        metrics.record_routed(
            await route_call(session, self.decider, self.settings.dial_max_seconds)
        )


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
