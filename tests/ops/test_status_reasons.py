"""`callrouter status` says why AMI is down; its probe leaves no trace in the service's log;
SIGHUP does not claim to keep an AMI connection that does not exist (issue #17)."""

from __future__ import annotations

import asyncio
import json
import signal

from callrouter.service.statusfile import read_status
from tests.ops.service_support import (
    ServiceProcess,
    free_port,
    run_cli,
    seed_office,
    service_config,
    start_simulator,
    wait_until,
)


def status_says(tmp_path, key: str):
    async def check():
        found = read_status(tmp_path / "spool" / "status.json")
        return found.get(key) if found else None

    return check


async def test_status_shows_a_refused_login(db_url, tmp_path):
    sim, ami_port = await start_simulator(free_port(), {})
    config = service_config(tmp_path, db_url, ami_port=ami_port)
    (tmp_path / "ami.secret").write_text("not-the-secret\n", encoding="utf-8")
    service = await ServiceProcess.start(config, "ami")
    try:
        await service.ready()
        reason = await wait_until(status_says(tmp_path, "ami_error"), what="a reason in status")
        assert reason.startswith("authentication failed (Authentication failed)")
        code, out, err = await run_cli("--config", str(config), "status", "--json")
        assert code == 1 and err == ""
        detail = json.loads(out)["checks"]["ami"]["detail"]
        assert detail.startswith(f"not connected to 127.0.0.1:{ami_port} since ")
        assert "authentication failed (Authentication failed) as 'callrouter'" in detail
        assert "not-the-secret" not in out
        code, text, _ = await run_cli("--config", str(config), "status")
        assert "FAIL  not connected to" in text and "authentication failed" in text
    finally:
        await service.stop()
        await sim.stop()


async def test_status_shows_a_refused_connection(db_url, tmp_path):
    config = service_config(tmp_path, db_url, ami_port=free_port())  # nothing listens there
    service = await ServiceProcess.start(config, "ami")
    try:
        await service.ready()
        reason = await wait_until(status_says(tmp_path, "ami_error"), what="a reason in status")
        assert reason == "connection refused"
        code, out, _ = await run_cli("--config", str(config), "status", "--json")
        assert code == 1
        assert json.loads(out)["checks"]["ami"]["detail"].endswith(": connection refused")
    finally:
        await service.stop()


async def test_the_status_probe_leaves_no_dropped_session_in_the_log(db_url, tmp_path):
    await seed_office(db_url, "SIP/101")
    agi_port = free_port()
    config = service_config(tmp_path, db_url, agi_port=agi_port)
    service = await ServiceProcess.start(config, "agi")
    try:
        await service.ready()
        code, out, _ = await run_cli("--config", str(config), "status", "--json")
        assert json.loads(out)["checks"]["agi"] == {
            "ok": True,
            "detail": f"listening on 127.0.0.1:{agi_port}",
        }
        # A marker after the probe: a connection that sends one line and leaves. Its own
        # "dropped" line is logged once the service has handled everything before it.
        _reader, writer = await asyncio.open_connection("127.0.0.1", agi_port)
        writer.write(b"agi_network: yes\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await service.wait_for_line(r"before routing: peer closed after 1 environment line")
        assert "after 0 environment lines" not in service.output
    finally:
        await service.stop()


async def test_the_agi_check_fails_when_nothing_listens(db_url, tmp_path):
    port = free_port()
    config = service_config(tmp_path, db_url, agi_port=port)
    code, out, _ = await run_cli("--config", str(config), "status", "--json")
    assert code == 1
    assert json.loads(out)["checks"]["agi"] == {
        "ok": False,
        "detail": f"nothing listening on 127.0.0.1:{port}",
    }


async def test_sighup_does_not_claim_a_connection_it_does_not_have(db_url, tmp_path):
    config = service_config(tmp_path, db_url, ami_port=free_port())  # nothing listens there
    service = await ServiceProcess.start(config, "ami")
    try:
        await service.ready()
        await wait_until(status_says(tmp_path, "ami_error"), what="the first refused attempt")
        service.send(signal.SIGHUP)
        await service.wait_for_line(r"event=reloaded(\s|$)")
        assert "AMI connection kept" not in service.output
        assert "AMI not connected (connection refused): still retrying 127.0.0.1:" in service.output
    finally:
        await service.stop()


async def test_sighup_keeps_a_live_connection_and_says_so(db_url, tmp_path):
    sim, ami_port = await start_simulator(free_port(), {})
    config = service_config(tmp_path, db_url, ami_port=ami_port)
    service = await ServiceProcess.start(config, "ami")
    try:
        await service.ready()
        await wait_until(status_says(tmp_path, "ami_connected"), what="AMI connected")
        service.send(signal.SIGHUP)
        await service.wait_for_line(r"event=reloaded(\s|$)")
        assert "AMI connection kept" in service.output
    finally:
        await service.stop()
        await sim.stop()
