"""The database is down when the service starts (a power cut brought the PBX back before
PostgreSQL): `callrouter run` starts anyway, degraded. Calls are routed from the directory
snapshot the previous run left on disk — a known client rings their own manager first — and
every finished call is kept in the spool; `status` says "degraded: database unreachable since
…". When the private PostgreSQL cluster is started again the spool drains, every call is stored
exactly once, routing goes back to the database and `status` is healthy.

PostgreSQL only: the outage is a private cluster stopped for real (`pg_ctl stop`). A SQLite
file cannot be "unreachable" in that sense — it is on the same disk as the spool — and the one
way to lock its readers out (another process holding the WAL index, tests/faults/
test_database_outage.py) blocks each attempt for ~10 s inside SQLite; the degraded mode itself
does not depend on the backend."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
import uuid
from datetime import date
from datetime import time as dtime
from pathlib import Path

from asterisk_sim import Caller, Phone
from callrouter.service.degraded import read_snapshot, snapshot_data, write_durably
from core import dialplan as var
from models.db import Database
from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours
from tests.ops.service_support import (
    ServiceProcess,
    free_port,
    run_cli,
    service_config,
    start_simulator,
)

from .conftest import _create_from_template
from .support import KNOWN, KNOWN_NAME, PrivatePostgres, recorded_at, seed_office, wait_until

CALLS = 3


def router_vars(result) -> dict[str, str]:
    found: dict[str, str] = {}
    for fields in result.events:
        event = dict(fields)
        if event.get("Event") == "VarSet" and event.get("Variable", "").startswith(var.PREFIX):
            found[event["Variable"]] = event.get("Value", "")
    return found


def first_target(result) -> str:
    assert result.dials, "no Dial at all"
    return result.dials[0].args.split(",")[0].split("&")[0]


async def status(config: Path) -> tuple[int, dict]:
    code, out, err = await run_cli("--config", str(config), "status", "--json")
    assert err == "", err
    return code, json.loads(out)


async def unreachable_since(metrics_port: int) -> float:
    """The service's gauge `callrouter_database_unreachable_since_seconds` (0: reachable)."""

    def scrape() -> str:
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()

    for line in (await asyncio.to_thread(scrape)).splitlines():
        if line.startswith("callrouter_database_unreachable_since_seconds "):
            return float(line.split()[1])
    raise AssertionError("no callrouter_database_unreachable_since_seconds gauge")


def snapshot_knows(path: Path, phone: str) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return any(c["phone"] == phone for c in data.get("contacts", ()))


async def test_database_down_at_start_routes_from_the_snapshot_spools_and_stores_each_call_once(
    private_postgres: tuple[PrivatePostgres, str], tmp_path: Path
) -> None:
    pg, template = private_postgres
    name = f"callrouter_t_{uuid.uuid4().hex[:12]}"
    await _create_from_template(pg, name, template)
    url = pg.url(name)
    setup = Database(url)
    await seed_office(setup)
    await setup.dispose()

    agi_port = free_port()
    phones = {ext: Phone(answer_after=0.2, talk=0.3) for ext in ("101", "102", "103", "104", "105")}
    sim, ami_port = await start_simulator(agi_port, phones)
    config = service_config(tmp_path, url, agi_port=agi_port, ami_port=ami_port)
    snapshot = tmp_path / "spool" / "directory.json"
    spool = tmp_path / "spool" / "calls"
    service: ServiceProcess | None = None
    try:
        # A first, healthy run leaves the directory snapshot behind.
        service = await ServiceProcess.start(config, "run")
        await service.ready()

        async def snapshot_written() -> bool:
            return snapshot_knows(snapshot, KNOWN)

        await wait_until(snapshot_written, what="the directory snapshot")
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0

        # The power cut: the database is not back when the service starts.
        await asyncio.to_thread(pg.stop)
        service = await ServiceProcess.start(config, "run")
        ports = await service.ready()
        await service.wait_for_line(r"degraded: database unreachable since \S+")
        assert 0 < await unreachable_since(ports["metrics"]) <= time.time()
        await service.wait_for_line(r"routing from the directory snapshot of")
        await service.wait_for_line(r"AMI connected to")
        code, report = await status(config)
        assert code == 1 and not report["ok"]
        assert report["checks"]["database"]["detail"].startswith(
            "degraded: database unreachable since "
        ), report

        during = []
        for _ in range(CALLS):  # one after another, so SIP/101 is free for each
            result = await sim.inbound_call(Caller(KNOWN, KNOWN_NAME))
            assert first_target(result) == "SIP/101", [d.args for d in result.dials]
            assert router_vars(result)[var.DECISION] == "snapshot"
            assert result.answered_by == "SIP/101"
            during.append(result.linkedid)

        async def all_spooled() -> bool:
            names = [p.name for p in spool.glob("*.json")]
            return all(any(linkedid in n for n in names) for linkedid in during)

        await wait_until(all_spooled, what="the calls kept in the spool")

        # The database is back: the spool drains, each call stored once, status healthy.
        await asyncio.to_thread(pg.start)
        await service.wait_for_line(r"database reachable again after \d+ s", within=30)

        async def stored_once() -> bool:
            return await recorded_at(url) == dict.fromkeys(during, 1)

        await wait_until(stored_once, within=60, what="every spooled call stored once")

        async def spool_empty() -> bool:
            return not list(spool.glob("*.json"))

        await wait_until(spool_empty, what="the spool emptied")

        async def healthy() -> bool:
            code, report = await status(config)
            return code == 0 and report["ok"]

        await wait_until(healthy, within=30, what="status healthy")
        assert await unreachable_since(ports["metrics"]) == 0
        await service.wait_for_line(r"routing from the database again")

        after = await sim.inbound_call(Caller(KNOWN, KNOWN_NAME))
        assert first_target(after) == "SIP/101"
        assert router_vars(after)[var.DECISION] == "directory"

        async def after_stored() -> bool:
            return await recorded_at(url) == dict.fromkeys([*during, after.linkedid], 1)

        await wait_until(after_stored, within=30, what="the call after the outage stored")
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        if service is not None:
            await service.stop()
        await sim.stop()
        if not (pg.data / "postmaster.pid").exists():
            await asyncio.to_thread(pg.start)


async def test_a_database_that_says_no_still_stops_the_start(
    private_postgres: tuple[PrivatePostgres, str], tmp_path: Path
) -> None:
    """No such database: a setting to fix, not an outage to ride out — one line, exit 1."""
    pg, _ = private_postgres
    url = pg.url(f"callrouter_missing_{uuid.uuid4().hex[:8]}")
    config = service_config(tmp_path, url, agi_port=free_port(), ami_port=free_port())
    code, _, err = await run_cli("--config", str(config), "run")
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith("callrouter: error: database unavailable: InvalidCatalogNameError")
    assert not (tmp_path / "spool" / "directory.json").exists()


def test_the_snapshot_keeps_what_routing_needs_and_reads_as_agi_directory_file(
    tmp_path: Path,
) -> None:
    """Hours, holidays, lines, the default department, managers and clients' managers come back
    as loaded; clients' names are not written (routing does not need them)."""
    sales = Department(
        1,
        "Sales",
        WorkingHours(
            {0: ((dtime(9), dtime(13)), (dtime(14), dtime(18)))},
            "Europe/Moscow",
            frozenset({date(2026, 12, 31)}),
        ),
        frozenset({"+74951110000"}),
    )
    directory = Directory(
        (sales, Department(2, "Service", WorkingHours.always("UTC"))),
        (
            Manager(1, "Ivan", "SIP/101", Role.MANAGER, 1),
            Manager(2, "Boss", "SIP/105", Role.OWNER, None, active=False),
        ),
        default_department_id=1,
    )
    path = tmp_path / "directory.json"
    write_durably(path, json.dumps(snapshot_data(directory, [(7, KNOWN, 1)])))
    loaded = read_snapshot(path)
    assert loaded is not None
    assert loaded[0] == directory
    assert loaded[1] == {KNOWN: ContactView(7, KNOWN, None, 1)}
    assert KNOWN_NAME not in path.read_text(encoding="utf-8")
    assert oct(path.stat().st_mode & 0o777) == oct(0o640)
    assert read_snapshot(tmp_path / "none.json") is None
