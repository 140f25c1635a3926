"""`callrouter run` as a real process between the Asterisk simulator and a real database."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from asterisk_sim import Caller, Phone
from core import dialplan as var
from models import migrate
from models.db import create_engine
from tests.ops.service_support import (
    ServiceProcess,
    add_sales_manager,
    call_row,
    free_port,
    run_cli,
    seed_office,
    service_config,
    sim_saw,
    start_simulator,
    wait_until,
)

NEW_CALLER = "+79161234567"


def router_vars(result) -> dict[str, str]:
    found: dict[str, str] = {}
    for fields in result.events:
        event = dict(fields)
        if event.get("Event") == "VarSet" and event.get("Variable", "").startswith(var.PREFIX):
            found[event["Variable"]] = event.get("Value", "")
    return found


async def start_service(tmp_path: Path, db_url: str, phones: dict[str, Phone], **config):
    agi_port = free_port()
    sim, ami_port = await start_simulator(agi_port, phones)
    path = service_config(tmp_path, db_url, agi_port=agi_port, ami_port=ami_port, **config)
    service = await ServiceProcess.start(path, "run")
    await service.ready()
    await service.wait_for_line(r"AMI connected to")
    return sim, service, agi_port


async def test_run_routes_a_call_from_the_simulator_and_records_it(db_url, tmp_path):
    await seed_office(db_url, "SIP/101", "SIP/102")
    phones = {"101": Phone(answer_after=0.2, talk=0.5), "102": Phone()}
    sim, service, _ = await start_service(tmp_path, db_url, phones)
    try:
        result = await sim.inbound_call(Caller(NEW_CALLER, "Иван Петров"))
        assert [d.args for d in result.dials] == ["SIP/101&SIP/102,40"]  # one Dial, all steps
        assert result.answered_by == "SIP/101"
        assert router_vars(result)[var.RESULT] == "ANSWERED"
        row = await wait_until(lambda: call_row(db_url, result.linkedid), what="the call row")
        assert (row.direction, row.disposition, row.external_number) == (
            "inbound",
            "ANSWERED",
            NEW_CALLER,
        )
        await service.wait_for_line(r"routed: ANSWERED at step 1 .*caller=\+79161234567")
        await service.wait_for_line(r"call recorded: pbx1 .* inbound ANSWERED .*\(new lead\)")
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()
        await sim.stop()


async def test_schema_behind_is_refused_with_one_clear_line(db_url, tmp_path):
    engine = create_engine(db_url)
    try:
        await migrate.downgrade(engine, "0001")
    finally:
        await engine.dispose()
    path = service_config(tmp_path, db_url, agi_port=free_port(), ami_port=free_port())
    code, out, err = await run_cli("--config", str(path), "run")
    assert code == 1
    assert err.count("\n") == 1, err
    assert "schema is at revision 0001" in err
    assert "run `callrouter db upgrade`" in err


async def test_sigterm_mid_call_finishes_the_dial_flushes_the_call_and_exits_0(db_url, tmp_path):
    await seed_office(db_url, "SIP/101")
    sim, service, agi_port = await start_service(
        tmp_path, db_url, {"101": Phone(answer_after=0.3, talk=2.5)}
    )
    try:
        call = asyncio.create_task(sim.inbound_call(Caller(NEW_CALLER)))
        await wait_until(_async(lambda: sim_saw(sim, "DialBegin")), what="the Dial to start")
        service.send(signal.SIGTERM)
        await service.wait_for_line(r"callrouter run stopping")
        # New AGI connections are refused while the call in progress still runs.
        await wait_until(_async(lambda: _refused(agi_port)), what="the AGI port to refuse")
        assert not call.done()
        result = await call
        assert result.answered_by == "SIP/101"
        assert result.dials[0].status == "ANSWER"
        assert router_vars(result)[var.RESULT] == "ANSWERED"
        assert await service.exit_code() == 0
        row = await call_row(db_url, result.linkedid)  # stored before the process exited
        assert row is not None and row.disposition == "ANSWERED", service.output
        assert not list((tmp_path / "spool" / "calls").glob("*.json"))
    finally:
        await service.stop()
        await sim.stop()


async def test_sighup_reloads_the_directory_without_dropping_the_call_in_progress(db_url, tmp_path):
    await seed_office(db_url, "SIP/101")
    phones = {"101": Phone(answer_after=0.2, talk=2.5), "102": Phone(answer_after=0.2, talk=0.3)}
    sim, service, _ = await start_service(tmp_path, db_url, phones)
    try:
        first = asyncio.create_task(sim.inbound_call(Caller(NEW_CALLER)))
        await wait_until(_async(lambda: sim_saw(sim, "DialBegin")), what="the first Dial")
        await add_sales_manager(db_url, "Olga", "SIP/102")
        service.send(signal.SIGHUP)
        await service.wait_for_line(r"routing reloaded: 2 managers")
        await service.wait_for_line(r"INFO .*: reloaded")
        assert not first.done()
        second = await sim.inbound_call(Caller("+79037654321"))
        assert "SIP/102" in second.dials[0].args.split(",")[0].split("&")
        assert second.answered_by == "SIP/102"
        result = await first
        assert [d.args for d in result.dials] == ["SIP/101,40"]  # one Dial, all steps
        assert router_vars(result)[var.RESULT] == "ANSWERED"
        for call in (result, second):
            await wait_until(lambda c=call: call_row(db_url, c.linkedid), what="both calls stored")
        assert "AMI connection kept" in service.output
        assert service.output.count("AMI connected to") == 1
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()
        await sim.stop()


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return False
    except ConnectionRefusedError:
        return True


def _async(check):
    async def condition():
        return check()

    return condition
