"""CompletedCall round-trips through JSON; the spool never loses a call the sink refused."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from ami_listener.calls import CompletedCall
from ami_listener.refused import RefusedCalls
from ami_listener.service import AmiListener, MemorySink
from ami_listener.sink import CallRefused
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


class RefusingSink(MemorySink):
    """Refuses every batch holding one of `refused` (by linkedid), as a database refuses a row
    it will never take; every batch it was given is kept."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__()
        self.refused = refused
        self.batches: list[list[str]] = []

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        self.batches.append([call.linkedid for call in calls])
        if any(call.linkedid in self.refused for call in calls):
            raise CallRefused("IntegrityError", "CHECK constraint failed: test")
        await super().write(calls)


async def run_listener_until(
    sink: MemorySink, spool_dir: Path, written: int, **kwargs: object
) -> AmiListener:
    server = FakeAmiServer()
    port = await server.start()
    listener = AmiListener(listener_settings(port), "pbx1", sink, spool_dir=spool_dir, **kwargs)  # type: ignore[arg-type]
    runner = asyncio.create_task(listener.run())
    async with asyncio.timeout(10):
        await sink.wait_for(written)
    await listener.stop()
    await runner
    await server.close()
    return listener


async def test_a_refused_call_is_set_aside_and_the_calls_behind_it_are_written_at_once(
    tmp_path: Path,
) -> None:
    first, poisoned, third = recorded_calls()[:3]
    spool = CallSpool(tmp_path)
    spool.put_many([first, poisoned, third])
    sink = RefusingSink({poisoned.linkedid})
    slept: list[float] = []
    heard: list[tuple[str, str]] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    listener = await run_listener_until(
        sink,
        tmp_path,
        2,
        sleep=no_sleep,
        on_refused=lambda call, refused: heard.append((call.linkedid, refused.error)),
    )
    assert sink.calls == [first, third]  # in order, without waiting for the refused one
    assert sink.batches[0] == [first.linkedid, poisoned.linkedid, third.linkedid]
    assert slept == [] and listener.sink_failures == 0  # refused is not "retry later"
    assert listener.calls_refused == 1 and heard == [(poisoned.linkedid, "IntegrityError")]
    assert spool.pending() == []
    [entry] = RefusedCalls(tmp_path / "refused").entries()
    assert entry.call == poisoned and entry.attempts == 1
    assert (entry.error, entry.detail) == ("IntegrityError", "CHECK constraint failed: test")
    assert entry.path.name == f"pbx1-{poisoned.linkedid}.json"

    # A restart does not bring the refused call back, nor lose it.
    again = RefusingSink(set())
    assert not (await run_listener_until(again, tmp_path, 0)).calls_refused
    assert again.batches == [] and RefusedCalls(tmp_path / "refused").count() == 1


def test_the_refused_area_keeps_each_call_once_with_its_latest_reason(tmp_path: Path) -> None:
    calls = recorded_calls()[:3]
    area = RefusedCalls(tmp_path / "refused")
    assert area.entries() == [] and not area.directory.exists()  # made on the first refusal
    area.put_many([(calls[2], "DataError", "value too long"), (calls[0], "IntegrityError", "")])
    area.put_many([(calls[0], "IntegrityError", "FOREIGN KEY constraint failed")])
    entries = area.entries()
    assert [e.call for e in entries] == sorted([calls[0], calls[2]], key=lambda c: c.started_at)
    by_call = {e.call.linkedid: e for e in entries if e.call}
    assert by_call[calls[0].linkedid].detail == "FOREIGN KEY constraint failed"
    area.refused_again(by_call[calls[2].linkedid], "DataError", "still too long")
    again = {e.call.linkedid: e for e in area.entries() if e.call}[calls[2].linkedid]
    assert (again.attempts, again.detail) == (2, "still too long")
    # A hand edit gone wrong is shown as unreadable, never deleted.
    again.path.write_text('{"call": ', encoding="utf-8")
    unreadable = [e for e in area.entries() if e.call is None]
    assert [(e.path, e.error) for e in unreadable] == [(again.path, "unreadable")]
    area.remove(by_call[calls[0].linkedid])
    assert area.count() == 1
