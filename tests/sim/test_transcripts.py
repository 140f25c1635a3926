"""Each recorded scenario played through the simulator, driven by the recorded FastAGI
commands: the AGI conversation must match line for line and the AMI stream event for event
(per channel / device / Cdr stream, ids and timestamps normalised, DialState runs of one step
and the LINKEDID_END carrier channel treated as the races they are in Asterisk)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from asterisk_sim import AsteriskSimulator, Caller, Phone
from asterisk_sim.transcripts import Normaliser

from .replay import (
    IVAN,
    TRANSCRIPTS,
    call_events,
    comparable_streams,
    inbound,
    noise_counts,
    play,
    recorded_call_events,
    recorded_sessions,
)


def managers(**kw: Phone) -> dict[str, Phone]:
    phones = {"101": Phone(), "102": Phone(), "103": Phone()}
    phones.update({k.lstrip("p"): v for k, v in kw.items()})
    return phones


async def outbound(sim: AsteriskSimulator) -> list[object]:
    return [await sim.outbound_call("101", "+79161234567", answer_after=2.0, talk=3.0)]


async def two_calls(sim: AsteriskSimulator) -> list[object]:
    import asyncio

    async def second() -> object:
        await sim.clock.sleep(0.7)
        return await sim.inbound_call(Caller("+79037654321", "Anna Smirnova"))

    return list(await asyncio.gather(sim.inbound_call(IVAN), second()))


ANSWER_101 = Phone(answer_after=2.0, talk=3.0)
ANSWER_102 = Phone(answer_after=2.0, talk=3.0)
Runner = Callable[[AsteriskSimulator], Awaitable[list[object]]]
SCENARIOS: dict[str, tuple[dict[str, Phone], Runner, bool, dict[str, object]]] = {
    "01a-known-client-answered-default-cdr": (
        managers(p101=ANSWER_101),
        inbound(IVAN),
        True,
        {"cdr_mappings": False},
    ),
    "01b-known-client-answered-cdr-mappings": (managers(p101=ANSWER_101), inbound(IVAN), True, {}),
    "02-escalation-answered-step2": (managers(p102=ANSWER_102), inbound(IVAN), True, {}),
    "03-escalation-all-steps-missed": (
        managers(),
        inbound(Caller("+79035550101", "Новый клиент")),
        True,
        {},
    ),
    "04-caller-abandons-while-ringing": (
        managers(),
        inbound(Caller("+79161234567", "Иван Петров", abandon_after=6.52)),
        True,
        {},
    ),
    "05-busy-and-unavailable": (
        {"101": Phone(busy=True), "201": Phone(registered=False)},
        inbound(IVAN),
        True,
        {},
    ),
    "06-outbound-callback": (managers(), outbound, False, {}),
    "07-agi-server-down": (managers(p102=ANSWER_102), inbound(IVAN), False, {}),
    "09-two-concurrent-calls": (
        managers(p101=ANSWER_101, p102=Phone(answer_after=2.5, talk=3.0)),
        two_calls,
        True,
        {},
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_transcript_equivalence(scenario: str) -> None:
    phones, runner, with_agi, cfg = SCENARIOS[scenario]
    played = await play(scenario, phones, runner, with_agi=with_agi, **cfg)

    if played.agi is not None:
        for sid, rec in recorded_sessions(TRANSCRIPTS / scenario / "agi.log").items():
            want = rec.env + [line for _, answers in rec.steps for line in answers]
            norm_w, norm_g = Normaliser(), Normaliser()
            assert [norm_g.line(x) for x in played.agi.received[sid]] == [
                norm_w.line(x) for x in want
            ], f"AGI session {sid}"
    else:
        assert all(not r.agi_lines_sent for r in played.results)  # type: ignore[attr-defined]

    got = call_events(played.sim.events)
    want_events = recorded_call_events(scenario)
    got_streams, want_streams = comparable_streams(got), comparable_streams(want_events)
    assert sorted(got_streams) == sorted(want_streams)
    for key, stream in want_streams.items():
        assert got_streams[key] == stream, f"stream {key}"

    want_noise, got_noise = noise_counts(want_events), noise_counts(got)
    for kind, n in want_noise.items():
        assert abs(got_noise[kind] - n) <= 0.3 * n, (kind, got_noise[kind], n)

    csv_want = (TRANSCRIPTS / scenario / "cdr.csv").read_text(encoding="utf-8").splitlines()
    norm_w, norm_g = Normaliser(), Normaliser()
    strip_times = __import__("re").compile(r'"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"')
    assert [strip_times.sub("T", norm_g.value(x)) for x in played.sim.csv_lines] == [
        strip_times.sub("T", norm_w.value(x)) for x in csv_want
    ]
