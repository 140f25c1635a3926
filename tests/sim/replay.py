"""Test helpers: a scripted FastAGI server replaying recorded commands, transcript scenarios
and the comparison of simulated AMI streams with recorded ones."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from asterisk_sim.transcripts import (
    Fields,
    Normaliser,
    read_agi_log,
    recorded_events,
    transcripts_dir,
)

TRANSCRIPTS = transcripts_dir(Path(__file__).resolve().parents[2])
SIGNIFICANT = {
    "Newchannel",
    "Newstate",
    "DialBegin",
    "DialState",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "Hangup",
    "HangupRequest",
    "SoftHangupRequest",
    "Cdr",
    "NewCallerid",
    "MixMonitorStart",
    "FullyBooted",
    "Shutdown",
    "DeviceStateChange",
    "AGIExecStart",
    "AGIExecEnd",
    "BridgeCreate",
    "BridgeDestroy",
}
NOISE = ("VarSet", "Newexten", "CEL")


@dataclass
class RecordedSession:
    env: list[str]
    steps: list[tuple[str, list[str]]]  # (command sent, lines Asterisk answered)


def recorded_sessions(path: Path) -> dict[str, RecordedSession]:
    sessions: dict[str, RecordedSession] = {}
    for r in read_agi_log(path):
        sid, d = str(r["sid"]), str(r["dir"])
        line = bytes(r["raw"]).decode("utf-8")  # type: ignore[arg-type]
        s = sessions.setdefault(sid, RecordedSession([], []))
        if d == ">>":
            s.steps.append((line.rstrip("\n"), []))
        elif d == "<<":
            text = line[:-1] if line.endswith("\n") else line
            (s.steps[-1][1] if s.steps else s.env).append(text)
    return sessions


@dataclass
class ScriptedAgiServer:
    """Sends exactly the recorded commands; picks the session whose env has the caller id."""

    sessions: dict[str, RecordedSession]
    received: dict[str, list[str]] = field(default_factory=dict)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server:
            self._server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env: list[str] = []
        while True:
            line = (await reader.readline()).decode("utf-8").rstrip("\n")
            env.append(line)
            if not line:
                break
        callerid = next(x for x in env if x.startswith("agi_callerid: "))
        sid = next(
            k for k, s in self.sessions.items() if callerid in s.env and k not in self.received
        )
        got = self.received.setdefault(sid, [])
        got.extend(env)
        for command, answers in self.sessions[sid].steps:
            writer.write((command + "\n").encode("utf-8"))
            await writer.drain()
            for _ in answers:
                got.append((await reader.readline()).decode("utf-8").rstrip("\n"))
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def stream_key(fields: Fields) -> str:
    f = dict(fields)
    ev = f["Event"]
    if ev == "DeviceStateChange":
        return "dev:" + f["Device"]
    if ev == "Cdr":
        return "cdr"
    if ev in ("BridgeCreate", "BridgeDestroy"):
        return "bridge"
    if ev == "CEL":  # LINKEDID_END: on whichever channel of the call ended last (a race)
        return "linkedid_end:" + f["LinkedID"]
    return f.get("Channel", ev)


def significant_streams(events: list[Fields]) -> dict[str, list[Fields]]:
    norm = Normaliser()
    streams: dict[str, list[Fields]] = {}
    for fields in events:
        nf = norm.fields(fields)
        f = dict(fields)
        if f["Event"] in SIGNIFICANT or (f["Event"] == "CEL" and f["EventName"] == "LINKEDID_END"):
            streams.setdefault(stream_key(nf), []).append(nf)
    return streams


def _canonical(stream: list[Fields]) -> list[Fields]:
    """Runs of DialState in one Dial step follow the phones' 180 order (a network race)."""
    out: list[Fields] = []
    run: list[Fields] = []
    for f in [*stream, [("Event", "")]]:
        if dict(f)["Event"] == "DialState":
            run.append(f)
            continue
        out += sorted(run, key=lambda x: dict(x)["DestChannel"])
        run = []
        if dict(f)["Event"]:
            out.append(f)
    return out


def comparable_streams(events: list[Fields]) -> dict[str, list[Fields]]:
    out = {}
    for key, stream in significant_streams(events).items():
        if key.startswith("linkedid_end:"):
            stream = [
                [(k, v) for k, v in f if k in ("Event", "EventName", "LinkedID")] for f in stream
            ]
        out[key] = _canonical(stream)
    return out


def noise_counts(events: list[Fields]) -> Counter[str]:
    return Counter(dict(f)["Event"] for f in events if dict(f)["Event"] in NOISE)


def call_events(events: list[Fields]) -> list[Fields]:
    """Leave out the AMI login's own FullyBooted / SuccessfulAuth."""
    return [
        f
        for f in events
        if not (
            dict(f)["Event"] == "FullyBooted"
            or (dict(f)["Event"] == "SuccessfulAuth" and dict(f).get("Service") == "AMI")
        )
    ]


def recorded_call_events(scenario: str) -> list[Fields]:
    return call_events(recorded_events(TRANSCRIPTS / scenario / "ami.log"))


@dataclass
class Played:
    sim: AsteriskSimulator
    agi: ScriptedAgiServer | None
    results: list[object]


async def play(
    scenario: str,
    phones: dict[str, Phone],
    calls: Callable[[AsteriskSimulator], Awaitable[list[object]]],
    with_agi: bool = True,
    **cfg: object,
) -> Played:
    agi = None
    if with_agi:
        agi = ScriptedAgiServer(recorded_sessions(TRANSCRIPTS / scenario / "agi.log"))
        port = await agi.start()
        address: tuple[str, int] | None = ("127.0.0.1", port)
    else:
        address = ("127.0.0.1", await _closed_port())
    cfg.setdefault("agi_request", "agi://127.0.0.1:4573/route")
    sim = AsteriskSimulator(SimConfig(agi_address=address, clock=VirtualClock(), **cfg))  # type: ignore[arg-type]
    for ext, phone in phones.items():
        sim.add_phone(ext, phone)
    results = await calls(sim)
    if agi:
        await agi.stop()
    return Played(sim, agi, results)


async def _closed_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def inbound(caller: Caller) -> Callable[[AsteriskSimulator], Awaitable[list[object]]]:
    async def run(sim: AsteriskSimulator) -> list[object]:
        return [await sim.inbound_call(caller)]

    return run


IVAN = Caller("+79161234567", "Иван Петров")
