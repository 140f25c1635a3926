"""The AGI environment: the `agi_*: value` lines Asterisk sends before the first command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from agi_scripts.errors import AGIHangup, AGIProtocolError, AGITimeout

MAX_ENV_LINES = 128  # Asterisk 20 sends 22 (plus agi_arg_N); more is not Asterisk
MAX_ENV_BYTES = 64 * 1024  # Asterisk's is ~600 bytes; the bound on what a peer can make us hold


@dataclass(frozen=True)
class AgiEnv:
    values: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values.get(key, "")

    @property
    def network_script(self) -> str:
        return self.get("agi_network_script")

    @property
    def channel(self) -> str:
        return self.get("agi_channel")

    @property
    def uniqueid(self) -> str:
        return self.get("agi_uniqueid")

    @property
    def callerid(self) -> str:
        return self.get("agi_callerid")

    @property
    def calleridname(self) -> str:
        return self.get("agi_calleridname")

    @property
    def dnid(self) -> str:
        return self.get("agi_dnid")

    @property
    def extension(self) -> str:
        return self.get("agi_extension")


def parse_env_line(line: str) -> tuple[str, str] | None:
    """('agi_callerid', '+7916…') from 'agi_callerid: +7916…'; None for a line that is not one."""
    key, sep, value = line.partition(":")
    key = key.strip()
    if not sep or not key:
        return None
    return key, value[1:] if value.startswith(" ") else value


def parse_env(block: bytes, line_limit: int) -> AgiEnv:
    """The environment from its raw lines, up to the first blank one (decoded once: bytes that
    are not UTF-8 become U+FFFD; a newline byte never sits inside a UTF-8 sequence)."""
    values: dict[str, str] = {}
    lines = block.decode("utf-8", errors="replace").split("\n")
    if len(lines) > MAX_ENV_LINES + 1:
        raise AGIProtocolError(f"environment longer than {MAX_ENV_LINES} lines")
    for line in lines:
        if len(line) > line_limit:
            raise AGIProtocolError("environment line too long")
        line = line.rstrip("\r\n")
        if not line:
            break
        parsed = parse_env_line(line)
        if parsed is not None:
            values[parsed[0]] = parsed[1]
    return AgiEnv(values)


def end_of_env(data: bytes) -> int:
    """The index just past the blank line that ends the environment in `data`, or -1."""
    if data.startswith((b"\n", b"\r\n")):
        return data.index(b"\n") + 1
    ends = [i + len(mark) for mark in (b"\n\n", b"\n\r\n") if (i := data.find(mark)) >= 0]
    return min(ends) if ends else -1


class EnvCollector:
    """Takes the environment's bytes as they arrive, in any pieces; `add()` returns the AgiEnv
    and the bytes after it once the blank line is in. No I/O and no work per line until then:
    the FastAGI connection feeds it from `data_received` (Asterisk writes the 22 lines one by
    one)."""

    def __init__(self, line_limit: int) -> None:
        self._line_limit = line_limit
        self._data = b""

    @property
    def lines_so_far(self) -> int:
        return self._data.count(b"\n")

    def add(self, data: bytes) -> tuple[AgiEnv, bytes] | None:
        data = self._data + data if self._data else data
        end = end_of_env(data)
        if end < 0:
            if len(data) - (data.rfind(b"\n") + 1) > self._line_limit:
                raise AGIProtocolError("environment line too long")
            if len(data) > MAX_ENV_BYTES or data.count(b"\n") > MAX_ENV_LINES:
                raise AGIProtocolError(
                    f"environment over {MAX_ENV_LINES} lines or {MAX_ENV_BYTES} bytes"
                )
            self._data = data
            return None
        self._data = b""
        return parse_env(data[:end], self._line_limit), data[end:]


async def read_env(
    readline: Callable[[], Awaitable[bytes]], within: float, line_limit: int = 16 * 1024
) -> AgiEnv:
    """Read lines up to the blank one within `within` seconds in all.

    A peer that closes early raises AGIHangup, one that is too slow AGITimeout, one that sends
    more than MAX_ENV_LINES lines or a line over the reader's limit AGIProtocolError: each
    costs its own session only.
    """
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(within):
            for _ in range(MAX_ENV_LINES + 1):
                try:
                    raw = await readline()
                except ValueError:  # the line is over the reader's limit
                    raise AGIProtocolError("environment line too long") from None
                if not raw:
                    raise AGIHangup(f"peer closed after {len(lines)} environment lines")
                lines.append(raw)
                if not raw.rstrip(b"\r\n"):  # the blank line
                    return parse_env(b"".join(lines), line_limit)
    except TimeoutError:
        raise AGITimeout(f"environment incomplete after {within} s") from None
    raise AGIProtocolError(f"environment longer than {MAX_ENV_LINES} lines")
