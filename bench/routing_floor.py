"""The floor: a raw asyncio Protocol doing the least a FastAGI server can for the same exchange.

It reads the environment to the blank line without parsing it, sends `pre` commands with a
fixed text, one `EXEC Dial`, then `post` commands, and closes: the same number of round trips
as a routed call, none of the work. The load generator measures it exactly like the server.
"""

from __future__ import annotations

import asyncio

_COMMAND = b'SET VARIABLE CALLROUTER_FLOOR "1"\n'
_DIAL = b"EXEC Dial PJSIP/101,10\n"


class FloorProtocol(asyncio.Protocol):
    def __init__(self, pre: int, post: int) -> None:
        self._pre = pre
        self._post = post
        self._buffer = b""
        self._in_env = True
        self._sent = 0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                return
            line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            if self._in_env:
                if line.strip():
                    continue
                self._in_env = False
            self._next()

    def _next(self) -> None:
        assert self._transport is not None
        step = self._sent
        self._sent += 1
        if step < self._pre:
            self._transport.write(_COMMAND)
        elif step == self._pre:
            self._transport.write(_DIAL)
        elif step <= self._pre + self._post:
            self._transport.write(_COMMAND)
        else:
            self._transport.close()


async def start_floor_server(pre: int, post: int, host: str = "127.0.0.1") -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: FloorProtocol(pre, post), host, 0, backlog=1024)
