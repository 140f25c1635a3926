"""The Prometheus endpoint of a running service, scraped over HTTP, and its JSON logs."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from asterisk_sim import Caller, Phone
from tests.ops.service_support import (
    SECRET,
    ServiceProcess,
    call_row,
    free_port,
    seed_office,
    service_config,
    start_simulator,
    wait_until,
)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_counters_move_after_a_routed_and_a_recorded_call(db_url, tmp_path):
    await seed_office(db_url, "SIP/101")
    agi_port = free_port()
    sim, ami_port = await start_simulator(agi_port, {"101": Phone(answer_after=0.2, talk=0.3)})
    config = service_config(
        tmp_path, db_url, agi_port=agi_port, ami_port=ami_port, log_format="json"
    )
    service = await ServiceProcess.start(config, "run")
    try:
        ports = await service.ready()
        await service.wait_for_line(r"AMI connected to")
        get = lambda: asyncio.to_thread(scrape, ports["metrics"])  # noqa: E731
        before = await get()
        result = await sim.inbound_call(Caller("+79161234567"))
        await wait_until(lambda: call_row(db_url, result.linkedid), what="the call row")
        after = await get()

        def delta(name: str, **labels: str) -> float:
            key = (name, tuple(sorted(labels.items())))
            return after.get(key, 0.0) - before.get(key, 0.0)

        assert delta("callrouter_calls_routed_total", outcome="ANSWERED", step="1") == 1
        assert delta("callrouter_routing_decision_seconds_count", basis="directory") == 1
        assert (
            delta("callrouter_calls_recorded_total", direction="inbound", disposition="ANSWERED")
            == 1
        )
        assert delta("callrouter_db_write_seconds_count") == 1
        assert delta("callrouter_ami_events_total") > 10
        assert after[("callrouter_ami_event_lag_seconds_count", ())] > 0
        assert after[("callrouter_ami_connected", ())] == 1
        assert after[("callrouter_spool_depth", ())] == 0
        assert after[("callrouter_lost_calls_today", ())] == 0
        assert after[("callrouter_agi_sessions_active", ())] == 0

        service.send(signal.SIGTERM)
        assert await service.exit_code() == 0
    finally:
        await service.stop()
        await sim.stop()
    records = [json.loads(line) for line in service.lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    routed = [r for r in records if r.get("event") == "call_routed"]
    assert [(r["outcome"], r["step"], r["caller"]) for r in routed] == [
        ("ANSWERED", 1, "+79161234567")
    ]
    assert SECRET not in service.output
