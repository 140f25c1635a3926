"""Calls Asterisk completed while the listener was away, rebuilt from its own CDR file.

`Master.csv` (cdr_csv, `loguniqueid=yes`) has one line per (caller, dialled leg) and the caller
channel's uniqueid on each — which is the call's Linkedid, since the caller's channel is the
call's first. Grouping by it gives the same (system, linkedid) key the listener writes, so the
sink's idempotence makes a backfill safe to run twice or over calls already recorded. A Local
channel's `;2` half writes lines under a uniqueid of its own; they join the call whose line
dialled the pair's `;1` half, as its Cdr events join it on the listener's side.

Each call becomes the state the tracker would hold had it seen the caller's channel and the
call's Cdr events and nothing else, and goes through the listener's own assembly
(`assemble.build_call`): one interpretation of a call, whichever way it arrived. The CSV lacks
what only AMI carries (router variables, the recording path, after-hours marks, sub-second
times, who hung up): those fields are empty, and a caller whose lines show no `Hangup()` by the
dialplan counts as having hung up at the end of their last line. Pure: text in, `CompletedCall`s
out.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, tzinfo

from core.channels import parse_channel

from .assemble import EndpointClassifier, build_call
from .calls import CompletedCall
from .state import CallState, CdrRecord, ChannelState, parse_cdr_time, parse_seconds

log = logging.getLogger(__name__)

# cdr_csv column order with loguniqueid=yes (userfield last).
COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield",
)  # fmt: skip
_CLID = re.compile(r'^"(?P<name>.*)"\s*<(?P<num>[^>]*)>$')


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


@dataclass(frozen=True)
class _Line:
    """One readable line: its Cdr record and what only the caller's first line tells."""

    number: int
    uniqueid: str
    record: CdrRecord
    caller_name: str
    context: str


def parse_master_csv(
    text: str,
    *,
    system: str,
    region: str,
    classifier: EndpointClassifier | None = None,
    zone: tzinfo = UTC,
) -> tuple[list[CompletedCall], list[Rejected]]:
    """Every call in the file, oldest first, and the lines that could not be read."""
    classifier = classifier or EndpointClassifier()
    lines, rejected = _read(text, zone)
    calls: list[CompletedCall] = []
    for linkedid, group in _by_call(lines).items():
        try:
            state = _call_state(linkedid, group)
            calls.append(build_call(state, system=system, region=region, classifier=classifier))
        except Exception:  # one call the assembly cannot take costs that call only
            log.exception("call %s in the CDR file could not be assembled", linkedid)
            rejected.append(Rejected(group[0].number, f"call {linkedid} could not be assembled"))
    calls.sort(key=lambda call: call.started_at)
    rejected.sort(key=lambda item: item.line)
    return calls, rejected


def _read(text: str, zone: tzinfo) -> tuple[list[_Line], list[Rejected]]:
    lines: list[_Line] = []
    rejected: list[Rejected] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields:
            continue
        if len(fields) < len(COLUMNS) - 1:
            rejected.append(Rejected(number, f"{len(fields)} fields, expected {len(COLUMNS)}"))
            continue
        row = dict(zip(COLUMNS, fields, strict=False))
        start, end = parse_cdr_time(row["start"], zone), parse_cdr_time(row["end"], zone)
        if start is None or end is None:
            bad = row["start"] if start is None else row["end"]
            rejected.append(Rejected(number, f"bad CDR time {bad!r}"))
            continue
        if not row["uniqueid"]:
            rejected.append(Rejected(number, "no uniqueid (cdr.conf needs loguniqueid=yes)"))
            continue
        name = _CLID.match(row["clid"])
        record = CdrRecord(
            channel=row["channel"],
            destination_channel=row["dstchannel"],
            source=row["src"],
            destination=row["dst"],
            last_application=row["lastapp"],
            start=start,
            answer=parse_cdr_time(row["answer"], zone),
            end=end,
            duration=parse_seconds(row["duration"]),
            billable=parse_seconds(row["billsec"]),
            disposition=row["disposition"].strip().upper(),
            recording_file="",
        )
        caller_name = name.group("name") if name else ""
        lines.append(_Line(number, row["uniqueid"], record, caller_name, row["dcontext"]))
    return lines, rejected


def _by_call(lines: list[_Line]) -> dict[str, list[_Line]]:
    """Lines per call (keyed by its linkedid), in file order; Local `;2` lines with their call."""
    groups: dict[str, list[_Line]] = defaultdict(list)
    for line in lines:
        groups[line.uniqueid].append(line)
    dialled_by: dict[str, str] = {}  # Local pair -> the group that dialled its ;1 half
    for key, group in groups.items():
        for line in group:
            pair = parse_channel(line.record.destination_channel).pair
            if pair is not None:
                dialled_by.setdefault(pair, key)
    calls: dict[str, list[_Line]] = defaultdict(list)
    for key, group in groups.items():
        calls[_owner(key, groups, dialled_by)].extend(group)
    for group in calls.values():
        group.sort(key=lambda line: line.number)
    return calls


def _owner(key: str, groups: dict[str, list[_Line]], dialled_by: dict[str, str]) -> str:
    """The call a group belongs to: itself, or (for a Local `;2` half) the dialling call's."""
    seen = {key}
    while True:
        pair = parse_channel(groups[key][0].record.channel).pair
        up = dialled_by.get(pair) if pair is not None else None
        if up is None or up in seen:
            return key
        seen.add(up)
        key = up


def _call_state(linkedid: str, lines: list[_Line]) -> CallState:
    """What the tracker would hold after the caller's channel and the call's Cdr events."""
    own = [line for line in lines if line.uniqueid == linkedid]
    first = own[0].record
    started = min(line.record.start or 0.0 for line in lines)
    ended = max(line.record.end or 0.0 for line in lines)
    caller = ChannelState(
        uniqueid=linkedid,
        name=first.channel,
        caller_num=first.source,
        caller_name=own[0].caller_name,
        exten=first.destination,
        context=own[0].context,
        hung_up_at=ended,
    )
    if not any(line.record.last_application == "Hangup" for line in own):
        caller.hangup_requested_at = max(line.record.end or ended for line in own)
    return CallState(
        linkedid=linkedid,
        started_at=started,
        last_event_at=ended,
        channels={linkedid: caller},
        cdrs={(str(line.number),): line.record for line in lines},
        ended_at=ended,
    )
