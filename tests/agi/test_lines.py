"""The line buffer under both AGI transports: bytes in any pieces, lines out, limits kept."""

from __future__ import annotations

import asyncio

import pytest

from agi_scripts.lines import LineBuffer, SocketLines


def test_a_line_already_here_is_returned_without_waiting_on_the_loop():
    lines = LineBuffer(limit=100)
    lines.feed(b"200 result=1\n200 result=0\n")
    for expected in (b"200 result=1\n", b"200 result=0\n"):
        coro = lines.readline()
        with pytest.raises(StopIteration) as done:
            coro.send(None)  # completes on the first step: no suspension
        assert done.value.value == expected


async def test_lines_cut_anywhere_come_out_whole_and_in_order():
    data = b"agi_network: yes\nagi_channel: SIP/carrier-00000033\n\n200 result=1 (NOT_INUSE)\n"
    lines = LineBuffer(limit=100)
    reader = asyncio.create_task(_read_all(lines, 4))
    for i in range(0, len(data), 3):
        lines.feed(data[i : i + 3])
        await asyncio.sleep(0)
    assert await reader == data.splitlines(keepends=True)


async def test_a_reader_waiting_for_a_line_is_woken_by_the_end_of_input():
    lines = LineBuffer(limit=100)
    reader = asyncio.create_task(lines.readline())
    await asyncio.sleep(0)
    lines.feed(b"200 res")
    await asyncio.sleep(0)
    assert not reader.done()
    lines.connection_lost(None)
    assert await reader == b"200 res", "the unfinished line, as StreamReader gives it"
    assert await lines.readline() == b""


@pytest.mark.parametrize(
    "pieces", [[b"x" * 101], [b"x" * 60, b"x" * 60 + b"\n"], [b"x" * 150 + b"\n"]]
)
async def test_a_line_over_the_limit_ends_the_buffer(pieces):
    lines = LineBuffer(limit=100)
    for piece in pieces:
        lines.feed(piece)
    with pytest.raises(ValueError):
        await lines.readline()
    lines.feed(b"200 result=1\n")
    with pytest.raises(ValueError):
        await lines.readline()


async def test_a_line_at_the_limit_is_fine():
    lines = LineBuffer(limit=100)
    lines.feed(b"x" * 100 + b"\n")
    assert await lines.readline() == b"x" * 100 + b"\n"


async def test_writes_wait_while_the_socket_is_full_and_fail_once_it_is_gone():
    sent: list[bytes] = []

    class Transport(asyncio.WriteTransport):
        def write(self, data: bytes) -> None:
            sent.append(data)

        def is_closing(self) -> bool:
            return False

    lines = SocketLines(limit=100)
    lines.connection_made(Transport())
    await lines.write(b"GET VARIABLE X\n")
    lines.pause_writing()
    writer = asyncio.create_task(lines.write(b"GET VARIABLE Y\n"))
    await asyncio.sleep(0)
    assert sent == [b"GET VARIABLE X\n", b"GET VARIABLE Y\n"] and not writer.done()
    lines.resume_writing()
    await writer
    lines.connection_lost(None)
    with pytest.raises(ConnectionResetError):
        await lines.write(b"GET VARIABLE Z\n")
    assert len(sent) == 2


async def _read_all(lines: LineBuffer, count: int) -> list[bytes]:
    return [await lines.readline() for _ in range(count)]
