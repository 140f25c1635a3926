"""Instructions per routed call: the routing server (or its floor) under callgrind.

    python -m bench.routing_instructions                 # the server, 200 calls, 50 held
    python -m bench.routing_instructions --kind floor    # the floor (2 + Dial + 2 commands)

CPU time per call moves ±10 % between runs on a shared VM; callgrind's count of the
instructions the server process runs (user space, all its threads) does not. The server runs
under `valgrind --tool=callgrind --instr-atstart=no` (~50× slower, so calls go one after the
other, not at a rate); `held` calls are put into Dial and `warm` calls routed first, then
instrumentation is switched on (`callgrind_control -i on`) for `calls` routed calls and off
again. The directory refresh is pushed past the run so it does not land in the window.
Needs valgrind (Debian: `apt-get install valgrind`); SQLite only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import routing_db
from bench.routing_bench import REPO
from bench.routing_load import CallerMix, hold_calls, one_call, release


def _callgrind(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


async def _drive(port: int, pid: int, mix: CallerMix, held: int, warm: int, calls: int) -> int:
    loop = asyncio.get_running_loop()
    clients = await hold_calls(port, mix.envs(held, first_id=1_000_000), limit=300)
    try:
        for lines in mix.envs(warm, first_id=2_000_000):
            await one_call(port, lines, loop.time(), 60)
        _callgrind(pid, "-i", "on")
        routed = 0
        for lines in mix.envs(calls):
            record = await one_call(port, lines, loop.time(), 60)
            routed += record.latency is not None
        _callgrind(pid, "-i", "off")
        _callgrind(pid, "-d")
    finally:
        await release(clients)
    return routed


def measure(kind: str, contacts: int, held: int, warm: int, calls: int) -> tuple[int, int]:
    """(instructions in the window, calls routed in it)."""
    url = routing_db.build("sqlite", contacts)
    args = ["real", "--db", url] if kind == "real" else ["floor", "--pre", "2", "--post", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}.%p",
                sys.executable,
                "-m",
                "bench.routing_server",
                *args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
            env={**os.environ, "CALLROUTER_ROUTING__DIRECTORY_REFRESH_SECONDS": "100000"},
        )
        assert process.stdin is not None and process.stdout is not None
        try:
            port = int(process.stdout.readline().split()[1])
            mix = CallerMix(contacts, 0.7, seed=7)
            routed = asyncio.run(_drive(port, process.pid, mix, held, warm, calls))
        finally:
            process.stdin.close()
            process.wait(timeout=120)
        return sum(_totals(dump) for dump in Path(tmp).glob("callgrind.out.*")), routed


def _totals(dump: Path) -> int:
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=("real", "floor"), default="real")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--held", type=int, default=50)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)
    instructions, routed = measure(args.kind, args.contacts, args.held, args.warm, args.calls)
    print(
        f"{args.kind}: {instructions / max(1, routed) / 1e6:.3f} M instructions per routed call "
        f"({routed} calls, {args.held} held, {args.contacts} contacts)"
    )
    return 0 if routed == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
