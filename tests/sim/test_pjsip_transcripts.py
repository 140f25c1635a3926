"""The PJSIP lab recordings
(``tests/fixtures/asterisk/pjsip/{answered,unanswered,busy,registered}``)
played through the simulator with ``SimConfig(tech="PJSIP", inbound_dialplan="agi_only")``,
driven by a scripted FastAGI server that sends exactly the recorded commands.

Checked, as in test_transcripts.py (same helpers, same normalisation):

- the AGI conversation line for line (environment, responses, unsolicited ``HANGUP``), generated
  ids normalised;
- every significant AMI event (Newchannel, Newstate, Dial*, Bridge*, Hangup, HangupRequest,
  SoftHangupRequest, Cdr, NewCallerid, MixMonitorStart, DeviceStateChange, AGIExecStart/End),
  per stream (channel / device / Cdr / bridge), with identical header names, order and values
  after id and timestamp normalisation;
- the cdr-csv lines (times left out).

- the noise by count only, exactly, per event type: VarSet, Newexten, CEL, QueueMemberStatus,
  NewConnectedLine (every other event type is significant and compared above);
- the cdr-csv lines (times left out).

Left out: the AMI login's own FullyBooted/SuccessfulAuth, and in ``registered`` the REGISTER's
ChallengeSent/SuccessfulAuth (registration noise before the call; no listener reads them).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from asterisk_sim.transcripts import Fields, Normaliser, parse_block
from tests.ami.fixtures import read_sessions

from .replay import (
    SIGNIFICANT,
    TRANSCRIPTS,
    RecordedSession,
    ScriptedAgiServer,
    call_events,
    comparable_streams,
)

PJSIP = TRANSCRIPTS / "pjsip"

LAB_CALLER = Caller("+15551230000", "Lab Caller")
AGI_LINE = re.compile(r"^\S+ \[([^\]]+)\] (<<|>>|--) ?(.*)$")
REGISTRATION_NOISE = {"ChallengeSent", "SuccessfulAuth"}
NOISE_BY_COUNT = ("VarSet", "Newexten", "CEL", "QueueMemberStatus", "NewConnectedLine")


def pjsip_agi_sessions(path: Path) -> dict[str, RecordedSession]:
    """The lab's wall-clock agi.log: ``HH:MM:SS.mmm [peer] <<|>>|-- text`` (``--`` = comment)."""
    sessions: dict[str, RecordedSession] = {}
    for raw in path.read_text(encoding="utf-8").split("\n"):
        m = AGI_LINE.match(raw)
        if not m or m.group(2) == "--":
            continue
        sid, direction, text = m.groups()
        s = sessions.setdefault(sid, RecordedSession([], []))
        if direction == ">>":
            s.steps.append((text, []))
        else:
            (s.steps[-1][1] if s.steps else s.env).append(text)
    return sessions


def pjsip_events(case: str) -> list[Fields]:
    """Events of the case's AMI session, the REGISTER's security events left out."""
    events = [parse_block(b) for b in read_sessions(f"pjsip/{case}")[0].blocks]
    events = [f for f in events if f and f[0][0] == "Event"]
    return [
        f
        for f in call_events(events)
        if not (dict(f)["Event"] in REGISTRATION_NOISE and dict(f).get("Service") != "AMI")
    ]


@dataclass(frozen=True)
class Case:
    target: str  # the phone the recorded FastAGI server dials
    phone: Phone
    first_call_after_boot: bool = False


CASES = {
    "answered": Case("101", Phone(answer_after=2.0, talk=3.0), first_call_after_boot=True),
    "registered": Case("201", Phone(answer_after=2.0, talk=3.0, name="Reg 201")),
    "busy": Case("101", Phone(busy=True)),
    "unanswered": Case("101", Phone()),
}


async def play_pjsip(case: str) -> tuple[AsteriskSimulator, ScriptedAgiServer]:
    spec = CASES[case]
    agi = ScriptedAgiServer(pjsip_agi_sessions(PJSIP / case / "agi.log"))
    port = await agi.start()
    sim = AsteriskSimulator(
        SimConfig(
            tech="PJSIP",
            inbound_dialplan="agi_only",
            cdr_mappings=False,
            fresh_boot=spec.first_call_after_boot,
            agi_address=("127.0.0.1", port),
            agi_request="agi://127.0.0.1:14573/route",
            clock=VirtualClock(),
        )
    )
    for ext in ("101", "102", "103"):
        sim.add_phone(ext, Phone())
    sim.add_phone("201", Phone(registered=False))
    sim.add_phone(spec.target, spec.phone)
    await sim.inbound_call(LAB_CALLER)
    await agi.stop()
    return sim, agi


@pytest.mark.parametrize("case", sorted(CASES))
async def test_pjsip_transcript_equivalence(case: str) -> None:
    sim, agi = await play_pjsip(case)

    recorded = pjsip_agi_sessions(PJSIP / case / "agi.log")
    assert len(recorded) == 1
    for sid, rec in recorded.items():
        want = rec.env + [line for _, answers in rec.steps for line in answers]
        norm_w, norm_g = Normaliser(), Normaliser()
        assert [norm_g.line(x) for x in agi.received[sid]] == [norm_w.line(x) for x in want]

    got_streams = comparable_streams(call_events(sim.events))
    want_streams = comparable_streams(pjsip_events(case))
    assert sorted(got_streams) == sorted(want_streams)
    for key, stream in want_streams.items():
        assert got_streams[key] == stream, f"stream {key}"

    kinds = Counter(dict(f)["Event"] for f in pjsip_events(case))
    assert Counter(dict(f)["Event"] for f in call_events(sim.events)) == kinds
    assert set(kinds) - SIGNIFICANT <= set(NOISE_BY_COUNT)

    csv_want = (PJSIP / case / "cdr_csv_lines.csv").read_text(encoding="utf-8").splitlines()
    norm_w, norm_g = Normaliser(), Normaliser()
    strip_times = re.compile(r'"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"')
    assert [strip_times.sub("T", norm_g.value(x)) for x in sim.csv_lines] == [
        strip_times.sub("T", norm_w.value(x)) for x in csv_want
    ]
