"""FastAGI admission: 1,000 silent TCP connections held on the port, from one address or from
many, cannot refuse a real call. While the attacker keeps its connections open (reopening each
one the server closes), calls from the Asterisk simulator are *routed*: the plan's first
`EXEC Dial` names the known client's own manager — not the dialplan's static fallback, which is
what a refused FastAGI connection gets (issue #17: measured against a real Asterisk 20)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
from collections import Counter
from collections.abc import Callable

import pytest

from agi_scripts.fastagi import FastAgiServer, start_fastagi_server
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from core.settings import AgiSettings, Settings
from router.settings import RoutingSettings
from tests.agi.support import IVAN_PETROV, WEDNESDAY_NOON, MemorySource
from tests.faults.support import wait_until

SILENT = 1000
MANAGER = "SIP/101"  # the known client's responsible manager, rung first
CALLS = 5


@pytest.fixture(autouse=True)
def enough_file_descriptors() -> None:
    """Both ends of 1,000 connections live in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * SILENT + 512
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class Attacker:
    """Holds `count` TCP connections that never send a byte, spread over `peers` (source
    addresses on the loopback); a connection the server closes is opened again."""

    def __init__(self, port: int, peers: list[str], count: int, slow: int = 0) -> None:
        self.port = port
        self.peers = peers
        self.count = count
        self.slow = slow  # of them, connections that send three environment lines and stall
        self.opened = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    def start(self) -> None:
        for n in range(self.count):
            peer = self.peers[n % len(self.peers)]
            self._tasks.append(asyncio.create_task(self._hold(peer, slow=n < self.slow)))

    async def _hold(self, peer: str, slow: bool) -> None:
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=(peer, 0)
                )
            except OSError:
                await asyncio.sleep(0.05)  # a rate limit of the attacker, not synchronisation
                continue
            self.opened += 1
            if slow:
                writer.write(b"agi_network: yes\nagi_network_script: route\nagi_request: ")
            closed = asyncio.create_task(reader.read())
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({closed, stop}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            stop.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if not self._stop.is_set():
                await asyncio.sleep(0.05)  # the attacker's pace: reconnect after a breath

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Admissions(logging.Handler):
    """The server's admission hook and its log lines, collected."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.lines: list[str] = []

    def __call__(self, action: str, reason: str) -> None:
        self.counts[action, reason] += 1

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def attack_while_calls_flow(
    peers: list[str],
    *,
    loaded: str,
    slow: int = 0,
    then: Callable[[Admissions], bool] | None = None,
    **agi: object,
) -> Admissions:
    settings = Settings(
        agi=AgiSettings(shutdown_grace=1.0, allowed_peers=["127.0.0.1", *peers], **agi),  # type: ignore[arg-type]
        routing=RoutingSettings(),
    )
    seen = Admissions()
    logger = logging.getLogger("agi_scripts.fastagi")
    logger.addHandler(seen)
    level = logger.level
    logger.setLevel(logging.INFO)
    server = await start_fastagi_server(
        settings,
        MemorySource(),
        clock=lambda: WEDNESDAY_NOON,
        host="127.0.0.1",
        port=0,
        on_admission=seen,
    )
    attacker = Attacker(server.port, peers, SILENT, slow)
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", server.port), clock=VirtualClock()))
    for extension in ("101", "102", "103", "104", "105"):
        sim.add_phone(extension, Phone(answer_after=1.0, talk=2.0))
    try:
        attacker.start()
        for _ in range(CALLS):
            await wait_until(lambda: _loaded(server, loaded, peers), within=30, what=loaded)
            result = await sim.inbound_call(Caller(IVAN_PETROV.phone, "Иван Петров"))
            assert result.dials, "no Dial at all"
            assert first_target(result.dials[0].args) == MANAGER, [d.args for d in result.dials]
            assert result.answered_by == "SIP/101"
        assert not any(action == "refused" for action, _ in seen.counts), seen.counts
        if then is not None:
            # Sooner than agi.env_timeout (5 s) would have closed them.
            await wait_until(lambda: then(seen), within=4.0, what="the pressure deadlines")
    finally:
        await attacker.stop()
        await sim.stop()
        await server.close()
        logger.removeHandler(seen)
        logger.setLevel(level)
    return seen


def first_target(dial_args: str) -> str:
    """The first phone a Dial names: `SIP/101` of `SIP/101,10` or `SIP/101&Local/…,40`."""
    return dial_args.split(",")[0].split("&")[0]


def _loaded(server: FastAgiServer, what: str, peers: list[str]) -> bool:
    """The attack in full swing: silent connections hold (nearly, as the server sheds them and
    the attacker comes back) every slot the binding cap lets them have."""
    settings = server.settings
    if what == "per-peer cap":
        cap = settings.max_sessions_per_peer or settings.max_sessions // 2
        return server.connections_from(peers[0]) >= cap
    pending_cap = settings.max_sessions - settings.max_sessions // 10
    return server.pending_connections >= 0.8 * pending_cap


async def test_a_thousand_silent_connections_from_one_address_cannot_refuse_a_call() -> None:
    seen = await attack_while_calls_flow(["127.0.0.1"], loaded="per-peer cap")
    # The address's own oldest silent connections made room for the calls.
    assert seen.counts["closed", "per_peer"] > 0
    assert any(
        line.startswith("FastAGI connection #") and "from 127.0.0.1 closed before routing" in line
        for line in seen.lines
    )


async def test_one_address_allowed_every_slot_still_cannot_refuse_a_call() -> None:
    seen = await attack_while_calls_flow(
        ["127.0.0.1"],
        loaded="pending cap",
        slow=20,
        then=lambda seen: seen.counts["closed", "handshake_timeout"] > 0,
        max_sessions_per_peer=1000,
    )
    # Under pressure: the oldest pending connection makes room; silent ones are closed after
    # half the handshake timeout, half-sent environments after all of it (not 5 s).
    assert seen.counts["closed", "evicted"] > 0
    assert seen.counts["closed", "idle_timeout"] > 0
    assert seen.counts["closed", "handshake_timeout"] > 0
    assert seen.counts["closed", "env_timeout"] == 0


async def test_a_thousand_silent_connections_from_many_addresses_cannot_refuse_a_call() -> None:
    peers = [f"127.0.0.{n}" for n in range(2, 202)]  # 200 addresses, 5 connections each
    seen = await attack_while_calls_flow(peers, loaded="pending cap")
    assert seen.counts["closed", "evicted"] + seen.counts["closed", "idle_timeout"] > 0
    assert any("from 127.0.0." in line and "closed before routing" in line for line in seen.lines)


async def test_every_slot_routing_a_call_refuses_the_next_connection() -> None:
    """Real calls are never closed to make room: with every slot routing, a newcomer is
    refused (and the dialplan's fallback rings) — one line naming it and its address."""
    source = MemorySource(hang_contacts=True)  # the calls stay in their decision
    settings = Settings(
        agi=AgiSettings(
            shutdown_grace=0.1, max_sessions=2, max_sessions_per_peer=2, command_timeout=30.0
        ),
        routing=RoutingSettings(decision_budget_ms=60_000),
    )
    seen = Admissions()
    logger = logging.getLogger("agi_scripts.fastagi")
    logger.addHandler(seen)
    server = await start_fastagi_server(
        settings, source, clock=lambda: WEDNESDAY_NOON, port=0, on_admission=seen
    )
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", server.port), clock=VirtualClock()))
    sim.add_phone("101", Phone())
    held = [asyncio.create_task(sim.inbound_call(Caller(IVAN_PETROV.phone))) for _ in range(2)]
    try:
        await wait_until(lambda: len(source.lookups) == 2, what="two calls deciding")
        refused = await sim.inbound_call(Caller(IVAN_PETROV.phone))
        # The dialplan's static fallback rang, not the router's plan.
        assert not refused.dials or first_target(refused.dials[0].args) != MANAGER
        assert seen.counts == Counter({("refused", "full"): 1})
        assert any("refused: every slot routes a call" in line for line in seen.lines)
    finally:
        logger.removeHandler(seen)
        await server.close()
        for task in held:
            task.cancel()
        await asyncio.gather(*held, return_exceptions=True)
        await sim.stop()
