"""Readers for the lab transcripts (kept in ``tests/fixtures/asterisk``) and id normalisation
for comparisons."""

from __future__ import annotations

import re
from pathlib import Path

HDR = re.compile(rb"^### (\d+\.\d+) (<<|>>|--)(?: (.*))?\n", re.M)
Fields = list[tuple[str, str]]


def transcripts_dir(repo_root: Path | None = None) -> Path:
    """The recorded Asterisk transcripts kept in the repository: ``<repo>/tests/fixtures/asterisk``.

    Raises FileNotFoundError, naming the path, when the folder is not there.
    """
    root = repo_root or Path(__file__).resolve().parents[1]
    path = root / "tests" / "fixtures" / "asterisk"
    if not path.is_dir():
        raise FileNotFoundError(
            f"recorded Asterisk transcripts not found: {path} is not a directory"
        )
    return path


def parse_block(raw: bytes) -> Fields:
    fields: Fields = []
    for line in raw.split(b"\r\n"):
        if b": " in line:
            k, v = line.split(b": ", 1)
            fields.append((k.decode(), v.decode("utf-8", "replace")))
        elif line.endswith(b":"):
            fields.append((line[:-1].decode(), ""))
    return fields


def read_ami_log(path: Path) -> list[dict[str, object]]:
    """-> records: ms, dir, info, raw (bytes), fields (list of (key, value))."""
    data = Path(path).read_bytes()
    heads = list(HDR.finditer(data))
    out: list[dict[str, object]] = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(data)
        raw = data[m.end() : end]
        out.append(
            dict(
                ms=float(m.group(1)),
                dir=m.group(2).decode(),
                info=(m.group(3) or b"").decode(),
                raw=raw,
                fields=parse_block(raw),
            )
        )
    return out


def read_agi_log(path: Path) -> list[dict[str, object]]:
    """-> records: ms, sid, dir, raw (bytes incl. newline)."""
    out: list[dict[str, object]] = []
    for line in Path(path).read_bytes().splitlines(keepends=True):
        ms, sid, d, rest = line.split(b" ", 3)
        out.append(dict(ms=float(ms), sid=sid.decode(), dir=d.decode(), raw=rest))
    return out


def recorded_events(path: Path) -> list[Fields]:
    """Event blocks Asterisk sent (responses and banner left out)."""
    return [
        r["fields"]
        for r in read_ami_log(path)  # type: ignore[misc]
        if r["dir"] == "<<" and r["fields"] and r["fields"][0][0] == "Event"
    ]  # type: ignore[index]


class Normaliser:
    """Maps generated ids (uniqueids, channel suffixes, bridge ids, dates) to stable tokens,
    numbered by first appearance, so two runs can be compared value by value."""

    UID = re.compile(r"\b1\d{9}\.\d+\b")
    CHAN = re.compile(r"\b((?:PJ)?SIP/[\w+]+)-([0-9a-f]{8})\b")
    # Local/<exten>@<context>-<8 hex>;1/;2: a counter of its own (pjsip-local recordings)
    LOCAL = re.compile(r"\b(Local/[^\s;&,]+?)-([0-9a-f]{8})(?=;[12]\b)")
    UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
    STAMP = re.compile(r"\b\d{8}-\d{6}\b")
    DROP = {
        "Timestamp",
        "EventTV",
        "SessionTV",
        "EventTime",
        "StartTime",
        "AnswerTime",
        "EndTime",
        "CommandId",
        "SessionID",
        "RemoteAddress",
        "LocalAddress",
        "Sequence",
        "LoginTime",
        "Uptime",
        "LastReload",
    }
    RANDOM_VALUES = {"SIPCALLID", "BRIDGEPVTCALLID", "RTPAUDIOQOS", "RTPAUDIOQOSBRIDGED"}

    def __init__(self) -> None:
        self.maps: dict[str, dict[str, str]] = {"uid": {}, "chan": {}, "uuid": {}, "local": {}}

    def _tok(self, kind: str, key: str) -> str:
        m = self.maps[kind]
        if key not in m:
            m[key] = f"<{kind}{len(m)}>"
        return m[key]

    def value(self, v: str) -> str:
        v = self.UUID.sub(lambda m: self._tok("uuid", m.group(0)), v)
        v = self.CHAN.sub(lambda m: f"{m.group(1)}-" + self._tok("chan", m.group(2)), v)
        v = self.LOCAL.sub(lambda m: f"{m.group(1)}-" + self._tok("local", m.group(2)), v)
        v = self.UID.sub(lambda m: self._tok("uid", m.group(0)), v)
        v = self.STAMP.sub("<stamp>", v)
        return v.replace("PJSIP/", "SIP/")

    def fields(self, fields: Fields) -> Fields:
        out: Fields = []
        variable = dict(fields).get("Variable", "")
        for k, v in fields:
            if k in self.DROP:
                out.append((k, "*"))
            elif k == "Value" and variable in self.RANDOM_VALUES:
                out.append((k, "*"))
            else:
                out.append((k, self.value(v)))
        return out

    def line(self, line: str) -> str:
        if line.startswith("agi_threadid: "):
            return "agi_threadid: *"
        return self.value(line)
