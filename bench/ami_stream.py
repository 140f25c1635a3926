"""A realistic AMI event stream for benchmarks: the recorded calls, replayed as many new calls.

Each template is the event blocks of one recorded scenario (from `tests/fixtures/asterisk`), with
every uniqueid/linkedid renamed per copy and the Timestamp headers moved forward, so N copies are
N distinct calls that follow each other in time, byte for byte as Asterisk wrote them otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from asterisk_sim.transcripts import transcripts_dir

TEMPLATES = (
    "01b-known-client-answered-cdr-mappings",
    "02-escalation-answered-step2",
    "03-escalation-all-steps-missed",
    "04-caller-abandons-while-ringing",
    "06-outbound-callback",
)
_HEAD = re.compile(rb"^### (\d+\.\d+) (<<|>>|--)(?: (.*))?\n", re.M)
_UNIQUEID = re.compile(rb"\b(17957\d{5})\.(\d+)\b")
_TIMESTAMP = re.compile(rb"^Timestamp: (\d+\.\d+)\r$", re.M)
BANNER = b"Asterisk Call Manager/9.0.0\r\n"


@dataclass(frozen=True)
class CallTemplate:
    scenario: str
    blocks: tuple[bytes, ...]  # event blocks only, each ending in \r\n\r\n
    billsec: int  # the answered leg's BillableSeconds (0 when unanswered)
    caller_name: str

    @property
    def events(self) -> int:
        return len(self.blocks)


def load_templates() -> list[CallTemplate]:
    templates = []
    recordings = transcripts_dir(Path(__file__).resolve().parents[1])
    for scenario in TEMPLATES:
        data = (recordings / scenario / "ami.log").read_bytes()
        heads = list(_HEAD.finditer(data))
        blocks = []
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(data)
            raw = data[head.end() : end]
            if (
                head.group(2) == b"<<"
                and raw.startswith(b"Event: ")
                and b"Event: FullyBooted" not in raw
            ):
                if b"Event: SuccessfulAuth" in raw or b"Event: Shutdown" in raw:
                    continue
                blocks.append(raw)
        billsec = max(
            (int(m) for m in re.findall(rb"BillableSeconds: (\d+)", b"".join(blocks))), default=0
        )
        name = re.search(rb"CallerIDName: (.+)\r", b"".join(blocks))
        templates.append(
            CallTemplate(scenario, tuple(blocks), billsec, name.group(1).decode() if name else "")
        )
    return templates


def renamed(template: CallTemplate, copy: int, seconds_apart: float = 60.0) -> list[bytes]:
    """The template's blocks as call number `copy`: fresh ids, times moved `copy` minutes on."""
    shift = copy * seconds_apart

    def uid(match: re.Match[bytes]) -> bytes:
        return b"%d.%d" % (2_000_000_000 + copy, int(match.group(2)))

    def stamp(match: re.Match[bytes]) -> bytes:
        # Moved to 2027+, out of the recorded ids' range, before the ids are renamed.
        return b"Timestamp: %.6f\r" % (float(match.group(1)) + 5_000_000 + shift)

    return [_UNIQUEID.sub(uid, _TIMESTAMP.sub(stamp, block)) for block in template.blocks]


def stream(templates: list[CallTemplate], calls: int) -> Iterator[tuple[CallTemplate, list[bytes]]]:
    for copy in range(calls):
        template = templates[copy % len(templates)]
        yield template, renamed(template, copy)
