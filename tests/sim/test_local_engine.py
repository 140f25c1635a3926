"""Local legs beyond the six recordings: what a plan that is ONE Dial needs from the simulator
(the way H18b's end-to-end tests drive it: a FastAGI service sends one EXEC Dial with
``Local/<delay>-<ep>@<context>/n`` targets, then reads the Dial's variables)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from core.channels import endpoint_of

READ_BACK = ("DIALSTATUS", "DIALEDPEERNAME", "DIALEDPEERNUMBER", "HANGUPCAUSE")
CTX = "callrouter-ring-delayed"


@dataclass
class OneDial:
    """A FastAGI service that sends one Dial and reads its variables back."""

    dial: str
    answers: dict[str, str] = field(default_factory=dict)
    dial_result: str = ""

    async def serve(self) -> tuple[asyncio.Server, int]:
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return server, server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        writer.write(f"EXEC Dial {self.dial}\n".encode())
        self.dial_result = (await reader.readline()).decode().strip()
        for name in READ_BACK:
            writer.write(f"GET VARIABLE {name}\n".encode())
            line = (await reader.readline()).decode().strip()
            if line == "HANGUP":
                line = (await reader.readline()).decode().strip()
            self.answers[name] = line.partition("(")[2].rstrip(")")
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def run(  # type: ignore[no-untyped-def]
    dial: str, phones: dict[str, Phone], caller: Caller | None = None, tech: str = "PJSIP"
):
    agi = OneDial(dial)
    server, port = await agi.serve()
    sim = AsteriskSimulator(
        SimConfig(
            tech=tech,
            inbound_dialplan="agi_only",
            agi_address=("127.0.0.1", port),
            clock=VirtualClock(),
        )
    )
    for ext, phone in phones.items():
        sim.add_phone(ext, phone)
    result = await sim.inbound_call(caller or Caller("+79161234567", "Иван Петров"))
    server.close()
    return sim, agi, result


def events(sim: AsteriskSimulator, kind: str) -> list[dict[str, str]]:
    return [dict(f) for f in sim.events if dict(f)["Event"] == kind]


def invites(result) -> Counter[str]:  # type: ignore[no-untyped-def]
    return Counter(endpoint_of(ch) for d in result.dials for ch in d.invited)


async def test_phone_behind_local_leg_answers_in_our_context() -> None:
    dial = f"PJSIP/101&PJSIP/102&Local/10-PJSIP-103@{CTX}/n&Local/20-PJSIP-200@{CTX}/n,40"
    sim, agi, result = await run(
        dial,
        {"101": Phone(), "102": Phone(), "103": Phone(answer_after=2.0, talk=5.0), "200": Phone()},
    )
    assert agi.answers["DIALSTATUS"] == "ANSWER"
    assert agi.answers["DIALEDPEERNAME"].startswith(f"Local/10-PJSIP-103@{CTX}-")
    assert agi.answers["DIALEDPEERNAME"].endswith(";1")
    assert agi.answers["DIALEDPEERNUMBER"] == f"10-PJSIP-103@{CTX}/n"
    assert agi.answers["HANGUPCAUSE"] == "16"
    assert result.answered_by == "PJSIP/103"
    # each phone one INVITE; 200's leg was still waiting when 103 answered at 12 s
    assert invites(result) == Counter({"PJSIP/101": 1, "PJSIP/102": 1, "PJSIP/103": 1})
    inner = [e for e in events(sim, "DialBegin") if e["Channel"].startswith("Local/")]
    assert [(e["DialString"], e["DestChannel"].split("-")[0]) for e in inner] == [
        ("103", "PJSIP/103")
    ]
    begin = {e["DestChannel"]: float(e["Timestamp"]) for e in events(sim, "DialBegin")}
    outer = next(t for ch, t in begin.items() if ch.startswith("PJSIP/101"))
    phone = next(t for ch, t in begin.items() if ch.startswith("PJSIP/103"))
    assert phone - outer == 10.0


async def test_phone_in_use_at_its_offset_is_never_rung() -> None:
    dial = f"PJSIP/101&Local/3-PJSIP-103@{CTX}/n,9"
    sim, agi, result = await run(dial, {"101": Phone(), "103": Phone(in_use=True)})
    assert invites(result) == Counter({"PJSIP/101": 1})
    assert not [e for e in events(sim, "Newchannel") if e["Channel"].startswith("PJSIP/103")]
    goto = [e for e in events(sim, "Newexten") if e["Application"] == "GotoIf"]
    assert [e["AppData"] for e in goto] == ["0?dial"]
    state = [e for e in events(sim, "VarSet") if e["Variable"] == "RING_STATE"]
    assert [e["Value"] for e in state] == ["INUSE"]
    local_end = [e for e in events(sim, "DialEnd") if e["DestChannel"].startswith("Local/")]
    assert [e["DialStatus"] for e in local_end] == ["NOANSWER"]
    assert agi.answers["DIALSTATUS"] == "NOANSWER"
    assert agi.answers["HANGUPCAUSE"] == "0"


async def test_busy_phone_behind_local_leg_makes_hangupcause_17() -> None:
    dial = f"PJSIP/101&Local/3-PJSIP-103@{CTX}/n,9"
    sim, agi, result = await run(dial, {"101": Phone(), "103": Phone(busy=True)})
    assert agi.answers["DIALSTATUS"] == "NOANSWER"
    assert agi.answers["HANGUPCAUSE"] == "17"
    assert invites(result) == Counter({"PJSIP/101": 1, "PJSIP/103": 1})
    caller_hangup = [e for e in events(sim, "Hangup") if e["Channel"].startswith("PJSIP/carrier")]
    assert caller_hangup[-1]["Cause"] == "17"


async def test_caller_leaving_during_the_wait_rings_no_delayed_phone() -> None:
    dial = f"PJSIP/101&Local/6-PJSIP-103@{CTX}/n,20"
    sim, agi, result = await run(
        dial, {"101": Phone(), "103": Phone()}, Caller("+79161234567", "И", abandon_after=3.0)
    )
    assert agi.dial_result == "200 result=-1"
    assert invites(result) == Counter({"PJSIP/101": 1})
    halves = [e for e in events(sim, "Hangup") if e["Channel"].startswith("Local/")]
    assert sorted(e["Channel"][-2:] for e in halves) == [";1", ";2"]
    assert {e["Cause"] for e in halves} == {"127"}


async def test_dial_of_local_legs_only_rings_the_caller_when_the_first_phone_rings() -> None:
    dial = f"Local/2-PJSIP-101@{CTX}/n&Local/4-PJSIP-102@{CTX}/n,10"
    sim, agi, result = await run(dial, {"101": Phone(), "102": Phone(answer_after=1.0)})
    assert result.answered_by == "PJSIP/102"
    states = [e for e in events(sim, "DialState") if e["Channel"].startswith("PJSIP/carrier")]
    assert len(states) == 2 and all(e["DestChannel"].startswith("Local/") for e in states)
    ring = [e for e in events(sim, "Newstate") if e["Channel"].startswith("PJSIP/101")]
    first = min(float(e["Timestamp"]) for e in states)
    assert float(ring[0]["Timestamp"]) == first


async def test_the_labs_extension_form_in_any_context() -> None:
    """``Local/<delay>-<ep>@<ctx>``: the lab's [ring-delayed] body, the phone on the sim's tech."""
    dial = "PJSIP/101&Local/3-103@ring-delayed/n,9"
    sim, agi, result = await run(dial, {"101": Phone(), "103": Phone(answer_after=1.0)})
    assert result.answered_by == "PJSIP/103"
    assert agi.answers["DIALEDPEERNUMBER"] == "3-103@ring-delayed/n"
    sets = [e["AppData"] for e in events(sim, "Newexten") if e["Channel"].endswith(";2")]
    assert sets[:3] == ["DELAY=3", "EP=103", "3"]


async def test_chan_sip_and_a_resource_with_dashes() -> None:
    dial = f"SIP/101&Local/5-SIP-cafe-beef@{CTX}/n,9"
    sim, agi, result = await run(
        dial, {"101": Phone(), "cafe-beef": Phone(answer_after=1.0)}, tech="SIP"
    )
    assert result.answered_by == "SIP/cafe-beef"
    assert invites(result) == Counter({"SIP/101": 1, "SIP/cafe-beef": 1})
    assert agi.answers["DIALEDPEERNUMBER"] == f"5-SIP-cafe-beef@{CTX}/n"


async def test_a_phone_of_another_technology_is_never_rung() -> None:
    dial = f"PJSIP/101&Local/1-SIP-103@{CTX}/n,5"
    sim, agi, result = await run(dial, {"101": Phone(), "103": Phone(answer_after=0.5)})
    assert invites(result) == Counter({"PJSIP/101": 1})
    assert agi.answers["DIALSTATUS"] == "NOANSWER"
