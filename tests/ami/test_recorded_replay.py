"""Every recorded ami.log, streamed over a real socket in random chunks, yields the real calls."""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

import pytest

from ami_listener.service import AmiListener, MemorySink
from core.settings import AmiSettings

from .amiserver import FakeAmiServer, ServerSession
from .expected import EXPECTED, check_call
from .fixtures import ALL_SCENARIOS, read_sessions


def listener_settings(port: int, secret: str = "s3cret", **overrides) -> AmiSettings:
    values = dict(
        host="127.0.0.1",
        port=port,
        username="callrouter",
        secret=secret,
        reconnect_initial_delay=0.01,
        reconnect_max_delay=0.05,
        cdr_grace=0.5,  # event time; the replay may stall longer than 50 ms between reads
        ping_interval=30.0,
        ping_timeout=5.0,
        connect_timeout=2.0,
    )
    values.update(overrides)
    return AmiSettings(**values)


def server_sessions(scenario: str) -> list[ServerSession]:
    sessions = read_sessions(scenario)
    # The last block of a session that ended with Asterisk's Shutdown is followed by EOF.
    return [
        ServerSession(
            payload=s.blocks and b"".join(s.blocks) or b"", close_after=i < len(sessions) - 1
        )
        for i, s in enumerate(sessions)
    ]


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
async def test_recorded_scenario_over_socket_yields_the_real_calls(
    scenario: str, tmp_path: Path
) -> None:
    seed = zlib.crc32(scenario.encode())
    server = FakeAmiServer(sessions=server_sessions(scenario), seed=seed, max_chunk=61)
    port = await server.start()
    sink = MemorySink()
    listener = AmiListener(listener_settings(port), "pbx1", sink, spool_dir=tmp_path, tick=0.02)
    runner = asyncio.create_task(listener.run())
    expected = EXPECTED[scenario]
    try:
        async with asyncio.timeout(15):
            await server.sent_all.wait()
            await listener.queue.join()
            calls = await sink.wait_for(len(expected))
    finally:
        await listener.stop()
        await runner
        await server.close()
    assert len(calls) == len(expected), [c.linkedid for c in calls]
    by_id = {call.linkedid: call for call in calls}
    for want in expected:
        check_call(by_id[want.linkedid], want)
    assert listener.tracker.bad_events == 0
    assert listener.connection.sessions == len(read_sessions(scenario))
    assert listener.spool.pending() == []
