"""The server under test, run as its own process so its CPU time can be read alone.

    python -m bench.routing_server real  --db URL [--max-sessions N]
    python -m bench.routing_server floor --pre 12 --post 2

Prints `READY <port>` once listening, serves until its stdin closes, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import sys
from typing import TYPE_CHECKING

from bench.routing_floor import start_floor_server

if TYPE_CHECKING:
    from agi_scripts.source import DirectorySource


async def _serve_real(url: str, max_sessions: int, source_kind: str) -> int:
    from callrouter.service.heap import freeze_startup_objects
    from core.settings import AgiSettings, Settings

    settings = Settings(
        database_url=url,
        agi=AgiSettings(port=0, max_sessions=max_sessions, shutdown_grace=0.5),
    )
    if source_kind == "lookup":
        # What `callrouter service` runs: the lookup source, the swappable decider and its
        # decision-latency metric, the directory loaded before the first call, then the
        # start-up heap frozen.
        from callrouter.service.agi_part import AgiPart

        part = AgiPart(settings)
        await part.start()
        freeze_startup_objects()
        return part.port
    from agi_scripts.fastagi import start_fastagi_server
    from callrouter.metrics import record_routed
    from models.db import Database
    from models.directory import DbDirectorySource

    source: DirectorySource = DbDirectorySource(Database(url))
    server = await start_fastagi_server(
        settings, source, host="127.0.0.1", port=0, on_routed=record_routed
    )
    await server.decider.refresh()  # as at start-up: the directory is loaded before calls
    freeze_startup_objects()
    return server.port


profiler = cProfile.Profile()


async def _main(args: argparse.Namespace) -> None:
    if args.kind == "real":
        port = await _serve_real(args.db, args.max_sessions, args.source)
    else:
        floor = await start_floor_server(args.pre, args.post)
        port = floor.sockets[0].getsockname()[1]
    if args.profile:
        profiler.enable()  # what serving costs, not start-up's imports and directory load
    print(f"READY {port}", flush=True)
    await asyncio.to_thread(sys.stdin.buffer.read)
    if args.profile:
        profiler.disable()
        profiler.dump_stats(args.profile)
    # Held sessions and the refresher are not worth an orderly shutdown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("real", "floor"))
    parser.add_argument("--db", default="")
    parser.add_argument("--source", choices=("lookup", "orm"), default="lookup")
    parser.add_argument("--max-sessions", type=int, default=2000)
    parser.add_argument("--pre", type=int, default=12)
    parser.add_argument("--post", type=int, default=2)
    parser.add_argument(
        "--profile",
        default="",
        help="write cProfile stats of the serving (from READY) here at exit",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
