"""The classic AGI script (`callrouter-agi`): Asterisk runs it per call, env on stdin.

Same decision and executor as the FastAGI server, over stdin/stdout. Nothing about the caller
is written to stderr (Asterisk logs a script's stderr to its console).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from agi_scripts.decision import RouteDecider
from agi_scripts.errors import AGIError
from agi_scripts.file_source import FileDirectorySource
from agi_scripts.handler import route_call
from agi_scripts.lines import LineBuffer
from agi_scripts.session import AgiSession, read_env
from agi_scripts.source import DirectorySource
from core.settings import Settings, load_settings

log = logging.getLogger("callrouter.agi")

LINE_LIMIT = 16 * 1024


class StdioTransport:
    """stdin cut into lines by a LineBuffer on an asyncio pipe; stdout written straight to fd 1
    (short lines)."""

    def __init__(self, reader: LineBuffer, out_fd: int) -> None:
        self._reader = reader
        self._out = out_fd

    async def readline(self) -> bytes:
        return await self._reader.readline()

    async def write(self, data: bytes) -> None:
        os.write(self._out, data)

    def interrupt(self, exc: BaseException) -> None:
        self._reader.interrupt(exc)


def source_from_settings(settings: Settings) -> DirectorySource:
    """The JSON snapshot when `agi.directory_file` is set, else the database."""
    if settings.agi.directory_file is not None:
        return FileDirectorySource(settings.agi.directory_file)
    from models.db import Database
    from models.directory import DbDirectorySource

    return DbDirectorySource(Database(settings.database_url))


async def run(settings: Settings, source: DirectorySource, preread: bytes = b"") -> int:
    """Route the one call on stdin/stdout; 0 even on failure (the dialplan reads the result)."""
    loop = asyncio.get_running_loop()
    reader = LineBuffer(LINE_LIMIT)
    reader.feed(preread)  # what a caller (the relay) already took from stdin
    await loop.connect_read_pipe(lambda: reader, sys.stdin.buffer)
    transport = StdioTransport(reader, sys.stdout.fileno())
    hung_up = asyncio.Event()
    # Asterisk signals a hangup to a classic AGI with SIGHUP; the default action would kill us
    # before the outcome is recorded.
    loop.add_signal_handler(signal.SIGHUP, hung_up.set)
    try:
        env = await read_env(transport.readline, settings.agi.env_timeout, LINE_LIMIT)
    except AGIError as exc:
        log.warning("AGI environment unusable: %s", exc.__class__.__name__)
        return 0
    session = AgiSession(transport, env, settings.agi.command_timeout)
    if hung_up.is_set():
        session.mark_hung_up()
    loop.add_signal_handler(signal.SIGHUP, session.mark_hung_up)
    decider = RouteDecider(source, settings.routing, settings.default_region)
    await route_call(session, decider, settings.agi.dial_max_seconds)
    return 0


def main(argv: list[str] | None = None, preread: bytes = b"") -> int:
    """Entry point of `callrouter-agi` (AGI(callrouter-agi) in the dialplan)."""
    logging.basicConfig(level=logging.WARNING, format="callrouter-agi: %(message)s")
    settings = load_settings()
    return asyncio.run(run(settings, source_from_settings(settings), preread))


if __name__ == "__main__":
    sys.exit(main())
