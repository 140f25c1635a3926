"""End to end over loopback: the Asterisk simulator calls our FastAGI server, which reads a real
SQLite database (migrated with the project's migrations, filled through models/)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from agi_scripts.fastagi import start_fastagi_server
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from core import dialplan as var
from crm.contacts import add_contact
from crm.staff import add_department, add_manager
from models import migrate
from models.db import Database
from models.directory import DbDirectorySource
from router.directory import Role
from tests.agi.support import WEDNESDAY_NOON, lab_settings

KNOWN = "+79161234567"


@pytest.fixture
async def database(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'callrouter.sqlite3'}")
    await migrate.upgrade(db.engine)
    async with db.transaction() as session:
        sales = await add_department(session, "Sales", "Europe/Moscow")
        ivan = await add_manager(session, name="Ivan", endpoint="SIP/101", department=sales)
        await add_manager(session, name="Olga", endpoint="SIP/102", department=sales)
        await add_manager(session, name="Petr", endpoint="SIP/103", department=sales)
        await add_manager(
            session, name="Head", endpoint="SIP/104", role=Role.HEAD_OF_SALES, department=sales
        )
        await add_manager(session, name="Owner", endpoint="SIP/105", role=Role.OWNER)
        await add_contact(session, KNOWN, region="RU", name="Иван Петров", responsible=ivan)
    yield db
    await db.dispose()


def callrouter_vars(result) -> dict[str, str]:
    found: dict[str, str] = {}
    for event in result.events:
        fields = dict(event)
        if fields.get("Event") == "VarSet" and fields.get("Variable", "").startswith(var.PREFIX):
            found[fields["Variable"]] = fields.get("Value", "")
    return found


async def place_call(db, phones: dict[str, Phone], caller: Caller, **routing):
    server = await start_fastagi_server(
        lab_settings(**routing), DbDirectorySource(db), clock=lambda: WEDNESDAY_NOON, port=0
    )
    # As the service does before its first call; like it, go on when the database is gone.
    with contextlib.suppress(Exception):
        await server.decider.refresh()
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", server.port), clock=VirtualClock()))
    for ext, phone in phones.items():
        sim.add_phone(ext, phone)
    try:
        return await sim.inbound_call(caller)
    finally:
        await sim.stop()
        await server.close()


def later(delay: int, endpoint: str) -> str:
    technology, resource = endpoint.split("/")
    return f"Local/{delay}-{technology}-{resource}@callrouter-ring-delayed/n"


# The known client's plan as one Dial (issue 18): Ivan at once, the others added at offsets.
KNOWN_DIAL = (
    f"SIP/101&{later(10, 'SIP/102')}&{later(10, 'SIP/103')}&{later(20, 'SIP/104')}"
    f"&{later(30, 'SIP/105')},40"
)


def office(**overrides: Phone) -> dict[str, Phone]:
    phones = {ext: Phone() for ext in ("101", "102", "103", "104", "105")}
    phones.update(overrides)
    return phones


async def test_known_client_is_answered_at_step_1(database):
    result = await place_call(
        database, office(**{"101": Phone(answer_after=2.0)}), Caller(KNOWN, "Иван Петров")
    )
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert result.answered_by == "SIP/101"
    found = callrouter_vars(result)
    assert found[var.RESULT] == "ANSWERED" and found[var.LEAD] == "existing"


async def test_busy_responsible_manager_goes_to_the_department_at_once(database):
    phones = office(**{"101": Phone(in_use=True), "103": Phone(answer_after=1.0)})
    result = await place_call(database, phones, Caller(KNOWN))
    assert [d.args for d in result.dials] == [
        f"SIP/102&SIP/103&{later(10, 'SIP/104')}&{later(20, 'SIP/105')},30"
    ]
    assert result.answered_by == "SIP/103"


async def test_escalation_through_every_step_nobody_answers(database):
    result = await place_call(database, office(), Caller(KNOWN))
    assert [d.args for d in result.dials] == [KNOWN_DIAL]
    assert callrouter_vars(result)[var.RESULT] == "NO_ANSWER"


async def test_caller_hangs_up_at_step_2(database):
    result = await place_call(database, office(), Caller(KNOWN, abandon_after=14.0))
    assert len(result.dials) == 1
    assert result.dials[-1].status == "CANCEL"
    found = callrouter_vars(result)
    assert found[var.RESULT] == "CALLER_HANGUP"
    assert found[var.STEP] == "2", "14 s into the Dial: the department's step"


async def test_anonymous_new_caller_starts_at_the_department(database):
    result = await place_call(
        database, office(**{"102": Phone(answer_after=1.0)}), Caller("anonymous")
    )
    assert result.dials[0].args.startswith(f"SIP/101&SIP/102&SIP/103&{later(10, 'SIP/104')}&")
    assert callrouter_vars(result)[var.LEAD] == "none"


async def test_database_gone_without_fallback_runs_the_dialplan_static_fallback(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    try:
        result = await place_call(db, office(**{"102": Phone(answer_after=1.0)}), Caller(KNOWN))
    finally:
        await db.dispose()
    assert result.agi_status == "SUCCESS"
    assert callrouter_vars(result) == {var.RESULT: "FAILED"}
