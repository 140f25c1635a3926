"""A call the database refuses does not hold back the calls behind it, and is never lost.

Calls 1, 2 and 3 come in through the simulator; the database refuses call 2 (a constraint of its
own refuses its caller's number). Calls 1 and 3 are written at once; call 2 waits in the spool's
`refused/` area with its reason, `callrouter status` and the metrics show it, a restart keeps
it; once the cause is fixed, `callrouter refused replay` stores it — once, however often it is
replayed. The real service process, listener, spool and database writer, on both databases.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from ami_listener.service import AmiListener
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from core.settings import AmiSettings
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Call
from tests.ops.service_support import (
    ServiceProcess,
    free_port,
    run_cli,
    seed_office,
    service_config,
    start_simulator,
    wait_until,
)
from tests.ops.test_metrics import scrape
from tests.sink.test_refusals import POISON, REFUSAL, drop_refusal, refuse_calls_from

FIRST, THIRD = "+79161234501", "+79161234503"
FIXED = "+79161234599"


async def stored(db_url: str, linkedid: str) -> int:
    """Rows of the call `linkedid` (0 or 1, never more)."""
    db = Database(db_url)
    try:
        async with db.reader() as s:
            query = select(func.count()).select_from(Call).where(Call.linkedid == linkedid)
            return int(await s.scalar(query) or 0)
    finally:
        await db.dispose()


async def with_db(db_url: str, action: Callable[[Database], object]) -> None:
    db = Database(db_url)
    try:
        await action(db)  # type: ignore[misc]
    finally:
        await db.dispose()


async def cli_json(config: Path, *args: str) -> tuple[int, object]:
    code, out, err = await run_cli("--config", str(config), *args, "--json")
    assert err == "", err
    return code, json.loads(out)


async def start(config: Path) -> tuple[ServiceProcess, int]:
    service = await ServiceProcess.start(config, "run")
    ports = await service.ready()
    await service.wait_for_line(r"AMI connected to")
    return service, ports["metrics"]


async def test_a_refused_call_waits_aside_the_others_go_on_and_a_replay_stores_it_once(
    db_url: str, tmp_path: Path
) -> None:
    await seed_office(db_url, "SIP/101")
    await with_db(db_url, lambda db: refuse_calls_from(db, POISON))
    agi_port = free_port()
    sim, ami_port = await start_simulator(agi_port, {"101": Phone(answer_after=0.2, talk=0.3)})
    config = service_config(tmp_path, db_url, agi_port=agi_port, ami_port=ami_port)
    refused_dir = tmp_path / "spool" / "calls" / "refused"
    outputs: list[str] = []
    service, metrics_port = await start(config)
    try:
        one, two, three = [
            (await sim.inbound_call(Caller(number))).linkedid for number in (FIRST, POISON, THIRD)
        ]
        await wait_until(lambda: stored(db_url, three), what="call 3, behind the refused one")
        assert await stored(db_url, one) == 1 and await stored(db_url, two) == 0
        [aside] = list(refused_dir.glob("*.json"))
        kept = json.loads(aside.read_text(encoding="utf-8"))
        assert kept["call"]["linkedid"] == two and REFUSAL in kept["detail"]
        assert "IntegrityError" in kept["error"]

        metrics = await asyncio.to_thread(scrape, metrics_port)
        assert metrics[("callrouter_calls_refused_total", ())] == 1
        assert metrics[("callrouter_refused_spool_depth", ())] == 1
        assert metrics.get(("callrouter_db_write_failures_total", ()), 0) == 0
        code, report = await cli_json(config, "status")
        assert code == 1 and report["refused"] == 1, report  # type: ignore[index]
        assert not report["checks"]["refused"]["ok"]  # type: ignore[index]
        code, listed = await cli_json(config, "refused", "list")
        assert code == 0 and [row["linkedid"] for row in listed] == [two]  # type: ignore[union-attr]

        # A restart keeps the refused call aside: not lost, not retried behind the others.
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
        outputs.append(service.output)
        service, metrics_port = await start(config)
        assert [p.name for p in refused_dir.glob("*.json")] == [aside.name]
        assert await stored(db_url, two) == 0

        # The cause fixed, the replay stores it and it leaves refused/.
        saved = tmp_path / "saved.json"
        shutil.copyfile(aside, saved)
        await with_db(db_url, drop_refusal)
        code, replayed = await cli_json(config, "refused", "replay", "--all")
        assert code == 0 and [r["outcome"] for r in replayed] == ["stored"]  # type: ignore[union-attr]
        assert await stored(db_url, two) == 1 and not aside.exists()
        code, report = await cli_json(config, "status")
        assert code == 0 and report["refused"] == 0, report  # type: ignore[index]
        metrics = await asyncio.to_thread(scrape, metrics_port)
        assert metrics[("callrouter_refused_spool_depth", ())] == 0

        # Replayed again (the file put back, as after a crash before its removal): no duplicate.
        shutil.copyfile(saved, aside)
        code, replayed = await cli_json(config, "refused", "replay", two)
        assert code == 0 and [r["outcome"] for r in replayed] == ["already stored"]  # type: ignore[union-attr]
        assert [await stored(db_url, i) for i in (one, two, three)] == [1, 1, 1]
        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
        outputs.append(service.output)
    finally:
        await service.stop()
        await sim.stop()
    # The listener's and the writer's lines carry ids, never the refused statement's data
    # (the router's own line names the caller; that is its job, not theirs).
    logs = "\n".join(
        line
        for line in "\n".join(outputs).splitlines()
        if " ami_listener." in line or " crm." in line
    )
    assert "refused by the sink (IntegrityError" in logs
    for personal in (POISON.lstrip("+"), FIRST.lstrip("+"), "INSERT", "sink could not write"):
        assert personal not in logs, personal


async def test_a_record_the_database_refuses_is_fixed_in_its_file_and_replayed(
    db_url: str, tmp_path: Path
) -> None:
    """The documented means for a wrong record: edit the `call` object of its refused file."""
    spool = tmp_path / "spool"
    env = {"CALLROUTER_DATABASE_URL": db_url, "CALLROUTER_SPOOL_DIR": str(spool)}
    poisoned = await _listen_to_a_refused_call(db_url, spool / "calls")
    [aside] = list((spool / "calls" / "refused").glob("*.json"))

    # Nothing fixed yet: it stays, with one attempt more.
    code, out, _ = await run_cli("refused", "replay", poisoned, env=env)
    assert code == 1 and "still refused" in out, out
    assert json.loads(aside.read_text(encoding="utf-8"))["attempts"] == 2

    kept = json.loads(aside.read_text(encoding="utf-8"))
    kept["call"]["external_number"] = FIXED  # the person's correction
    aside.write_text(json.dumps(kept, ensure_ascii=False, indent=2), encoding="utf-8")
    code, out, _ = await run_cli("refused", "replay", poisoned, env=env)
    assert code == 0 and "stored" in out, out
    assert not aside.exists() and await stored(db_url, poisoned) == 1
    code, out, _ = await run_cli("refused", "list", env=env)
    assert (code, out.strip()) == (0, "no refused calls")
    code, out, _ = await run_cli("calls", "list", "--number", FIXED, "--json", env=env)
    assert code == 0 and len(json.loads(out)) == 1


async def _listen_to_a_refused_call(db_url: str, spool: Path) -> str:
    """Call 1 from the refused number, call 2 behind it; returns call 1's linkedid."""
    db = Database(db_url)
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", free_port()), clock=VirtualClock()))
    try:
        await refuse_calls_from(db, POISON)
        sim.add_phone("101", Phone())
        ami_port = await sim.start_ami(users={"callrouter": "secret"})
        listener = AmiListener(
            AmiSettings(port=ami_port, username="callrouter", secret="secret", cdr_grace=0.3),
            "pbx1",
            DbCallSink(db),
            spool_dir=spool,
            tick=0.05,
        )
        running = asyncio.create_task(listener.run())
        try:
            async with asyncio.timeout(10):
                await listener.connection.connected.wait()
            poisoned = (await sim.inbound_call(Caller(POISON))).linkedid
            after = (await sim.inbound_call(Caller(THIRD))).linkedid
            await wait_until(lambda: stored(db_url, after), what="the call behind the refused one")
        finally:
            await listener.stop()
            await running
        return poisoned
    finally:
        await sim.stop()
        await db.dispose()
