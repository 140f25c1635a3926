"""The AGI wire format: command lines out, response lines in. Quoting lives here and only here."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

from agi_scripts.errors import AGIProtocolError

# A bare word on the command line: command names, variable names, application names and
# dialplan expressions we build ourselves from validated parts. Nothing that could split an
# argument, start a quote or escape, or end the line.
_WORD = r"[A-Za-z0-9_${}()/&,.:@+#*=-]+"
_WORDS = re.compile(rf"{_WORD}(?: {_WORD})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# MSet's data as MSet will read it back unchanged: names, and values with no separator (`,`
# `|`), no `=`, no quote or backslash (MSet strips quotes and reads escapes), no space.
_MSET_PAIR = r"[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.:+@/-]*"
_MSET_DATA = re.compile(rf"{_MSET_PAIR}(?:,{_MSET_PAIR})*")
_RESPONSE = re.compile(r"(\d{3})([ -])(.*)")
_RESULT = re.compile(r"result=(\S*)(?: \((.*)\))?")

HANGUP_LINE = "HANGUP"


def quote(value: str) -> str:
    """`value` as one double-quoted AGI argument: backslash and quote escaped, control characters
    (newline and carriage return included) replaced by a space, so it can never end the line."""
    # A printable string has no control character: nothing to replace, no regex to run.
    text = value if value.isprintable() else _CONTROL.sub(" ", value)
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def command_line(words: tuple[str, ...], values: tuple[str, ...] = ()) -> bytes:
    """One command, newline-terminated: `words` bare, then `values` quoted. ValueError (nothing
    sent) when a word is not safe as a bare token."""
    bare = _bare_words(words)
    if values:
        bare += " " + " ".join([quote(v) for v in values])
    return (bare + "\n").encode("utf-8")


@functools.lru_cache(maxsize=256)
def _bare_words(words: tuple[str, ...]) -> str:
    """`words` joined, once checked (a session sends the same few commands call after call; the
    check of a long `GET FULL VARIABLE` expression is then not repeated)."""
    bare = " ".join(words)
    if bare.count(" ") != len(words) - 1 or not _WORDS.fullmatch(bare):
        raise ValueError(f"not safe AGI words: {bare!r}")
    return bare


def mset_data(pairs: Sequence[tuple[str, str]]) -> str | None:
    """`NAME=value,NAME=value` for `EXEC MSet`, or None when a name or value could be altered by
    MSet's own parsing (the caller then sets them one `SET VARIABLE` at a time)."""
    data = ",".join(f"{name}={value}" for name, value in pairs)
    return data if _MSET_DATA.fullmatch(data) else None


class AgiResponse(NamedTuple):
    """One reply line, read (a tuple: five of them are made per call)."""

    code: int
    result: str = ""  # the text after result=, "" when absent
    data: str | None = None  # the text in parentheses, None when absent
    line: str = ""

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result)
        except ValueError:
            return None


def decode_line(raw: bytes) -> str:
    """A received line as text; bytes that are not UTF-8 become U+FFFD instead of an error."""
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def parse_response(line: str) -> AgiResponse:
    """Parse one response line ('200 result=1 (NOT_INUSE)'); AGIProtocolError if it is not one."""
    match = _RESPONSE.fullmatch(line)
    if match is None:
        raise AGIProtocolError(f"not an AGI response: {line[:80]!r}")
    code, rest = int(match.group(1)), match.group(3)
    found = _RESULT.match(rest)
    if found is None:
        return AgiResponse(code, line=line)
    return AgiResponse(code, found.group(1), found.group(2), line)
