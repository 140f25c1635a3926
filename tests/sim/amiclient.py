"""A raw AMI test client: reads blocks byte-exactly, however the server chunks them."""

from __future__ import annotations

import asyncio

from asterisk_sim.transcripts import Fields, parse_block


class RawAmi:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.chunks: list[bytes] = []
        self.buf = b""

    @classmethod
    async def connect(cls, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def _more(self) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), 5)
        if not data:
            raise EOFError
        self.chunks.append(data)
        self.buf += data

    async def banner(self) -> bytes:
        while b"\r\n" not in self.buf:
            await self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    async def raw_block(self) -> bytes:
        while b"\r\n\r\n" not in self.buf:
            await self._more()
        block, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return block + b"\r\n\r\n"

    async def block(self) -> Fields:
        return parse_block(await self.raw_block())

    async def until(self, event: str) -> list[Fields]:
        out = []
        while True:
            b = await self.block()
            out.append(b)
            if dict(b).get("Event") == event or dict(b).get("Response") == event:
                return out

    async def send(self, *pairs: tuple[str, str]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n")
        await self.writer.drain()

    async def login(
        self, user: str = "callrouter", secret: str = "secret", events: str = "on"
    ) -> Fields:
        await self.banner()
        await self.send(
            ("Action", "Login"),
            ("ActionID", "l1"),
            ("Username", user),
            ("Secret", secret),
            ("Events", events),
        )
        return await self.block()

    async def eof(self) -> bool:
        try:
            while True:
                await self._more()
        except EOFError:
            return True

    def close(self) -> None:
        self.writer.close()
