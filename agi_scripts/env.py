"""The AGI environment: the `agi_*: value` lines Asterisk sends before the first command.

The one reading of it, whatever carries it: the FastAGI server feeds the socket's bytes to an
`EnvCollector`, the classic script its stdin lines (`session.read_env`), and the relay
(`relay.py`) finds the end of the environment and its lines with `end_of_env` and `env_lines`
before rewriting it for the service. The relay's cold start is on the caller's ear, so this
module imports only the standard library's cheapest parts and `agi_scripts.errors` (which
imports nothing): no asyncio, no dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping

from agi_scripts.errors import AGIProtocolError

MAX_ENV_LINES = 128  # Asterisk 20 sends 22 (plus agi_arg_N); more is not Asterisk
MAX_ENV_BYTES = 64 * 1024  # Asterisk's is ~600 bytes; the bound on what a peer can make us hold


class AgiEnv:
    """The environment's values by key; a key Asterisk did not send reads as ''."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values: Mapping[str, str] = values if values is not None else {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgiEnv) and dict(self.values) == dict(other.values)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AgiEnv({len(self.values)} values)"  # values hold caller numbers and names

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


def end_of_env(data: bytes) -> int:
    """The index just past the blank line that ends the environment in `data`, or -1.
    Lines end in `\\n` (Asterisk's) or `\\r\\n`."""
    if data.startswith((b"\n", b"\r\n")):
        return data.index(b"\n") + 1
    ends = [i + len(mark) for mark in (b"\n\n", b"\n\r\n") if (i := data.find(mark)) >= 0]
    return min(ends) if ends else -1


def env_lines(block: bytes) -> list[bytes]:
    """The environment's lines in `block`, untouched but for their `\\n`, up to the blank one
    (or the end of `block` when it has none)."""
    lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line.rstrip(b"\r"):
            break
        lines.append(line)
    return lines


def env_key(line: bytes) -> bytes:
    """The key of one raw line (`agi_callerid` of `agi_callerid: +7916…`); b'' for a line
    that is not `key: value`."""
    key, sep, _ = line.partition(b":")
    return key.strip() if sep else b""


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


class EnvCollector:
    """Takes the environment's bytes as they arrive, in any pieces; `add()` returns the AgiEnv
    and the bytes after it once the blank line is in. No I/O and no work per line until then:
    the FastAGI connection feeds it from `data_received` (Asterisk writes the 22 lines one by
    one), the classic script one stdin line at a time."""

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
