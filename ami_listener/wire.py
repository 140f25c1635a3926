"""AMI wire format: bytes in, whole messages out; actions out as bytes.

Why not panoramisk's `AMIProtocol.data_received`: it decodes every TCP chunk on its own (ASCII
by default, with errors ignored), so a multi-byte UTF-8 character split across two reads is
silently dropped ("Иван" arrives as "Ивн"). Here bytes are buffered up to the `\\r\\n\\r\\n` that
ends a message and only then decoded, so a split can never damage text. The header parsing of a
complete message is `AmiMessage.parse` (see message.py for why not panoramisk's `Message`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from .message import AmiMessage as Message

log = logging.getLogger(__name__)

BANNER_PREFIX = b"Asterisk Call Manager/"
TERMINATOR = b"\r\n\r\n"
# A message larger than this without a terminator means we are not talking to Asterisk.
MAX_MESSAGE_BYTES = 1 << 20


class AmiProtocolError(Exception):
    """The peer does not speak AMI (no banner, or a message that never ends)."""


class AmiFramer:
    """Turns a byte stream into AMI messages; feed it whatever `read()` returned.

    The first line must be the banner (`Asterisk Call Manager/<version>`); after it, every
    `\\r\\n\\r\\n`-terminated block is decoded as UTF-8 and parsed. Blocks that are neither an
    event nor a response (garbage) are logged and skipped.

    `keep`, when given, is the listener's AMI event filter applied on our side too: an event
    block it does not match is dropped before it is decoded or parsed. Asterisk normally drops
    those already (the login sends the same filters), but one that refused the filters, or an
    older one, sends everything, and undecoded noise costs far less than parsed noise.
    """

    def __init__(self, expect_banner: bool = True, keep: EventFilter | None = None) -> None:
        self._buffer = bytearray()
        self._expect_banner = expect_banner
        self._keep = keep
        self.version: str | None = None
        self.skipped = 0
        self.filtered = 0

    @property
    def pending_bytes(self) -> int:
        """Bytes of a message not yet complete (a half-written message at disconnect)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return the messages they completed, in order."""
        self._buffer += data
        if self._expect_banner and not self._take_banner():
            return []
        messages: list[Message] = []
        if self._buffer.find(TERMINATOR) >= 0:
            # One split per read, not one buffer shift per message.
            *blocks, rest = bytes(self._buffer).split(TERMINATOR)
            self._buffer = bytearray(rest)
            keep = self._keep
            for block in blocks:
                if keep is not None and block.startswith(b"Event: ") and not keep.keeps(block):
                    self.filtered += 1
                    continue
                message = self._parse(block)
                if message is not None:
                    messages.append(message)
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            raise AmiProtocolError(f"no message terminator in {len(self._buffer)} bytes")
        return messages

    def _take_banner(self) -> bool:
        head = bytes(self._buffer[: len(BANNER_PREFIX)])
        if not BANNER_PREFIX.startswith(head):
            raise AmiProtocolError(f"not an AMI banner: {bytes(self._buffer[:60])!r}")
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > 256:
                raise AmiProtocolError("AMI banner line too long")
            return False
        self.version = self._buffer[len(BANNER_PREFIX) : end].decode("ascii", "replace")
        del self._buffer[: end + 2]
        self._expect_banner = False
        return True

    def _parse(self, block: bytes) -> Message | None:
        block = block.lstrip(b"\r\n")
        if not block:
            return None
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            # Asterisk passes caller names through as it got them; keep the rest of the event.
            text = block.decode("utf-8", "replace")
            log.warning("AMI message is not valid UTF-8, bad bytes replaced: %r", block[:200])
        message = Message.parse(text)
        if message is None:
            self.skipped += 1
            log.warning("skipping AMI block that is neither event nor response: %r", text[:200])
        return message


class EventFilter:
    """AMI whitelist filters (regular expressions on the event text), applied to raw blocks.

    An expression that starts with `Event: ` is matched against the block's first line (where
    AMI puts the event name) and the verdict is remembered per name; the others ("Variable:
    CALLROUTER_") are searched for in the whole block. Same verdicts as searching every block
    for every expression, at a fifth of the cost (bench/ami_bench.py streams ~180 events a call).
    """

    _REMEMBERED_NAMES = 1000  # event names are few; garbage must not grow the cache

    def __init__(self, expressions: Iterable[str]) -> None:
        named = [e for e in expressions if e.startswith("Event: ")]
        other = [e for e in expressions if not e.startswith("Event: ")]
        self._named = _pattern(named)
        self._other = _pattern(other)
        self._by_name: dict[bytes, bool] = {}

    def keeps(self, block: bytes) -> bool:
        end = block.find(b"\r\n")
        first = block if end < 0 else block[:end]
        verdict = self._by_name.get(first)
        if verdict is None:
            verdict = self._named is not None and self._named.search(first) is not None
            if len(self._by_name) < self._REMEMBERED_NAMES:
                self._by_name[first] = verdict
        return verdict or (self._other is not None and self._other.search(block) is not None)


def event_filter(expressions: Iterable[str]) -> EventFilter | None:
    """The filters as an EventFilter; None (keep everything) when there are none."""
    expressions = list(expressions)
    return EventFilter(expressions) if expressions else None


def _pattern(expressions: list[str]) -> re.Pattern[bytes] | None:
    if not expressions:
        return None
    return re.compile("|".join(f"(?:{e})" for e in expressions).encode("utf-8"))


def encode_action(action: str, action_id: str, fields: Mapping[str, str] | None = None) -> bytes:
    """One AMI action as bytes; refuses values that would inject extra headers."""
    lines: list[tuple[str, str]] = [("Action", action), ("ActionID", action_id)]
    lines.extend((fields or {}).items())
    return _encode(lines)


def encode_action_lines(action: str, action_id: str, lines: Iterable[tuple[str, str]]) -> bytes:
    """Like `encode_action` but allows repeated headers (e.g. several `Filter:` lines)."""
    return _encode([("Action", action), ("ActionID", action_id), *lines])


def _encode(lines: list[tuple[str, str]]) -> bytes:
    out = []
    for key, value in lines:
        if any(ch in f"{key}{value}" for ch in "\r\n"):
            raise ValueError(f"AMI header {key!r} contains a line break")
        out.append(f"{key}: {value}\r\n")
    return ("".join(out) + "\r\n").encode("utf-8")
