"""The running service learns the directory's phones at start and on SIGHUP (issue #14,
point 6): a manager added with a lettered PJSIP-style endpoint places outbound calls as hers."""

from __future__ import annotations

import signal

from sqlalchemy import select

from asterisk_sim import Phone
from models.db import Database
from models.tables import Manager
from tests.ops.service_support import add_sales_manager, call_row, seed_office, wait_until
from tests.ops.test_service import start_service

CLIENT = "+79161234567"


async def manager_id(db_url: str, name: str) -> int | None:
    db = Database(db_url)
    try:
        async with db.reader() as session:
            return await session.scalar(select(Manager.id).where(Manager.name == name))
    finally:
        await db.dispose()


async def test_sighup_teaches_the_listener_a_new_phone(db_url, tmp_path):
    await seed_office(db_url, "SIP/101")
    phones = {"101": Phone(), "anna": Phone(name="Anna")}
    sim, service, _ = await start_service(tmp_path, db_url, phones)
    try:
        await add_sales_manager(db_url, "Anna", "SIP/anna")
        service.send(signal.SIGHUP)
        await service.wait_for_line(r"listener's phones reloaded: 2 in the directory")
        result = await sim.outbound_call("anna", CLIENT, answer_after=0.2, talk=0.3)
        row = await wait_until(lambda: call_row(db_url, result.linkedid), what="the call row")
        assert (row.direction, row.external_number) == ("outbound", CLIENT)
        assert row.manager_id == await manager_id(db_url, "Anna")
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()
        await sim.stop()
