"""`callrouter status`: healthy, AGI down, database behind — exit code and what it says."""

from __future__ import annotations

import json
import signal

from sqlalchemy import text

from callrouter.service.statusfile import read_status
from models.db import Database
from tests.ops.service_support import (
    ServiceProcess,
    free_port,
    run_cli,
    seed_office,
    service_config,
    start_simulator,
    wait_until,
)


async def status(config) -> tuple[int, dict]:
    code, out, err = await run_cli("--config", str(config), "status", "--json")
    assert err == ""
    return code, json.loads(out)


def ami_connected(tmp_path):
    """The listener's status file says connected (what `status` reads)."""

    async def check() -> bool:
        found = read_status(tmp_path / "spool" / "status.json")
        return bool(found and found["ami_connected"])

    return check


async def test_healthy_then_database_behind(db_url, tmp_path):
    await seed_office(db_url, "SIP/101")
    agi_port = free_port()
    sim, ami_port = await start_simulator(agi_port, {})
    config = service_config(tmp_path, db_url, agi_port=agi_port, ami_port=ami_port)
    service = await ServiceProcess.start(config, "run")
    try:
        await service.ready()
        await wait_until(ami_connected(tmp_path), what="status to see AMI connected")
        code, report = await status(config)
        assert code == 0 and report["ok"], report
        assert report["spool_depth"] == 0
        assert report["checks"]["agi"]["detail"] == f"listening on 127.0.0.1:{agi_port}"

        code, out, _ = await run_cli("--config", str(config), "status")
        assert code == 0 and out.rstrip().endswith("all good")

        db = Database(db_url)
        try:
            async with db.engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        finally:
            await db.dispose()
        code, report = await status(config)
        assert code == 1 and not report["ok"]
        assert report["checks"]["agi"]["ok"] and report["checks"]["ami"]["ok"]
        database = report["checks"]["database"]
        assert not database["ok"] and "run `callrouter db upgrade`" in database["detail"]
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()
        await sim.stop()


async def test_agi_down_while_the_listener_runs(db_url, tmp_path):
    agi_port = free_port()
    sim, ami_port = await start_simulator(agi_port, {})
    config = service_config(tmp_path, db_url, agi_port=agi_port, ami_port=ami_port)
    service = await ServiceProcess.start(config, "ami")
    try:
        await service.ready()
        await wait_until(ami_connected(tmp_path), what="status to see AMI connected")
        code, out, _ = await run_cli("--config", str(config), "status")
        assert code == 1
        lines = out.splitlines()
        assert lines[0].startswith("agi       FAIL  nothing listening on 127.0.0.1:")
        assert lines[1].startswith("ami       ok    connected to 127.0.0.1:")
        assert lines[2].startswith("database  ok ")
        assert lines[-1] == "NOT healthy"
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
        code, report = await status(config)  # the listener said goodbye in status.json
        assert code == 1 and report["checks"]["ami"]["detail"] == "the AMI listener is not running"
    finally:
        await service.stop()
        await sim.stop()
