"""A call's recording as the web serves it: its file, byte ranges, type and download name.

No web framework here: the page (`callrouter/web/pages/recordings.py`) turns these answers into
responses. A recording is served only from inside the recordings folder (settings
`recordings_dir`): the name stored on the call (relative, or absolute as Asterisk's
`RecordingFile` may be) is resolved — symlinks followed — and must land strictly inside the
folder's own resolved path, so `..`, an absolute path elsewhere and a symlink pointing out are
all refused alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

CHUNK = 64 * 1024

CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".wav49": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".gsm": "audio/x-gsm",
    ".flac": "audio/flac",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class RecordingRefused(Exception):
    """The name points outside the recordings folder (or is empty / malformed)."""


class RecordingMissing(Exception):
    """The name is fine but no regular file is there."""


def resolve(recordings_dir: Path, recording: str) -> Path:
    """The recording's real path, strictly inside `recordings_dir`.

    RecordingRefused: empty, NUL byte, or anything resolving outside the folder (`..`, an
    absolute path elsewhere, a symlink that escapes, the folder itself). RecordingMissing: no
    regular file there."""
    if not recording or "\x00" in recording:
        raise RecordingRefused("empty or malformed recording name")
    base = recordings_dir.resolve()
    candidate = Path(recording)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()  # follows every symlink, then we check where it landed
    if resolved == base or not resolved.is_relative_to(base):
        raise RecordingRefused("recording outside the recordings folder")
    if not resolved.is_file():
        raise RecordingMissing("no recording file")
    return resolved


def content_type(path: Path | str) -> str:
    """The audio type from the extension (wav, mp3, ogg, gsm …); octet-stream otherwise."""
    return CONTENT_TYPES.get(Path(path).suffix.lower(), DEFAULT_CONTENT_TYPE)


_SAFE = re.compile(r"[^0-9A-Za-z+]")


def download_name(
    call_id: int, started_at: datetime, number: str | None, path: Path | str, tz: ZoneInfo
) -> str:
    """`<YYYY-MM-DD>_<number or 'unknown'>_<call id>.<ext>`, the date in the company's zone;
    only digits, letters and '+' survive from the number (a header-safe ASCII name)."""
    day = started_at.astimezone(tz).date().isoformat()
    who = _SAFE.sub("", number or "") or "unknown"
    ext = Path(path).suffix.lower().lstrip(".")
    ext = re.sub(r"[^0-9a-z]", "", ext) or "bin"
    return f"{day}_{who}_{call_id}.{ext}"


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start`..`end` inclusive of a file of `size` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


class RangeNotSatisfiable(Exception):
    """A syntactically valid Range none of whose bytes exist (HTTP 416)."""


_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range a `Range` header asks for, or None to send the whole file.

    `bytes=a-b`, `bytes=a-` and the suffix `bytes=-n` are honoured (the end is clipped to the
    file). A header that is not a single bytes range (another unit, several ranges, garbage,
    b < a) is ignored, as RFC 9110 allows: the whole file is sent with 200. A range starting
    at or past the end, or `bytes=-0`, raises RangeNotSatisfiable (416)."""
    if header is None:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(size - count, 0), size - 1, size)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header)
    return ByteRange(start, min(end, size - 1), size)


def read_chunks(path: Path, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """`length` bytes of `path` from `start`, `chunk` bytes at a time (never the whole file).

    Blocking: the page runs it in a worker thread, one chunk per step."""
    with path.open("rb") as fh:
        fh.seek(start)
        left = length
        while left > 0:
            data = fh.read(min(chunk, left))
            if not data:
                return  # the file shrank under us: stop rather than pad
            left -= len(data)
            yield data


def file_size(path: Path) -> int:
    return os.stat(path).st_size
