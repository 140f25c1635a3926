"""Local channels in a Dial: ``Local/<delay>-<endpoint>@<context>[/n]`` legs that wait for their
offset, check ``DEVICE_STATE(PJSIP/<endpoint>)`` and dial the phone (the lab's ``[ring-delayed]``),
or ours, ``Local/<delay>-<TECH>-<resource>@callrouter-ring-delayed/n``
(asterisk_conf/extensions_callrouter.conf: the same, the technology in the extension, and
``UNKNOWN`` counts as free too).

How to use (for tests that drive the simulator with a plan that is ONE Dial)::

    sim = AsteriskSimulator(SimConfig(tech="PJSIP", inbound_dialplan="agi_only",
                                      agi_address=("127.0.0.1", port), clock=VirtualClock()))
    sim.add_phone("101", Phone())                        # rings until the Dial ends
    sim.add_phone("102", Phone(answer_after=12.0))       # direct leg: seconds after Dial start
    sim.add_phone("103", Phone(answer_after=1.5))        # behind a Local leg: seconds after ITS
                                                         # own INVITE (the leg's offset + ~0)
    sim.add_phone("104", Phone(busy=True))               # 486 when dialled
    sim.add_phone("105", Phone(in_use=True))             # DEVICE_STATE INUSE: a Local leg skips it
    result = await sim.inbound_call(Caller("+79161234567", "Иван Петров"))

The service (FastAGI) sends one ``EXEC Dial`` whose targets mix phones and Local legs, e.g.
``PJSIP/101&PJSIP/102&Local/10-PJSIP-103@callrouter-ring-delayed/n&Local/20-PJSIP-200@callrouter-ring-delayed/n,40``
(``core.channels.delayed_ring_target``). The extension decides the body the ``;2`` half runs, in
whatever context the target names: ``<delay>-<TECH>-<resource>`` runs ours
(``[callrouter-ring-delayed]``: RING_DELAY, RING_PHONE, Wait, RING_STATE, GotoIf NOT_INUSE or
UNKNOWN, Hangup, Dial(TECH/resource), Hangup); ``<delay>-<ep>`` the lab's ``[ring-delayed]``
(DELAY, EP, Wait, GotoIf NOT_INUSE, Hangup, Dial(<sim tech>/ep), Hangup). A phone of another
technology than ``SimConfig.tech`` reads INVALID and is never rung. What the simulator then does, as recorded in
``tests/fixtures/asterisk/pjsip-local`` (docs/simulator.md, "Local channels"):

- both halves ``Local/<exten>@<ctx>-<8 hex>;1`` / ``;2`` are created at Dial start (own counter);
  the ``;2`` half waits ``<delay>`` seconds, then dials the phone only if its device state is
  NOT_INUSE (not registered, ringing, in use: the leg hangs up, the phone is never INVITEd);
- the phone rings from its own INVITE; a busy phone (486) ends the leg BUSY and the caller's
  HANGUPCAUSE becomes 17 even when the Dial itself ends NOANSWER;
- when a phone behind a Local leg answers, the AGI reads DIALSTATUS=ANSWER,
  DIALEDPEERNAME=``Local/…;1``, DIALEDPEERNUMBER=``<exten>@<ctx>[/n]``; without ``/n`` the pair
  is optimised away after the answer (LocalOptimizationBegin/End, ``Success: No``);
- ``result.answered_by`` / ``DialOutcome.answered_by`` name the real phone (``PJSIP/103``),
  ``DialOutcome.invited`` lists every phone channel INVITEd by that Dial, direct or behind a
  Local leg, in INVITE order (so "each phone got exactly one INVITE" is
  ``Counter(endpoint(x) for d in result.dials for x in d.invited)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import events as ev
from .cdr import CdrRecord, clid
from .channels import UNKNOWN, Channel, Device
from .scenario import Phone

if TYPE_CHECKING:
    from .pbx import Call, Leg

_TECH = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Body:
    """The context a Local leg runs, as far as events show it: the Set lines before the Wait,
    the DEVICE_STATE check, the priorities of Hangup()/Dial() after it, the states it dials in."""

    sets: tuple[str, str]  # variable names of priorities 1 and 2
    state_var: str | None  # a Set(<var>=${DEVICE_STATE(...)}) before the GotoIf, or None
    free: frozenset[str]

    @property
    def goto(self) -> int:
        return 5 if self.state_var else 4

    @property
    def dial(self) -> int:
        return self.goto + 2


# The lab's [ring-delayed] (tests/fixtures/asterisk/pjsip-local/README.md): EXTEN <delay>-<ep>,
# Set(DELAY), Set(EP), Wait, GotoIf(DEVICE_STATE(PJSIP/${EP}) = NOT_INUSE), Hangup, Dial, Hangup.
LAB = Body(("DELAY", "EP"), None, frozenset({"NOT_INUSE"}))
# Ours, asterisk_conf/extensions_callrouter.conf [callrouter-ring-delayed]: EXTEN
# <delay>-<TECH>-<resource>, Set(RING_DELAY), Set(RING_PHONE), Wait, Set(RING_STATE),
# GotoIf(NOT_INUSE or UNKNOWN), Hangup, Dial, Hangup.
CALLROUTER = Body(("RING_DELAY", "RING_PHONE"), "RING_STATE", frozenset({"NOT_INUSE", "UNKNOWN"}))


@dataclass
class LocalPair:
    """The two halves of one Local leg and what its ``;2`` half does."""

    one: Channel
    two: Channel
    exten: str  # "3-103"
    context: str
    delay_text: str  # as written in the extension ("3")
    delay: float
    tech: str  # "PJSIP"
    endpoint: str  # the resource: "103"
    body: Body
    optimise: bool  # no "/n": the pair is optimised away once media flows
    device: str  # "Local/3-103@ctx": the Local "device" with its own DeviceStateChange
    phone: Leg | None = None  # the inner leg (;2 -> PJSIP/<endpoint>) once dialled
    phone_cdr: CdrRecord | None = None
    cdrs_written: bool = False
    two_gone: bool = False
    bridge_inner: str = ""
    cdrs: list[CdrRecord] = field(default_factory=list)


def parse_local(target: str) -> tuple[str, str, bool] | None:
    """``Local/3-103@ctx/n`` -> ("3-103", "ctx", True); None when it is no Local target."""
    tech, _, rest = target.partition("/")
    if tech != "Local" or "@" not in rest:
        return None
    exten, _, ctx = rest.partition("@")
    ctx, slash, opts = ctx.partition("/")
    return exten, ctx, bool(slash) and "n" in opts


def new_local_leg(call: Call, target: str, data: str) -> Leg | None:
    from .pbx import OUTGOING_LINE, Leg

    parsed = parse_local(target)
    if parsed is None:
        return None
    exten, ctx, keep = parsed
    delay_text, _, ep = exten.partition("-")
    tech, body = call.cfg.tech, LAB
    head, dash, rest = ep.partition("-")
    if dash and rest and _TECH.fullmatch(head):  # ours: <delay>-<TECH>-<resource>
        tech, ep, body = head, rest, CALLROUTER
    try:
        delay = float(delay_text)
    except ValueError:
        delay = 0.0
    pbx, c = call.pbx, call.caller
    base = f"Local/{exten}@{ctx}-{pbx.local_counter:08x}"
    pbx.local_counter += 1
    one = Channel(
        name=base + ";1",
        uniqueid=pbx.new_uniqueid(),
        linkedid=c.linkedid,
        cid_num="",
        cid_name="",
        context=ctx,
        exten=exten,
        created=call.now,
    )
    two = Channel(
        name=base + ";2",
        uniqueid=pbx.new_uniqueid(),
        linkedid=c.linkedid,
        cid_num="",
        cid_name="",
        context=ctx,
        exten=exten,
        created=call.now,
        state=4,
    )
    dial_string = target.partition("/")[2]
    call.emit("Newchannel", "call,all", ev.snapshot(one))
    call.emit("Newchannel", "call,all", ev.snapshot(two))
    call.varset(one, "DIALEDPEERNUMBER", dial_string)
    one.appl, one.data = "AppDial", OUTGOING_LINE
    call.newexten(1, "AppDial", OUTGOING_LINE, one)
    # app_dial: an outgoing channel without a caller number gets the dialplan extension and
    # the caller's connected-line name (left over from an earlier leg)
    one.cid_num = c.exten
    one.cid_name = "" if c.conn_name == UNKNOWN else c.conn_name
    one.exten = c.exten
    one.conn_num, one.conn_name = c.cid_num, c.cid_name_or_unknown
    call.emit("NewCallerid", "call,all", ev.new_callerid(one))
    call.noise("NewConnectedLine", "call,all", ev.snapshot(one))
    known = tech == call.cfg.tech and ep in pbx.phones
    behaviour = pbx.phones[ep] if known else Phone(registered=False)
    device = Device(f"Local/{exten}@{ctx}")
    rec = call.dial_cdr(one.name, data)
    leg = Leg(one, device, behaviour, dial_string, rec)
    leg.local = LocalPair(
        one=one,
        two=two,
        exten=exten,
        context=ctx,
        delay_text=delay_text,
        delay=delay,
        tech=tech,
        endpoint=ep,
        body=body,
        optimise=not keep,
        device=device.name,
    )
    call.legs_ever.append(leg)
    return leg


def before_dial_begin(call: Call, leg: Leg) -> None:
    """``;2`` gets the caller's identity, then LocalBridge (just before the outer DialBegin)."""
    p = _pair(leg)
    c, one, two = call.caller, p.one, p.two
    call.varset(two, "DIALEDPEERNUMBER", leg.dial_string)
    two.cid_num, two.cid_name = c.cid_num, c.cid_name
    two.conn_num, two.conn_name = one.cid_num, one.cid_name_or_unknown
    two.ani, two.dnid = c.cid_num, ""
    call.emit("NewCallerid", "call,all", ev.new_callerid(two))
    call.noise("NewConnectedLine", "call,all", ev.snapshot(two))
    call.emit(
        "LocalBridge",
        "call,all",
        ev.snapshot(one, "LocalOne")
        + ev.snapshot(two, "LocalTwo")
        + [
            ("Context", p.context),
            ("Exten", p.exten),
            ("LocalOptimization", "Yes" if p.optimise else "No"),
        ],
    )


def start_waiting(call: Call, leg: Leg) -> None:
    """``;2`` runs ``[ring-delayed]`` up to its Wait (right after the outer DialBegin)."""
    p = _pair(leg)
    two = p.two
    phone = p.endpoint if p.body is LAB else f"{p.tech}/{p.endpoint}"
    for prio, (name, value) in enumerate(zip(p.body.sets, (p.delay_text, phone), strict=True)):
        call.newexten(prio + 1, "Set", f"{name}={value}", two)
        call.varset(two, name, value)
    call.newexten(3, "Wait", p.delay_text, two)
    two.appl, two.data = "Wait", p.delay_text
    p.cdrs.append(_two_cdr(call, p, "", "Wait", p.delay_text))


def reach_offset(call: Call, leg: Leg) -> Leg | None:
    """The Wait is over: ``GotoIf(DEVICE_STATE = NOT_INUSE)``; dial the phone (returns the inner
    leg) or hang the Local leg up (returns None; the caller's Dial sees it end NOANSWER)."""
    from .pbx import DIAL_CLEAR, Leg

    p = _pair(leg)
    pbx, two = call.pbx, p.two
    body, data = p.body, f"{p.tech}/{p.endpoint}"
    dev = pbx.device(data)
    state = call.function(f"DEVICE_STATE({data})")
    if body.state_var:
        call.newexten(4, "Set", f"{body.state_var}={state}", two)
        call.varset(two, body.state_var, state)
    free = leg.behaviour.registered and state in body.free
    call.newexten(body.goto, "GotoIf", f"{1 if free else 0}?dial", two)
    if not free:
        call.newexten(body.goto + 1, "Hangup", "", two)
        _cdr_end(p, call.now)
        _write_cdrs(call, p)
        _pair_down(call, leg, cause=16, status="NOANSWER", by_two=True)
        return None
    call.newexten(body.dial, "Dial", data, two)
    two.appl, two.data = "Dial", data
    for var in DIAL_CLEAR:
        call.varset(two, var, "")
    behaviour = leg.behaviour
    ch = pbx.new_channel(
        p.endpoint,
        linkedid=two.linkedid,
        cid_num=p.endpoint,
        cid_name=behaviour.name or f"Manager {p.endpoint}",
        context="phones",
        exten="s",
    )
    ch.ani = ch.cid_num
    call.emit("Newchannel", "call,all", ev.snapshot(ch))
    call.varset(ch, "DIALEDPEERNUMBER", p.endpoint)
    ch.appl, ch.data = "AppDial", "(Outgoing Line)"
    ch.exten = two.exten
    ch.conn_num, ch.conn_name = two.cid_num, two.cid_name_or_unknown
    call.newexten(1, "AppDial", "(Outgoing Line)", ch)
    call.noise("NewConnectedLine", "call,all", ev.snapshot(ch))
    rec = _two_cdr(call, p, ch.name, "Dial", data)
    p.cdrs[-1:] = [rec]  # the Wait record becomes the Dial record
    inner = Leg(ch, dev, behaviour, p.endpoint, rec)
    p.phone = inner
    call.emit("DialBegin", "call,all", ev.dial_fields(two, ch) + [("DialString", p.endpoint)])
    two.conn_num, two.conn_name = ch.cid_num, ch.cid_name_or_unknown
    call.noise("NewConnectedLine", "call,all", ev.snapshot(two))
    return inner


def phone_ringing(call: Call, leg: Leg, first: bool, start: float) -> None:
    """The phone behind the leg sends 180: inner and outer ringing, caller ringback if first."""
    p = _pair(leg)
    inner = p.phone
    assert inner is not None
    ch, one, two = inner.channel, p.one, p.two
    call.newstate(ch, 5)
    inner.ringing = leg.ringing = True
    inner.device.ringing += 1
    one.cid_num, one.cid_name = ch.cid_num, ch.cid_name
    call.newstate(one, 5)
    call.emit("NewCallerid", "call,all", ev.new_callerid(one))
    call.emit("DialState", "call,all", ev.dial_fields(two, ch) + [("DialStatus", "RINGING")])
    call.varset(two, "RINGTIME", "0")
    call.varset(two, "RINGTIME_MS", str(int(call.cfg.ring_delay * 1000)))
    call.device_changed(inner.device)
    _local_state(call, p, "INUSE")
    if first:
        call.varset(call.caller, "RINGTIME", str(int(call.now - start)))
        call.varset(call.caller, "RINGTIME_MS", str(int((call.now - start) * 1000)))
        if call.caller_device is not None:
            call.device_changed(call.caller_device, queue=False)
    call.emit(
        "DialState",
        "call,all",
        ev.dial_fields(call.caller, one) + [("DialStatus", "RINGING")],
    )


def phone_busy(call: Call, leg: Leg) -> None:
    """486 from the phone: inner DialEnd BUSY, ``;2`` runs Hangup(), the pair ends cause 17."""
    p = _pair(leg)
    inner = p.phone
    assert inner is not None
    ch, two = inner.channel, p.two
    ch.tech_cause = 486
    call.emit("HangupRequest", "call,all", ev.cause_only(ch, 17) + [("TechCause", "486")])
    call.emit("DialEnd", "call,all", ev.dial_fields(two, ch) + [("DialStatus", "BUSY")])
    call.varset(two, "DIALSTATUS", "BUSY")
    rec = p.cdrs[-1]
    rec.end, rec.disposition = call.now, "BUSY"
    hang = _two_cdr(call, p, "", "Hangup", "")
    hang.start = hang.end = call.now  # the CDR forks when the Dial ends
    hang.disposition = "BUSY"
    p.cdrs.append(hang)
    _write_cdrs(call, p)
    inner.gone = True
    call.emit("Hangup", "call,all", ev.hangup(ch, 17))
    call.newexten(p.body.dial + 1, "Hangup", "", two)
    two.tech_cause = 0
    # app_dial copies the leg's cause (and its SIP code) onto the caller
    call.caller.tech_cause = 486
    call.local_cause = 17
    _pair_down(call, leg, cause=17, status="BUSY", by_two=True)
    leg.cdr.end, leg.cdr.disposition = call.now, "BUSY"


def pair_lost(call: Call, leg: Leg, cause: int) -> None:
    """The caller's Dial let go of the leg (timeout 0, answered elsewhere 26, caller left 127),
    after its outer DialEnd: ``;2`` is told to hang up, ``;1`` goes, then ``;2``'s own Dial (if
    it dialled the phone) is cancelled and the phone hangs up."""
    p = _pair(leg)
    one, two = p.one, p.two
    leg.gone = True
    call.emit("HangupRequest", "call,all", ev.cause_only(two, cause))
    call.emit("Hangup", "call,all", ev.hangup(one, cause))
    _local_state(call, p, "NOT_INUSE")
    inner = p.phone
    if inner is not None and not inner.gone:
        call.emit(
            "DialEnd", "call,all", ev.dial_fields(two, inner.channel) + [("DialStatus", "CANCEL")]
        )
        call.varset(two, "DIALSTATUS", "CANCEL")
    call.emit("SoftHangupRequest", "call,all", ev.cause_only(two, 16))
    p.two_gone = True
    call.emit("Hangup", "call,all", ev.hangup(two, cause))
    _local_state(call, p, "NOT_INUSE")
    if inner is not None and not inner.gone:
        inner.gone = True
        inner.device.ringing -= 1 if inner.ringing else 0
        call.emit("Hangup", "call,all", ev.hangup(inner.channel, 16))
        call.device_changed(inner.device)
    _cdr_end(p, call.now)
    if call.deferred_local is not None:
        call.deferred_local.append(p)
    else:
        _write_cdrs(call, p)
    leg.cdr.end = call.now


def write_deferred(call: Call) -> None:
    """Local halves ended together by a timeout or the caller's CANCEL: their threads race to
    write; the recordings (L1, L4) show the last leg's ``;2`` records first."""
    pairs, call.deferred_local = call.deferred_local or [], None
    for p in reversed(pairs):
        _write_cdrs(call, p)


def answered_inner(call: Call, leg: Leg) -> str:
    """The phone behind the leg answered: inner DialEnd ANSWER, ``;2`` up, the phone's bridge
    (``;2`` + phone); returns that bridge's id. The caller side follows in the Dial."""
    from .pbx import _uuid

    p = _pair(leg)
    inner = p.phone
    assert inner is not None
    ch, one, two = inner.channel, p.one, p.two
    inner.answered = True
    inner.device.ringing -= 1
    inner.device.up += 1
    ch.answered_at = call.now
    call.newstate(ch, 6)
    ch.exten = ""
    call.emit("DialEnd", "call,all", ev.dial_fields(two, ch) + [("DialStatus", "ANSWER")])
    for name, value in (
        ("DIALSTATUS", "ANSWER"),
        ("DIALEDPEERNAME", ch.name),
        ("DIALEDPEERNUMBER", p.endpoint),
    ):
        call.varset(two, name, value)
    rec = p.cdrs[-1]
    rec.answer, rec.disposition = call.now, "ANSWERED"
    call.newstate(two, 6)
    bridge = _uuid(call.pbx.rng)
    p.bridge_inner = bridge
    call.emit("BridgeCreate", "call,all", ev.bridge_fields(bridge, 0))
    call.device_changed(inner.device)
    call.newexten(1, "AppDial", "(Outgoing Line)", ch)
    call.emit("BridgeEnter", "call,all", ev.bridge_member(bridge, 1, ch))
    _local_state(call, p, "INUSE")
    call.newstate(one, 6)
    return bridge


def bridge_outer(call: Call, leg: Leg) -> str:
    """After the outer DialEnd ANSWER: ``;2`` joins the phone's bridge, ``;1`` and the caller
    get a bridge of their own (two bridges for the whole call with ``/n``)."""
    from .pbx import _uuid

    p = _pair(leg)
    c, one, two = call.caller, p.one, p.two
    _local_state(call, p, "INUSE")
    call.emit("BridgeEnter", "call,all", ev.bridge_member(p.bridge_inner, 2, two))
    phone = _phone(p).channel
    call.varset(phone, "BRIDGEPEER", two.name)
    call.varset(two, "BRIDGEPEER", phone.name)
    call.varset(two, "BRIDGEPVTCALLID", phone.sip_callid)
    bridge = _uuid(call.pbx.rng)
    call.emit("BridgeCreate", "call,all", ev.bridge_fields(bridge, 0))
    call.newexten(1, "AppDial", "(Outgoing Line)", one)
    call.emit("BridgeEnter", "call,all", ev.bridge_member(bridge, 1, one))
    call.emit("BridgeEnter", "call,all", ev.bridge_member(bridge, 2, c))
    call.varset(one, "BRIDGEPEER", c.name)
    call.varset(one, "BRIDGEPVTCALLID", c.sip_callid)
    call.varset(c, "BRIDGEPEER", one.name)
    return bridge


def optimise(call: Call, leg: Leg, outer: str) -> None:
    """No ``/n``: the caller's first media frame swaps the caller into the phone's bridge and
    the pair hangs up (``LocalOptimizationEnd`` says ``Success: No`` for this success)."""
    p = _pair(leg)
    inner = p.phone
    assert inner is not None
    c, one, two, ch = call.caller, p.one, p.two, inner.channel
    local = ev.snapshot(one, "LocalOne") + ev.snapshot(two, "LocalTwo")
    call.emit(
        "LocalOptimizationBegin",
        "call,all",
        local + ev.snapshot(c, "Source") + [("DestUniqueId", two.uniqueid), ("Id", "0")],
    )
    call.emit("BridgeLeave", "call,all", ev.bridge_member(outer, 1, c))
    call.varset(two, "BRIDGEPEER", "")
    call.varset(two, "BRIDGEPVTCALLID", "")
    call.emit("BridgeLeave", "call,all", ev.bridge_member(p.bridge_inner, 1, two))
    call.emit(
        "BridgeEnter",
        "call,all",
        ev.bridge_member(p.bridge_inner, 2, c) + [("SwapUniqueid", two.uniqueid)],
    )
    for round_ in range(3):  # set again as the bridge goes native_rtp (as for direct legs)
        call.varset(c, "BRIDGEPEER", ch.name)
        call.varset(c, "BRIDGEPVTCALLID", ch.sip_callid)
        call.varset(ch, "BRIDGEPEER", c.name)
        call.varset(ch, "BRIDGEPVTCALLID", c.sip_callid)
        if round_ == 0:
            call.varset(one, "BRIDGEPEER", "")
            call.varset(one, "BRIDGEPVTCALLID", "")
    _dial_times(call, p)
    call.emit(
        "LocalOptimizationEnd",
        "call,all",
        ev.snapshot(one, "LocalOne")
        + ev.snapshot(two, "LocalTwo")
        + [
            ("Success", "No"),
            ("Id", "0"),
        ],
    )
    call.emit("BridgeLeave", "call,all", ev.bridge_member(outer, 0, one))
    call.emit("BridgeDestroy", "call,all", ev.bridge_fields(outer, 0))
    call.varset(two, "DIALSTATUS", "ANSWER")
    call.emit("SoftHangupRequest", "call,all", ev.cause_only(two, 16))
    call.varset(one, "CHANLOCALSTATUS", "ANSWER")
    call.emit("HangupRequest", "call,all", ev.cause_only(one, 16))
    p.two_gone = True
    call.emit("Hangup", "call,all", ev.hangup(two, 16))
    _local_state(call, p, "NOT_INUSE")
    call.emit("Hangup", "call,all", ev.hangup(one, 16))
    _local_state(call, p, "NOT_INUSE")
    leg.gone = True
    _cdr_end(p, call.now)
    _write_cdrs(call, p)
    leg.cdr.end = call.now
    # the caller's CDR now runs to the phone: a record of its own from the swap on
    swap = CdrRecord(
        source=c.cid_num,
        destination=c.exten,
        dcontext=c.context,
        clid=clid(c.cid_name, c.cid_num),
        channel=c.name,
        dstchannel=ch.name,
        lastapp="Dial",
        lastdata=leg.cdr.lastdata,
        start=call.now,
        answer=call.now,
        disposition="ANSWERED",
        uniqueid=c.uniqueid,
        linkedid=c.linkedid,
        sequence=call._next_sequence(),
        recordingfile=call.recording,
    )
    call.extra_cdrs.append(swap)


def teardown(call: Call, leg: Leg, outer: str, optimised: bool) -> None:
    """The caller hung up (BYE) while talking to the phone behind the leg."""
    p = _pair(leg)
    inner = p.phone
    assert inner is not None
    c, one, two, ch = call.caller, p.one, p.two, inner.channel
    call._rtp_qos(c, ch if optimised else one)
    call.emit("HangupRequest", "call,all", ev.cause_only(c, 16))
    c.dead = True
    call.hangup_cause = 16
    call.hangup_source = c.name
    if optimised:
        tech = "native_rtp"
        for x in (c, ch):
            call.varset(x, "BRIDGEPEER", "")
            call.varset(x, "BRIDGEPVTCALLID", "")
        call.emit("BridgeLeave", "call,all", ev.bridge_member(p.bridge_inner, 1, c, tech))
        call.emit("BridgeLeave", "call,all", ev.bridge_member(p.bridge_inner, 0, ch, tech))
        call.emit("BridgeDestroy", "call,all", ev.bridge_fields(p.bridge_inner, 0, tech))
    else:
        call.varset(c, "BRIDGEPEER", "")
        call.varset(one, "BRIDGEPEER", "")
        call.varset(one, "BRIDGEPVTCALLID", "")
        call.emit("BridgeLeave", "call,all", ev.bridge_member(outer, 1, c))
        _cdr_end(p, call.now)
        _write_cdrs(call, p)
        call.emit("BridgeLeave", "call,all", ev.bridge_member(outer, 0, one))
        call.emit("BridgeDestroy", "call,all", ev.bridge_fields(outer, 0))
        call.emit("HangupRequest", "call,all", ev.cause_only(two, 16))
        call.emit("Hangup", "call,all", ev.hangup(one, 16))
        _local_state(call, p, "NOT_INUSE")
        call.varset(two, "BRIDGEPEER", "")
        call.varset(two, "BRIDGEPVTCALLID", "")
        call.varset(ch, "BRIDGEPEER", "")
        call.emit("BridgeLeave", "call,all", ev.bridge_member(p.bridge_inner, 1, two))
        _dial_times(call, p)
        call.varset(two, "DIALSTATUS", "ANSWER")
        call.emit("SoftHangupRequest", "call,all", ev.cause_only(two, 16))
        p.two_gone = True
        call.emit("Hangup", "call,all", ev.hangup(two, 16))
        _local_state(call, p, "NOT_INUSE")
        call.emit("BridgeLeave", "call,all", ev.bridge_member(p.bridge_inner, 0, ch))
        call.emit("BridgeDestroy", "call,all", ev.bridge_fields(p.bridge_inner, 0))
    inner.gone = leg.gone = True
    inner.device.up -= 1
    if call.cfg.tech == "SIP":  # as for a direct leg (pbx._bridge_teardown)
        from .pbx import QOS

        call.varset(ch, "RTPAUDIOQOS", QOS.format(ssrc=call.pbx.rng.getrandbits(31)))
    else:
        call._rtp_qos(ch, None)  # the phone hangs up after its bridge is gone
    call.emit("Hangup", "call,all", ev.hangup(ch, 16))
    call.device_changed(inner.device)
    inner.cdr.end = call.now
    leg.cdr.end = leg.cdr.end or call.now


# ---- helpers ---------------------------------------------------------------------------


def _pair(leg: Leg) -> LocalPair:
    assert leg.local is not None
    return leg.local


def _phone(p: LocalPair) -> Leg:
    assert p.phone is not None
    return p.phone


def _dial_times(call: Call, p: LocalPair) -> None:
    """``;2``'s own Dial ends: ANSWEREDTIME from the phone's answer, DIALEDTIME from the half's
    creation (L3: 6525 ms = the whole life of ;2, not its 3.5 s of dialling)."""
    answered = _phone(p).channel.answered_at or call.now
    talked, dialed = call.now - answered, call.now - p.two.created
    call.varset(p.two, "ANSWEREDTIME", str(int(talked)))
    call.varset(p.two, "ANSWEREDTIME_MS", str(int(talked * 1000)))
    call.varset(p.two, "DIALEDTIME", str(int(dialed)))
    call.varset(p.two, "DIALEDTIME_MS", str(int(dialed * 1000)))


def _two_cdr(call: Call, p: LocalPair, dst: str, app: str, data: str) -> CdrRecord:
    two = p.two
    return CdrRecord(
        source=two.cid_num,
        destination=p.exten,
        dcontext=p.context,
        clid=clid(two.cid_name, two.cid_num),
        channel=two.name,
        dstchannel=dst,
        lastapp=app,
        lastdata=data,
        start=two.created,
        uniqueid=two.uniqueid,
        linkedid=two.linkedid,
        sequence=call._next_sequence(),
        recordingfile="",
    )


def _cdr_end(p: LocalPair, now: float) -> None:
    for rec in p.cdrs:
        if rec.end is None:
            rec.end = now


def _write_cdrs(call: Call, p: LocalPair) -> None:
    """A ``;2`` half writes its records when it ends (before the caller's burst)."""
    if p.cdrs_written:
        return
    p.cdrs_written = True
    call._emit_cdrs(p.cdrs)


def _local_state(call: Call, p: LocalPair, state: str) -> None:
    call.emit("DeviceStateChange", "call,all", ev.device_state(p.device, state))


def _pair_down(call: Call, leg: Leg, cause: int, status: str, by_two: bool) -> None:
    """``;2`` ended on its own (Hangup() after a busy phone or a failed check): ``;1`` is hung up
    with the same cause and the caller's Dial sees the leg end with ``status``."""
    p = _pair(leg)
    one, two = p.one, p.two
    call.emit("SoftHangupRequest", "call,all", ev.cause_only(two, 16))
    if status == "BUSY":
        call.varset(one, "CHANLOCALSTATUS", "BUSY")
    call.emit("HangupRequest", "call,all", ev.cause_only(one, cause))
    if p.phone is not None:  # the phone's identity reaches ;1 as it goes (L6)
        one.cid_num, one.cid_name = p.phone.channel.cid_num, p.phone.channel.cid_name
    p.two_gone = True
    call.emit("Hangup", "call,all", ev.hangup(two, cause))
    call.emit("DialEnd", "call,all", ev.dial_fields(call.caller, one) + [("DialStatus", status)])
    leg.gone = True
    call.emit("Hangup", "call,all", ev.hangup(one, cause))
    call.emit("NewCallerid", "call,all", ev.new_callerid(one))
    _local_state(call, p, "NOT_INUSE")
    _local_state(call, p, "NOT_INUSE")
    leg.cdr.end = call.now
    if status == "BUSY":
        leg.cdr.disposition = "BUSY"
