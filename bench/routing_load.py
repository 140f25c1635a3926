"""The load generator: Asterisk's side of FastAGI, many calls at once, over raw sockets.

Each call sends the 22-line environment of the recorded lab call (01b) one line per write, as
res_agi does, with its own channel, uniqueid and caller ID; it answers `GET FULL VARIABLE` with
`200 result=1 (NOT_INUSE)` per phone asked, `GET VARIABLE` with `200 result=0`, `SET VARIABLE`
with `200 result=1`, `EXEC MSet` with `200 result=0`, and notes when the first `EXEC Dial` arrives. A routed call answers its Dial
with `200 result=0` and lets the server finish; a held call never answers it (a ringing or
talking call keeps its AGI session open in Dial).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from asterisk_sim.transcripts import transcripts_dir
from bench.routing_db import known_phone, new_phone

_UNSET = b"200 result=0\n"
_OK = b"200 result=1\n"
_DIAL_DONE = b"200 result=0\n"
_APP_DONE = b"200 result=0\n"
_UNKNOWN = b"510 Invalid or unknown command\n"
_DECISION = re.compile(rb'CALLROUTER_DECISION[ =]"?([a-z_]+)')


def recorded_env(root: Path | None = None) -> list[str]:
    """The `<<` environment lines of the 01b recording in tests/fixtures/asterisk (without the
    blank line)."""
    root = root or transcripts_dir(Path(__file__).resolve().parents[1])
    logs = sorted(root.glob("01b-*/agi.log"))
    if not logs:
        raise FileNotFoundError(f"no recorded 01b-*/agi.log in {root}")
    lines: list[str] = []
    for raw in logs[0].read_text(encoding="utf-8").splitlines():
        _, sep, text = raw.partition(" << ")
        if not sep:
            if lines:
                break
            continue
        if text.strip() == "":
            break
        lines.append(text)
    if not lines:
        raise ValueError(f"no environment lines in {logs[0]}")
    return lines


@dataclass(frozen=True)
class CallerMix:
    contacts: int
    known_share: float = 0.7
    seed: int = 4

    def envs(self, count: int, first_id: int = 0) -> list[list[bytes]]:
        """`count` environments, each a list of lines (blank line included), ready to send."""
        template = recorded_env()
        rng = random.Random(self.seed + first_id)
        result = []
        for n in range(first_id, first_id + count):
            known = rng.random() < self.known_share
            phone = (
                known_phone(rng.randrange(self.contacts))
                if known
                else new_phone(rng.randrange(10_000_000))
            )
            fields = {
                "agi_channel": f"SIP/carrier-{n:08x}",
                "agi_uniqueid": f"1795746830.{n}",
                "agi_callerid": phone,
                "agi_calleridname": "Client" if known else "",
                "agi_threadid": str(139789421467328 + n),
            }
            lines = []
            for line in template:
                key, _, value = line.partition(": ")
                lines.append(f"{key}: {fields.get(key, value)}\n".encode())
            lines.append(b"\n")
            result.append(lines)
        return result


def reply_to(line: bytes) -> bytes:
    """Asterisk's reply to any command but Dial: every phone idle, no variable set."""
    if line.startswith(b"GET FULL VARIABLE"):
        phones = line.count(b"${DEVICE_STATE(")
        return b"200 result=1 (%s)\n" % b",".join([b"NOT_INUSE"] * phones)
    if line.startswith(b"EXEC MSet"):
        return _APP_DONE
    if line.startswith(b"GET VARIABLE"):
        return _UNSET
    if line.startswith(b"SET VARIABLE"):
        return _OK
    return _UNKNOWN


class CallClient(asyncio.Protocol):
    """One call's AGI session, Asterisk side."""

    def __init__(self, lines: list[bytes], hold: bool, loop: asyncio.AbstractEventLoop) -> None:
        self._lines = lines
        self._hold = hold
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self.commands = 0
        self.commands_before_dial = 0
        self.connected_at: float | None = None
        self.dialled_at: float | None = None
        self.degraded = False  # CALLROUTER_DECISION was not "directory": no fresh lookup
        self.dialled: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.connected_at = time.monotonic()
        self._transport = transport
        for line in self._lines:
            transport.write(line)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            self._command(line)

    def _command(self, line: bytes) -> None:
        assert self._transport is not None
        if line.startswith(b"EXEC Dial"):
            if self.dialled_at is None:
                self.dialled_at = time.monotonic()
                self.commands_before_dial = self.commands
                if not self.dialled.done():
                    self.dialled.set_result(None)
            self.commands += 1
            if not self._hold:
                self._transport.write(_DIAL_DONE)
            return
        self.commands += 1
        decision = _DECISION.search(line) if line.startswith((b"EXEC MSet", b"SET ")) else None
        if decision is not None and decision.group(1) != b"directory":
            self.degraded = True
        self._transport.write(reply_to(line))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.dialled.done():
            self.dialled.set_exception(ConnectionError("closed before EXEC Dial"))
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@dataclass
class CallRecord:
    latency: float | None  # connection -> first EXEC Dial, seconds; None: never dialled
    since_scheduled: float | None = None  # scheduled start -> first EXEC Dial (the generator's
    # own lateness included: how long a caller would have waited from the moment it called)
    commands_before_dial: int = 0
    commands: int = 0
    degraded: bool = False


@dataclass
class OpenLoopResult:
    records: list[CallRecord] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def latencies(self) -> list[float]:
        return sorted(r.latency for r in self.records if r.latency is not None)

    @property
    def latencies_since_scheduled(self) -> list[float]:
        return sorted(r.since_scheduled for r in self.records if r.since_scheduled is not None)

    @property
    def routed(self) -> int:
        return len(self.latencies)

    @property
    def failed(self) -> int:
        return len(self.records) - self.routed

    @property
    def degraded(self) -> int:
        return sum(1 for r in self.records if r.degraded)


async def _connect(port: int, lines: list[bytes], hold: bool) -> CallClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: CallClient(lines, hold, loop), "127.0.0.1", port
    )
    return client


async def one_call(port: int, lines: list[bytes], scheduled: float, limit: float) -> CallRecord:
    """Run one routed call to its end; its Dial timed from the connection and from `scheduled`
    (loop time)."""
    try:
        async with asyncio.timeout(limit):
            client = await _connect(port, lines, hold=False)
            await client.closed
    except (OSError, TimeoutError):
        return CallRecord(None)
    if client.dialled_at is None or client.connected_at is None:
        return CallRecord(None, None, client.commands_before_dial, client.commands)
    return CallRecord(
        client.dialled_at - client.connected_at,
        client.dialled_at - scheduled,
        client.commands_before_dial,
        client.commands,
        client.degraded,
    )


async def hold_calls(port: int, envs: list[list[bytes]], limit: float = 30.0) -> list[CallClient]:
    """Open one held call per environment and wait until every one sits in its Dial."""
    clients = []
    for lines in envs:
        client = await _connect(port, lines, hold=True)
        clients.append(client)
    async with asyncio.timeout(limit):
        await asyncio.gather(*(c.dialled for c in clients))
    return clients


async def release(clients: list[CallClient]) -> None:
    for client in clients:
        client.close()
    await asyncio.gather(*(c.closed for c in clients), return_exceptions=True)


async def open_loop(
    port: int, envs: list[list[bytes]], rate: float, limit: float = 10.0
) -> OpenLoopResult:
    """Start call i at exactly start + i/rate whatever the server does (no coordinated
    omission): a late server is charged from the scheduled moment, not from when we got to it."""
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.02
    tasks = []
    for i, lines in enumerate(envs):
        at = start + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(one_call(port, lines, at, limit)))
    records = await asyncio.gather(*tasks)
    return OpenLoopResult(list(records), loop.time() - start)


@dataclass
class SaturationResult:
    routed: int
    degraded: int  # of those, routed without a fresh lookup (the decision budget ran out)
    seconds: float
    generator_cpu: float  # the load generator's own CPU seconds in the window

    @property
    def rate(self) -> float:
        return self.routed / self.seconds if self.seconds else 0.0

    @property
    def generator_busy(self) -> float:
        return self.generator_cpu / self.seconds if self.seconds else 0.0


async def closed_loop(
    port: int, envs: list[list[bytes]], concurrency: int, duration: float
) -> SaturationResult:
    """`concurrency` callers each start a new call as soon as their last one ends."""
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    routed = degraded = 0
    counter = iter(range(1 << 62))

    async def caller() -> None:
        nonlocal routed, degraded
        while loop.time() < end:
            lines = envs[next(counter) % len(envs)]
            record = await one_call(port, lines, loop.time(), 10.0)
            if record.latency is not None and loop.time() <= end:
                routed += 1
                degraded += record.degraded

    cpu0 = time.process_time()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return SaturationResult(routed, degraded, duration, time.process_time() - cpu0)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
