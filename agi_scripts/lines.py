"""Bytes from Asterisk cut into lines as they arrive: the read side of both AGI transports.

A FastAGI socket and a classic script's stdin are both an `asyncio.Protocol` feeding this
buffer. A line that is already here is handed over without a trip through the event loop, and
a reader that waits is woken by the bytes themselves: no StreamReader in between.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import cast


class LineBuffer(asyncio.Protocol):
    """Lines in; `readline()` returns b'' at the end of input and raises ValueError for a line
    longer than `limit` (the buffer is then unusable: the session must end)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._partial = b""
        self._lines: deque[bytes] = deque()
        self._eof = False
        self._overflow = False
        self._interrupted: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.BaseTransport | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.feed(data)

    def eof_received(self) -> bool | None:
        self.feed_eof()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.feed_eof()

    # The buffer

    def feed(self, data: bytes) -> None:
        if self._overflow:
            return
        data = self._partial + data if self._partial else data
        if b"\n" in data:
            *complete, self._partial = data.split(b"\n")
            self._lines.extend(line + b"\n" for line in complete)
        else:
            self._partial = data
        if len(self._partial) > self._limit:
            self._overflow = True
            self._partial = b""
        self._wake()

    def feed_eof(self) -> None:
        self._eof = True
        self._wake()

    def next_line(self) -> bytes | None:
        """The next complete line if one is here, else None (never waits)."""
        if self._lines:
            line = self._lines.popleft()
            if len(line) > self._limit + 1:
                self._overflow = True
                raise ValueError("line over the limit")
            return line
        if self._overflow:
            raise ValueError("line over the limit")
        return None

    def interrupt(self, exc: BaseException) -> None:
        """Make the read waiting now, and every later one, raise `exc` (a command's deadline)."""
        self._interrupted = exc
        self._wake()

    async def readline(self) -> bytes:
        while True:
            if self._interrupted is not None:
                raise self._interrupted
            line = self.next_line()
            if line is not None:
                return line
            if self._eof:
                partial, self._partial = self._partial, b""
                return partial
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class SocketLines(LineBuffer):
    """A FastAGI connection as a LineTransport: `LineBuffer` plus writes that wait only while
    the socket's send buffer is full."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self._out: asyncio.WriteTransport | None = None
        self._lost = False
        self._paused = False
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._out = cast(asyncio.WriteTransport, transport)  # a socket's transport writes

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._resume()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._resume()

    def interrupt(self, exc: BaseException) -> None:
        super().interrupt(exc)
        self._resume()

    async def write(self, data: bytes) -> None:
        if self._interrupted is not None:
            raise self._interrupted
        transport = self._out
        if self._lost or transport is None:
            raise ConnectionResetError("connection lost")
        if transport.is_closing():
            raise ConnectionResetError("connection closing")
        transport.write(data)
        if self._paused:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained
            if self._interrupted is not None:
                raise self._interrupted
            if self._lost:
                raise ConnectionResetError("connection lost while writing")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _resume(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)
