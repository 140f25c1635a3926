"""What is known of a call before it is assembled: the tracker's working memory for calls in
flight (mutable), and what the backfill rebuilds from Master.csv lines for `build_call`.

Times are float epoch seconds in Asterisk's clock (the events' `Timestamp:` headers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.channels import endpoint_of

# 2000-01-01 .. 2100-01-01: anything outside is a garbled header, not a time.
_MIN_EPOCH = 946_684_800.0
_MAX_EPOCH = 4_102_444_800.0
UNKNOWN_VALUES = frozenset({"", "<unknown>", "unknown"})


def field_text(event: Mapping[str, Any], name: str) -> str:
    """A header's value as text; '' when missing (a repeated header gives its last value)."""
    value = event.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)


def parse_epoch(text: str) -> float | None:
    """'1795746830.152660' -> float; None for missing or absurd values."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(value) or not _MIN_EPOCH <= value <= _MAX_EPOCH:
        return None
    return value


def parse_cdr_time(text: str, tz: Any = UTC) -> float | None:
    """Cdr 'YYYY-MM-DD HH:MM:SS' (server local time, `tz`) -> epoch; None when empty/garbled."""
    if not text:
        return None
    try:
        stamp = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
    except ValueError:
        return None
    return parse_epoch(str(stamp.timestamp()))


def parse_seconds(text: str, limit: float = 7 * 86400) -> int | None:
    """Cdr Duration/BillableSeconds; None for missing, negative or absurd values."""
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= limit else None


def known(value: str) -> str | None:
    """Asterisk's '<unknown>' and empty values as None."""
    return None if value.strip() in UNKNOWN_VALUES else value


@dataclass
class ChannelState:
    uniqueid: str
    name: str
    caller_num: str = ""
    caller_name: str = ""
    exten: str = ""
    context: str = ""
    hangup_requested_at: float | None = None  # the far end hung up (HangupRequest)
    hung_up_at: float | None = None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.name)


@dataclass
class LegState:
    """One DialBegin: a channel the call rang. `via` is the Local pair
    (`Local/3-103@ctx-00000004`) whose `;2` half dialled this channel, "" when the caller's own
    Dial did; a leg whose channel is a Local `;1` half is the caller's Dial ringing that pair."""

    uniqueid: str
    channel: str
    dial_string: str
    ring_started_at: float
    ended_at: float | None = None
    dial_status: str | None = None
    via: str = ""


@dataclass(frozen=True)
class CdrRecord:
    channel: str
    destination_channel: str
    source: str
    destination: str
    last_application: str
    start: float | None
    answer: float | None
    end: float | None
    duration: int | None
    billable: int | None
    disposition: str
    recording_file: str


@dataclass
class CallState:
    linkedid: str
    started_at: float
    last_event_at: float
    channels: dict[str, ChannelState] = field(default_factory=dict)
    legs: dict[str, LegState] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    mixmonitor_file: str | None = None
    cdrs: dict[tuple[str, ...], CdrRecord] = field(default_factory=dict)
    answered_at: float | None = None
    answered_leg: str | None = None
    ended_at: float | None = None

    @property
    def caller(self) -> ChannelState | None:
        return self.channels.get(self.linkedid)

    def all_hung_up(self) -> bool:
        caller = self.caller
        if caller is None or caller.hung_up_at is None:
            return False
        return all(ch.hung_up_at is not None for ch in self.channels.values())
