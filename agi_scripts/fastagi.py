"""The FastAGI server: `AGI(agi://127.0.0.1:4573/route)` lands here.

Each call runs in a task of its own, once its environment is in, with its own deadlines: a peer
that closes at once, sends half an environment or never answers costs that session only. Built
on an asyncio Protocol that cuts lines as bytes arrive (agi_scripts/lines.py); panoramisk's
FastAGI `Application` spins on an early close, decodes strictly and mistakes the HANGUP line
for a reply (see tests/agi/test_library_faults.py).

Admission (`FastAgiServer.admit`): a connection holds one of `agi.max_sessions` slots from the
moment it is accepted, while it sends its environment ("pending") and while its call is routed.
Silent connections must not be able to refuse a real call, so:

- pending connections may hold all slots but a reserve (a tenth of `max_sessions`), which only
  calls being routed use; when a new connection finds the pending ones at that cap, or every
  slot taken, the oldest pending connection (one that has sent nothing first) is closed to make
  room — Asterisk sends its environment as soon as it connects, so the oldest pending one is
  the one least likely to be a call. Only when every slot routes a call is the new one refused;
- one address holds at most `agi.max_sessions_per_peer` connections: at that cap its own oldest
  pending connection makes room, and with none pending its new connection is refused;
- under pressure (no free slot but the reserve) a pending connection is closed once
  `agi.handshake_timeout` has passed since it connected (1 s), one that has sent nothing at all
  after half of that, instead of `agi.env_timeout` (5 s).

Every connection refused or closed before routing is logged with its number (`#n`, counted
from the start) and its peer's address, and counted through `on_admission(action, reason)`.
"""

from __future__ import annotations

import asyncio
import itertools
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
# (action, reason): action "refused" (turned away as it connected) or "closed" (admitted, closed
# before its environment was in); reason one of REASONS.
AdmissionHook = Callable[[str, str], None]

RESERVE_SHARE = 10  # a tenth of max_sessions is kept for calls being routed
REASONS = (
    "not_allowed",  # not in agi.allowed_peers
    "shutting_down",
    "full",  # every slot routes a call (agi.max_sessions)
    "per_peer",  # agi.max_sessions_per_peer
    "evicted",  # the oldest pending connection, closed to make room for a new one
    "handshake_timeout",  # under pressure, environment incomplete after agi.handshake_timeout
    "idle_timeout",  # under pressure, nothing sent after half of it
    "env_timeout",  # environment incomplete after agi.env_timeout
    "bad_environment",
    "peer_closed",
    "unknown_script",
)


def _ignore(_outcome: RouteOutcome) -> None:
    pass


def _ignore_admission(_action: str, _reason: str) -> None:
    pass


class FastAgiServer:
    """A running FastAGI server; `close()` stops accepting and waits for calls in progress.

    `on_routed` learns every routed call's outcome (the service counts them); it runs in the
    event loop, so it must be quick and not raise.
    """

    def __init__(
        self,
        settings: AgiSettings,
        decider: Decider,
        on_routed: RoutedHook = _ignore,
        on_admission: AdmissionHook = _ignore_admission,
    ) -> None:
        self.settings = settings
        self.decider = decider
        self._on_routed = on_routed
        self._on_admission = on_admission
        self._server: asyncio.Server | None = None
        # Pending connections (still receiving their environment), oldest first: those that
        # have sent nothing yet, and those with part of it in.
        self._idle: dict[_Connection, None] = {}
        self._partial: dict[_Connection, None] = {}
        self._pending_by_peer: dict[str, dict[_Connection, None]] = {}
        self._per_peer: dict[str, int] = {}  # admitted connections not yet released, by address
        self._sessions: set[asyncio.Task[None]] = set()
        self._refresher: asyncio.Task[None] | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._numbers = itertools.count(1)
        self._closing = False

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    @property
    def active_sessions(self) -> int:
        return len(self._idle) + len(self._partial) + len(self._sessions)

    @property
    def pending_connections(self) -> int:
        """Connections still sending their environment."""
        return len(self._idle) + len(self._partial)

    def connections_from(self, host: str) -> int:
        """Connections admitted from `host` and not yet released."""
        return self._per_peer.get(host, 0)

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        # A burst of connections beyond the listen backlog waits for SYN-ACK retransmits (1 s,
        # then 3 s…): room in the kernel's accept queue for every session the server may hold.
        self._server = await loop.create_server(
            lambda: _Connection(self), host, port, backlog=max(100, self.settings.max_sessions)
        )
        self._refresher = asyncio.create_task(self.decider.keep_fresh())

    async def close(self) -> None:
        """Stop accepting; give running calls `shutdown_grace` seconds, then cut them. A call
        whose environment has not fully arrived goes back to the dialplan's fallback at once."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        if self._refresher is not None:
            self._refresher.cancel()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for connection in [*self._idle, *self._partial]:
            connection.drop("the server is shutting down", "shutting_down")
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
        """Whether a new connection may send its environment (the caller closes refused ones);
        may close the oldest pending connection to make room (see the module's docstring)."""
        host = peer[0] if isinstance(peer, tuple) and peer else ""
        number = connection.number = next(self._numbers)
        connection.peer = host
        settings = self.settings
        if settings.allowed_peers and host not in settings.allowed_peers:
            log.warning(
                "FastAGI connection #%d from %s refused: not in agi.allowed_peers", number, host
            )
            self._on_admission("refused", "not_allowed")
            return False
        if self._closing:
            self._on_admission("refused", "shutting_down")
            return False
        per_peer = settings.max_sessions_per_peer or max(1, settings.max_sessions // 2)
        if self._per_peer.get(host, 0) >= per_peer:
            victim = next(iter(self._pending_by_peer.get(host, ())), None)
            if victim is None and self._all_routing():
                return self._refuse(number, host, "full", "every slot routes a call")
            if victim is None:
                return self._refuse(number, host, "per_peer", "agi.max_sessions_per_peer")
            victim.drop("closed to make room (agi.max_sessions_per_peer)", "per_peer")
        pending_cap = settings.max_sessions - settings.max_sessions // RESERVE_SHARE
        if self.pending_connections >= pending_cap or self.active_sessions >= settings.max_sessions:
            victim = next(iter(self._idle), None) or next(iter(self._partial), None)
            if victim is None:
                return self._refuse(number, host, "full", "every slot routes a call")
            victim.drop("closed to make room (agi.max_sessions)", "evicted")
        connection.admitted_at = asyncio.get_running_loop().time()
        self._idle[connection] = None
        self._pending_by_peer.setdefault(host, {})[connection] = None
        self._per_peer[host] = self._per_peer.get(host, 0) + 1
        if self._sweeper is None and self._under_pressure():
            self._sweep()
        return True

    def _refuse(self, number: int, host: str, reason: str, why: str) -> bool:
        log.warning(
            "FastAGI connection #%d from %s refused: %s (%d calls being routed)",
            number,
            host,
            why,
            len(self._sessions),
        )
        self._on_admission("refused", reason)
        return False

    def _all_routing(self) -> bool:
        return not self.pending_connections and len(self._sessions) >= self.settings.max_sessions

    def _under_pressure(self) -> bool:
        """No free slot left but the reserve kept for calls being routed."""
        free = self.settings.max_sessions - self.active_sessions
        return free <= self.settings.max_sessions // RESERVE_SHARE

    def _sweep(self) -> None:
        """Under pressure: close pending connections past the shortened deadlines (from their
        connection: `agi.handshake_timeout`, half of it for one that sent nothing), then look
        again soon while any are pending."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        handshake = self.settings.handshake_timeout
        for pending, limit, reason in (
            (self._idle, handshake / 2, "idle_timeout"),
            (self._partial, handshake, "handshake_timeout"),
        ):
            while pending:
                oldest = next(iter(pending))
                if now - oldest.admitted_at < limit:
                    break
                oldest.drop(f"environment incomplete after {limit:g} s under pressure", reason)
        if self.pending_connections and self._under_pressure() and not self._closing:
            self._sweeper = loop.call_later(handshake / 4, self._sweep)

    def started_env(self, connection: _Connection) -> None:
        """The first bytes of `connection`'s environment are in: no longer idle."""
        if connection in self._idle:
            del self._idle[connection]
            self._partial[connection] = None

    def forget(self, connection: _Connection) -> None:
        """`connection` is no longer pending (its environment is in, or it was dropped)."""
        self._idle.pop(connection, None)
        self._partial.pop(connection, None)
        by_peer = self._pending_by_peer.get(connection.peer)
        if by_peer is not None:
            by_peer.pop(connection, None)
            if not by_peer:
                del self._pending_by_peer[connection.peer]

    def release(self, connection: _Connection) -> None:
        """`connection` no longer holds a slot of its address (once per admitted connection)."""
        if connection.admitted_at < 0:
            return
        connection.admitted_at = -1.0
        left = self._per_peer.get(connection.peer, 0) - 1
        if left > 0:
            self._per_peer[connection.peer] = left
        else:
            self._per_peer.pop(connection.peer, None)

    def closed_early(self, reason: str) -> None:
        self._on_admission("closed", reason)

    def route(self, connection: _Connection, env: AgiEnv) -> None:
        """The environment is complete (the connection no longer collecting): the call gets a
        task of its own."""
        if env.network_script != self.settings.script_name:
            log.warning(
                "FastAGI connection #%d from %s asked for unknown script %r",
                connection.number,
                connection.peer,
                env.network_script[:40],
            )
            self._on_admission("closed", "unknown_script")
            self.release(connection)
            connection.close()
            return
        task = asyncio.get_running_loop().create_task(self._session(connection, env))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _session(self, lines: _Connection, env: AgiEnv) -> None:
        try:
            session = AgiSession(lines, env, self.settings.command_timeout)
            self._on_routed(await route_call(session, self.decider, self.settings.dial_max_seconds))
        except Exception:
            log.exception("FastAGI session #%d failed", lines.number)
        finally:
            lines.close()
            self.release(lines)


class _Connection(SocketLines):
    """One FastAGI socket. Its environment is collected as the bytes arrive, without a task
    or a coroutine per line (Asterisk writes the 22 lines one by one); the call gets its task
    once the blank line is in, within `agi.env_timeout`."""

    def __init__(self, server: FastAgiServer) -> None:
        super().__init__(LINE_LIMIT)
        self._server = server
        self._env: EnvCollector | None = None
        self._env_timer: asyncio.TimerHandle | None = None
        self._started = False  # some of the environment is in
        self.number = 0
        self.peer = ""
        self.admitted_at = -1.0  # the loop's time; -1: not admitted, or released

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._server.admit(self, transport.get_extra_info("peername")):
            self.close()
            return
        self._env = EnvCollector(LINE_LIMIT)
        within = self._server.settings.env_timeout
        self._env_timer = asyncio.get_running_loop().call_later(
            within, self.drop, f"environment incomplete after {within:g} s", "env_timeout"
        )

    def data_received(self, data: bytes) -> None:
        if self._env is None:
            super().data_received(data)
            return
        try:
            complete = self._env.add(data)
        except AGIProtocolError as exc:
            self.drop(str(exc), "bad_environment")
            return
        if complete is not None:
            env, rest = complete
            self._stop_collecting()
            if rest:
                self.feed(rest)
            self._server.route(self, env)
        elif not self._started:
            self._started = True
            self._server.started_env(self)

    def eof_received(self) -> bool | None:
        super().eof_received()
        self._peer_closed()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._peer_closed()
        self._server.release(self)

    def _peer_closed(self) -> None:
        if self._env is None:
            return
        if not self._started:
            # A port check (`callrouter status`, a load balancer's probe): nothing to report.
            self._stop_collecting()
            log.debug("FastAGI connection #%d from %s closed unused", self.number, self.peer)
            self._server.release(self)
            self.close()
            return
        self.drop(f"peer closed after {self._env.lines_so_far} environment lines", "peer_closed")

    def drop(self, reason: str, label: str) -> None:
        """Give up on a connection whose environment never completed."""
        if self._env is None:
            return
        self._stop_collecting()
        log.info(
            "FastAGI connection #%d from %s closed before routing: %s",
            self.number,
            self.peer,
            reason,
        )
        self._server.release(self)
        self._server.closed_early(label)
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
    on_admission: AdmissionHook = _ignore_admission,
) -> FastAgiServer:
    """Listen on settings.agi.host:port (or the overrides; port 0 picks a free one) and route
    every `agi://…/<settings.agi.script_name>` request with `source` as the directory."""
    decider = RouteDecider(source, settings.routing, settings.default_region, clock)
    server = FastAgiServer(settings.agi, decider, on_routed, on_admission)
    await server.start(host or settings.agi.host, settings.agi.port if port is None else port)
    return server
