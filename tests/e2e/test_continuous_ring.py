"""Issue 18 end to end: each phone rings once per call, continuously, through the escalation.

The simulator (PJSIP, the pjsip-local lab's shape) calls our FastAGI server, which reads the
directory from a real database (both backends); the plan runs as ONE Dial whose later phones
are `Local/<delay>-PJSIP-<ep>@callrouter-ring-delayed/n` legs; the AMI listener records the call
into the same database. What is checked: the Dial string, the INVITEs each phone got (the
simulator's `invited`, and the AMI DialBegin events naming the phone), when each phone started
ringing, the CALLROUTER_* variables on the caller's channel, and the stored call with its legs.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from agi_scripts.fastagi import start_fastagi_server
from ami_listener.service import AmiListener
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from core import dialplan as var
from core.channels import endpoint_of
from core.settings import AgiSettings, AmiSettings, Settings
from crm.contacts import add_contact
from crm.staff import add_department, add_manager
from models import migrate
from models.db import Database
from models.directory import DbDirectorySource
from models.tables import Call
from router.directory import Role
from router.settings import RoutingSettings
from tests.e2e.pipeline import SECRET, RecordingSink

KNOWN = "+79161234567"
NEW = "+79035550101"
MOSCOW_WEDNESDAY_NOON = datetime.fromisoformat("2026-11-25T12:00:00+03:00")
PHONES = ("101", "102", "103", "104", "105")


def later(delay: int, ep: str) -> str:
    return f"Local/{delay}-PJSIP-{ep}@callrouter-ring-delayed/n"


# Anna (101) is the known client's manager: alone from 0 s, the department (102, 103) added at
# 10 s, the head (104) at 20 s, the owner (105) at 30 s; all ring on to 40 s.
KNOWN_DIAL = (
    f"PJSIP/101&{later(10, '102')}&{later(10, '103')}&{later(20, '104')}&{later(30, '105')},40"
)


async def office(db: Database) -> dict[str, int]:
    """Five PJSIP phones as managers; Иван Петров is Anna's (101) client. Endpoint → manager id."""
    async with db.transaction() as s:
        sales = await add_department(s, "Продажи", "Europe/Moscow")
        anna = await add_manager(s, name="Анна", endpoint="PJSIP/101", department=sales)
        boris = await add_manager(s, name="Борис", endpoint="PJSIP/102", department=sales)
        vera = await add_manager(s, name="Вера", endpoint="PJSIP/103", department=sales)
        head = await add_manager(
            s, name="Head", endpoint="PJSIP/104", role=Role.HEAD_OF_SALES, department=sales
        )
        owner = await add_manager(s, name="Owner", endpoint="PJSIP/105", role=Role.OWNER)
        await add_contact(s, KNOWN, region="RU", name="Иван Петров", responsible=anna)
    managers = (anna, boris, vera, head, owner)
    return {f"PJSIP/{ep}": m.id for ep, m in zip(PHONES, managers, strict=True)}


def phones(**overrides: Phone) -> dict[str, Phone]:
    found = {ep: Phone() for ep in PHONES}
    found.update(overrides)
    return found


@asynccontextmanager
async def pbx(
    db: Database, spool: Path, handsets: dict[str, Phone], **routing: object
) -> AsyncIterator[tuple[AsteriskSimulator, RecordingSink]]:
    """FastAGI server on `db`, a PJSIP simulator with `handsets`, and the listener writing to
    `db`; all on loopback."""
    # The decision budget is not what is tested here: generous, so a loaded host does not turn
    # a known client into the last directory's default plan.
    settings = Settings(
        agi=AgiSettings(env_timeout=2.0, command_timeout=2.0, shutdown_grace=1.0),
        routing=RoutingSettings(**{"decision_budget_ms": 5000, **routing}),
    )
    server = await start_fastagi_server(
        settings, DbDirectorySource(db), clock=lambda: MOSCOW_WEDNESDAY_NOON, port=0
    )
    sim = AsteriskSimulator(
        SimConfig(
            tech="PJSIP",
            agi_address=("127.0.0.1", server.port),
            fallback_targets=["PJSIP/102"],
            clock=VirtualClock(),
        )
    )
    for ext, phone in handsets.items():
        sim.add_phone(ext, phone)
    ami_port = await sim.start_ami(users={"callrouter": SECRET})
    sink = RecordingSink(db)
    listener = AmiListener(
        AmiSettings(port=ami_port, username="callrouter", secret=SECRET, cdr_grace=0.3),
        "pbx1",
        sink,
        spool_dir=spool,
        tick=0.05,
    )
    running = asyncio.create_task(listener.run())
    try:
        async with asyncio.timeout(10):
            await listener.connection.connected.wait()
        yield sim, sink
    finally:
        await listener.stop()
        await running
        await sim.stop()
        await server.close()


def variables(result) -> dict[str, str]:
    """The CALLROUTER_* variables of the caller's channel, the last value of each."""
    found: dict[str, str] = {}
    for event in result.events:
        fields = dict(event)
        if (
            fields.get("Event") == "VarSet"
            and fields.get("Channel") == result.channel
            and fields.get("Variable", "").startswith(var.PREFIX)
        ):
            found[fields["Variable"]] = fields.get("Value", "")
    return found


def invites(result) -> Counter[str]:
    """How many INVITEs each phone got during the whole call (direct or behind a Local leg)."""
    return Counter(endpoint_of(channel) for dial in result.dials for channel in dial.invited)


def ring_starts(result) -> dict[str, float]:
    """Each phone's first DialBegin (the INVITE), in seconds from the caller's first DialBegin;
    asserts there is at most one per phone."""
    begins = [dict(e) for e in result.events if dict(e).get("Event") == "DialBegin"]
    assert begins, "no Dial"
    start = float(begins[0]["Timestamp"])
    seen: dict[str, float] = {}
    for begin in begins:
        dest = begin.get("DestChannel", "")
        if dest.startswith("PJSIP/"):
            phone = endpoint_of(dest)
            assert phone not in seen, f"{phone} got a second DialBegin"
            seen[phone] = round(float(begin["Timestamp"]) - start, 1)
    return seen


async def stored_call(db: Database, sink: RecordingSink) -> Call:
    await sink.wait_for(1)
    async with db.reader() as s:
        calls = (await s.scalars(select(Call))).all()
        assert len(calls) == 1, "a call is exactly one row"
        await s.refresh(calls[0], ["legs"])
        return calls[0]


def legs_per_phone(call: Call) -> Counter[str]:
    return Counter(leg.endpoint for leg in call.legs)


async def test_known_client_answered_by_the_responsible_manager_in_step_1(db, tmp_path):
    ids = await office(db)
    async with pbx(db, tmp_path, phones(**{"101": Phone(answer_after=2.0, talk=3.0)})) as (
        sim,
        sink,
    ):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert result.answered_by == "PJSIP/101"
    assert invites(result) == {"PJSIP/101": 1}, "the others were still waiting: never INVITEd"
    found = variables(result)
    assert found[var.RESULT] == "ANSWERED"
    assert found[var.ANSWERED_BY] == str(ids["PJSIP/101"])
    assert (found[var.STEP], found[var.STEP_KIND]) == ("1", "responsible")
    assert call.answered_endpoint == "PJSIP/101"
    assert call.answered_by_manager_id == ids["PJSIP/101"]
    assert legs_per_phone(call) == {"PJSIP/101": 1}


async def test_the_department_answers_at_12_s_and_101_rang_once_without_a_break(db, tmp_path):
    ids = await office(db)
    # 102 is added at 10 s and answers 2 s after its INVITE.
    handsets = phones(**{"102": Phone(answer_after=2.0, talk=3.0)})
    async with pbx(db, tmp_path, handsets) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert result.answered_by == "PJSIP/102"
    assert invites(result) == {"PJSIP/101": 1, "PJSIP/102": 1, "PJSIP/103": 1}
    assert ring_starts(result) == {"PJSIP/101": 0.0, "PJSIP/102": 10.0, "PJSIP/103": 10.0}
    # 101 rang from 0 s until the answer at ~12 s: its one channel ended only then.
    anna = next(ch for ch in result.dials[0].invited if ch.startswith("PJSIP/101-"))
    hangups = [
        dict(e)
        for e in result.events
        if dict(e).get("Event") == "Hangup" and dict(e).get("Channel") == anna
    ]
    assert len(hangups) == 1 and hangups[0]["Cause"] == "26", "answered elsewhere, at the end"
    found = variables(result)
    assert found[var.ANSWERED_BY] == str(ids["PJSIP/102"])
    assert (found[var.STEP], found[var.STEP_KIND]) == ("2", "department")
    assert call.answered_endpoint == "PJSIP/102"
    assert legs_per_phone(call) == {"PJSIP/101": 1, "PJSIP/102": 1, "PJSIP/103": 1}
    ring = {leg.endpoint: leg.ring_seconds for leg in call.legs}
    assert 11.5 <= ring["PJSIP/101"] <= 12.5, ring
    assert 1.5 <= ring["PJSIP/102"] <= 2.5, ring


async def test_the_head_answers_after_being_added(db, tmp_path):
    ids = await office(db)
    handsets = phones(**{"104": Phone(answer_after=1.5, talk=3.0)})
    async with pbx(db, tmp_path, handsets) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert result.answered_by == "PJSIP/104"
    assert invites(result) == {f"PJSIP/{ep}": 1 for ep in ("101", "102", "103", "104")}
    assert ring_starts(result)["PJSIP/104"] == 20.0
    found = variables(result)
    assert found[var.ANSWERED_BY] == str(ids["PJSIP/104"])
    assert (found[var.STEP], found[var.STEP_KIND]) == ("3", "head_of_sales")
    assert call.answered_endpoint == "PJSIP/104"
    assert call.answered_by_manager_id == ids["PJSIP/104"]
    assert sum(legs_per_phone(call).values()) == 4


async def test_nobody_answers_each_phone_one_leg_and_the_owner_starts_at_30_s(db, tmp_path):
    await office(db)
    async with pbx(db, tmp_path, phones()) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert result.dials[0].status == "NOANSWER"
    assert invites(result) == {f"PJSIP/{ep}": 1 for ep in PHONES}
    assert ring_starts(result) == {
        "PJSIP/101": 0.0,
        "PJSIP/102": 10.0,
        "PJSIP/103": 10.0,
        "PJSIP/104": 20.0,
        "PJSIP/105": 30.0,
    }
    found = variables(result)
    assert found[var.RESULT] == "NO_ANSWER"
    assert (found[var.STEP], found[var.STEP_KIND]) == ("4", "owner")
    assert call.disposition == "NO ANSWER"
    assert legs_per_phone(call) == {f"PJSIP/{ep}": 1 for ep in PHONES}
    owner = next(leg for leg in call.legs if leg.endpoint == "PJSIP/105")
    first = min(leg.ring_started_at for leg in call.legs)
    assert round((owner.ring_started_at - first).total_seconds()) == 30
    assert 9.5 <= owner.ring_seconds <= 10.5


async def test_the_caller_leaves_while_the_head_s_leg_still_waits(db, tmp_path):
    await office(db)
    async with pbx(db, tmp_path, phones()) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров", abandon_after=15.0))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL], "one Dial, nothing after it"
    assert result.dials[0].status == "CANCEL"
    assert invites(result) == {"PJSIP/101": 1, "PJSIP/102": 1, "PJSIP/103": 1}
    found = variables(result)
    assert found[var.RESULT] == "CALLER_HANGUP"
    assert found[var.DIALSTATUS] == "CANCEL"
    assert (found[var.STEP], found[var.STEP_KIND]) == ("2", "department")
    assert var.ANSWERED_BY not in found
    assert call.answered_endpoint is None
    assert legs_per_phone(call) == {"PJSIP/101": 1, "PJSIP/102": 1, "PJSIP/103": 1}


async def test_a_phone_busy_when_its_step_starts_is_never_rung(db, tmp_path):
    await office(db)
    # The head is on another call: the Local leg finds him INUSE at 20 s and hangs up.
    async with pbx(db, tmp_path, phones(**{"104": Phone(in_use=True)})) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert invites(result) == {f"PJSIP/{ep}": 1 for ep in ("101", "102", "103", "105")}
    assert "PJSIP/104" not in legs_per_phone(call)


async def test_a_delayed_phone_answering_busy_leaves_the_rung_out_call_no_answer(db, tmp_path):
    # The head's phone replies 486 when its leg dials it at 20 s; everybody else rings to 40 s.
    # app_dial copies that leg's cause 17 onto the caller, whose last Cdr says BUSY (real
    # Asterisk 20: pjsip-local L6); the router's Dial rang out, and so does the stored call.
    await office(db)
    async with pbx(db, tmp_path, phones(**{"104": Phone(busy=True)})) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert result.dials[0].status == "NOANSWER"
    assert result.cdr_rows[-1]["Disposition"] == "BUSY", "Asterisk's own verdict on the caller"
    assert variables(result)[var.DIALSTATUS] == "NOANSWER"
    assert call.disposition == "NO ANSWER"
    assert legs_per_phone(call) == {f"PJSIP/{ep}": 1 for ep in PHONES}


async def test_a_busy_responsible_manager_is_never_rung_and_the_department_starts_at_once(
    db, tmp_path
):
    ids = await office(db)
    handsets = phones(**{"101": Phone(in_use=True), "103": Phone(answer_after=1.0)})
    async with pbx(db, tmp_path, handsets) as (sim, sink):
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
        call = await stored_call(db, sink)
    assert [d.args for d in result.dials] == [
        f"PJSIP/102&PJSIP/103&{later(10, '104')}&{later(20, '105')},30"
    ]
    assert invites(result) == {"PJSIP/102": 1, "PJSIP/103": 1}
    found = variables(result)
    assert found[var.ANSWERED_BY] == str(ids["PJSIP/103"])
    assert (found[var.STEP], found[var.STEP_KIND]) == ("2", "department")
    assert call.answered_endpoint == "PJSIP/103"


async def test_database_down_the_fallback_targets_ring_in_one_dial(tmp_path):
    # No database at all (its folder does not exist): no directory ever loads, the fallback
    # targets ring, in the same shape: one Dial for the whole time.
    gone = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    settings = Settings(
        agi=AgiSettings(env_timeout=2.0, command_timeout=2.0, shutdown_grace=1.0),
        routing=RoutingSettings(fallback_targets=["PJSIP/102", "PJSIP/103"]),
    )
    server = await start_fastagi_server(
        settings, DbDirectorySource(gone), clock=lambda: MOSCOW_WEDNESDAY_NOON, port=0
    )
    sim = AsteriskSimulator(
        SimConfig(tech="PJSIP", agi_address=("127.0.0.1", server.port), clock=VirtualClock())
    )
    for ext, phone in phones(**{"103": Phone(answer_after=4.0)}).items():
        sim.add_phone(ext, phone)
    try:
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
    finally:
        await sim.stop()
        await server.close()
        await gone.dispose()
    assert [d.args for d in result.dials] == ["PJSIP/102&PJSIP/103,40"]
    assert result.answered_by == "PJSIP/103"
    assert invites(result) == {"PJSIP/102": 1, "PJSIP/103": 1}
    found = variables(result)
    assert found[var.DECISION] == "fallback_targets"
    assert (found[var.RESULT], found[var.STEP_KIND]) == ("ANSWERED", "fallback")
    assert var.ANSWERED_BY not in found, "a fallback target is no manager"


async def test_database_gone_after_the_directory_loaded_the_last_directory_rings_one_dial(
    tmp_path,
):
    # A real SQLite file that disappears once the directory has been loaded: every look-up
    # fails, the default plan of the last directory rings, still one Dial with Local legs.
    folder = tmp_path / "data"
    folder.mkdir()
    db = Database(f"sqlite+aiosqlite:///{folder / 'callrouter.sqlite3'}")
    await migrate.upgrade(db.engine)
    await office(db)
    settings = Settings(
        agi=AgiSettings(env_timeout=2.0, command_timeout=2.0, shutdown_grace=1.0),
        routing=RoutingSettings(decision_budget_ms=5000),
    )
    server = await start_fastagi_server(
        settings, DbDirectorySource(db), clock=lambda: MOSCOW_WEDNESDAY_NOON, port=0
    )
    sim = AsteriskSimulator(
        SimConfig(tech="PJSIP", agi_address=("127.0.0.1", server.port), clock=VirtualClock())
    )
    for ext, phone in phones(**{"104": Phone(answer_after=1.0)}).items():
        sim.add_phone(ext, phone)
    try:
        warm = await sim.inbound_call(Caller(NEW))  # the directory is loaded by now
        await db.engine.dispose()
        shutil.rmtree(folder)
        result = await sim.inbound_call(Caller(KNOWN, "Иван Петров"))
    finally:
        await sim.stop()
        await server.close()
        await db.dispose()
    assert variables(warm)[var.DECISION] == "directory"
    found = variables(result)
    assert found[var.DECISION] == "last_directory"
    # Without the look-up the client is not known: the department first, the head at 10 s.
    assert [d.args for d in result.dials] == [
        f"PJSIP/101&PJSIP/102&PJSIP/103&{later(10, '104')}&{later(20, '105')},40"
    ]
    assert result.answered_by == "PJSIP/104"
    assert (found[var.STEP], found[var.STEP_KIND]) == ("2", "head_of_sales")
    assert invites(result) == {f"PJSIP/{ep}": 1 for ep in ("101", "102", "103", "104")}
