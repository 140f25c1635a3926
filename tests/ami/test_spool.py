"""CompletedCall round-trips through JSON; the spool never loses a call the sink refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from ami_listener.calls import CompletedCall
from ami_listener.service import AmiListener, MemorySink
from ami_listener.spool import CallSpool

from .amiserver import FakeAmiServer, ServerSession
from .events import replay, scenario_events
from .fixtures import ALL_SCENARIOS, read_sessions
from .test_recorded_replay import listener_settings


def recorded_calls() -> list[CompletedCall]:
    return [call for s in ALL_SCENARIOS for call in replay(scenario_events(s))[0]]


def test_every_recorded_call_round_trips_through_json() -> None:
    for call in recorded_calls():
        text = call.to_json()
        assert CompletedCall.from_json(text) == call
        if call.caller_name == "Иван Петров":
            assert "Иван Петров" in text  # readable in the spool, not \\u-escaped


def test_from_json_refuses_other_documents() -> None:
    for text in ("{}", "[]", '{"version": 99}', "not json"):
        with pytest.raises(ValueError):
            CompletedCall.from_json(text)


def test_spool_keeps_order_one_file_per_call_and_sets_bad_files_aside(tmp_path: Path) -> None:
    spool = CallSpool(tmp_path)
    calls = recorded_calls()[:3]
    paths = [spool.put(call) for call in calls]
    assert spool.put(calls[0]) == paths[0]  # same system+linkedid: kept once
    assert spool.pending() == paths
    assert calls[1].linkedid in paths[1].name and "pbx1" in paths[1].name
    paths[1].write_text("{truncated")
    assert [spool.load(p) for p in spool.pending()] == [calls[0], None, calls[2]]
    assert (tmp_path / paths[1].with_suffix(".bad").name).exists()
    spool.remove(paths[0])
    assert spool.pending() == [paths[2]]


class FlakySink(MemorySink):
    """Refuses the first `failures` writes, like a database that is down for a while."""

    def __init__(self, spool_dir: Path, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0
        self.spooled_while_down: list[int] = []
        self.spool_dir = spool_dir

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            self.spooled_while_down.append(len(list(self.spool_dir.glob("*.json"))))
            raise ConnectionError("database is down")
        await super().write(calls)


async def test_failing_sink_calls_wait_in_spool_and_are_written_once(tmp_path: Path) -> None:
    session = read_sessions("09-two-concurrent-calls")[0]
    server = FakeAmiServer(sessions=[ServerSession(b"".join(session.blocks))])
    port = await server.start()
    delays: list[float] = []

    async def virtual_sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    sink = FlakySink(tmp_path, failures=5)
    listener = AmiListener(
        listener_settings(port), "pbx1", sink, spool_dir=tmp_path, sleep=virtual_sleep, tick=0.02
    )
    runner = asyncio.create_task(listener.run())
    async with asyncio.timeout(10):
        calls = await sink.wait_for(2)
        await server.sent_all.wait()
    await listener.stop()
    await runner
    await server.close()
    assert [c.linkedid for c in calls] == ["1795746920.132", "1795746921.134"]
    assert listener.sink_failures == 5 and delays[:5] == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert max(sink.spooled_while_down) >= 1  # the call was on disk while the sink was down
    assert listener.spool.pending() == []


async def test_spool_left_by_a_previous_run_is_delivered_on_start(tmp_path: Path) -> None:
    earlier = recorded_calls()
    spool = CallSpool(tmp_path)
    for call in earlier:
        spool.put(call)
    server = FakeAmiServer()
    port = await server.start()
    sink = MemorySink()
    listener = AmiListener(listener_settings(port), "pbx1", sink, spool_dir=tmp_path)
    runner = asyncio.create_task(listener.run())
    async with asyncio.timeout(10):
        delivered = await sink.wait_for(len(earlier))
    await listener.stop()
    await runner
    await server.close()
    assert delivered == earlier  # in order, each once
    assert spool.pending() == []


def test_a_call_that_cannot_be_serialised_is_logged_and_does_not_hold_back_the_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = CallSpool(tmp_path)
    calls = recorded_calls()[:3]
    broken = replace(calls[1], caller_name="\udcff")  # a lone surrogate: not encodable UTF-8
    paths = spool.put_many([calls[0], broken, calls[2]])
    assert [spool.load(p) for p in paths] == [calls[0], calls[2]]
    assert spool.pending() == paths
    assert any(broken.linkedid in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError):
        spool.put(broken)
