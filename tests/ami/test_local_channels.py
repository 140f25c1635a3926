"""Local channels in the listener: the six pjsip-local recordings (one Dial whose later targets
are `Local/<delay>-<ep>@ring-delayed[/n]` legs) through the CallTracker, over a socket and
from Master.csv.

What a call must say (hand-read from each folder's notes.md and the README's "What these
teach", never from the code under test): the Local halves are no phones and no legs; the phone
behind a Local leg is the leg, rung from its own INVITE (the inner DialBegin) to its end; a
phone whose Local leg was still waiting when the call ended was never rung and is no leg; the
answerer is the phone even though the caller's channel only ever names `Local/…;1`; each call
is one call.

Legs are one per phone channel (one per INVITE): in these recordings 101 is rung by step 1's
own `Dial PJSIP/101,3` and again by the big Dial, two INVITEs, so two legs (the reports count
one ring per manager per call: tests/reports/test_rung_per_phone.py).
"""

from __future__ import annotations

import asyncio
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from ami_listener.assemble import EndpointClassifier
from ami_listener.backfill import parse_master_csv
from ami_listener.connection import EVENT_FILTERS
from ami_listener.service import AmiListener, MemorySink
from ami_listener.tracker import CallTracker
from asterisk_sim import Phone
from asterisk_sim.transcripts import transcripts_dir
from core.phonebook import PhoneBook

from .amiserver import FakeAmiServer
from .events import replay, scenario_events
from .test_recorded_replay import listener_settings, server_sessions

LOCAL = transcripts_dir(Path(__file__).resolve().parents[2]) / "pjsip-local"


@dataclass(frozen=True)
class Leg:
    endpoint: str
    answered: bool
    dial_status: str
    ring_seconds: float  # from the sipp traces in notes.md (INVITE to CANCEL/200/486)


@dataclass(frozen=True)
class Want:
    linkedid: str
    disposition: str
    answered_by: str | None
    ring_seconds: float  # the caller's wait: INVITE to 200 OK, to its CANCEL, or to the end
    talk_seconds: float
    abandoned: bool
    legs: tuple[Leg, ...]


STEP1 = Leg("PJSIP/101", False, "NOANSWER", 3.0)  # step 1: Dial PJSIP/101,3 in every scenario

WANT = {
    "L1-nobody-answers": Want(
        "1796210691.0",
        "NO ANSWER",
        None,
        12.0,
        0.0,
        False,
        (
            STEP1,
            Leg("PJSIP/101", False, "NOANSWER", 9.0),
            Leg("PJSIP/102", False, "NOANSWER", 9.0),
            Leg("PJSIP/103", False, "CANCEL", 6.0),  # INVITE 7650.8, dialled at +3 s
            Leg("PJSIP/202", False, "CANCEL", 3.0),  # INVITE 10653.6, dialled at +6 s
        ),
    ),
    "L2-department-answers-before-head": Want(
        "1796210709.10",
        "ANSWERED",
        "PJSIP/102",
        4.5,
        2.0,
        False,
        (
            STEP1,
            Leg("PJSIP/101", False, "CANCEL", 1.5),
            Leg("PJSIP/102", True, "ANSWER", 1.5),
            # 103 and 202: their legs were still waiting; never INVITEd, no legs
        ),
    ),
    "L3-head-answers-after-added": Want(
        "1796210722.18",
        "ANSWERED",
        "PJSIP/103",
        7.5,
        2.0,
        False,
        (
            STEP1,
            Leg("PJSIP/101", False, "CANCEL", 4.5),
            Leg("PJSIP/102", False, "CANCEL", 4.5),
            Leg("PJSIP/103", True, "ANSWER", 1.5),  # INVITE 7651.6, 200 OK 9156.4
        ),
    ),
    "L4-caller-leaves-during-delay": Want(
        "1796210738.27",
        "NO ANSWER",
        None,
        4.96,  # CANCEL_AFTER_MS = 4960
        0.0,
        True,
        (
            STEP1,
            Leg("PJSIP/101", False, "CANCEL", 1.95),
            Leg("PJSIP/102", False, "CANCEL", 1.95),
        ),
    ),
    "L5-head-answers-no-n": Want(
        "1796210749.35",
        "ANSWERED",
        "PJSIP/103",
        7.5,
        2.0,  # not the Cdr billsec (0 and 1 after the optimisation): answer to BYE
        False,
        (
            STEP1,
            Leg("PJSIP/101", False, "CANCEL", 4.5),
            Leg("PJSIP/102", False, "CANCEL", 4.5),
            Leg("PJSIP/103", True, "ANSWER", 1.5),
        ),
    ),
    "L6-delayed-phone-busy": Want(
        "1796210765.44",
        "BUSY",  # the caller's last Cdr says BUSY (README fact 10); nobody answered
        None,
        12.0,
        0.0,
        False,
        (
            STEP1,
            Leg("PJSIP/101", False, "NOANSWER", 9.0),
            Leg("PJSIP/102", False, "NOANSWER", 9.0),
            Leg("PJSIP/103", False, "BUSY", 0.0),  # 486 at once
            Leg("PJSIP/202", False, "CANCEL", 3.0),
        ),
    ),
}
SCENARIOS = sorted(WANT)


def events(case: str) -> tuple[dict[str, str], ...]:
    return scenario_events(f"pjsip-local/{case}")


def check(call, want: Want, *, cdr_only: bool = False) -> None:  # type: ignore[no-untyped-def]
    """`cdr_only`: from Master.csv, whole seconds and no CANCEL (a leg ends NO ANSWER)."""
    slack = 1.0 if cdr_only else 0.5
    assert call.linkedid == want.linkedid
    assert call.direction == "inbound"
    assert call.external_number == "+79161234567"
    assert call.disposition == want.disposition
    assert call.answered_by == want.answered_by
    assert (call.answered_at is not None) == (want.answered_by is not None)
    assert call.abandoned is want.abandoned
    assert abs(call.ring_seconds - want.ring_seconds) < slack
    assert abs(call.talk_seconds - want.talk_seconds) < slack
    got = [(leg.endpoint, leg.answered, leg.dial_status) for leg in call.legs]

    def status(s: str) -> str:
        return "NOANSWER" if cdr_only and s == "CANCEL" else s

    assert got == [(x.endpoint, x.answered, status(x.dial_status)) for x in want.legs]
    for leg, x in zip(call.legs, want.legs, strict=True):
        assert abs(leg.ring_seconds - x.ring_seconds) < slack, (leg, x)
        assert not leg.channel.startswith("Local/")


@pytest.mark.parametrize("case", SCENARIOS)
def test_each_recording_is_one_call_answered_by_the_phone(case: str) -> None:
    calls, tracker = replay(events(case))
    assert len(calls) == 1
    check(calls[0], WANT[case])
    assert tracker.in_flight == 0 and tracker.bad_events == 0


@pytest.mark.parametrize("case", SCENARIOS)
def test_the_phone_behind_a_local_leg_rings_from_its_own_invite(case: str) -> None:
    (call,), _ = replay(events(case))
    begins = {
        e["DestChannel"]: float(e["Timestamp"])
        for e in events(case)
        if e["Event"] == "DialBegin" and e["Channel"].startswith("Local/")
    }
    for leg in call.legs:
        if leg.channel in begins:  # dialled by a ;2 half: not at the big Dial's start
            assert leg.ring_started_at.timestamp() == pytest.approx(begins[leg.channel])
    assert len(begins) == sum(1 for leg in call.legs if leg.channel in begins)


@pytest.mark.parametrize("case", SCENARIOS)
def test_with_a_directory_the_answerer_is_the_managers_phone(case: str) -> None:
    book = PhoneBook.of(["PJSIP/101", "PJSIP/102", "PJSIP/103", "PJSIP/202"])
    tracker = CallTracker("pbx1", phones=lambda: book)
    (call,), _ = replay(events(case), tracker)
    assert call.direction == "inbound"
    assert call.answered_by == WANT[case].answered_by
    assert all(book.is_phone(leg.endpoint) for leg in call.legs)


@pytest.mark.parametrize("case", SCENARIOS)
def test_the_listeners_event_whitelist_keeps_all_it_needs(case: str) -> None:
    """Asterisk sends the listener only what its Filter lets through (no LocalBridge, no
    Newstate, no DialState): the pairs are told apart by their names, the phone behind a leg
    by the `;2` half's DialBegin."""
    filters = [re.compile(f) for f in EVENT_FILTERS]
    kept = [
        e
        for e in events(case)
        if any(f.search("\r\n".join(f"{k}: {v}" for k, v in e.items())) for f in filters)
    ]
    assert not any(e["Event"] == "LocalBridge" for e in kept)
    (call,), tracker = replay(kept)
    check(call, WANT[case])
    assert tracker.bad_events == 0


@pytest.mark.parametrize("case", SCENARIOS)
def test_starting_mid_stream_never_records_a_half_or_a_second_call(case: str) -> None:
    stream = events(case)
    (full,), _ = replay(stream)
    for cut in range(len(stream) + 1):
        calls, tracker = replay(stream[cut:])
        # a call is recorded only when its start was seen, and then exactly as in full
        assert calls in ([], [full]), cut
        assert tracker.bad_events == 0


@pytest.mark.parametrize("case", SCENARIOS)
def test_master_csv_gives_the_same_call(case: str) -> None:
    text = (LOCAL / case / "cdr.csv").read_text(encoding="utf-8")
    calls, rejected = parse_master_csv(
        text, system="pbx1", region="RU", classifier=EndpointClassifier()
    )
    assert rejected == []
    assert len(calls) == 1  # the ;2 halves' own lines join the call, none is a call of its own
    check(calls[0], WANT[case], cdr_only=True)


@pytest.mark.parametrize("case", SCENARIOS)
async def test_over_a_socket_in_random_chunks(case: str, tmp_path: Path) -> None:
    scenario = f"pjsip-local/{case}"
    server = FakeAmiServer(
        sessions=server_sessions(scenario), seed=zlib.crc32(scenario.encode()), max_chunk=61
    )
    port = await server.start()
    sink = MemorySink()
    listener = AmiListener(listener_settings(port), "pbx1", sink, spool_dir=tmp_path, tick=0.02)
    runner = asyncio.create_task(listener.run())
    try:
        async with asyncio.timeout(15):
            await server.sent_all.wait()
            await listener.queue.join()
            calls = await sink.wait_for(1)
    finally:
        await listener.stop()
        await runner
        await server.close()
    assert len(calls) == 1
    check(calls[0], WANT[case])
    assert listener.tracker.bad_events == 0


# ---- our own form, one Dial for the whole plan, played by the simulator ---------------------

ONE_DIAL = (
    "PJSIP/101&Local/10-PJSIP-102@callrouter-ring-delayed/n"
    "&Local/10-PJSIP-103@callrouter-ring-delayed/n&Local/20-PJSIP-200@callrouter-ring-delayed/n,40"
)


@pytest.mark.parametrize(
    ("phones", "answered_by", "legs"),
    [
        # 103 answers 2 s after its INVITE at +10 s; 200's leg was still waiting: no leg
        (
            {"103": Phone(answer_after=2.0, talk=5.0)},
            "PJSIP/103",
            [("PJSIP/101", 12.0), ("PJSIP/102", 2.0), ("PJSIP/103", 2.0)],
        ),
        # nobody answers: each phone one leg, rung from its own offset to the end at 40 s
        (
            {},
            None,
            [("PJSIP/101", 40.0), ("PJSIP/102", 30.0), ("PJSIP/103", 30.0), ("PJSIP/200", 20.0)],
        ),
        # 103 in use at +10 s: never rung, no leg
        (
            {"103": Phone(in_use=True)},
            None,
            [("PJSIP/101", 40.0), ("PJSIP/102", 30.0), ("PJSIP/200", 20.0)],
        ),
    ],
)
async def test_one_dial_with_delayed_legs_through_the_tracker(phones, answered_by, legs) -> None:  # type: ignore[no-untyped-def]
    from tests.sim.test_local_engine import run

    lab = {ext: Phone() for ext in ("101", "102", "103", "200")} | phones
    sim, _, result = await run(ONE_DIAL, lab)
    (call,), tracker = replay([dict(f) for f in sim.events])
    assert tracker.bad_events == 0
    assert call.answered_by == answered_by == result.answered_by
    assert [(leg.endpoint, round(leg.ring_seconds, 1)) for leg in call.legs] == legs
    assert sum(leg.answered for leg in call.legs) == (answered_by is not None)
