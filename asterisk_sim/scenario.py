"""Data that describes a simulated PBX: config, phones, callers, call results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clock import Clock, RealClock

END_ORDERS = ("cdr_first", "hangup_first", "linkedid_end_last")


@dataclass
class SimConfig:
    tech: str = "SIP"  # or "PJSIP"
    system_name: str = "pbx1"
    cdr_mappings: bool = True
    agi_address: tuple[str, int] | None = ("127.0.0.1", 4573)
    agi_script: str = "route"
    fallback_targets: list[str] = field(default_factory=lambda: ["SIP/102"])
    fallback_timeout: int = 10
    clock: Clock = field(default_factory=RealClock)
    did: str = "7000"
    trunk: str = "carrier"
    queue_members: tuple[str, ...] = ("101", "102", "103")
    monitor_dir: str = "/var/spool/asterisk/monitor"
    version: str = "20.20.1"
    seed: int = 0
    # order of the end-of-call burst (Cdr / caller Hangup / LINKEDID_END); "random" = seeded
    end_order: str = "cdr_first"
    # lesson 17: probability that a phone rung by an unanswered Dial step still reads RINGING
    devstate_lag: float = 0.0
    devstate_lag_seconds: float = 0.2
    ring_delay: float = 0.0012  # INVITE -> 180 of a phone
    busy_delay: float = 0.0015  # INVITE -> 486 of a busy phone
    hangup_notify_delay: float = 0.0
    local_optimise_after: float = 0.016  # answer -> LocalOptimizationBegin (no /n; L5: 16 ms)
    first_uniqueid_counter: int = 87
    first_channel_id: int = 0x33
    master_csv: Path | None = None
    noise: bool = True  # VarSet/Newexten/CEL/QueueMemberStatus/RTP QoS noise
    cel: bool = True  # CEL events (the pjsip-local lab has no cel.conf: False)
    # inbound 7000: "record_agi_fallback" (chan_sip lab: MixMonitor, AGI, fallback Dial) or
    # "agi_only" (PJSIP lab: NoOp, AGI, NoOp, Hangup; no recording, no fallback)
    inbound_dialplan: str = "record_agi_fallback"
    # first call since Asterisk booted: no device state cached yet, so app_queue's
    # Queue:managers_avail reports once (PJSIP lab, pjsip/answered)
    fresh_boot: bool = False

    # the AGI() argument as the dialplan spells it (lab: ${AGI_URL}); None: from agi_address
    agi_request: str | None = None

    @property
    def agi_url(self) -> str:
        if self.agi_request is not None:
            return self.agi_request
        if self.agi_address is None:
            return f"agi://127.0.0.1:4573/{self.agi_script}"
        host, port = self.agi_address
        suffix = "" if port == 4573 else f":{port}"
        return f"agi://{host}{suffix}/{self.agi_script}"


@dataclass
class Phone:
    """A phone (SIP peer). Behaviour applies to every call that rings it."""

    registered: bool = True
    answer_after: float | None = None  # None: never answers (rings until timeout/cancel)
    talk: float = 3.0
    busy: bool = False  # replies 486
    in_use: bool = False  # already on another call: DEVICE_STATE INUSE, still rings (call-limit=2)
    name: str | None = None
    no_answer: bool = False

    def answers(self) -> bool:
        return self.answer_after is not None and not self.no_answer and not self.busy


@dataclass
class Caller:
    number: str
    name: str = ""
    abandon_after: float | None = None  # seconds after the INVITE


@dataclass
class DialOutcome:
    args: str
    status: str
    answered_by: str | None = None  # device, e.g. "SIP/102"; the phone behind a Local leg
    legs: list[str] = field(default_factory=list)  # channels the Dial rang (Local: the ;1 half)
    invited: list[str] = field(default_factory=list)  # phone channels INVITEd, incl. via Local


@dataclass
class CallResult:
    linkedid: str
    channel: str
    dials: list[DialOutcome] = field(default_factory=list)
    answered_by: str | None = None
    agi_status: str | None = None
    agi_lines_sent: list[str] = field(default_factory=list)
    agi_lines_received: list[str] = field(default_factory=list)
    events: list[list[tuple[str, str]]] = field(default_factory=list)
    cdr_rows: list[dict[str, Any]] = field(default_factory=list)
    csv_lines: list[str] = field(default_factory=list)

    @property
    def dial_statuses(self) -> list[str]:
        return [d.status for d in self.dials]
