"""The web application as a part of the service: uvicorn serving `callrouter/web/app.py`.

`callrouter web` runs it alone (callrouter-web.service); `callrouter run` adds it when
`[web] enabled = true`. It binds `web.host:web.port` (127.0.0.1:8080) itself, so a busy port is
one clear line; the service's own signal handling stays in charge (uvicorn's is not installed).
X-Forwarded-For / X-Forwarded-Proto are believed only from `web.trusted_proxies` (nginx on the
same box: docs/web.md). Shut-down: no new connections, requests in hand finish within
`SHUTDOWN_GRACE`, then the database is closed. Ended sessions (idle or past their maximum age)
are deleted at start and every `PURGE_EVERY`: a browser that never comes back leaves its row.
"""

from __future__ import annotations

import asyncio
import logging
import socket

import uvicorn

from callrouter.listen import cannot_listen
from callrouter.web.app import WebConfigError, create_app, secret_key_of
from callrouter.web.sessions import Lifetime, purge_expired
from core.settings import Settings
from models.base import utcnow
from models.db import Database

from .parts import StartupError

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 10.0
PURGE_EVERY = 3600.0  # seconds between deletions of ended web sessions
PURGE_BUDGET = 5.0  # seconds a deletion may take before it waits for the next round
_RESTART_ONLY = (
    "host",
    "port",
    "secret_key",
    "secret_key_file",
    "trusted_proxies",
    "default_locale",
    "session_idle_minutes",
    "session_max_hours",
)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise cannot_listen(host, port, "web", exc) from None
    return sock


class WebPart:
    name = "web"

    def __init__(self, settings: Settings, *, secret_key: str | None = None) -> None:
        self.settings = settings
        self.secret_key = secret_key
        self.failed = asyncio.Event()
        self.database: Database | None = None
        self.server: uvicorn.Server | None = None
        self.sock: socket.socket | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._purge_task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        assert self.sock is not None
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        settings = self.settings
        try:
            key = self.secret_key if self.secret_key is not None else secret_key_of(settings)
        except WebConfigError as exc:
            raise StartupError(str(exc)) from None
        self.database = Database(settings.database_url)
        await self.purge_sessions()
        app = create_app(settings, self.database, secret_key=key)
        config = uvicorn.Config(
            app,
            lifespan="off",
            proxy_headers=True,
            forwarded_allow_ips=list(settings.web.trusted_proxies),
            server_header=False,
            date_header=True,
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE),
        )
        config.load()
        self.sock = bind(settings.web.host, settings.web.port)
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[self.sock])
        self.server = server
        self._loop_task = asyncio.create_task(self._main_loop(server))
        self._purge_task = asyncio.create_task(self._purge_loop())
        log.info(
            "web application on http://%s:%d/",
            settings.web.host,
            self.port,
            extra={"event": "web_listening", "port": self.port},
        )

    async def _main_loop(self, server: uvicorn.Server) -> None:
        try:
            await server.main_loop()
        except Exception:
            log.exception("the web server stopped", extra={"event": "web_failed"})
            self.failed.set()

    async def purge_sessions(self) -> None:
        """Delete the sessions that have ended; a database that cannot be reached now is
        logged and tried again at the next round (the pages say what is wrong meanwhile)."""
        if self.database is None:
            return
        database, lifetime = self.database, Lifetime.of(self.settings.web)

        async def purge() -> None:
            async with database.transaction() as s:
                await purge_expired(s, utcnow(), lifetime)

        try:
            # Bounded: a database that does not answer must not hold the part's start.
            await asyncio.wait_for(purge(), PURGE_BUDGET)
        except Exception as exc:
            log.warning(
                "ended web sessions not deleted: %s",
                type(exc).__name__,
                extra={"event": "web_sessions_purge_failed"},
            )

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(PURGE_EVERY)
            await self.purge_sessions()

    async def reload(self, new: Settings) -> None:
        for name in _RESTART_ONLY:
            if getattr(new.web, name) != getattr(self.settings.web, name):
                log.warning("web.%s changed: takes effect after a restart", name)
        # Pages read the settings from the app's state: the rest applies to the next request.
        if self.server is not None:
            kept = {name: getattr(self.settings.web, name) for name in _RESTART_ONLY}
            updated = new.model_copy(
                update={
                    "web": new.web.model_copy(update=kept),
                    "database_url": self.settings.database_url,
                }
            )
            app = self.server.config.app
            if hasattr(app, "state"):
                app.state.settings = updated
            self.settings = updated

    async def shut_down(self) -> None:
        if self._purge_task is not None:
            self._purge_task.cancel()
            await asyncio.gather(self._purge_task, return_exceptions=True)
            self._purge_task = None
        server = self.server
        if server is not None:
            server.should_exit = True
            if self._loop_task is not None:
                await asyncio.gather(self._loop_task, return_exceptions=True)
            await server.shutdown(sockets=[self.sock] if self.sock is not None else None)
            self.server = None
        elif self.sock is not None:
            self.sock.close()
        if self.database is not None:
            await self.database.dispose()
            self.database = None
