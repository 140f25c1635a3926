"""What really happened in each recorded scenario, written by hand from notes.md and cdr.csv.

Never derived from the code under test. Ring seconds are the caller's wait (from the first
channel to the answer, or to the end); they come from the sipp traces in notes.md (INVITE to
200 OK), so they get a tolerance. Talk seconds are cdr.csv `billsec`.
"""

from __future__ import annotations

from dataclasses import dataclass

MONITOR = "/var/spool/asterisk/monitor/"


@dataclass(frozen=True)
class Leg:
    endpoint: str
    answered: bool
    dial_status: str
    ring_seconds: float  # approx.


@dataclass(frozen=True)
class Expected:
    linkedid: str
    direction: str
    external_number: str | None
    external_number_raw: str | None
    caller_name: str
    dialed_number: str
    disposition: str
    answered_by: str | None
    talk_seconds: float
    ring_seconds: float  # approx.
    abandoned: bool
    recording_file: str | None
    legs: tuple[Leg, ...]
    manager_endpoint: str | None = None
    variables: tuple[tuple[str, str], ...] | None = None  # None: not checked
    abandon_seconds: float | None = None


IVAN = ("+79161234567", "+79161234567", "Иван Петров")
LAB = (None, "+15551230000", "Lab Caller")  # +1 555 123 0000 is not a valid number


def _inbound(linkedid, who, **kw) -> Expected:
    e164, raw, name = who
    return Expected(
        linkedid=linkedid,
        direction="inbound",
        external_number=e164,
        external_number_raw=raw,
        caller_name=name,
        dialed_number="7000",
        **kw,
    )


EXPECTED: dict[str, tuple[Expected, ...]] = {
    "01a-known-client-answered-default-cdr": (
        _inbound(
            "1795746819.85",
            IVAN,
            disposition="ANSWERED",
            answered_by="SIP/101",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023339-79161234567-1795746819.85.wav",
            legs=(Leg("SIP/101", True, "ANSWER", 2.0),),
            variables=(
                ("CALLROUTER_CLIENT", "known"),
                ("CALLROUTER_MANAGER", "101"),
                ("CALLROUTER_STEP", "1"),
            ),
        ),
    ),
    "01b-known-client-answered-cdr-mappings": (
        _inbound(
            "1795746830.87",
            IVAN,
            disposition="ANSWERED",
            answered_by="SIP/101",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023350-79161234567-1795746830.87.wav",
            legs=(Leg("SIP/101", True, "ANSWER", 2.0),),
            variables=(
                ("CALLROUTER_CLIENT", "known"),
                ("CALLROUTER_MANAGER", "101"),
                ("CALLROUTER_STEP", "1"),
            ),
        ),
    ),
    "02-escalation-answered-step2": (
        _inbound(
            "1795746841.90",
            IVAN,
            disposition="ANSWERED",
            answered_by="SIP/102",
            talk_seconds=3,
            ring_seconds=12.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023401-79161234567-1795746841.90.wav",
            legs=(
                Leg("SIP/101", False, "NOANSWER", 10.0),
                Leg("SIP/101", False, "CANCEL", 2.0),
                Leg("SIP/102", True, "ANSWER", 2.0),
                Leg("SIP/103", False, "CANCEL", 2.0),
            ),
        ),
    ),
    "03-escalation-all-steps-missed": (
        _inbound(
            "1795746863.99",
            ("+79035550101", "+79035550101", "Новый клиент"),
            disposition="NO ANSWER",
            answered_by=None,
            talk_seconds=0,
            ring_seconds=10.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023423-79035550101-1795746863.99.wav",
            legs=(
                Leg("SIP/101", False, "NOANSWER", 3.0),
                Leg("SIP/101", False, "NOANSWER", 3.0),
                Leg("SIP/102", False, "NOANSWER", 3.0),
                Leg("SIP/101", False, "NOANSWER", 4.0),
                Leg("SIP/102", False, "NOANSWER", 4.0),
                Leg("SIP/103", False, "NOANSWER", 4.0),
            ),
        ),
    ),
    "04-caller-abandons-while-ringing": (
        _inbound(
            "1795746879.113",
            IVAN,
            disposition="NO ANSWER",
            answered_by=None,
            talk_seconds=0,
            ring_seconds=6.5,
            abandoned=True,
            abandon_seconds=6.5,
            recording_file=MONITOR + "in-20261127-023439-79161234567-1795746879.113.wav",
            legs=(
                Leg("SIP/101", False, "NOANSWER", 4.0),
                Leg("SIP/101", False, "CANCEL", 2.5),
                Leg("SIP/102", False, "CANCEL", 2.5),
            ),
        ),
    ),
    "05-busy-and-unavailable": (
        _inbound(
            "1795746891.120",
            IVAN,
            disposition="BUSY",
            answered_by=None,
            talk_seconds=0,
            ring_seconds=0.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023451-79161234567-1795746891.120.wav",
            legs=(Leg("SIP/101", False, "BUSY", 0.0), Leg("SIP/101", False, "BUSY", 0.0)),
        ),
    ),
    "06-outbound-callback": (
        Expected(
            linkedid="1795746897.126",
            direction="outbound",
            external_number="+79161234567",
            external_number_raw="+79161234567",
            caller_name="Manager 101",
            dialed_number="+79161234567",
            disposition="ANSWERED",
            answered_by="SIP/carrier",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            manager_endpoint="SIP/101",
            recording_file=MONITOR + "out-20261127-023457-79161234567-1795746897.126.wav",
            legs=(Leg("SIP/carrier", True, "ANSWER", 2.0),),
            variables=(),
        ),
    ),
    "07-agi-server-down": (
        _inbound(
            "1795746908.129",
            IVAN,
            disposition="ANSWERED",
            answered_by="SIP/102",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023508-79161234567-1795746908.129.wav",
            legs=(Leg("SIP/102", True, "ANSWER", 2.0),),
            variables=(),
        ),
    ),
    "08-ami-reconnect": (),
    "09-two-concurrent-calls": (
        _inbound(
            "1795746920.132",
            IVAN,
            disposition="ANSWERED",
            answered_by="SIP/101",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023520-79161234567-1795746920.132.wav",
            legs=(Leg("SIP/101", True, "ANSWER", 2.0),),
        ),
        _inbound(
            "1795746921.134",
            ("+79037654321", "+79037654321", "Anna Smirnova"),
            disposition="ANSWERED",
            answered_by="SIP/102",
            talk_seconds=3,
            ring_seconds=2.5,
            abandoned=False,
            recording_file=MONITOR + "in-20261127-023521-79037654321-1795746921.134.wav",
            legs=(Leg("SIP/102", True, "ANSWER", 2.5),),
        ),
    ),
    # The PJSIP lab: no MixMonitor, no [mappings] in cdr_manager.conf (Cdr without LinkedID).
    "pjsip/answered": (
        _inbound(
            "1795746827.26",
            LAB,
            disposition="ANSWERED",
            answered_by="PJSIP/101",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            recording_file=None,
            legs=(Leg("PJSIP/101", True, "ANSWER", 2.0),),
            variables=(),
        ),
    ),
    "pjsip/unanswered": (
        _inbound(
            "1795746854.32",
            LAB,
            disposition="NO ANSWER",
            answered_by=None,
            talk_seconds=0,
            ring_seconds=10.0,
            abandoned=False,
            recording_file=None,
            legs=(Leg("PJSIP/101", False, "NOANSWER", 10.0),),
        ),
    ),
    "pjsip/busy": (
        _inbound(
            "1795746848.30",
            LAB,
            disposition="BUSY",
            answered_by=None,
            talk_seconds=0,
            ring_seconds=0.0,
            abandoned=False,
            recording_file=None,
            legs=(Leg("PJSIP/101", False, "BUSY", 0.0),),
        ),
    ),
    "pjsip/registered": (
        _inbound(
            "1795746838.28",
            LAB,
            disposition="ANSWERED",
            answered_by="PJSIP/201",
            talk_seconds=3,
            ring_seconds=2.0,
            abandoned=False,
            recording_file=None,
            legs=(Leg("PJSIP/201", True, "ANSWER", 2.0),),
        ),
    ),
}


def check_call(call, expected: Expected, system: str = "pbx1") -> None:
    """Assert that `call` (a CompletedCall) is what really happened."""
    assert call.system == system
    assert call.linkedid == expected.linkedid
    assert call.direction == expected.direction
    assert call.external_number == expected.external_number
    assert call.external_number_raw == expected.external_number_raw
    assert call.caller_name == expected.caller_name
    assert call.dialed_number == expected.dialed_number
    assert call.disposition == expected.disposition
    assert call.answered_by == expected.answered_by
    assert call.talk_seconds == expected.talk_seconds
    assert abs(call.ring_seconds - expected.ring_seconds) < 0.5, call.ring_seconds
    assert call.abandoned is expected.abandoned
    if expected.abandon_seconds is not None:
        assert call.abandon_seconds is not None
        assert abs(call.abandon_seconds - expected.abandon_seconds) < 0.5
    else:
        assert call.abandon_seconds is None
    assert call.recording_file == expected.recording_file
    assert call.manager_endpoint == expected.manager_endpoint
    if expected.variables is not None:
        assert call.variables == expected.variables
    assert (call.answered_at is not None) == (expected.disposition == "ANSWERED")
    assert call.started_at <= call.ended_at
    assert call.started_at.utcoffset() is not None
    got = [(leg.endpoint, leg.answered, leg.dial_status) for leg in call.legs]
    assert got == [(leg.endpoint, leg.answered, leg.dial_status) for leg in expected.legs]
    for leg, want in zip(call.legs, expected.legs, strict=True):
        assert abs(leg.ring_seconds - want.ring_seconds) < 0.5, (leg, want)
