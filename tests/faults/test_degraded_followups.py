"""Degraded mode, the follow-ups of issue #17 (tests/faults/test_degraded_start.py is the start).

- The spool drains AT ONCE when the database returns: the degraded-mode monitor that sees it
  back ends the listener's retry backoff (which is up to 60 s), instead of the listener finding
  out on its own at the end of it.
- While the database is away the listener tells managers' phones from trunks with the directory
  snapshot routing keeps on disk, not by endpoint names: a manager with a lettered endpoint
  (`SIP/anna`, a "trunk" by its name) answers and places calls as herself.
- `run`, `agi` and `ami` log the database they use at start, password masked; an `ami`-only
  process that loses its database after start says it is degraded (log, metrics, `status`) and
  healthy again when it returns.

PostgreSQL only, a private cluster stopped for real (see test_degraded_start.py for why)."""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from asterisk_sim import Caller, Phone
from crm.contacts import add_contact
from crm.staff import add_manager
from models.db import Database
from models.tables import Call, Department, Manager
from tests.ops.service_support import (
    ServiceProcess,
    free_port,
    service_config,
    start_simulator,
)

from .conftest import _create_from_template
from .support import KNOWN, PrivatePostgres, recorded_at, seed_office, wait_until
from .test_degraded_start import first_target, snapshot_knows, status, unreachable_since

ANNA_CLIENT = "+79169876543"  # a client whose manager is Anna (SIP/anna)
PASSWORD = "Sekr3t-pw"  # the private cluster trusts everyone: any password connects
# The listener's sink backoff (0.5 s doubling) is waited out until it announces this long a
# wait; the database then returns and the calls must be stored in a small part of it.
LONG_WAIT = r"retrying in (16|32|60)\.0 s, safe in the spool"
DRAIN_BOUND = 8.0


async def new_database(pg: PrivatePostgres, template: str) -> str:
    name = f"callrouter_t_{uuid.uuid4().hex[:12]}"
    await _create_from_template(pg, name, template)
    return pg.url(name)


async def seed_with_anna(url: str) -> None:
    """The lab office, plus Anna (`SIP/anna`) in Sales and a client of hers."""
    db = Database(url)
    try:
        await seed_office(db)
        async with db.transaction() as session:
            sales = await session.scalar(select(Department).where(Department.name == "Sales"))
            anna = await add_manager(session, name="Anna", endpoint="SIP/anna", department=sales)
            await add_contact(session, ANNA_CLIENT, region="RU", name="Client", responsible=anna)
    finally:
        await db.dispose()


async def rows(url: str, *linkedids: str) -> dict[str, Call]:
    db = Database(url)
    try:
        async with db.reader() as session:
            found = await session.scalars(select(Call).where(Call.linkedid.in_(linkedids)))
            return {row.linkedid: row for row in found}
    finally:
        await db.dispose()


async def manager_id(url: str, name: str) -> int:
    db = Database(url)
    try:
        async with db.reader() as session:
            found = await session.scalar(select(Manager.id).where(Manager.name == name))
    finally:
        await db.dispose()
    assert found is not None
    return found


def office_phones() -> dict[str, Phone]:
    phones = {ext: Phone(answer_after=0.2, talk=0.3) for ext in ("101", "102", "103", "104", "105")}
    phones["anna"] = Phone(answer_after=0.2, talk=0.3, name="Anna")
    return phones


def masked(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@")


async def test_database_back_drains_the_spool_at_once_and_snapshot_phones_record_the_manager(
    private_postgres: tuple[PrivatePostgres, str], tmp_path: Path
) -> None:
    pg, template = private_postgres
    url = await new_database(pg, template)
    await seed_with_anna(url)
    anna = await manager_id(url, "Anna")

    agi_port = free_port()
    sim, ami_port = await start_simulator(agi_port, office_phones())
    config = service_config(tmp_path, url, agi_port=agi_port, ami_port=ami_port)
    snapshot = tmp_path / "spool" / "directory.json"
    spool = tmp_path / "spool" / "calls"
    service: ServiceProcess | None = None
    try:
        service = await ServiceProcess.start(config, "run")  # leaves the snapshot behind
        await service.ready()

        async def snapshot_written() -> bool:
            return snapshot_knows(snapshot, ANNA_CLIENT)

        await wait_until(snapshot_written, what="the directory snapshot")
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0

        await asyncio.to_thread(pg.stop)
        service = await ServiceProcess.start(config, "run")
        await service.ready()
        await service.wait_for_line(r"degraded: database unreachable since \S+")
        await service.wait_for_line(r"managers' phones from the directory snapshot of \S+ \(6 ")
        await service.wait_for_line(r"AMI connected to")
        assert not any("told from trunks by endpoint names" in line for line in service.lines)

        answered = await sim.inbound_call(Caller(ANNA_CLIENT, "Client"))
        assert first_target(answered) == "SIP/anna"
        assert answered.answered_by == "SIP/anna"
        placed = await sim.outbound_call("anna", KNOWN, answer_after=0.2, talk=0.3)
        during = [answered.linkedid, placed.linkedid]

        async def all_spooled() -> bool:
            names = [p.name for p in spool.glob("*.json")]
            return all(any(linkedid in n for n in names) for linkedid in during)

        await wait_until(all_spooled, what="the calls kept in the spool")
        # The listener has been failing long enough to wait 16 s or more before its next try.
        await service.wait_for_line(LONG_WAIT, within=40)

        await asyncio.to_thread(pg.start)
        back = time.monotonic()

        async def stored_once() -> bool:
            return await recorded_at(url) == dict.fromkeys(during, 1)

        await wait_until(stored_once, within=DRAIN_BOUND, what="the spool drained at once")
        assert time.monotonic() - back < DRAIN_BOUND
        await service.wait_for_line(r"database reachable again after \d+ s")

        stored = await rows(url, *during)
        inbound, outbound = stored[answered.linkedid], stored[placed.linkedid]
        assert (inbound.direction, inbound.answered_by_manager_id) == ("inbound", anna)
        assert inbound.external_number == ANNA_CLIENT
        assert (outbound.direction, outbound.manager_id) == ("outbound", anna)
        assert outbound.external_number == KNOWN
        await service.wait_for_line(r"directory loaded: 6 phones known from the database")

        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        if service is not None:
            await service.stop()
        await sim.stop()
        if not (pg.data / "postmaster.pid").exists():
            await asyncio.to_thread(pg.start)


@pytest.mark.parametrize("mode", ["run", "agi", "ami"])
async def test_each_service_says_which_database_it_uses_password_masked(
    private_postgres: tuple[PrivatePostgres, str], tmp_path: Path, mode: str
) -> None:
    pg, template = private_postgres
    url = masked(await new_database(pg, template))
    config = service_config(tmp_path, url, agi_port=free_port(), ami_port=free_port())
    service = await ServiceProcess.start(config, mode)
    try:
        await service.ready()
        line = await service.wait_for_line(r"database: (\S+)")
        assert line[1] == url.replace(PASSWORD, "***")
        assert PASSWORD not in service.output
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()


async def test_an_ami_process_goes_degraded_when_the_database_leaves_and_healthy_when_back(
    private_postgres: tuple[PrivatePostgres, str], tmp_path: Path
) -> None:
    pg, template = private_postgres
    url = await new_database(pg, template)
    db = Database(url)
    await seed_office(db)
    await db.dispose()

    sim, ami_port = await start_simulator(free_port(), office_phones())
    config = service_config(tmp_path, masked(url), agi_port=free_port(), ami_port=ami_port)
    service = await ServiceProcess.start(config, "ami")
    try:
        ports = await service.ready()
        await service.wait_for_line(r"AMI connected to")
        _, report = await status(config)
        assert report["checks"]["database"]["ok"], report
        assert await unreachable_since(ports["metrics"]) == 0

        await asyncio.to_thread(pg.stop)
        gone = time.time()
        placed = await sim.outbound_call("101", KNOWN, answer_after=0.2, talk=0.3)
        degraded = await service.wait_for_line(r"degraded: database unreachable since (\S+)")
        assert re.match(r"\d{4}-\d\d-\d\dT", degraded[1])
        assert gone - 1 <= await unreachable_since(ports["metrics"]) <= time.time()
        code, report = await status(config)
        assert code == 1
        assert report["checks"]["database"]["detail"].startswith(
            "degraded: database unreachable since "
        ), report

        await asyncio.to_thread(pg.start)
        await service.wait_for_line(r"database reachable again after \d+ s", within=30)

        async def stored_once() -> bool:
            return await recorded_at(url) == {placed.linkedid: 1}

        await wait_until(stored_once, within=DRAIN_BOUND, what="the call stored once")
        assert await unreachable_since(ports["metrics"]) == 0

        async def database_ok() -> bool:
            _, report = await status(config)
            return bool(report["checks"]["database"]["ok"])

        await wait_until(database_ok, what="status: the database ok again")
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()
        await sim.stop()
        if not (pg.data / "postmaster.pid").exists():
            await asyncio.to_thread(pg.start)
