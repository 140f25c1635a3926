"""Readers for the recorded Asterisk transcripts in tests/fixtures/asterisk (both log formats)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from asterisk_sim.transcripts import transcripts_dir

TRANSCRIPTS = transcripts_dir(Path(__file__).resolve().parents[2])
_CHAN_SIP_HEAD = re.compile(rb"^### (\d+\.\d+) (<<|>>|--)(?: (.*))?\n", re.M)
_PJSIP_HEAD = re.compile(rb"^# (\d{4}-\S+) (\S+)(?: (.*))?\n", re.M)

CHAN_SIP_SCENARIOS = (
    "01a-known-client-answered-default-cdr",
    "01b-known-client-answered-cdr-mappings",
    "02-escalation-answered-step2",
    "03-escalation-all-steps-missed",
    "04-caller-abandons-while-ringing",
    "05-busy-and-unavailable",
    "06-outbound-callback",
    "07-agi-server-down",
    "08-ami-reconnect",
    "09-two-concurrent-calls",
)
PJSIP_SCENARIOS = ("pjsip/answered", "pjsip/unanswered", "pjsip/busy", "pjsip/registered")
ALL_SCENARIOS = CHAN_SIP_SCENARIOS + PJSIP_SCENARIOS


@dataclass(frozen=True)
class Session:
    """The bytes Asterisk sent on one AMI connection: the banner, then every block."""

    banner: bytes
    blocks: tuple[bytes, ...]

    @property
    def stream(self) -> bytes:
        return self.banner + b"".join(self.blocks)


def read_sessions(scenario: str) -> list[Session]:
    """Every AMI connection in the scenario's ami.log, as the bytes Asterisk sent on it.

    chan_sip logs hold the raw bytes. The PJSIP lab logs stripped the CRs and the blank line
    that ends each block; they are restored here (`\\r\\n` line ends, `\\r\\n\\r\\n` end).
    """
    path = TRANSCRIPTS / scenario / "ami.log"
    data = path.read_bytes()
    if data.startswith(b"###"):
        return _chan_sip_sessions(data)
    return [_pjsip_session(data)]


def _chan_sip_sessions(data: bytes) -> list[Session]:
    heads = list(_CHAN_SIP_HEAD.finditer(data))
    sessions: list[Session] = []
    banner, blocks = b"", []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(data)
        raw = data[head.end() : end]
        direction = head.group(2)
        if direction != b"<<":
            continue
        if raw.startswith(b"Asterisk Call Manager/"):
            if banner:
                sessions.append(Session(banner, tuple(blocks)))
            banner, blocks = raw, []
        else:
            blocks.append(raw)
    if banner:
        sessions.append(Session(banner, tuple(blocks)))
    return sessions


def _pjsip_session(data: bytes) -> Session:
    heads = list(_PJSIP_HEAD.finditer(data))
    banner, blocks = b"", []
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(data)
        if head.group(2) != b"<<":
            continue
        lines = data[head.end() : end].rstrip(b"\n").split(b"\n")
        if head.group(3) == b"banner":
            banner = lines[0] + b"\r\n"
        else:
            blocks.append(b"\r\n".join(lines) + b"\r\n\r\n")
    return Session(banner, tuple(blocks))
