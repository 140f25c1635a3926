"""The routing half of the service: the FastAGI server over a swappable, cached directory."""

from __future__ import annotations

import asyncio
import logging

from agi_scripts.db_source import DbLookupSource
from agi_scripts.decision import RouteDecider
from agi_scripts.fastagi import FastAgiServer
from agi_scripts.file_source import FileDirectorySource
from agi_scripts.source import DirectorySource
from callrouter import metrics
from callrouter.listen import cannot_listen
from core.settings import Settings

from .decider import SwappableDecider
from .degraded import DatabaseState, SnapshotSource, snapshot_path

log = logging.getLogger(__name__)

# Settings a running FastAGI server cannot take over without a restart.
_RESTART_ONLY = ("host", "port", "directory_file")


class AgiPart:
    """Starts the FastAGI server; `reload()` gives new sessions new settings and directory."""

    name = "agi"

    def __init__(self, settings: Settings, database: DatabaseState | None = None) -> None:
        self.settings = settings
        # With it, routing keeps a directory snapshot on disk and uses it while the database
        # is unreachable (degraded.py); without it (benchmarks), the database alone.
        self.database = database
        self.snapshots: SnapshotSource | None = None
        self.failed = asyncio.Event()  # the server has no life of its own to lose
        self.lookup: DbLookupSource | None = None
        self.source: DirectorySource
        self.decider: SwappableDecider
        self.server: FastAgiServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    async def start(self) -> None:
        settings = self.settings
        if settings.agi.directory_file is not None:
            self.source = FileDirectorySource(settings.agi.directory_file)
        else:
            # One-statement caller lookups on the hot path (bench/ROUTING.md).
            self.lookup = DbLookupSource(settings.database_url)
            self.source = self.lookup
            if self.database is not None:
                self.snapshots = SnapshotSource(
                    self.lookup,
                    settings.database_url,
                    snapshot_path(settings.spool_dir),
                    self.database,
                )
                self.source = self.snapshots
                self.database.on_back(self._database_back)
        self.decider = SwappableDecider(
            self._new_decider(settings), settings.routing.directory_refresh_seconds
        )
        try:
            await self.decider.refresh()  # warm: the first call should not pay for it
        except Exception as exc:
            log.warning("directory not loaded at start (%s); routing will retry", exc)
        self.server = FastAgiServer(
            settings.agi,
            self.decider,
            on_routed=metrics.record_routed,
            on_admission=metrics.record_admission,
        )
        try:
            await self.server.start(settings.agi.host, settings.agi.port)
        except OSError as exc:
            raise cannot_listen(settings.agi.host, settings.agi.port, "AGI", exc) from None
        metrics.LIVE.set_probe("callrouter_agi_sessions_active", self._active_sessions)
        log.info(
            "FastAGI listening on %s:%d",
            settings.agi.host,
            self.server.port,
            extra={"event": "agi_listening", "port": self.server.port},
        )

    async def reload(self, new: Settings) -> None:
        """New sessions use `new`: routing settings, AGI limits, allowlist, a fresh directory."""
        for name in _RESTART_ONLY:
            if getattr(new.agi, name) != getattr(self.settings.agi, name):
                log.warning("agi.%s changed: takes effect after a restart", name)
        if new.database_url != self.settings.database_url:
            log.warning("database_url changed: takes effect after a restart")
        decider = self._new_decider(new)
        try:
            await decider.refresh()
        except Exception as exc:
            log.error("reload: directory could not be loaded (%s); keeping the old one", exc)
            return
        self.decider.swap(decider, new.routing.directory_refresh_seconds)
        assert self.server is not None
        kept = {name: getattr(self.settings.agi, name) for name in _RESTART_ONLY}
        self.server.settings = new.agi.model_copy(update=kept)
        self.settings = new.model_copy(
            update={"agi": self.server.settings, "database_url": self.settings.database_url}
        )
        directory = decider.directory
        log.info(
            "routing reloaded: %d managers in the directory",
            len(directory.managers) if directory else 0,
            extra={"event": "agi_reloaded"},
        )

    async def close(self) -> None:
        """Refuse new connections, let calls in progress finish within agi.shutdown_grace."""
        if self.server is not None:
            running = self.server.active_sessions
            if running:
                log.info(
                    "waiting up to %.0f s for %d call(s) in progress",
                    self.server.settings.shutdown_grace,
                    running,
                )
            await self.server.close()
        metrics.LIVE.set_probe("callrouter_agi_sessions_active", None)
        if self.snapshots is not None:
            await self.snapshots.close()
        if self.lookup is not None:
            await self.lookup.close()

    async def _database_back(self) -> None:
        """Leave the snapshot: the directory from the database now, not at the next refresh."""
        await self.decider.refresh()
        directory = self.decider.directory
        log.info(
            "routing from the database again: %d managers in the directory",
            len(directory.managers) if directory else 0,
            extra={"event": "agi_database_back"},
        )

    def _new_decider(self, settings: Settings) -> RouteDecider:
        return RouteDecider(self.source, settings.routing, settings.default_region)

    def _active_sessions(self) -> float:
        return float(self.server.active_sessions) if self.server is not None else 0.0

    async def shut_down(self) -> None:
        """Refuse new sessions, let the calls being routed finish (agi.shutdown_grace), close."""
        await self.close()
