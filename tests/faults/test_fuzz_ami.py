"""Random and mutated AMI streams against the real listener over loopback.

A tiny AMI server answers the login, then writes a simulator-made stream of real call events,
mutated (blocks dropped, repeated, truncated, bytes flipped, garbage, other encodings, bare LF,
huge fields, thousands of headers) and split into random chunks. The listener must not crash,
must not log an unexpected error, must keep its event loop responsive (a heartbeat task runs
alongside), and must still read the stream to its end (a sentinel event after the mutations).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami_listener.connection import EVENT_FILTERS
from ami_listener.service import AmiListener, MemorySink
from asterisk_sim import AsteriskSimulator, Caller, Phone, SimConfig, VirtualClock
from asterisk_sim.events import render
from tests.ami.amiserver import FakeAmiServer, ServerSession

from .support import TICK, ErrorLog, Heartbeat, listener_settings, wait_until

STALL = 0.5  # a quadratic parse or blocking call on these sizes costs seconds; CI hosts jitter
SENTINEL = b"\r\n\r\nEvent: UserEvent\r\nPrivilege: user,all\r\nUserEvent: fuzz-end\r\n\r\n"


@functools.cache
def call_blocks() -> tuple[bytes, ...]:
    """Every AMI event of two simulated calls (one answered, one abandoned), as wire blocks."""

    async def play() -> tuple[bytes, ...]:
        sim = AsteriskSimulator(SimConfig(agi_address=None, clock=VirtualClock(), seed=1))
        sim.add_phone("102", Phone(answer_after=2.0, talk=5.0))
        await sim.inbound_call(Caller("+79161234567", "Иван Петров"))
        await sim.inbound_call(Caller("+79037654321", "Анна", abandon_after=3.0))
        return tuple(render(fields) for fields in sim.events)

    return asyncio.run(play())


def _mutate(blocks: list[bytes], op: str, at: int, junk: bytes) -> None:
    i = at % len(blocks)
    block = blocks[i]
    if op == "drop":
        del blocks[i]
    elif op == "repeat":
        blocks.insert(i, block)
    elif op == "truncate":  # the rest runs into the next block
        blocks[i] = block[: len(junk) % max(1, len(block))]
    elif op == "flip":
        pos = sum(junk) % len(block)
        blocks[i] = block[:pos] + bytes([(block[pos] + 1 + len(junk)) % 256]) + block[pos + 1 :]
    elif op == "garbage":
        blocks.insert(i, junk + b"\r\n\r\n")
    elif op == "cp1251":
        blocks[i] = block.decode("utf-8", "replace").encode("cp1251", "replace")
    elif op == "bare_lf":
        blocks[i] = block.replace(b"\r\n", b"\n")
    elif op == "huge_field":
        blocks.insert(
            i, b"Event: NewCallerid\r\nCallerIDName: " + "Ж".encode() * 100_000 + b"\r\n\r\n"
        )
    elif op == "many_headers":
        blocks.insert(i, b"Event: VarSet\r\n" + b"Variable: CALLROUTER_X\r\n" * 20_000 + b"\r\n")
    elif op == "no_colon":
        blocks[i] = block.replace(b": ", b" ", 2)


OPS = (
    "drop", "repeat", "truncate", "flip", "garbage", "cp1251", "bare_lf", "huge_field",
    "many_headers", "no_colon",
)  # fmt: skip


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """(mutated stream, largest chunk, chunking seed)."""
    blocks = list(call_blocks())
    mutations = draw(
        st.lists(
            st.tuples(st.sampled_from(OPS), st.integers(0, 10_000), st.binary(max_size=200)),
            max_size=8,
        )
    )
    for op, at, junk in mutations:
        if blocks:
            _mutate(blocks, op, at, junk)
    return b"".join(blocks), draw(st.integers(16, 8192)), draw(st.integers(0, 2**16))


async def listen_to(stream: bytes, max_chunk: int, seed: int, spool: Path) -> None:
    # If the mutation makes the listener drop the connection, it reconnects and gets the
    # sentinel from the second session.
    server = FakeAmiServer(
        secret="secret",
        sessions=[ServerSession(stream + SENTINEL), ServerSession(SENTINEL)],
        seed=seed,
        max_chunk=max_chunk,
    )
    port = await server.start()
    sink = MemorySink()
    seen: list[str] = []

    def watching(event):  # type: ignore[no-untyped-def]
        if event.get("UserEvent") == "fuzz-end":
            seen.append("end")

    listener = AmiListener(
        listener_settings(port),
        "pbx1",
        sink,
        spool_dir=spool,
        tick=TICK,
        event_filters=(*EVENT_FILTERS, "UserEvent: fuzz-end"),  # the sentinel must get through
        on_event=watching,
    )
    with ErrorLog(logging.getLogger("ami_listener")) as errors:
        async with Heartbeat() as heartbeat:
            runner = asyncio.create_task(listener.run())
            try:
                await wait_until(lambda: bool(seen) or runner.done(), what="the sentinel event")
                await asyncio.wait_for(listener.queue.join(), 5)
                assert not runner.done(), runner.exception()
            finally:
                await listener.stop()
                await runner
                await server.close()
    assert not errors.records, [r.getMessage()[:300] for r in errors.records]
    assert heartbeat.worst < STALL, f"event loop stalled for {heartbeat.worst:.3f} s"


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_mutated_ami_streams_never_crash_or_stall_the_listener(
    stream: tuple[bytes, int, int],
) -> None:
    with tempfile.TemporaryDirectory() as spool:
        asyncio.run(listen_to(*stream, Path(spool)))
