"""The Local-channel recordings (``tests/fixtures/asterisk/pjsip-local/L1..L6``: one Dial whose
later targets are ``Local/<delay>-<ep>@ring-delayed[/n]`` legs) played through the simulator,
driven by a scripted FastAGI server that sends exactly the recorded commands (step 1
``Dial PJSIP/101,3``, then the big Dial).

Checked, as in test_pjsip_transcripts.py (same helpers, same normalisation; Local channel
suffixes are normalised like PJSIP ones):

- the AGI conversation line for line (environment, responses, unsolicited ``HANGUP``);
- every significant AMI event per stream (channel / device / Cdr / bridge / LocalBridge /
  LocalOptimization*) with identical header names, order and values after id normalisation;
  LocalBridge, LocalOptimizationBegin and LocalOptimizationEnd count as significant here;
- every event type by exact count (the noise: VarSet, Newexten, NewConnectedLine);
- the cdr.csv lines (times left out), including the lines of each ``;2`` half.

The one tolerance is the project's usual one (``_canonical`` in replay.py: DialState runs of a
step compared in a fixed order). The ``;2`` halves' Cdr records that the recordings show in a
thread-race order are emitted by the simulator in the recorded order (docs/simulator.md).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from asterisk_sim.transcripts import Fields, Normaliser, recorded_events

from .replay import (
    SIGNIFICANT,
    TRANSCRIPTS,
    ScriptedAgiServer,
    call_events,
    comparable_streams,
    recorded_sessions,
)

LOCAL = TRANSCRIPTS / "pjsip-local"
SCENARIOS = (
    "L1-nobody-answers",
    "L2-department-answers-before-head",
    "L3-head-answers-after-added",
    "L4-caller-leaves-during-delay",
    "L5-head-answers-no-n",
    "L6-delayed-phone-busy",
)
NAMES = {"101": "Manager 101", "102": "Manager 102", "103": "Manager 103", "202": "Reg 202"}


def folder(case: str) -> Path:
    return LOCAL / case


def recorded(case: str) -> list[Fields]:
    """The case's AMI events, the AMI login's own FullyBooted/SuccessfulAuth left out."""
    return call_events(recorded_events(folder(case) / "ami.log"))


@dataclass(frozen=True)
class Lab:
    phones: dict[str, Phone]
    caller: Caller


def lab(case: str) -> Lab:
    """The phones and the caller as meta.json describes them: ``answer`` phones answer
    ``ring_ms`` after their INVITE, ``busy`` ones answer 486, the rest ring; the caller talks
    ``talk_ms`` and, for a ``cancel`` caller, leaves when the recording shows its
    HangupRequest (measured from its Newchannel in ami.log)."""
    meta = json.loads((folder(case) / "meta.json").read_text(encoding="utf-8"))
    talk = meta["uac"]["talk_ms"] / 1000
    phones: dict[str, Phone] = {}
    for ext, spec in meta["phones"].items():
        mode = spec["mode"]
        phones[ext] = Phone(
            answer_after=spec["ring_ms"] / 1000 if mode == "answer" else None,
            busy=mode == "busy",
            talk=talk,
            name=NAMES[ext],
        )
    number, name = meta["uac"]["caller"]
    abandon = None
    if meta["uac"]["kind"] == "cancel":
        events = [dict(f) for f in recorded(case)]
        first = events[0]
        assert first["Event"] == "Newchannel"
        leave = next(
            e
            for e in events
            if e["Event"] == "HangupRequest" and e.get("Uniqueid") == first["Uniqueid"]
        )
        abandon = float(leave["Timestamp"]) - float(first["Timestamp"])
    return Lab(phones, Caller(number, name, abandon_after=abandon))


async def play_local(case: str) -> tuple[AsteriskSimulator, ScriptedAgiServer]:
    spec = lab(case)
    agi = ScriptedAgiServer(recorded_sessions(folder(case) / "agi.log"))
    port = await agi.start()
    sim = AsteriskSimulator(
        SimConfig(
            tech="PJSIP",
            inbound_dialplan="agi_only",
            cdr_mappings=False,
            agi_address=("127.0.0.1", port),
            agi_request="agi://127.0.0.1:14573/route",
            clock=VirtualClock(),
            queue_members=(),
            cel=False,
        )
    )
    for ext, phone in spec.phones.items():
        sim.add_phone(ext, phone)
    await sim.inbound_call(spec.caller)
    await agi.stop()
    return sim, agi


LOCAL_EVENTS = {"LocalBridge", "LocalOptimizationBegin", "LocalOptimizationEnd"}
TIMES = re.compile(r'"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"')


@pytest.fixture
def local_significant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.sim.replay.SIGNIFICANT", SIGNIFICANT | LOCAL_EVENTS)


@pytest.mark.parametrize("case", SCENARIOS)
async def test_local_transcript_equivalence(case: str, local_significant: None) -> None:
    sim, agi = await play_local(case)

    recorded_agi = recorded_sessions(folder(case) / "agi.log")
    assert len(recorded_agi) == 1
    for sid, rec in recorded_agi.items():
        want = rec.env + [line for _, answers in rec.steps for line in answers]
        norm_w, norm_g = Normaliser(), Normaliser()
        assert [norm_g.line(x) for x in agi.received[sid]] == [norm_w.line(x) for x in want]

    want_events = recorded(case)
    got_events = call_events(sim.events)
    got_streams = comparable_streams(got_events)
    want_streams = comparable_streams(want_events)
    assert sorted(got_streams) == sorted(want_streams)
    for key, stream in want_streams.items():
        assert got_streams[key] == stream, f"stream {key}"
    assert any(k.startswith("Local/") for k in want_streams)

    kinds = Counter(dict(f)["Event"] for f in want_events)
    assert Counter(dict(f)["Event"] for f in got_events) == kinds

    csv_want = (folder(case) / "cdr.csv").read_text(encoding="utf-8").splitlines()
    norm_w, norm_g = Normaliser(), Normaliser()
    assert [TIMES.sub("T", norm_g.value(x)) for x in sim.csv_lines] == [
        TIMES.sub("T", norm_w.value(x)) for x in csv_want
    ]


def test_normaliser_numbers_local_pairs_apart_from_pjsip_channels() -> None:
    norm = Normaliser()
    assert (
        norm.value("Local/3-103@ring-delayed-00000004;1") == "Local/3-103@ring-delayed-<local0>;1"
    )
    assert (
        norm.value("Local/3-103@ring-delayed-00000004;2") == "Local/3-103@ring-delayed-<local0>;2"
    )
    assert norm.value("PJSIP/103-00000004") == "SIP/103-<chan0>"
    assert norm.value("Local/6-202@x-0000000a;2") == "Local/6-202@x-<local1>;2"
