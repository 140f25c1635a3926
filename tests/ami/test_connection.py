"""The AMI connection over real sockets: each fault is closed, with no busy loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ami_listener.connection import EVENT_CLASSES, EVENT_FILTERS, AmiAuthError, AmiConnection
from ami_listener.service import AmiListener, MemorySink
from asterisk_sim import AsteriskSimulator, Caller, Phone, RealClock, SimConfig

from .amiserver import FakeAmiServer, ServerSession
from .fixtures import read_sessions
from .test_recorded_replay import listener_settings


async def _noop(event) -> None:
    return None


async def test_wrong_secret_fails_clearly_and_backs_off_without_spinning(caplog) -> None:
    server = FakeAmiServer(secret="right")
    port = await server.start()
    settings = listener_settings(
        port, secret="wrong", reconnect_initial_delay=0.5, reconnect_max_delay=4.0
    )
    delays: list[float] = []

    async def virtual_sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 6:
            await connection.stop()
        await asyncio.sleep(0)

    connection = AmiConnection(settings, _noop, sleep=virtual_sleep)
    async with asyncio.timeout(5):
        await connection.run()
    await server.close()
    assert connection.login_attempts == 6 == len(server.logins)
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]  # capped exponential, never zero
    assert isinstance(connection.last_error, AmiAuthError)
    assert "login as 'callrouter'" in caplog.text and "Authentication failed" in caplog.text
    assert "wrong" not in caplog.text  # the secret is never logged


async def test_login_asks_only_for_the_needed_events() -> None:
    server = FakeAmiServer()
    port = await server.start()
    connection = AmiConnection(listener_settings(port), _noop)
    task = asyncio.create_task(connection.run())
    async with asyncio.timeout(5):
        await connection.connected.wait()
    await connection.stop()
    await asyncio.wait_for(task, 5)
    await server.close()
    assert server.login_events == [EVENT_CLASSES]
    # One action: Asterisk never holds part of the whitelist (see the test below).
    assert server.filters == ["|".join(EVENT_FILTERS)]
    assert server.actions[:2] == ["Login", "Filter"]


class LateAfterFirstFilter:
    """A loopback relay between the listener and the simulated Asterisk. Once the listener's
    first `Filter` action has gone through, whatever it sends next reaches Asterisk only after
    `release()`, as actions do on a busy host: the session stays half set up meanwhile.
    `filter_added` is set when Asterisk has answered that first `Filter` (it is in force)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.filter_sent = asyncio.Event()
        self.filter_added = asyncio.Event()
        self._released = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    def release(self) -> None:
        self._released.set()

    async def close(self) -> None:
        self.release()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def actions() -> None:  # listener -> Asterisk, one action at a time
            while True:
                action = await reader.readuntil(b"\r\n\r\n")
                if self.filter_sent.is_set():
                    await self._released.wait()
                up_writer.write(action)
                await up_writer.drain()
                if action.startswith(b"Action: Filter\r\n"):
                    self.filter_sent.set()

        async def replies() -> None:  # Asterisk -> listener, as it comes
            seen = bytearray()  # until the first Filter is answered
            while data := await up_reader.read(65536):
                if not self.filter_added.is_set():
                    seen += data
                    if b"Message: Filter Added Successfully\r\n" in seen:
                        self.filter_added.set()
                writer.write(data)
                await writer.drain()

        try:
            await asyncio.gather(actions(), replies())
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            up_writer.close()


async def test_a_call_made_while_the_session_is_set_up_is_recorded_whole(tmp_path: Path) -> None:
    """Asterisk applies a whitelist filter from the moment it is added. A call that starts and
    ends while the listener's session is half set up must still arrive whole (start, answer,
    hangup, Cdr); with one filter per action only its Newchannel got through, and the call
    stayed in flight for `stale_after` (24 h)."""
    sim = AsteriskSimulator(SimConfig(agi_address=None, clock=RealClock(), seed=3))
    sim.add_phone("102", Phone(answer_after=0.05, talk=0.15))
    relay = LateAfterFirstFilter(await sim.start_ami(users={"callrouter": "s3cret"}))
    port = await relay.start()
    sink = MemorySink()
    listener = AmiListener(listener_settings(port), "pbx1", sink, spool_dir=tmp_path, tick=0.02)
    runner = asyncio.create_task(listener.run())
    try:
        async with asyncio.timeout(10):
            await relay.filter_added.wait()
            made = await sim.inbound_call(Caller("+79161112233", "Клиент"))
            relay.release()
            (call,) = await sink.wait_for(1)
    finally:
        await listener.stop()
        await runner
        await relay.close()
        await sim.stop()
    assert call.linkedid == made.linkedid
    assert call.disposition == "ANSWERED" and call.answered_by == "SIP/102"


async def test_half_open_connection_is_detected_by_ping_and_reconnected() -> None:
    server = FakeAmiServer(answer_pings=False)
    port = await server.start()
    settings = listener_settings(port, ping_interval=0.05, ping_timeout=0.1)
    connection = AmiConnection(settings, _noop)
    task = asyncio.create_task(connection.run())
    async with asyncio.timeout(5):
        await server.wait_logins(2)
    await connection.stop()
    await asyncio.wait_for(task, 5)
    await server.close()
    assert server.pings >= 1
    assert connection.ping_timeouts >= 1


async def test_asterisk_restart_mid_call_reconnects_and_resets(tmp_path: Path) -> None:
    blocks = read_sessions("02-escalation-answered-step2")[0].blocks
    answered = next(i for i, b in enumerate(blocks) if b"DialStatus: ANSWER" in b)
    shutdown = (
        b"Event: Shutdown\r\nPrivilege: system,all\r\nTimestamp: 1795746855.0\r\n"
        b"Shutdown: Cleanly\r\nRestart: True\r\n\r\n"
    )
    booted = b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 0\r\nLastReload: 0\r\n\r\n"
    server = FakeAmiServer(
        sessions=[
            ServerSession(b"".join(blocks[: answered + 1]) + shutdown, close_after=True),
            ServerSession(booted),
        ]
    )
    port = await server.start()
    delays: list[float] = []

    async def virtual_sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 1:
            await server.close()  # Asterisk is down: connections are refused
        elif len(delays) == 3:
            await server.start(port)  # ... and back
        await asyncio.sleep(0)

    sink = MemorySink()
    listener = AmiListener(
        listener_settings(port), "pbx1", sink, spool_dir=tmp_path, sleep=virtual_sleep, tick=0.02
    )
    runner = asyncio.create_task(listener.run())
    async with asyncio.timeout(10):
        (call,) = await sink.wait_for(1)
        await server.wait_logins(2)
        await server.sent_all.wait()
        await listener.queue.join()
    await listener.stop()
    await runner
    await server.close()
    assert call.linkedid == "1795746841.90" and call.answered_by == "SIP/102"
    assert call.ended_at.timestamp() == pytest.approx(1795746855.0)
    assert len(delays) >= 3 and delays[:2] == [0.01, 0.02]  # EOF, refused, ... backoff
    assert listener.connection.sessions == 2
    assert listener.tracker.in_flight == 0 and len(sink.calls) == 1


async def test_full_queue_pauses_the_socket_loses_nothing_and_is_not_a_dead_peer(
    tmp_path: Path,
) -> None:
    session = read_sessions("09-two-concurrent-calls")[0]
    server = FakeAmiServer(sessions=[ServerSession(b"".join(session.blocks))])
    port = await server.start()
    settings = listener_settings(
        # The pause (0.3 s below) outlasts three ping timeouts; connecting has its own, roomier
        # limit: a loaded CI host can take 50 ms to answer a Filter, which is not this test.
        port,
        queue_size=2,
        ping_interval=0.02,
        ping_timeout=0.1,
        connect_timeout=1.0,
    )
    sink = MemorySink()
    listener = AmiListener(settings, "pbx1", sink, spool_dir=tmp_path, tick=0.02)
    release = asyncio.Event()
    process = listener.tracker.process
    consumed = 0

    def slow_start(event, now=None):
        nonlocal consumed
        consumed += 1
        return process(event, now)

    listener.tracker.process = slow_start  # type: ignore[method-assign]
    real_consume = listener._consume

    async def gated_consume() -> None:
        await release.wait()  # the consumer is stuck (e.g. a long GC pause)
        await real_consume()

    listener._consume = gated_consume  # type: ignore[method-assign]
    runner = asyncio.create_task(listener.run())
    async with asyncio.timeout(10):
        await server.login_ok.wait()
        await asyncio.sleep(0.3)  # not synchronisation: many reply timeouts elapse meanwhile
        assert listener.queue_full_episodes >= 1
        release.set()
        await server.sent_all.wait()
        calls = await sink.wait_for(2)
        await server.ping_seen.wait()
    await listener.stop()
    await runner
    await server.close()
    assert [c.answered_by for c in calls] == ["SIP/101", "SIP/102"]
    assert listener.connection.sessions == 1  # never mistaken for a half-open connection


async def test_stop_while_the_connection_waits_to_reconnect_ends_run_cleanly(tmp_path: Path):
    # Asterisk is down and the connection sits in its backoff when the service stops: stop()
    # cancels the parts, and run() must return, not raise the cancellation as a dead part.
    server = FakeAmiServer(secret="right")
    port = await server.start()
    await server.close()  # nothing listens there any more
    backing_off = asyncio.Event()

    async def backoff_that_outlasts_the_stop(seconds: float) -> None:
        backing_off.set()
        await asyncio.Event().wait()

    listener = AmiListener(
        listener_settings(port),
        "pbx1",
        MemorySink(),
        spool_dir=tmp_path,
        sleep=backoff_that_outlasts_the_stop,
    )
    running = asyncio.create_task(listener.run())
    async with asyncio.timeout(5):
        await backing_off.wait()
        await listener.stop()
        await running  # raised CancelledError before stop() marked the cancellation as its own
