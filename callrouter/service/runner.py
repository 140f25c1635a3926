"""One service process: `run` (AGI + AMI), `agi` or `ami`; signals, sd_notify, metrics.

Lifecycle: settings → logging → schema check → metrics endpoint → parts → READY=1.
A database that cannot be reached at the schema check does not stop the start: the service runs
degraded until it answers (`degraded.py`: routing from the directory snapshot, calls kept in
the spool); a schema that is behind, a wrong password or a missing database do stop it.
SIGTERM/SIGINT: STOPPING=1; the FastAGI server stops accepting and waits for calls in progress
(agi.shutdown_grace); the listener waits briefly for their last events, closes the AMI session,
spools and delivers every ended call; exit 0. SIGHUP: RELOADING=1, settings and directory
re-read, READY=1; no call is dropped.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from callrouter import metrics
from callrouter.database_url import database_label
from callrouter.logs import configure_logging
from callrouter.sdnotify import Notifier
from core.settings import Settings, SettingsError, load_settings
from models import migrate

from .agi_part import AgiPart
from .ami_part import AmiPart
from .degraded import DatabaseState, behind_message, is_refusal, reason_of, schema_revision
from .heap import freeze_startup_objects
from .parts import Part, StartupError

log = logging.getLogger(__name__)


class Mode(enum.StrEnum):
    RUN = "run"
    AGI = "agi"
    AMI = "ami"
    WEB = "web"


async def check_schema(url: str) -> str | None:
    """None when the database is at the code's revision; why, when it cannot be reached (the
    service then starts degraded). StartupError when it is behind, or refuses us (a wrong
    password, no such database): things to fix, not to wait out."""
    try:
        current = await schema_revision(url)
    except Exception as exc:
        if is_refusal(exc):
            raise StartupError(f"database unavailable: {reason_of(exc)}") from None
        return reason_of(exc)
    if current != migrate.head_revision():
        raise StartupError(behind_message(current))
    return None


def _secrets(settings: Settings) -> list[str]:
    try:
        return [settings.ami.resolved_secret(), settings.smtp.password.get_secret_value()]
    except OSError as exc:
        raise StartupError(f"ami.secret_file cannot be read: {exc}") from None


class Service:
    """Runs the parts of `mode` until SIGTERM; `run()` returns the process exit code."""

    def __init__(self, mode: Mode, config: str | None, *, metrics_port: int | None = None) -> None:
        self.mode = mode
        self.config = config
        self.metrics_port = metrics_port
        self.notifier = Notifier()
        self.settings: Settings
        self.parts: list[Part] = []  # in start order; shut down in reverse
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.database: DatabaseState | None = None

    async def run(self) -> int:
        self.settings = load_settings(self.config)
        configure_logging(self.settings.log_format, secrets=_secrets(self.settings))
        if self.mode is not Mode.AGI or self.settings.agi.directory_file is None:
            unreachable = await check_schema(self.settings.database_url)
            self._say_database()  # after the check: a refused start keeps its one line
            self.database = DatabaseState(
                self.settings.database_url, self.settings.spool_dir, self.mode.value
            )
            if unreachable is not None:
                self.database.went_away(unreachable)
        else:
            self._say_database()
        try:
            endpoint = metrics.serve(self.settings.metrics_host, self._metrics_port())
            try:
                return await self._serve(endpoint)
            finally:
                endpoint.close()
        finally:
            if self.database is not None:
                await self.database.close()

    def _say_database(self) -> None:
        """Which database this process uses, its password masked (a typo in the settings must
        not go unnoticed into another database)."""
        settings = self.settings
        if self.mode is Mode.AGI and settings.agi.directory_file is not None:
            log.info(
                "database: none, routing from agi.directory_file %s",
                settings.agi.directory_file,
                extra={"event": "database"},
            )
            return
        try:
            label = database_label(settings.database_url)
        except Exception:  # never the raw URL: it may hold the password
            label = "(a database_url that cannot be parsed)"
        log.info("database: %s", label, extra={"event": "database"})

    def _metrics_port(self) -> int:
        if self.metrics_port is not None:
            return self.metrics_port
        # `agi` and `ami` run side by side in production: the listener takes the next port.
        base = self.settings.metrics_port
        if self.mode is Mode.WEB and base:
            return base + 2  # `web` runs beside `agi` and `ami`: the port after theirs
        return base + 1 if self.mode is Mode.AMI and base else base

    async def _serve(self, endpoint: metrics.MetricsServer) -> int:
        log.info(
            "metrics on http://%s:%d/metrics",
            endpoint.host,
            endpoint.port,
            extra={"event": "metrics_listening", "port": endpoint.port},
        )
        try:
            await self._start_parts()
        except BaseException:
            await self._close_parts()
            raise
        freeze_startup_objects()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._stop.set)
        loop.add_signal_handler(signal.SIGINT, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._spawn, self.reload)
        watchdog = asyncio.create_task(self.notifier.keep_watchdog_fed())
        self.notifier.ready(f"callrouter {self.mode.value} running")
        log.info("callrouter %s ready", self.mode.value, extra={"event": "ready"})
        code = await self._wait_for_stop()
        self.notifier.stopping()
        log.info("callrouter %s stopping", self.mode.value, extra={"event": "stopping"})
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await self._close_parts()
        watchdog.cancel()
        await asyncio.gather(watchdog, *self._tasks, return_exceptions=True)
        log.info("callrouter %s stopped", self.mode.value, extra={"event": "stopped"})
        return code

    def _compose(self) -> list[Part]:
        """The listener first, so it is up before routing sends it calls."""
        parts: list[Part] = []
        if self.mode in (Mode.RUN, Mode.AMI):
            # The monitor tells the listener when the database is back (its spool drains at
            # once); the listener tells the monitor when a write or a load fails.
            parts.append(AmiPart(self.settings, database=self.database))
        if self.mode in (Mode.RUN, Mode.AGI):
            parts.append(AgiPart(self.settings, database=self.database))
        if self.mode is Mode.WEB or (self.mode is Mode.RUN and self.settings.web.enabled):
            from .web_part import WebPart  # the web stack is loaded only where it runs

            parts.append(WebPart(self.settings))
        return parts

    async def _start_parts(self) -> None:
        for part in self._compose():
            self.parts.append(part)
            await part.start()

    async def _wait_for_stop(self) -> int:
        stop = asyncio.create_task(self._stop.wait())
        waits: set[asyncio.Task[bool]] = {stop}
        waits.update(asyncio.create_task(part.failed.wait()) for part in self.parts)
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return 0 if stop in done else 1

    async def _close_parts(self) -> None:
        """AGI first (its calls finish, their events reach the listener), then the listener."""
        async with self._reload_lock:
            for part in reversed(self.parts):
                await part.shut_down()

    async def reload(self) -> None:
        """SIGHUP: re-read the settings file, reload the directory, keep every call."""
        async with self._reload_lock:
            if self._stop.is_set():
                return
            self.notifier.reloading()
            log.info("SIGHUP: reloading settings", extra={"event": "reloading"})
            try:
                new = load_settings(self.config)
                secrets = _secrets(new)
            except (SettingsError, StartupError) as exc:
                log.error("reload refused, keeping the running settings: %s", exc)
                self.notifier.ready()
                return
            configure_logging(new.log_format, secrets=secrets)
            for part in self.parts:
                await part.reload(new)
            self.settings = new
            self.notifier.ready()
            log.info("reloaded", extra={"event": "reloaded"})

    def _spawn(self, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.get_running_loop().create_task(factory())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def run_service(mode: Mode, config: str | None, *, metrics_port: int | None = None) -> int:
    """Run the service in this process until SIGTERM; the exit code for the command."""
    return asyncio.run(Service(mode, config, metrics_port=metrics_port).run())
