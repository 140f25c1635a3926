"""The AGI environment: the `agi_*: value` lines Asterisk sends before the first command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from agi_scripts.errors import AGIHangup, AGIProtocolError, AGITimeout
from agi_scripts.wire import decode_line

MAX_ENV_LINES = 128  # Asterisk 20 sends 22 (plus agi_arg_N); more is not Asterisk


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


async def read_env(readline: Callable[[], Awaitable[bytes]], within: float) -> AgiEnv:
    """Read lines up to the blank one within `within` seconds in all.

    A peer that closes early raises AGIHangup, one that is too slow AGITimeout, one that sends
    more than MAX_ENV_LINES lines or a line over the reader's limit AGIProtocolError: each
    costs its own session only.
    """
    values: dict[str, str] = {}
    try:
        async with asyncio.timeout(within):
            for _ in range(MAX_ENV_LINES):
                try:
                    raw = await readline()
                except ValueError:  # the line is over the reader's limit
                    raise AGIProtocolError("environment line too long") from None
                if not raw:
                    raise AGIHangup(f"peer closed after {len(values)} environment lines")
                line = decode_line(raw)
                if line == "":
                    return AgiEnv(values)
                parsed = parse_env_line(line)
                if parsed is not None:
                    values[parsed[0]] = parsed[1]
    except TimeoutError:
        raise AGITimeout(f"environment incomplete after {within} s") from None
    raise AGIProtocolError(f"environment longer than {MAX_ENV_LINES} lines")
