"""Scenarios nobody recorded, played by the same rules: consequences must follow."""

from __future__ import annotations

import asyncio
import time

from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from asterisk_sim.pbx import parse_dial_data
from asterisk_sim.traffic import plan_day, play_day


class Script:
    """A tiny FastAGI service: runs a list of commands, records every line it got."""

    def __init__(self, commands: list[str]) -> None:
        self.commands = commands
        self.got: list[str] = []
        self.port = 0

    async def start(self) -> int:
        server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return self.port

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()).strip():
            pass
        for cmd in self.commands:
            writer.write(cmd.encode() + b"\n")
            await writer.drain()
            line = (await reader.readline()).decode().rstrip("\n")
            self.got.append(line)
            if line == "HANGUP":
                self.got.append((await reader.readline()).decode().rstrip("\n"))
        writer.close()


async def sim_with(
    commands: list[str], phones: dict[str, Phone], **cfg: object
) -> tuple[AsteriskSimulator, Script]:
    script = Script(commands)
    port = await script.start()
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", port), clock=VirtualClock(), **cfg))  # type: ignore[arg-type]
    for ext, p in phones.items():
        sim.add_phone(ext, p)
    return sim, script


async def test_three_steps_four_phones_answered_at_step3() -> None:
    phones = {
        "101": Phone(),
        "102": Phone(),
        "103": Phone(),
        "104": Phone(answer_after=4.0, talk=30.0),
    }
    sim, script = await sim_with(
        [
            "EXEC Dial SIP/101,10",
            "EXEC Dial SIP/101&SIP/102,7",
            'EXEC Dial "SIP/102&SIP/103&SIP/104","15"',
            "GET VARIABLE DIALSTATUS",
            "GET VARIABLE DIALEDPEERNAME",
            "GET VARIABLE ANSWEREDTIME",
            "GET VARIABLE DIALEDTIME",
        ],
        phones,
    )
    wall = time.perf_counter()
    res = await sim.inbound_call(Caller("+79991112233", "Пётр"))
    assert time.perf_counter() - wall < 2.0  # 51 s of simulated time
    assert res.dial_statuses == ["NOANSWER", "NOANSWER", "ANSWER"]
    assert res.answered_by == "SIP/104"
    assert script.got[:2] == ["200 result=0", "200 result=0"]
    assert script.got[2:5] == ["200 result=-1", "HANGUP", "200 result=1 (ANSWER)"]
    assert script.got[5].startswith("200 result=1 (SIP/104-")
    assert script.got[6:] == ["200 result=1 (30)", "200 result=1 (51)"]
    assert len(res.cdr_rows) == 1 + 2 + 3  # legs only: caller hung up, no trailer
    answered = [r for r in res.cdr_rows if r["Disposition"] == "ANSWERED"]
    assert len(answered) == 1 and answered[0]["BillableSeconds"] == "30"
    assert {r["LinkedID"] for r in res.cdr_rows} == {res.linkedid}


async def test_pjsip_unanswered_with_trailer_and_lagging_device_state() -> None:
    phones = {"101": Phone(), "102": Phone(busy=True)}
    sim, script = await sim_with(
        [
            "EXEC Dial PJSIP/101&PJSIP/102|3",
            "GET FULL VARIABLE ${DEVICE_STATE(PJSIP/101)}",
            "EXEC Dial PJSIP/102,3",
            "GET VARIABLE HANGUPCAUSE",
            "ANSWER",
            "NOOP",
            "FROBNICATE now",
        ],
        phones,
        tech="PJSIP",
        devstate_lag=1.0,
    )
    res = await sim.inbound_call(Caller("+79991112233"))
    assert res.channel.startswith("PJSIP/carrier-")
    assert res.dial_statuses == ["NOANSWER", "BUSY"]
    assert script.got == [
        "200 result=0",
        "200 result=1 (RINGING)",
        "200 result=0",
        "200 result=1 (17)",
        "200 result=0",
        "200 result=0",
        "510 Invalid or unknown command",
    ]
    assert len(res.cdr_rows) == 2 + 1 + 1  # 2 legs, 1 busy leg, trailer
    assert res.cdr_rows[-1]["LastApplication"] == "Hangup"
    assert res.cdr_rows[-1]["Disposition"] == "BUSY"
    assert sim.pbx.devices["PJSIP/101"].state(sim.clock.now() + 1) == "NOT_INUSE"


async def test_abandon_during_dial_then_dead_channel_probes() -> None:
    sim, script = await sim_with(
        ["EXEC Dial SIP/101,20", "ANSWER", "GET VARIABLE DIALSTATUS"], {"101": Phone()}
    )
    res = await sim.inbound_call(Caller("+79991112233", abandon_after=5))
    assert script.got == [
        "200 result=-1",
        "HANGUP",
        "511 Command Not Permitted on a dead channel or intercept routine",
        "200 result=1 (CANCEL)",
    ]
    hangup = [dict(e) for e in res.events if dict(e)["Event"] == "Hangup"]
    assert hangup[-1]["Channel"] == res.channel and hangup[-1]["Cause"] == "0"
    assert res.cdr_rows[0]["Duration"] == "5" and res.agi_status == "HANGUP"


async def test_mset_sets_each_variable_with_its_own_varset_and_not_on_a_dead_channel() -> None:
    sim, script = await sim_with(
        [
            'EXEC MSet "A_ONE=1,A_TWO=x.y,A_THREE="',
            "GET FULL VARIABLE ${A_ONE}|${A_TWO}|${A_THREE}",
            "EXEC Dial SIP/101,20",
            'EXEC MSet "A_ONE=2"',
            "GET VARIABLE A_ONE",
        ],
        {"101": Phone()},
    )
    res = await sim.inbound_call(Caller("+79991112233", abandon_after=5))
    assert script.got == [
        "200 result=0",
        "200 result=1 (1|x.y|)",
        "200 result=-1",
        "HANGUP",
        "200 result=-1",  # an application does not run on a dead channel
        "200 result=1 (1)",
    ]
    varsets = [
        (e["Variable"], e["Value"])
        for e in map(dict, res.events)
        if e["Event"] == "VarSet" and e["Variable"].startswith("A_")
    ]
    assert varsets == [("A_ONE", "1"), ("A_TWO", "x.y"), ("A_THREE", "")]


async def test_in_use_phone_and_unavailable_phone() -> None:
    sim, script = await sim_with(
        [
            "GET FULL VARIABLE ${DEVICE_STATE(SIP/101)}",
            "GET FULL VARIABLE ${DEVICE_STATE(SIP/105)}",
            "EXEC Dial SIP/105,5",
            "GET VARIABLE DIALSTATUS",
        ],
        {"101": Phone(in_use=True), "105": Phone(registered=False)},
    )
    res = await sim.inbound_call(Caller("+79991112233"))
    assert script.got == [
        "200 result=1 (INUSE)",
        "200 result=1 (UNAVAILABLE)",
        "200 result=0",
        "200 result=1 (CHANUNAVAIL)",
    ]
    assert not [e for e in res.events if dict(e)["Event"] == "DialBegin"]
    assert [r["LastApplication"] for r in res.cdr_rows] == ["Hangup"]


async def test_concurrent_calls_first_answer_wins_and_ids_do_not_mix() -> None:
    phones = {"101": Phone(answer_after=3, talk=10), "102": Phone(answer_after=1, talk=5)}
    sim, _ = await sim_with(["EXEC Dial SIP/101&SIP/102,10"], phones)
    results = await asyncio.gather(*(sim.inbound_call(Caller(f"+7900000000{i}")) for i in range(5)))
    assert all(r.answered_by == "SIP/102" for r in results)
    assert len({r.linkedid for r in results}) == 5
    for r in results:
        assert {dict(e).get("Linkedid", r.linkedid) for e in r.events} == {r.linkedid}
        cancels = [
            dict(e) for e in r.events if dict(e)["Event"] == "Hangup" and dict(e)["Cause"] == "26"
        ]
        assert len(cancels) == 1 and cancels[0]["Cause-txt"] == "Answered elsewhere"


async def test_dial_argument_forms() -> None:
    assert parse_dial_data("SIP/101&SIP/102,10") == (["SIP/101", "SIP/102"], 10.0, "")
    assert parse_dial_data('"SIP/101&SIP/102","10"') == (["SIP/101", "SIP/102"], 10.0, "")
    assert parse_dial_data("SIP/101|15|tT") == (["SIP/101"], 15.0, "tT")
    assert parse_dial_data("SIP/101") == (["SIP/101"], None, "")


async def test_random_day_is_seeded_and_fast() -> None:
    plan = plan_day(seed=3, calls=40)
    assert plan == plan_day(seed=3, calls=40)
    sim = AsteriskSimulator(
        SimConfig(agi_address=None, clock=VirtualClock(), fallback_targets=["SIP/101", "SIP/102"])
    )
    sim.add_phone("101", Phone(answer_after=3, talk=60))
    sim.add_phone("102", Phone(answer_after=6, talk=30))
    sim.add_phone("103", Phone())
    wall = time.perf_counter()
    results = await play_day(sim, plan, seed=3)
    assert time.perf_counter() - wall < 10
    assert len(results) == 40
    assert len(sim.csv_lines) >= 40
