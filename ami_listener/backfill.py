"""Calls Asterisk completed while the listener was away, rebuilt from its own CDR file.

`Master.csv` (cdr_csv, `loguniqueid=yes`) has one line per (caller, dialled leg) and the caller
channel's uniqueid on each — which is the call's Linkedid, since the caller's channel is the
call's first. Grouping by it gives the same (system, linkedid) key the listener writes, so the
sink's idempotence makes a backfill safe to run twice or over calls already recorded.

The CSV lacks what only AMI carries (router variables, the recording path, after-hours marks);
such calls are stored with those fields empty. Pure: text in, `CompletedCall`s out.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from ami_listener.assemble import EndpointClassifier
from ami_listener.calls import CallLeg, CompletedCall
from core.phones import try_normalize_phone

# cdr_csv column order with loguniqueid=yes (userfield last).
COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield",
)  # fmt: skip
_DIAL_STATUS = {
    "ANSWERED": "ANSWER",
    "NO ANSWER": "NOANSWER",
    "BUSY": "BUSY",
    "FAILED": "CHANUNAVAIL",
}
_CLID = re.compile(r'^"(?P<name>.*)"\s*<(?P<num>[^>]*)>$')


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


def endpoint_of(channel: str) -> str:
    """'SIP/carrier-00000035' → 'SIP/carrier'."""
    return channel.rsplit("-", 1)[0] if "-" in channel else channel


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
    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    rejected: list[Rejected] = []
    for number, fields in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not fields:
            continue
        if len(fields) < len(COLUMNS) - 1:
            rejected.append(Rejected(number, f"{len(fields)} fields, expected {len(COLUMNS)}"))
            continue
        row = dict(zip(COLUMNS, fields, strict=False))
        try:
            row["_start"] = _time(row["start"], zone)  # type: ignore[assignment]
            _time(row["end"], zone)
        except ValueError as exc:
            rejected.append(Rejected(number, str(exc)))
            continue
        if not row["uniqueid"]:
            rejected.append(Rejected(number, "no uniqueid (cdr.conf needs loguniqueid=yes)"))
            continue
        groups[row["uniqueid"]].append(row)
    calls = [_call(rows, system, region, classifier, zone) for rows in groups.values()]
    calls.sort(key=lambda call: call.started_at)
    return calls, rejected


def _time(text: str, zone: tzinfo) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise ValueError(f"bad CDR time {text!r}") from None


def _call(
    rows: list[dict[str, str]],
    system: str,
    region: str,
    classifier: EndpointClassifier,
    zone: tzinfo,
) -> CompletedCall:
    first = rows[0]
    caller_endpoint = endpoint_of(first["channel"])
    dialed = [r for r in rows if r["dstchannel"]]
    answered = next((r for r in dialed if r["disposition"] == "ANSWERED"), None)
    if classifier.is_trunk(caller_endpoint):
        direction = "inbound"
    elif any(classifier.is_trunk(endpoint_of(r["dstchannel"])) for r in dialed):
        direction = "outbound"
    else:
        direction = "internal"
    started = min(_time(r["start"], zone) for r in rows)
    ended = max(_time(r["end"], zone) for r in rows)
    answered_at = _time(answered["answer"], zone) if answered and answered["answer"] else None
    legs = tuple(_leg(r, zone) for r in dialed)
    external_raw = {"inbound": first["src"], "outbound": first["dst"]}.get(direction)
    name = _CLID.match(first["clid"])
    abandoned = (
        direction == "inbound"
        and answered is None
        and not any(r["lastapp"] == "Hangup" for r in rows)
    )
    dispositions = {r["disposition"] for r in rows}
    disposition = (
        "ANSWERED"
        if answered
        else next((d for d in ("NO ANSWER", "BUSY") if d in dispositions), "FAILED")
    )
    return CompletedCall(
        system=system,
        linkedid=first["uniqueid"],
        direction=direction,  # type: ignore[arg-type]
        external_number=try_normalize_phone(external_raw, region) if external_raw else None,
        external_number_raw=external_raw or None,
        caller_name=(name.group("name") or None) if name else None,
        dialed_number=first["dst"] or None,
        started_at=started,
        answered_at=answered_at,
        ended_at=ended,
        ring_seconds=((answered_at or ended) - started).total_seconds(),
        talk_seconds=float(answered["billsec"] or 0) if answered else 0.0,
        disposition=disposition,  # type: ignore[arg-type]
        answered_by=endpoint_of(answered["dstchannel"]) if answered else None,
        manager_endpoint=caller_endpoint if direction != "inbound" else None,
        abandoned=abandoned,
        abandon_seconds=(ended - started).total_seconds() if abandoned else None,
        after_hours=False,
        legs=legs,
    )


def _leg(row: dict[str, str], zone: tzinfo) -> CallLeg:
    start = _time(row["start"], zone)
    stop = _time(row["answer"], zone) if row["answer"] else _time(row["end"], zone)
    return CallLeg(
        endpoint=endpoint_of(row["dstchannel"]),
        channel=row["dstchannel"],
        ring_started_at=start,
        ring_seconds=(stop - start).total_seconds(),
        answered=row["disposition"] == "ANSWERED",
        dial_status=_DIAL_STATUS.get(row["disposition"]),
    )
