"""The call engine: channels, dialplan steps of the lab's extensions.conf, app_dial, CDR.

Event order follows what Asterisk 20 (chan_sip) put on the AMI wire in the recorded transcripts
(tests/fixtures/asterisk); where the real order is a race (end-of-call burst),
``SimConfig.end_order`` picks one.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import re
import time
from dataclasses import dataclass, field

from . import events as ev
from . import local as lc
from .agi_client import AgiSession
from .cdr import CdrRecord, clid
from .channels import Channel, Device
from .scenario import Caller, CallResult, DialOutcome, Phone, SimConfig

QOS = "ssrc={ssrc};themssrc=0;lp=0;rxjitter=0.000000;rxcount=0;txjitter=0.000000;txcount=0;rlp=0;rtt=0.000000;rxmes=0.000000;txmes=0.000000"
QOS_VARS = {
    "RTPAUDIOQOSJITTER": "minrxjitter=000.000000;maxrxjitter=000.000000;avgrxjitter=000.000000;stdevrxjitter=000.000000;mintxjitter=000.000000;maxtxjitter=000.000000;avgtxjitter=000.000000;stdevtxjitter=000.000000;",
    "RTPAUDIOQOSLOSS": "  minrxlost=000.000000;  maxrxlost=000.000000;  avgrxlost=000.000000;  stdevrxlost=000.000000;  mintxlost=000.000000;  maxtxlost=000.000000;  avgtxlost=000.000000;  stdevtxlost=000.000000;",
    "RTPAUDIOQOSRTT": "     minrtt=000.000000;     maxrtt=000.000000;     avgrtt=000.000000;     stdevrtt=000.000000;",
    "RTPAUDIOQOSMES": "   minrxmes=000.000000;   maxrxmes=000.000000;   avgrxmes=000.000000;   stdevrxmes=000.000000;   mintxmes=000.000000;   maxtxmes=000.000000;   avgtxmes=000.000000;   stdevtxmes=000.000000;",
}
DIAL_CLEAR = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)
HANGUPCAUSE_BY_STATUS = {"ANSWER": 16, "NOANSWER": 0, "CANCEL": 0, "BUSY": 17, "CHANUNAVAIL": 20}
OUTGOING_LINE = "(Outgoing Line)"


def parse_dial_data(data: str) -> tuple[list[str], float | None, str]:
    """Split Dial's app data like app_dial's AST_STANDARD_APP_ARGS (``,``; ``|`` accepted)."""
    sep = "," if "," in data or "|" not in data else "|"
    parts = [p.strip().strip('"') for p in data.split(sep)]
    targets = [t.strip().strip('"') for t in parts[0].split("&") if t.strip()]
    timeout = float(parts[1]) if len(parts) > 1 and parts[1].strip() else None
    options = parts[2] if len(parts) > 2 else ""
    return targets, timeout, options


@dataclass
class Leg:
    channel: Channel
    device: Device
    behaviour: Phone
    dial_string: str
    cdr: CdrRecord
    ringing: bool = False
    gone: bool = False
    answered: bool = False
    local: lc.LocalPair | None = None  # a Local/<delay>-<ep>@<ctx> leg (asterisk_sim.local)


class Pbx:
    """Process-wide PBX state: devices, id counters, AMI fan-out, CDR sinks."""

    def __init__(self, config: SimConfig) -> None:
        self.cfg = config
        self.clock = config.clock
        self.rng = random.Random(config.seed)
        self.phones: dict[str, Phone] = {}
        self.devices: dict[str, Device] = {}
        self.uid_counter = config.first_uniqueid_counter
        self.chan_counter = config.first_channel_id
        self.local_counter = 0  # Local/…-<8 hex>;1/;2 count apart from PJSIP/SIP channels
        self.cdr_sequence = 75
        self.ami = None  # AmiServer, set by the simulator
        self.events: list[ev.Fields] = []
        self.cdr_records: list[CdrRecord] = []
        self.csv_lines: list[str] = []
        self.queue_login_time = int(self.clock.now()) - 355
        # app_queue's Queue:managers_avail is cached (and silent) unless nothing is cached yet
        self.queue_avail_reported = not config.fresh_boot

    # ---- ids -------------------------------------------------------------------------
    def new_uniqueid(self) -> str:
        uid = f"{int(self.clock.now())}.{self.uid_counter}"
        self.uid_counter += 1
        return uid

    def new_channel(self, peer: str, **kw: object) -> Channel:
        name = f"{self.cfg.tech}/{peer}-{self.chan_counter:08x}"
        self.chan_counter += 1
        uid = self.new_uniqueid()
        kw.setdefault("linkedid", uid)
        ch = Channel(name=name, uniqueid=uid, created=self.clock.now(), **kw)  # type: ignore[arg-type]
        ch.sip_callid = f"{self.rng.getrandbits(128):032x}@127.0.0.1:5060"
        return ch

    def device(self, name: str) -> Device:
        dev = self.devices.get(name)
        if dev is None:
            peer = name.split("/", 1)[-1]
            phone = self.phones.get(peer)
            dev = Device(
                name,
                registered=phone.registered if phone else peer == self.cfg.trunk,
                in_use=bool(phone and phone.in_use),
            )
            if self.cfg.tech == "PJSIP":
                dev.reported = dev.state(self.clock.now())
            self.devices[name] = dev
        return dev

    def add_phone(self, ext: str, phone: Phone) -> None:
        self.phones[ext] = phone
        dev = self.devices.get(f"{self.cfg.tech}/{ext}")
        if dev is not None:
            dev.registered, dev.in_use = phone.registered, phone.in_use

    # ---- output ----------------------------------------------------------------------
    def emit(
        self, event: str, privilege: str, fields: ev.Fields, log: list[ev.Fields] | None = None
    ) -> None:
        if self.ami is not None:
            full = self.ami.broadcast(event, privilege, fields)
        else:
            full = ev.with_header(event, privilege, fields, self.clock.now())
        self.events.append(full)
        if log is not None:
            log.append(full)

    def write_cdr(self, rec: CdrRecord) -> str:
        line = rec.csv_line()
        self.cdr_records.append(rec)
        self.csv_lines.append(line)
        if self.cfg.master_csv is not None:
            with open(self.cfg.master_csv, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        return line


@dataclass
class Call:
    """One call leg driven through the dialplan (the caller side: carrier or phone)."""

    pbx: Pbx
    caller: Channel
    result: CallResult
    remote: Phone | None = None  # far end of an outbound call
    abandon_at: float | None = None
    legs_ever: list[Leg] = field(default_factory=list)
    cdr_next_start: float = 0.0
    recording: str = ""
    hangup_cause: int = 16
    bridged_once: bool = False
    agi: AgiSession | None = None
    hangup_source: str = ""
    caller_device: Device | None = None  # PJSIP: the endpoint the caller channel belongs to
    local_cause: int | None = None  # a Local leg's cause app_dial copied onto the caller (17)
    extra_cdrs: list[CdrRecord] = field(default_factory=list)  # Local optimisation's record
    deferred_local: list[lc.LocalPair] | None = None  # ;2 records held back (timeout, CANCEL)

    # ---- plumbing --------------------------------------------------------------------
    @property
    def cfg(self) -> SimConfig:
        return self.pbx.cfg

    @property
    def now(self) -> float:
        return self.pbx.clock.now()

    def emit(self, event: str, privilege: str, fields: ev.Fields) -> None:
        self.pbx.emit(event, privilege, fields, self.result.events)

    def noise(self, event: str, privilege: str, fields: ev.Fields) -> None:
        if self.cfg.noise:
            self.emit(event, privilege, fields)

    def varset(self, ch: Channel, name: str, value: str) -> None:
        ch.vars[name] = value
        self.noise("VarSet", "dialplan,all", ev.varset(ch, name, value))

    def cel(self, ch: Channel, name: str, **kw: object) -> None:
        if not self.cfg.cel:
            return
        self.noise("CEL", "call,all", ev.cel(ch, name, self.now, **kw))  # type: ignore[arg-type]

    def newexten(self, priority: int, app: str, data: str, ch: Channel | None = None) -> None:
        ch = ch or self.caller
        ch.priority = priority
        self.noise("Newexten", "dialplan,all", ev.newexten(ch, app, data))

    def newstate(self, ch: Channel, state: int) -> None:
        ch.state = state
        self.emit("Newstate", "call,all", ev.snapshot(ch))

    def set_app(self, app: str, data: str) -> None:
        """CEL APP_START/APP_END follow the tracked application of the caller channel."""
        ch = self.caller
        if ch.appl != app:
            if ch.appl:
                self.cel(ch, "APP_END")
            ch.appl, ch.data = app, data
            self.cel(ch, "APP_START")
        ch.appl, ch.data = app, data

    def device_changed(self, dev: Device, queue: bool = True) -> None:
        state = dev.state(self.now)
        if self.cfg.tech == "PJSIP":
            if state == dev.reported:
                return
            dev.reported = state
        self.emit("DeviceStateChange", "call,all", ev.device_state(dev.name, state))
        peer = dev.name.split("/", 1)[-1]
        if peer in self.cfg.queue_members and not self.pbx.queue_avail_reported:
            # ringinuse=1: every reachable member counts as available, so this never changes
            self.pbx.queue_avail_reported = True
            self.emit(
                "DeviceStateChange",
                "call,all",
                ev.device_state("Queue:managers_avail", "NOT_INUSE"),
            )
        if queue and peer in self.cfg.queue_members:
            self.noise(
                "QueueMemberStatus",
                "agent,all",
                ev.queue_member(dev.name, state, self.pbx.queue_login_time),
            )

    def poll(self) -> None:
        """Caller gives up outside Dial (e.g. while the routing service thinks)."""
        if self.abandon_at is not None and not self.caller.dead and self.now >= self.abandon_at:
            self.emit("HangupRequest", "call,all", ev.cause_only(self.caller, None))
            self.caller.dead = True
            self.hangup_cause = 0
            self.hangup_source = self.caller.name

    # ---- variables and functions -----------------------------------------------------
    def get_variable(self, name: str) -> str | None:
        if name.endswith(")"):
            return self.function(name)
        if name in self.caller.vars:
            return self.caller.vars[name]
        builtin = self._builtins().get(name)
        return builtin

    def _builtins(self) -> dict[str, str]:
        c = self.caller
        return {
            "CHANNEL": c.name,
            "UNIQUEID": c.uniqueid,
            "EXTEN": c.exten,
            "CONTEXT": c.context,
            "PRIORITY": str(c.priority),
            "HANGUPCAUSE": str(c.hangupcause),
            "EPOCH": str(int(self.now)),
            "CALLERID(num)": c.cid_num,
        }

    def function(self, expr: str) -> str:
        m = re.fullmatch(r"([A-Z_]+)\((.*)\)", expr.strip(), re.S)
        if not m:
            return ""
        fname, arg = m.group(1), m.group(2)
        handler = FUNCTIONS.get(fname)
        return handler(self, arg) if handler else ""

    def substitute(self, text: str) -> str:
        out, i = [], 0
        while i < len(text):
            if text.startswith("${", i):
                depth, j = 1, i + 2
                while j < len(text) and depth:
                    if text.startswith("${", j):
                        depth += 1
                        j += 2
                        continue
                    if text[j] == "}":
                        depth -= 1
                    j += 1
                inner = self.substitute(text[i + 2 : j - 1])
                out.append(self.get_variable(inner) or "")
                i = j
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    def set_variable(self, name: str, value: str) -> None:
        if name.startswith("CDR(") and name.endswith(")"):
            return
        self.varset(self.caller, name, value)

    # ---- AGI hooks -------------------------------------------------------------------
    def agi_env(self) -> list[tuple[str, str]]:
        c = self.caller
        url = self.cfg.agi_url
        return [
            ("agi_network", "yes"),
            ("agi_network_script", url.rsplit("/", 1)[-1]),
            ("agi_request", url),
            ("agi_channel", c.name),
            ("agi_language", c.language),
            ("agi_type", self.cfg.tech),
            ("agi_uniqueid", c.uniqueid),
            ("agi_version", self.cfg.version),
            ("agi_callerid", c.cid_num),
            ("agi_calleridname", c.cid_name or "unknown"),
            ("agi_callingpres", "0"),
            ("agi_callingani2", "0"),
            ("agi_callington", "0"),
            ("agi_callingtns", "0"),
            ("agi_dnid", c.dnid or "unknown"),
            ("agi_rdnis", "unknown"),
            ("agi_context", c.context),
            ("agi_extension", c.exten),
            ("agi_priority", str(c.priority)),
            ("agi_enhanced", "0.0"),
            ("agi_accountcode", c.accountcode),
            ("agi_threadid", str(139789000000000 + self.pbx.rng.randrange(1 << 28))),
        ]

    async def exec_app(self, app: str, data: str) -> int:
        handler = APPS.get(app.lower())
        if handler is None:
            return -2
        if self.caller.dead and app.lower() != "dial":
            return -1
        return await handler(self, data)

    async def answer(self) -> int:
        if self.caller.state != 6:
            self.caller.answered_at = self.now
            self.newstate(self.caller, 6)
        return 0

    async def hangup_by_agi(self) -> None:
        if not self.caller.dead:
            self.emit("HangupRequest", "call,all", ev.cause_only(self.caller, 16))
            self.caller.dead = True
            self.hangup_source = self.caller.name

    # ---- app_dial --------------------------------------------------------------------
    def _behaviour(self, tech: str, peer: str) -> Phone | None:
        if peer == self.cfg.trunk:
            return self.remote or Phone(answer_after=None)
        phone = self.pbx.phones.get(peer)
        if phone is None or not phone.registered or tech != self.cfg.tech:
            return None
        return phone

    async def dial(self, data: str) -> int:
        targets, timeout, _ = parse_dial_data(data)
        self.set_app("Dial", data)
        c = self.caller
        outcome = DialOutcome(args=data, status="")
        self.result.dials.append(outcome)
        for var in DIAL_CLEAR:
            self.varset(c, var, "")
        if c.dead:
            return self._dial_done(outcome, "CANCEL", -1)
        self.local_cause = None
        legs = [leg for t in targets if (leg := self._new_leg(t, data)) is not None]
        outcome.legs = [leg.channel.name for leg in legs]
        outcome.invited = [leg.channel.name for leg in legs if leg.local is None]
        for leg in legs:
            if leg.local is not None:
                lc.before_dial_begin(self, leg)
            elif self.cfg.tech == "SIP":  # chan_sip call-limit counts a leg from its INVITE on
                leg.device.ringing += 1
                if not self._is_trunk(leg):
                    self.device_changed(leg.device)
            self.emit(
                "DialBegin",
                "call,all",
                ev.dial_fields(c, leg.channel) + [("DialString", leg.dial_string)],
            )
            if self._is_trunk(leg):
                self.cel(leg.channel, "CHAN_START", bare=True)
        for leg in legs:
            if leg.local is not None:
                lc.start_waiting(self, leg)
        if len(legs) == 1 and not self._is_trunk(legs[0]):
            self._connect(legs[0].channel)
        if not legs:
            return self._dial_done(outcome, "CHANUNAVAIL", 0)
        return await self._ring(outcome, legs, timeout)

    def _is_trunk(self, leg: Leg) -> bool:
        return leg.device.name == f"{self.cfg.tech}/{self.cfg.trunk}"

    def _connect(self, other: Channel) -> None:
        c = self.caller
        if (c.conn_num, c.conn_name) != (other.cid_num, other.cid_name_or_unknown):
            c.conn_num, c.conn_name = other.cid_num, other.cid_name_or_unknown
            self.noise("NewConnectedLine", "call,all", ev.snapshot(c))

    def _new_leg(self, target: str, data: str) -> Leg | None:
        if target.startswith("Local/"):
            return lc.new_local_leg(self, target, data)
        tech, _, rest = target.partition("/")
        peer, _, number = rest.partition("/")
        behaviour = self._behaviour(tech, peer)
        if behaviour is None:
            return None
        c = self.caller
        dev = self.pbx.device(f"{tech}/{peer}")
        trunk = peer == self.cfg.trunk
        if trunk:
            leg_ch = self.pbx.new_channel(
                peer, linkedid=c.linkedid, cid_num="", cid_name="", context="inbound", exten="s"
            )
        else:
            leg_ch = self.pbx.new_channel(
                peer,
                linkedid=c.linkedid,
                cid_num=peer,
                cid_name=behaviour.name or f"Manager {peer}",
                context="phones",
                exten="s",
            )
        leg_ch.ani = leg_ch.cid_num or number
        dial_string = f"{peer}/{number}" if number else peer
        if not trunk:
            self.cel(leg_ch, "CHAN_START", bare=True)
        self.emit("Newchannel", "call,all", ev.snapshot(leg_ch))
        if self.cfg.tech == "SIP" and not trunk:
            self.varset(leg_ch, "SIPCALLID", leg_ch.sip_callid)
        self.varset(leg_ch, "DIALEDPEERNUMBER", dial_string)
        leg_ch.appl, leg_ch.data = "AppDial", OUTGOING_LINE
        leg_ch.exten = number if trunk else c.exten
        self.newexten(1, "AppDial", OUTGOING_LINE, leg_ch)
        leg_ch.conn_num, leg_ch.conn_name = c.cid_num, c.cid_name_or_unknown
        if trunk:
            leg_ch.cid_num = number
            self.emit("NewCallerid", "call,all", ev.new_callerid(leg_ch))
        self.noise("NewConnectedLine", "call,all", ev.snapshot(leg_ch))
        leg = Leg(leg_ch, dev, behaviour, dial_string, self.dial_cdr(leg_ch.name, data))
        self.legs_ever.append(leg)
        return leg

    def dial_cdr(self, dstchannel: str, data: str) -> CdrRecord:
        """The caller's CDR for one target of its Dial (a phone's channel or a Local `;1`)."""
        c = self.caller
        return CdrRecord(
            source=c.cid_num,
            destination=c.exten,
            dcontext=c.context,
            clid=clid(c.cid_name, c.cid_num),
            channel=c.name,
            dstchannel=dstchannel,
            lastapp="Dial",
            lastdata=data,
            start=self.cdr_next_start,
            uniqueid=c.uniqueid,
            linkedid=c.linkedid,
            sequence=self._next_sequence(),
            recordingfile=self.recording,
        )

    def _next_sequence(self) -> int:
        self.pbx.cdr_sequence += 1
        return self.pbx.cdr_sequence

    async def _ring(self, outcome: DialOutcome, legs: list[Leg], ring_for: float | None) -> int:
        start = self.now
        agenda: list[tuple[float, int, int, str, Leg | None]] = []
        seq = 0

        def push(when: float, order: int, kind: str, leg: Leg | None) -> None:
            nonlocal seq
            heapq.heappush(agenda, (when, order, seq, kind, leg))
            seq += 1

        def phone_events(i: int, leg: Leg, at: float, local: bool) -> None:
            b = leg.behaviour
            if b.busy:
                push(at + self.cfg.busy_delay * (1 if local else i + 1), i, "busy", leg)
                return
            ring_at = at + self.cfg.ring_delay * (1 if local else i + 1)
            push(ring_at, i, "ring", leg)
            if b.answers():
                push(max(ring_at, at + (b.answer_after or 0.0)), i, "answer", leg)

        for i, leg in enumerate(legs):
            if leg.local is not None:
                push(start + leg.local.delay, i, "offset", leg)
            else:
                phone_events(i, leg, start, local=False)
        if ring_for is not None and ring_for > 0:
            push(start + ring_for, len(legs), "timeout", None)
        if self.abandon_at is not None:
            push(max(start, self.abandon_at), len(legs) + 1, "abandon", None)
        first_ring = True
        while agenda:
            when, i, _, kind, leg = heapq.heappop(agenda)
            await self.pbx.clock.sleep_until(when)
            if leg is not None and leg.gone:
                continue
            if kind == "offset" and leg is not None:
                inner = lc.reach_offset(self, leg)
                if inner is not None:
                    outcome.invited.append(inner.channel.name)
                    phone_events(i, leg, self.now, local=True)
                elif all(x.gone for x in legs):
                    return self._all_gone(outcome, legs)
            elif kind == "busy" and leg is not None:
                if leg.local is not None:
                    lc.phone_busy(self, leg)
                else:
                    self._leg_busy(leg)
                if all(x.gone for x in legs):
                    return self._all_gone(outcome, legs)
            elif kind == "ring" and leg is not None:
                if leg.local is not None:
                    lc.phone_ringing(self, leg, first_ring, start)
                else:
                    self._leg_ringing(leg, first_ring, start)
                first_ring = False
            elif kind == "answer" and leg is not None:
                return await self._answered(outcome, legs, leg)
            elif kind == "timeout":
                return self._end_legs(outcome, legs, "NOANSWER", 0)
            elif kind == "abandon":
                pjsip = self.cfg.tech == "PJSIP"  # chan_pjsip: CANCEL -> cause 127 everywhere
                cause = 127 if pjsip else None
                request = ev.cause_only(self.caller, cause)
                if pjsip:  # the CANCEL's 487; the phones' legs end with TechCause 500 (L4)
                    self.caller.tech_cause = 487
                    request.append(("TechCause", "487"))
                    for x in legs:
                        if x.local is None and not x.gone:
                            x.channel.tech_cause = 500
                self.emit("HangupRequest", "call,all", request)
                self.caller.dead = True
                self.hangup_cause = 127 if pjsip else 0
                self.hangup_source = self.caller.name
                return self._end_legs(outcome, legs, "CANCEL", -1)
        # no timeout and nobody answers: ring forever is not simulated
        return self._end_legs(outcome, legs, "NOANSWER", 0)

    def _all_gone(self, outcome: DialOutcome, legs: list[Leg]) -> int:
        busy = any(leg.cdr.disposition == "BUSY" for leg in legs)
        return self._dial_done(outcome, "BUSY" if busy else "NOANSWER", 0)

    def _leg_ringing(self, leg: Leg, first: bool, start: float) -> None:
        ch = leg.channel
        self.newstate(ch, 5)
        leg.ringing = True
        pjsip = self.cfg.tech == "PJSIP"
        if pjsip:  # chan_pjsip: RINGING once the channel rings (180), not at the INVITE
            leg.device.ringing += 1
        if first:
            self.varset(self.caller, "RINGTIME", str(int(self.now - start)))
            self.varset(self.caller, "RINGTIME_MS", str(int((self.now - start) * 1000)))
        if self._is_trunk(leg):
            self.emit(
                "DeviceStateChange", "call,all", ev.device_state(leg.device.name, "NOT_INUSE")
            )
        else:
            self.device_changed(leg.device, queue=pjsip)
        if first and self.caller_device is not None:
            # relaying the 180 to the caller re-evaluates its endpoint (Ring/Up: INUSE)
            self.device_changed(self.caller_device, queue=False)
        self.emit(
            "DialState", "call,all", ev.dial_fields(self.caller, ch) + [("DialStatus", "RINGING")]
        )

    def _leg_gone(self, leg: Leg, cause: int, source: str = "", lag: bool = False) -> None:
        if leg.local is not None:
            lc.pair_lost(self, leg, cause)
            return
        ch = leg.channel
        leg.gone = True
        self.cel(
            ch, "HANGUP", extra={"hangupcause": cause, "hangupsource": source, "dialstatus": ""}
        )
        self.cel(ch, "CHAN_END")
        if leg.answered:
            leg.device.up -= 1
        elif self.cfg.tech == "SIP" or leg.ringing:
            leg.device.ringing -= 1
        if lag:
            leg.device.lag_until = self.now + self.cfg.devstate_lag_seconds
            asyncio.get_running_loop().create_task(self._lag_over(leg.device))
        elif not self._is_trunk(leg):
            self.device_changed(leg.device)
        self.emit("Hangup", "call,all", ev.hangup(ch, cause))

    async def _lag_over(self, dev: Device) -> None:
        await self.pbx.clock.sleep_until(dev.lag_until)
        self.device_changed(dev)

    def _leg_busy(self, leg: Leg) -> None:
        if self.cfg.tech == "PJSIP":
            # the 486 queues a hangup (cause 17, TechCause 486) on the leg; app_dial passes the
            # SIP cause on to the caller channel, whose Hangup shows it too
            leg.channel.tech_cause = self.caller.tech_cause = 486
            self.emit(
                "HangupRequest",
                "call,all",
                ev.cause_only(leg.channel, 17) + [("TechCause", "486")],
            )
        self.emit(
            "DialEnd",
            "call,all",
            ev.dial_fields(self.caller, leg.channel) + [("DialStatus", "BUSY")],
        )
        self._leg_gone(leg, 17)
        leg.cdr.end = self.now
        leg.cdr.disposition = "BUSY"

    def _end_legs(self, outcome: DialOutcome, legs: list[Leg], status: str, res: int) -> int:
        live = [leg for leg in legs if not leg.gone]
        for leg in live:
            self.emit(
                "DialEnd",
                "call,all",
                ev.dial_fields(self.caller, leg.channel) + [("DialStatus", status)],
            )
        self.deferred_local = []
        for leg in live:
            lag = (
                status == "NOANSWER"
                and self.cfg.devstate_lag > 0
                and self.pbx.rng.random() < self.cfg.devstate_lag
            )
            # app_dial hangs up an unanswered PJSIP leg without setting a cause (Hangup Cause 0);
            # a PJSIP caller's CANCEL ends every leg with 127 (pjsip-local L4)
            cause = 16
            if self.cfg.tech == "PJSIP":
                cause = {"NOANSWER": 0, "CANCEL": 127}.get(status, 16)
            self._leg_gone(leg, cause, lag=lag)
            leg.cdr.end = self.now
        lc.write_deferred(self)
        if status != "CANCEL" and any(leg.cdr.disposition == "BUSY" for leg in legs) and not live:
            status = "BUSY"
        return self._dial_done(outcome, status, res)

    def _dial_done(self, outcome: DialOutcome, status: str, res: int) -> int:
        c = self.caller
        self.varset(c, "DIALSTATUS", status)
        c.hangupcause = HANGUPCAUSE_BY_STATUS.get(status, 0)
        if status == "CANCEL" and self.cfg.tech == "PJSIP":
            c.hangupcause = 127
        if self.local_cause is not None and status != "CANCEL":
            c.hangupcause = self.local_cause  # app_dial copied a Local leg's cause (17)
        outcome.status = status
        self.cdr_next_start = self.now if outcome.legs else self.cdr_next_start
        return res

    async def _answered(self, outcome: DialOutcome, legs: list[Leg], winner: Leg) -> int:
        c, w = self.caller, winner.channel
        winner.answered = True
        if winner.local is not None:
            lc.answered_inner(self, winner)
            w.answered_at = self.now
        else:
            winner.device.ringing -= 1
            winner.device.up += 1
            if not self._is_trunk(winner):
                self.device_changed(winner.device)
            self.cel(w, "ANSWER")
            w.answered_at = self.now
            self.newstate(w, 6)
        if len(legs) > 1:
            self._connect(w)
        losers = [leg for leg in legs if leg is not winner and not leg.gone]
        for leg in losers:
            self.emit(
                "DialEnd", "call,all", ev.dial_fields(c, leg.channel) + [("DialStatus", "CANCEL")]
            )
        for leg in losers:
            self._leg_gone(leg, 26)
            leg.cdr.end = self.now
        self.varset(c, "DIALSTATUS", "ANSWER")
        self.varset(c, "DIALEDPEERNAME", w.name)
        self.varset(c, "DIALEDPEERNUMBER", winner.dial_string)
        w.exten = ""
        self.emit("DialEnd", "call,all", ev.dial_fields(c, w) + [("DialStatus", "ANSWER")])
        answered_at = self.now
        winner.cdr.answer = answered_at
        winner.cdr.disposition = "ANSWERED"
        answerer = winner.device.name
        if winner.local is not None and winner.local.phone is not None:
            answerer = winner.local.phone.device.name  # the phone, not the Local "device"
        outcome.answered_by = answerer
        self.result.answered_by = answerer
        if c.state != 6:
            c.answered_at = answered_at
            self.newstate(c, 6)
        if winner.local is not None:
            await self._bridge_local(winner, answered_at)
        else:
            bridge = await self._bridge(winner, answered_at)
            self._bridge_teardown(winner, bridge, answered_at)
        outcome.status = "ANSWER"
        self.cdr_next_start = self.now
        return -1

    async def _bridge(self, winner: Leg, answered_at: float) -> str:
        c, w = self.caller, winner.channel
        bridge = str(_uuid(self.pbx.rng))
        self.emit("BridgeCreate", "call,all", ev.bridge_fields(bridge, 0))
        self.cel(c, "ANSWER")
        self.newexten(1, "AppDial", OUTGOING_LINE, w)
        extra = {"bridge_id": bridge, "bridge_technology": "simple_bridge"}
        self.emit("BridgeEnter", "call,all", ev.bridge_member(bridge, 1, w))
        self.cel(w, "BRIDGE_ENTER", extra=extra)
        self.cel(c, "BRIDGE_ENTER", peer=w.name, extra=extra)
        self.emit("BridgeEnter", "call,all", ev.bridge_member(bridge, 2, c))
        # PJSIP: the bridge is re-set up twice more (native_rtp), each time setting the peers again
        for _ in range(3 if self.cfg.tech == "PJSIP" else 1):
            self.varset(w, "BRIDGEPEER", c.name)
            self.varset(w, "BRIDGEPVTCALLID", c.sip_callid)
            self.varset(c, "BRIDGEPEER", w.name)
            self.varset(c, "BRIDGEPVTCALLID", w.sip_callid)
        talk = winner.behaviour.talk
        await self.pbx.clock.sleep_until(answered_at + talk)
        return bridge

    async def _bridge_local(self, winner: Leg, answered_at: float) -> None:
        """The caller talks to the phone behind a Local leg: two bridges with ``/n``; without,
        the pair is optimised away once media flows (the caller's first RTP frame)."""
        c, pair = self.caller, winner.local
        assert pair is not None
        outer = lc.bridge_outer(self, winner)
        optimised = pair.optimise
        if optimised:
            await self.pbx.clock.sleep_until(answered_at + self.cfg.local_optimise_after)
            lc.optimise(self, winner, outer)
        await self.pbx.clock.sleep_until(answered_at + winner.behaviour.talk)
        lc.teardown(self, winner, outer, optimised)
        dialed = self.now - c.created
        talked = self.now - answered_at
        self.varset(c, "ANSWEREDTIME", str(int(talked)))
        self.varset(c, "ANSWEREDTIME_MS", str(int(talked * 1000)))
        self.varset(c, "DIALEDTIME", str(int(dialed)))
        self.varset(c, "DIALEDTIME_MS", str(int(dialed * 1000)))
        self.varset(c, "DIALSTATUS", "ANSWER")
        c.hangupcause = 16
        if not optimised:
            winner.cdr.end = self.now
        for rec in self.extra_cdrs:
            rec.end = self.now
        self.bridged_once = True

    def _rtp_qos(self, a: Channel, b: Channel | None) -> None:
        """chan_sip: both channels at the hangup of one; chan_pjsip: the channel hanging up
        (``a``) and, while still bridged, ``b``'s *BRIDGED copies."""
        pairs = ((a, b), (b, a)) if self.cfg.tech == "SIP" else ((a, b),)
        for x, y in pairs:
            assert x is not None
            ssrc = self.pbx.rng.getrandbits(31)
            self.varset(x, "RTPAUDIOQOS", QOS.format(ssrc=ssrc))
            if y is not None:
                self.varset(y, "RTPAUDIOQOSBRIDGED", QOS.format(ssrc=ssrc))
            for name, value in QOS_VARS.items():
                self.varset(x, name, value)
                if y is not None:
                    self.varset(y, name + "BRIDGED", value)

    def _bridge_teardown(self, winner: Leg, bridge: str, answered_at: float) -> None:
        """The calling side hangs up (caller BYE for inbound, the phone for outbound)."""
        c, w = self.caller, winner.channel
        # two PJSIP channels with RTP get the bridge upgraded to native_rtp while they talk
        technology = "native_rtp" if self.cfg.tech == "PJSIP" else "simple_bridge"
        self._rtp_qos(c, w)
        self.emit("HangupRequest", "call,all", ev.cause_only(c, 16))
        c.dead = True
        self.hangup_cause = 16
        self.hangup_source = c.name
        for ch in (c, w):
            self.varset(ch, "BRIDGEPEER", "")
            self.varset(ch, "BRIDGEPVTCALLID", "")
        self.emit("BridgeLeave", "call,all", ev.bridge_member(bridge, 1, c, technology))
        dialed = self.now - c.created
        talked = self.now - answered_at
        self.varset(c, "ANSWEREDTIME", str(int(talked)))
        self.varset(c, "ANSWEREDTIME_MS", str(int(talked * 1000)))
        self.varset(c, "DIALEDTIME", str(int(dialed)))
        self.varset(c, "DIALEDTIME_MS", str(int(dialed * 1000)))
        self.varset(c, "DIALSTATUS", "ANSWER")
        c.hangupcause = 16
        extra = {"bridge_id": bridge, "bridge_technology": technology}
        self.cel(c, "BRIDGE_EXIT", peer=w.name, extra=extra)
        self.cel(w, "BRIDGE_EXIT", extra=extra)
        self.emit("BridgeLeave", "call,all", ev.bridge_member(bridge, 0, w, technology))
        self.emit("BridgeDestroy", "call,all", ev.bridge_fields(bridge, 0, technology))
        if self.cfg.tech == "SIP":
            self.varset(w, "RTPAUDIOQOS", QOS.format(ssrc=self.pbx.rng.getrandbits(31)))
        else:
            self._rtp_qos(w, None)  # the leg hangs up after the bridge is gone
        self._leg_gone(winner, 16, source=c.name)
        winner.cdr.end = self.now
        self.bridged_once = True

    # ---- end of call -----------------------------------------------------------------
    def finish(self, dialplan_hangup: bool) -> None:
        """The caller channel ends: SoftHangupRequest, CEL, then the Cdr/Hangup burst."""
        c = self.caller
        status = c.vars.get("DIALSTATUS", "")
        if dialplan_hangup:
            self.newexten(c.priority, "Hangup", "")
            cause = HANGUPCAUSE_BY_STATUS.get(status, 16) or 16
            if self.local_cause is not None and status != "ANSWER":
                cause = self.local_cause
            self.emit("SoftHangupRequest", "call,all", ev.cause_only(c, 16))
            source = "dialplan/builtin"
        else:
            cause = self.hangup_cause
            soft = ev.cause_only(c, 16)
            if c.tech_cause and self.cfg.tech == "PJSIP":  # the far end's SIP code (L4: 487)
                soft.append(("TechCause", str(c.tech_cause)))
            self.emit("SoftHangupRequest", "call,all", soft)
            if c.appl:
                self.cel(c, "APP_END")
            source = self.hangup_source or c.name
        records = [leg.cdr for leg in self.legs_ever] + self.extra_cdrs
        if dialplan_hangup:
            records.append(self._trailer(status))
        self.cel(
            c,
            "HANGUP",
            app="",
            data="",
            extra={"hangupcause": cause, "hangupsource": source, "dialstatus": status},
        )
        self.cel(c, "CHAN_END", app="", data="")
        c.dead = True
        burst = {
            "cdr": lambda: self._emit_cdrs(records),
            "linkedid_end": lambda: self.cel(c, "LINKEDID_END", app="", data=""),
            "hangup": lambda: self.emit("Hangup", "call,all", ev.hangup(c, cause)),
        }
        for part in self._end_order():
            burst[part]()
        if self.caller_device is not None:
            self.caller_device.up -= 1
            self.device_changed(self.caller_device, queue=False)

    def _end_order(self) -> list[str]:
        orders = {
            "cdr_first": ["cdr", "linkedid_end", "hangup"],
            "hangup_first": ["linkedid_end", "hangup", "cdr"],
            "linkedid_end_last": ["cdr", "hangup", "linkedid_end"],
        }
        if self.cfg.end_order == "random":
            return self.pbx.rng.choice(list(orders.values()))
        return orders.get(self.cfg.end_order, orders["cdr_first"])

    def _trailer(self, status: str) -> CdrRecord:
        c = self.caller
        return CdrRecord(
            source=c.cid_num,
            destination=c.exten,
            dcontext=c.context,
            clid=clid(c.cid_name, c.cid_num),
            channel=c.name,
            dstchannel="",
            lastapp="Hangup",
            lastdata="",
            start=self.cdr_next_start,
            end=self.now,
            uniqueid=c.uniqueid,
            linkedid=c.linkedid,
            sequence=self._next_sequence(),
            recordingfile=self.recording,
            disposition="BUSY" if status == "BUSY" or self.local_cause == 17 else "NO ANSWER",
        )

    def _emit_cdrs(self, records: list[CdrRecord]) -> None:
        for rec in records:
            if rec.end is None:
                rec.end = self.now
            self.emit("Cdr", "cdr,all", rec.event_fields(self.cfg.cdr_mappings))
            self.result.cdr_rows.append(rec.as_dict())
            self.result.csv_lines.append(self.pbx.write_cdr(rec))


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _fn_device_state(call: Call, arg: str) -> str:
    dev = call.pbx.device(arg.strip())
    if arg.split("/", 1)[0] != call.cfg.tech:
        return "INVALID"
    return dev.state(call.now)


def _fn_callerid(call: Call, arg: str) -> str:
    c = call.caller
    key = arg.strip().lower()
    return {
        "name": c.cid_name,
        "num": c.cid_num,
        "number": c.cid_num,
        "all": clid(c.cid_name, c.cid_num),
    }.get(key, "")


def _fn_cdr(call: Call, arg: str) -> str:
    return call.recording if arg.strip() == "recordingfile" else ""


def _fn_channel(call: Call, arg: str) -> str:
    c = call.caller
    return {
        "name": c.name,
        "linkedid": c.linkedid,
        "uniqueid": c.uniqueid,
        "state": c.state_desc,
        "endpoint": _pjsip_endpoint(c.name),
    }.get(arg.strip(), "")


def _pjsip_endpoint(channel_name: str) -> str:
    """CHANNEL(endpoint): ``PJSIP/carrier-00000000`` -> ``carrier`` ("" for other techs)."""
    tech, _, rest = channel_name.partition("/")
    return rest.rsplit("-", 1)[0] if tech == "PJSIP" else ""


FUNCTIONS = {
    "DEVICE_STATE": _fn_device_state,
    "CALLERID": _fn_callerid,
    "CDR": _fn_cdr,
    "CHANNEL": _fn_channel,
}


async def _app_dial(call: Call, data: str) -> int:
    return await call.dial(data)


async def _app_noop(call: Call, data: str) -> int:
    return 0


async def _app_set(call: Call, data: str) -> int:
    name, _, value = data.partition("=")
    call.set_variable(name.strip(), value)
    return 0


def split_app_args(data: str) -> list[str]:
    """AST_STANDARD_APP_ARGS: split on commas outside double quotes; a backslash escapes the next
    character; quotes are removed (MSet "strips surrounding double-quotes from the value")."""
    args, current, quoted, escaped = [], [], False, False
    for ch in data:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            args.append("".join(current))
            current = []
        else:
            current.append(ch)
    args.append("".join(current))
    return args


async def _app_mset(call: Call, data: str) -> int:
    """MSet(name1=value1,name2=value2,…): pbx_builtin_setvar_multiple, one VarSet per pair, in
    order; a pair without `=` is skipped with a warning, as Asterisk does."""
    for pair in split_app_args(data):
        name, sep, value = pair.partition("=")
        if sep and name.strip():
            call.set_variable(name.strip(), value)
    return 0


async def _app_wait(call: Call, data: str) -> int:
    await call.pbx.clock.sleep(float(data or 0))
    return 0


async def _app_answer(call: Call, data: str) -> int:
    return await call.answer()


async def _app_hangup(call: Call, data: str) -> int:
    await call.hangup_by_agi()
    return -1


APPS = {
    "dial": _app_dial,
    "noop": _app_noop,
    "set": _app_set,
    "mset": _app_mset,
    "wait": _app_wait,
    "answer": _app_answer,
    "hangup": _app_hangup,
    "playback": _app_noop,
}


def recording_name(prefix: str, now: float, digits_of: str, uniqueid: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    digits = "".join(ch for ch in digits_of if ch.isdigit())
    return f"{prefix}-{stamp}-{digits}-{uniqueid}.wav"


__all__ = ["Call", "Caller", "Pbx", "parse_dial_data", "recording_name"]
