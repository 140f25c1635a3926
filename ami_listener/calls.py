"""What the AMI listener hands to the database sink: one immutable record per finished call.

`CompletedCall` is the contract between the assembly (`assemble.build_call`, fed by the
`CallTracker` from AMI events or by the backfill from Master.csv) and the writer in `crm/`
(which stores it). Its `direction` is `core.calls.Direction`, the word the database stores. Everything is frozen and made of tuples, so a record can be
shared, logged, spooled to disk (`to_json` / `from_json`) and compared in tests.

Times are timezone-aware UTC datetimes taken from Asterisk's own event timestamps (the
`Timestamp:` header of each AMI event, or the Cdr times when events were missing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from core.calls import Direction

Disposition = Literal["ANSWERED", "NO ANSWER", "BUSY", "FAILED"]

DISPOSITIONS: frozenset[str] = frozenset({"ANSWERED", "NO ANSWER", "BUSY", "FAILED"})

JSON_VERSION = 1


@dataclass(frozen=True, slots=True)
class CallLeg:
    """One endpoint that was rung for the call (one AMI DialBegin, or one Cdr when events were lost).

    One leg per phone channel, i.e. per INVITE: a phone rung by two Dials of one call has two
    legs (the reports count one ring per manager per call). A Local channel is no leg: the
    phone its `;2` half dialled is (a delayed leg's phone from its own INVITE, not from the
    Dial's start), and a Local leg still waiting when the call ended rang nobody. Only a Local
    `;1` that answered with no phone seen behind it stays a leg (`Local/101@ctx`).

    endpoint:        the device, e.g. "SIP/101", "PJSIP/101", "PJSIP/carrier" (channel name
                     without its "-0000002a" suffix).
    channel:         the full channel name, e.g. "SIP/101-00000032".
    ring_started_at: when Asterisk started ringing it (DialBegin), UTC.
    ring_seconds:    how long it rang: until it answered, or until Dial gave up on it.
    answered:        this leg picked up and was bridged with the caller.
    dial_status:     Asterisk's DialEnd status for this leg: ANSWER, NOANSWER, BUSY, CANCEL
                     (the caller hung up, or another leg answered first), CHANUNAVAIL,
                     CONGESTION; None when the leg's end was never seen.
    """

    endpoint: str
    channel: str
    ring_started_at: datetime
    ring_seconds: float
    answered: bool
    dial_status: str | None


@dataclass(frozen=True, slots=True)
class CompletedCall:
    """One finished call, identified by (system, linkedid).

    system:              the Asterisk system name the call came from (linkedids of two servers
                         may collide; the pair never does).
    linkedid:            Asterisk's Linkedid = Uniqueid of the call's first channel.
    direction:           "inbound" (from a trunk), "outbound" (a phone called an external
                         number), "internal" (phone to phone).
    external_number:     the outside party in E.164 ("+79161234567"), or None when it is not a
                         valid number (anonymous, internal calls).
    external_number_raw: the outside party exactly as Asterisk reported it (caller ID for
                         inbound, the dialled digits for outbound), or None for internal calls.
    caller_name:         the caller ID name of the channel that started the call (UTF-8 intact,
                         e.g. "Иван Петров"; for outbound the phone's name), or None.
    dialed_number:       for inbound the DID the caller dialled ("7000"); for outbound and
                         internal the number the phone dialled.
    started_at:          when the first channel appeared (UTC).
    answered_at:         when the first leg answered, or None.
    ended_at:            when the last channel of the call hung up.
    ring_seconds:        how long the caller waited before someone answered, or before they hung
                         up when abandoned (until ended_at when every step ran out); includes
                         routing time.
    talk_seconds:        Cdr BillableSeconds of the answered leg when present (authoritative),
                         otherwise measured from the events; 0 when not answered.
    disposition:         "ANSWERED" / "NO ANSWER" / "BUSY" / "FAILED".
    answered_by:         endpoint of the leg that answered ("SIP/102"; for outbound the trunk),
                         or None; a manager's phone as the directory spells it (a Local
                         channel to 101 → "PJSIP/101").
    manager_endpoint:    for outbound and internal calls the manager's phone that placed the
                         call ("SIP/101", as the directory spells it); None for inbound (see
                         answered_by) and for a device no manager has ("PJSIP/office-fax").
    abandoned:           inbound, nobody answered, and the caller hung up first.
    abandon_seconds:     seconds from the start of the call until the caller hung up, when
                         abandoned; else None.
    after_hours:         the router marked the call as outside working hours
                         (CALLROUTER_AFTER_HOURS).
    variables:           every CALLROUTER_* channel variable set on the call's channels, as
                         sorted (name, value) pairs; the last value set wins.
    recording_file:      the MixMonitor file (MIXMONITOR_FILENAME, full path) or, when only the
                         Cdr had it, Cdr RecordingFile; None when the call was not recorded.
    legs:                every endpoint rung, in the order ringing started.
    """

    system: str
    linkedid: str
    direction: Direction
    external_number: str | None
    external_number_raw: str | None
    caller_name: str | None
    dialed_number: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    ring_seconds: float
    talk_seconds: float
    disposition: Disposition
    answered_by: str | None
    manager_endpoint: str | None
    abandoned: bool
    abandon_seconds: float | None
    after_hours: bool
    variables: tuple[tuple[str, str], ...] = field(default=())
    recording_file: str | None = None
    legs: tuple[CallLeg, ...] = field(default=())

    def __post_init__(self) -> None:
        try:  # a spooled record brings the text; the field always holds the member
            object.__setattr__(self, "direction", Direction(self.direction))
        except ValueError:
            raise ValueError(
                f"direction must be one of {list(Direction.values())}: {self.direction!r}"
            ) from None
        if self.disposition not in DISPOSITIONS:
            raise ValueError(
                f"disposition must be one of {sorted(DISPOSITIONS)}: {self.disposition!r}"
            )
        for stamp in (self.started_at, self.answered_at, self.ended_at):
            if stamp is not None and stamp.tzinfo is None:
                raise ValueError("call times must be timezone-aware")

    @property
    def variable_map(self) -> Mapping[str, str]:
        """The router's variables as a read-only mapping."""
        return dict(self.variables)

    def to_json(self) -> str:
        """Serialise to a JSON text that `from_json` turns back into an equal object."""
        data: dict[str, Any] = {
            "version": JSON_VERSION,
            **{name: _dump(getattr(self, name)) for name in _CALL_FIELDS},
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> CompletedCall:
        """Parse what `to_json` wrote; raises ValueError on anything else."""
        try:
            data = json.loads(text)
            if data.get("version") != JSON_VERSION:
                raise ValueError(f"unsupported spool version {data.get('version')!r}")
            values = {name: data[name] for name in _CALL_FIELDS}
            for name in ("started_at", "answered_at", "ended_at"):
                values[name] = _load_time(values[name])
            values["variables"] = tuple((str(k), str(v)) for k, v in values["variables"])
            values["legs"] = tuple(_load_leg(leg) for leg in values["legs"])
            return cls(**values)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a CompletedCall JSON document: {exc!r}") from None


_CALL_FIELDS = tuple(CompletedCall.__dataclass_fields__)
_LEG_FIELDS = tuple(CallLeg.__dataclass_fields__)


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, CallLeg):
        return {name: _dump(getattr(value, name)) for name in _LEG_FIELDS}
    if isinstance(value, tuple):
        return [_dump(item) for item in value]
    return value


def _load_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _load_leg(data: dict[str, Any]) -> CallLeg:
    values = {name: data[name] for name in _LEG_FIELDS}
    values["ring_started_at"] = datetime.fromisoformat(values["ring_started_at"])
    return CallLeg(**values)
