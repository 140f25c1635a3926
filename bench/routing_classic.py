"""Cold start of the classic AGI script: process start to its first `EXEC Dial`.

Asterisk forks `callrouter-agi` per call and writes the environment to its stdin at once; we do
the same, answer its commands like the load generator does, and time the first `EXEC Dial`.
The floor is the same interpreter reading the environment and printing a Dial, nothing else.
The CPU figure is the child's own user+system time, from wait4().
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.routing_load import reply_to

REPO = Path(__file__).resolve().parents[1]
ENTRY_POINT = Path(sys.executable).parent / "callrouter-agi"
FLOOR_SOURCE = (
    "import sys\n"
    "for line in sys.stdin:\n"
    "    if not line.strip():\n"
    "        break\n"
    "sys.stdout.write('EXEC Dial PJSIP/101,10\\n')\n"
    "sys.stdout.flush()\n"
    "sys.stdin.readline()\n"
)


@dataclass(frozen=True)
class ColdStart:
    dial_after: float | None  # seconds from spawn to the first EXEC Dial
    cpu: float  # the child's user + system seconds


def classic_command() -> list[str]:
    if ENTRY_POINT.exists():
        return [str(ENTRY_POINT)]
    return [sys.executable, "-m", "agi_scripts.classic"]


def floor_command() -> list[str]:
    return [sys.executable, "-c", FLOOR_SOURCE]


def _answer(line: bytes) -> bytes:
    return b"200 result=0\n" if line.startswith(b"EXEC Dial") else reply_to(line)


def cold_start(command: list[str], env_lines: list[bytes], environ: dict[str, str]) -> ColdStart:
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environ,
        cwd=REPO,
    )
    assert process.stdin is not None and process.stdout is not None
    dial_after = None
    try:
        process.stdin.write(b"".join(env_lines))
        process.stdin.flush()
        for line in process.stdout:
            if dial_after is None and line.startswith(b"EXEC Dial"):
                dial_after = time.monotonic() - started
            process.stdin.write(_answer(line))
            process.stdin.flush()
    except BrokenPipeError:
        pass
    finally:
        process.stdin.close()
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0
        process.stdout.close()
    return ColdStart(dial_after, usage.ru_utime + usage.ru_stime)


def run_cold_starts(
    db_url: str, envs: list[list[bytes]], runs: int, service_port: int
) -> tuple[list[ColdStart], list[ColdStart]]:
    """(classic, floor) samples, interleaved so both see the same machine state.

    `callrouter-agi` relays to the FastAGI service at 127.0.0.1:`service_port`; a port nobody
    listens on makes it route in process.
    """
    environ = {
        **os.environ,
        "CALLROUTER_DATABASE_URL": db_url,
        "CALLROUTER_CONFIG": "",
        "CALLROUTER_AGI__HOST": "127.0.0.1",
        "CALLROUTER_AGI__PORT": str(service_port),
    }
    environ.pop("CALLROUTER_AGI__DIRECTORY_FILE", None)
    classic, floor = [], []
    for i in range(runs + 1):
        lines = envs[i % len(envs)]
        c = cold_start(classic_command(), lines, environ)
        f = cold_start(floor_command(), lines, environ)
        if i:  # the first spawn of each warms the page cache
            classic.append(c)
            floor.append(f)
    return classic, floor
