"""Channel and device state as the PBX core tracks them."""

from __future__ import annotations

from dataclasses import dataclass, field

STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    cid_num: str
    cid_name: str
    context: str
    exten: str
    created: float
    priority: int = 1
    state: int = 0
    conn_num: str = UNKNOWN
    conn_name: str = UNKNOWN
    language: str = "en"
    accountcode: str = ""
    appl: str = ""
    data: str = ""
    ani: str = ""
    dnid: str = ""
    device: str | None = None
    vars: dict[str, str] = field(default_factory=dict)
    hangupcause: int = 0
    dead: bool = False
    answered_at: float | None = None
    sip_callid: str = ""
    tech_cause: int = 0  # PJSIP: SIP response code behind the hangup (Hangup TechCause)

    @property
    def state_desc(self) -> str:
        return STATE_DESC[self.state]

    @property
    def cid_name_or_unknown(self) -> str:
        return self.cid_name or UNKNOWN


@dataclass
class Device:
    """A SIP peer / PJSIP endpoint as device state sees it (chan_sip: call-limit set, so
    RINGING/INUSE are reported)."""

    name: str  # "SIP/101", "PJSIP/101"
    registered: bool = True
    ringing: int = 0
    up: int = 0
    in_use: bool = False
    lag_until: float = 0.0  # lesson 17: still reads RINGING until then
    # PJSIP: the state last reported; chan_pjsip derives device state from the endpoint's
    # channels and a DeviceStateChange goes out only when that aggregate changes
    reported: str | None = None

    def state(self, now: float) -> str:
        if not self.registered:
            return "UNAVAILABLE"
        if self.up or self.in_use:
            return "INUSE"
        if self.ringing or now < self.lag_until:
            return "RINGING"
        return "NOT_INUSE"
