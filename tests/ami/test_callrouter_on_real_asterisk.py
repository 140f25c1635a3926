"""callrouter's own one-Dial plan as a real Asterisk 20 ran it (tests/fixtures/asterisk/
callrouter-real, issue #18): the AMI streams through the CallTracker give the calls the phones
saw.

What each call must say is hand-read from the sipp traces in each folder's facts.txt (INVITE to
the phone's 200, 486 or CANCEL), never from the code under test: one leg per phone that got an
INVITE, none for a phone whose Local leg was still waiting or found it busy, the answerer is the
phone behind the Local leg, and the router's step stays on the call.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ami_listener.tracker import CallTracker
from core import dialplan
from core.phonebook import PhoneBook

from .events import replay, scenario_events

CLIENT = "+79161234567"
PHONES = PhoneBook.of(["PJSIP/101", "PJSIP/102", "PJSIP/103", "PJSIP/202"])


@dataclass(frozen=True)
class Want:
    disposition: str
    answered_by: str | None
    step: str
    abandoned: bool
    legs: dict[str, float]  # phone → ring seconds, INVITE to its 200 / 486 / CANCEL


WANT = {
    "s1-responsible-answers": Want("ANSWERED", "PJSIP/101", "1", False, {"PJSIP/101": 2.0}),
    "s2-department-answers": Want(
        "ANSWERED", "PJSIP/102", "2", False, {"PJSIP/101": 6.0, "PJSIP/102": 2.0}
    ),
    "s3-head-answers-after-added": Want(
        "ANSWERED",
        "PJSIP/103",
        "3",
        False,
        {"PJSIP/101": 8.5, "PJSIP/102": 4.5, "PJSIP/103": 1.5},
    ),
    "s4-nobody-answers": Want(
        "NO ANSWER",
        None,
        "4",
        False,
        {"PJSIP/101": 14.0, "PJSIP/102": 10.0, "PJSIP/103": 7.0, "PJSIP/202": 4.0},
    ),
    "s5-caller-leaves-during-delay": Want(
        "NO ANSWER", None, "2", True, {"PJSIP/101": 5.0, "PJSIP/102": 1.0}
    ),
    # 103 was on another call: its leg read INUSE at +7 s and never dialled it.
    "s6a-head-in-another-call": Want(
        "NO ANSWER", None, "4", False, {"PJSIP/101": 14.0, "PJSIP/102": 10.0, "PJSIP/202": 4.0}
    ),
    # 103 answered 486 at once; Asterisk copied cause 17 onto the caller (486, last Cdr BUSY),
    # but the Dial rang out: nobody answered.
    "s6b-head-answers-486": Want(
        "NO ANSWER",
        None,
        "4",
        False,
        {"PJSIP/101": 14.0, "PJSIP/102": 10.0, "PJSIP/103": 0.0, "PJSIP/202": 4.0},
    ),
}


def client_call(case: str):  # type: ignore[no-untyped-def]
    calls, tracker = replay(
        scenario_events(f"callrouter-real/{case}"), CallTracker("pbx1", phones=lambda: PHONES)
    )
    assert tracker.bad_events == 0
    # s6a also holds the lab's own call that kept 103 busy: only the client's call is checked.
    (call,) = [c for c in calls if c.external_number == CLIENT]
    return call


@pytest.mark.parametrize("case", sorted(WANT))
def test_the_call_is_what_the_phones_saw(case: str) -> None:
    call, want = client_call(case), WANT[case]
    assert call.direction == "inbound"
    assert call.disposition == want.disposition
    assert call.answered_by == want.answered_by
    assert call.abandoned is want.abandoned
    assert dict(call.variables)[dialplan.STEP] == want.step
    rung = {leg.endpoint: leg.ring_seconds for leg in call.legs}
    assert rung.keys() == want.legs.keys(), "one leg per phone that got an INVITE"
    for phone, seconds in want.legs.items():
        assert abs(rung[phone] - seconds) < 0.5, (phone, rung[phone], seconds)
    assert not any(leg.channel.startswith("Local/") for leg in call.legs)


def test_a_cli_function_evaluation_is_no_call() -> None:
    # `asterisk -rx "dialplan eval function DEVICE_STATE(PJSIP/202)"` makes a CLIEval/N channel:
    # a Cdr (FAILED), a Newchannel and a Hangup, which were stored as a missed inbound call.
    events = scenario_events("callrouter-real/x1-cli-dialplan-eval-ghost-call")
    assert any(e.get("Channel", "").startswith("CLIEval/") for e in events)
    calls, tracker = replay(events)
    assert calls == []
    assert tracker.in_flight == 0 and tracker.bad_events == 0
