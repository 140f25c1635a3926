"""The routing service picks the department by the number dialled, from the real directory.

Two departments in the database (SQLite and PostgreSQL), the decider the FastAGI server runs,
the AGI environment as Asterisk sends it: a call to the service desk's line rings the service
desk, on its hours, and the one statement per call stays one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agi_scripts.db_source import DbLookupSource
from agi_scripts.decision import RouteDecider, dialled_number
from agi_scripts.env import AgiEnv
from crm import department_lines, staff
from models.db import Database
from router.departments import ChoiceBasis
from router.directory import Role
from router.settings import RoutingSettings

MOSCOW = ZoneInfo("Europe/Moscow")
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=MOSCOW)
FRIDAY_NOON = datetime(2026, 11, 27, 12, 0, tzinfo=MOSCOW)


async def _office(db: Database) -> None:
    async with db.transaction() as s:
        sales = await staff.add_department(s, "Sales")
        await staff.set_hours(s, sales, "mon-fri 09:00-18:00")
        await department_lines.add_did(s, sales, "+74951110000")
        service = await staff.add_department(s, "Service")
        await staff.set_hours(s, service, "mon-sat 09:00-21:00")
        await department_lines.add_did(s, service, "+74952220000")
        await department_lines.set_default(s, sales)
        for name, endpoint, department in [
            ("Anna", "SIP/101", sales),
            ("Boris", "SIP/102", sales),
            ("Vera", "SIP/201", service),
        ]:
            await staff.add_manager(s, name=name, endpoint=endpoint, department=department)
        await staff.add_manager(
            s, name="Head", endpoint="SIP/109", role=Role.HEAD_OF_SALES, department=sales
        )


def env(**values: str) -> AgiEnv:
    base = {"agi_uniqueid": "1795746830.1", "agi_callerid": "+79250000000"}
    return AgiEnv({**base, **values})


async def _decide(db_url: str, when: datetime, agi: AgiEnv):
    source = DbLookupSource(db_url)
    try:
        decider = RouteDecider(source, RoutingSettings(), clock=lambda: when)
        await decider.refresh()
        return (await decider.decide(agi)).plan
    finally:
        await source.close()


async def test_the_service_line_rings_the_service_desk_on_saturday(db: Database, db_url: str):
    await _office(db)
    plan = await _decide(db_url, SATURDAY_NOON, env(agi_dnid="84952220000"))
    assert plan.department is not None
    assert plan.department.name == "Service"
    assert plan.department.basis is ChoiceBasis.DID
    assert not plan.after_hours
    assert plan.steps[0].endpoints == ("SIP/201",)
    # The head of sales of Sales is the only head: the service desk escalates to him.
    assert "SIP/109" in plan.steps[1].endpoints


async def test_the_sales_line_is_closed_on_saturday_and_open_on_friday(db: Database, db_url):
    await _office(db)
    closed = await _decide(db_url, SATURDAY_NOON, env(agi_dnid="74951110000"))
    assert closed.after_hours and closed.reason == "Sales is closed"
    friday = await _decide(db_url, FRIDAY_NOON, env(agi_dnid="74951110000"))
    assert friday.steps[0].endpoints == ("SIP/101", "SIP/102")


async def test_an_unknown_number_goes_to_the_default_department(db: Database, db_url: str):
    await _office(db)
    plan = await _decide(db_url, FRIDAY_NOON, env(agi_dnid="unknown", agi_extension="0000"))
    assert plan.department is not None
    assert (plan.department.name, plan.department.basis) == ("Sales", ChoiceBasis.DEFAULT)


async def test_the_dialplan_s_did_argument_wins_over_the_dnid(db: Database, db_url: str):
    await _office(db)
    agi = env(agi_dnid="74951110000", agi_extension="74952220000", agi_arg_1="did=74952220000")
    plan = await _decide(db_url, SATURDAY_NOON, agi)
    assert plan.department is not None and plan.department.name == "Service"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"agi_dnid": "7000", "agi_extension": "7000"}, "7000"),  # the recorded lab calls
        ({"agi_dnid": "84952220000", "agi_extension": "s"}, "+74952220000"),
        ({"agi_dnid": "unknown", "agi_extension": "+7 495 222-00-00"}, "+74952220000"),
        ({"agi_dnid": "", "agi_extension": ""}, ""),
        ({"agi_dnid": "7000", "agi_arg_1": "x", "agi_arg_2": "did=74952220000"}, "+74952220000"),
    ],
)
def test_the_number_dialled_is_read_like_a_phone_number(values, expected):
    assert dialled_number(AgiEnv(values), "RU") == expected
