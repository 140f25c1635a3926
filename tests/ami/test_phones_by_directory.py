"""A channel is a manager's phone because the directory says so (issue #14, point 6).

The recorded outbound call (06: phone 101 dials a client through `SIP/carrier`) and inbound call
(01b: the carrier's client answered by 101), their phone renamed to what offices really call
their PJSIP endpoints, through the tracker with the directory's phones."""

from __future__ import annotations

import pytest

from ami_listener.tracker import CallTracker
from core.phonebook import PhoneBook
from tests.ami.events import replay, scenario_events
from tests.ami.expected import EXPECTED, check_call
from tests.ami.fixtures import ALL_SCENARIOS
from tests.ami.test_tracker import renamed

OUTBOUND = "06-outbound-callback"
OUTBOUND_PHONE = "SIP/101-00000048"
INBOUND = "01b-known-client-answered-cdr-mappings"
INBOUND_PHONE = "SIP/101-00000034"
CLIENT = "+79161234567"


def tracker(*phones: str, trunks: tuple[str, ...] = ()) -> CallTracker:
    book = PhoneBook.of(phones)
    return CallTracker("pbx1", phones=lambda: book, trunk_endpoints=trunks)


def outbound_from(channel: str, t: CallTracker):
    (call,), _ = replay(renamed(scenario_events(OUTBOUND), OUTBOUND_PHONE, channel), t)
    return call


@pytest.mark.parametrize("name", ["anna", "cafe-beef", "101"])
def test_a_managers_phone_calling_a_client_is_an_outbound_call_of_that_manager(name: str) -> None:
    call = outbound_from(f"SIP/{name}-00000048", tracker("SIP/101", f"SIP/{name}"))
    assert call.direction == "outbound"
    assert call.manager_endpoint == f"SIP/{name}"
    assert call.external_number == CLIENT


def test_without_a_directory_a_lettered_phone_is_still_taken_for_a_trunk() -> None:
    """The fallback when no directory was ever loaded: today's rule by names, unchanged."""
    call = outbound_from("SIP/anna-00000048", CallTracker("pbx1"))
    assert call.direction == "inbound" and call.manager_endpoint is None
    loaded_never = CallTracker("pbx1", phones=lambda: None)
    assert outbound_from("SIP/anna-00000048", loaded_never).direction == "inbound"


@pytest.mark.parametrize("trunks", [(), ("carrier",)])
def test_a_device_no_manager_has_calling_out_is_outbound_without_a_manager(trunks) -> None:
    """`PJSIP/office-fax` dialling a client is the office calling out: never a client's inbound
    call (it would inflate the Lost Call Rate's base), and nobody's call."""
    call = outbound_from("SIP/office-fax-00000048", tracker("SIP/101", trunks=trunks))
    assert call.direction == "outbound"
    assert call.manager_endpoint is None
    assert call.external_number == CLIENT


@pytest.mark.parametrize(
    ("channel", "phone"),
    [
        ("SIP/cafe-beef-00000034", "SIP/cafe-beef"),
        ("SIP/office-fax-00000034", "SIP/office-fax"),
        ("Local/101@ctx-0000000a;1", "SIP/101"),
        ("Local/101@from-internal-0000000b;1", "SIP/101"),
    ],
)
def test_the_phone_that_answers_a_client_is_the_directorys(channel: str, phone: str) -> None:
    t = tracker("SIP/101", "SIP/cafe-beef", "SIP/office-fax")
    (call,), _ = replay(renamed(scenario_events(INBOUND), INBOUND_PHONE, channel), t)
    assert call.direction == "inbound"
    assert call.answered_by == phone  # the writer finds the manager by this endpoint
    assert call.external_number == CLIENT


def test_a_carrier_no_manager_has_still_brings_clients_in() -> None:
    (call,), _ = replay(scenario_events(INBOUND), tracker("SIP/101"))
    assert call.direction == "inbound" and call.answered_by == "SIP/101"
    assert call.manager_endpoint is None


def test_an_inactive_managers_phone_is_still_a_phone() -> None:
    """The book holds every manager's phone: the listener never asks who is active."""
    call = outbound_from("SIP/anna-00000048", tracker("SIP/anna"))
    assert call.manager_endpoint == "SIP/anna"


def test_phone_to_phone_is_internal() -> None:
    def ev(name, t, **fields):
        return {"Event": name, "Timestamp": f"{1795746000 + t:.6f}", **fields}

    a = dict(Channel="PJSIP/anna-00000001", Uniqueid="9.1", Linkedid="9.1")
    b = dict(Channel="PJSIP/cafe-beef-00000002", Uniqueid="9.2", Linkedid="9.1")
    leg = dict(DestChannel=b["Channel"], DestUniqueid="9.2", **a)
    events = [
        ev("Newchannel", 0, CallerIDNum="anna", Exten="cafe-beef", **a),
        ev("Newchannel", 0.1, Exten="s", **b),
        ev("DialBegin", 0.1, DialString="cafe-beef", **leg),
        ev("DialEnd", 4.1, DialStatus="ANSWER", **leg),
        ev("Hangup", 30, **b),
        ev("Hangup", 30.1, **a),
    ]
    (call,), _ = replay(events, tracker("PJSIP/anna", "PJSIP/cafe-beef"))
    assert call.direction == "internal"
    assert (call.manager_endpoint, call.answered_by) == ("PJSIP/anna", "PJSIP/cafe-beef")
    assert call.external_number is None


def test_the_book_is_asked_when_the_call_is_assembled() -> None:
    """A directory refreshed while the call was on decides it: the book in force at its end."""
    books = [PhoneBook.of(["SIP/101"])]
    t = CallTracker("pbx1", phones=lambda: books[-1])
    for event in renamed(scenario_events(OUTBOUND), OUTBOUND_PHONE, "SIP/anna-00000048"):
        assert t.process(event) == []
    books.append(PhoneBook.of(["SIP/101", "SIP/anna"]))
    (call,) = t.flush()
    assert call.direction == "outbound" and call.manager_endpoint == "SIP/anna"


@pytest.mark.parametrize(
    ("channel", "phone"),
    [
        ("PJSIP/anna-0000001a", "PJSIP/anna"),
        ("PJSIP/cafe-beef-00000003", "PJSIP/cafe-beef"),
        ("PJSIP/cafe-beef", "PJSIP/cafe-beef"),
        ("PJSIP/j.doe_2-0000000c", "PJSIP/j.doe_2"),
        ("Local/101@ctx-0000000a;1", "PJSIP/101"),
        ("Local/101@ctx-0000000a;2", "PJSIP/101"),
        ("Local/201@ctx-0000000a;1", "Local/201@ctx/n"),
        ("PJSIP/office-fax-0000001a", None),
        ("SIP/101-00000001", None),  # another technology is another device
        ("Local/3-103@ctx-0000000a;1", None),
        ("PJSIP/carrier-00000033", None),
    ],
)
def test_the_phone_book_reads_every_channel_name(channel: str, phone: str | None) -> None:
    book = PhoneBook.of(
        ["PJSIP/101", "PJSIP/anna", "PJSIP/cafe-beef", "PJSIP/j.doe_2"] + ["Local/201@ctx/n"]
    )
    assert book.phone_of(channel) == phone
    assert book.is_phone(channel) is (phone is not None)


def test_two_phones_on_one_extension_a_local_channel_rings_the_first() -> None:
    book = PhoneBook.of(["PJSIP/101", "SIP/101"])
    assert book.phone_of("Local/101@ctx-0000000a;1") == "PJSIP/101"
    assert book.phone_of("SIP/101-00000001") == "SIP/101"


LAB_PHONES = [f"{tech}/{ext}" for tech in ("SIP", "PJSIP") for ext in range(101, 106)]


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_every_recorded_call_reads_the_same_with_the_labs_directory(scenario: str) -> None:
    """The lab's phones were all digits: with its directory loaded, every recorded call is
    what really happened, as with the names alone."""
    calls, t = replay(scenario_events(scenario), tracker(*LAB_PHONES))
    assert [c.linkedid for c in calls] == [e.linkedid for e in EXPECTED[scenario]]
    for call, want in zip(calls, EXPECTED[scenario], strict=True):
        check_call(call, want)
    assert t.bad_events == 0


LOCAL_SCENARIOS = (
    "pjsip-local/L1-nobody-answers",
    "pjsip-local/L2-department-answers-before-head",
    "pjsip-local/L3-head-answers-after-added",
    "pjsip-local/L4-caller-leaves-during-delay",
    "pjsip-local/L5-head-answers-no-n",
    "pjsip-local/L6-delayed-phone-busy",
)


@pytest.mark.parametrize("scenario", LOCAL_SCENARIOS)
def test_local_channel_calls_read_the_same_with_the_labs_directory(scenario: str) -> None:
    by_names, _ = replay(scenario_events(scenario))
    by_directory, t = replay(scenario_events(scenario), tracker(*LAB_PHONES))
    assert t.bad_events == 0 and len(by_directory) == len(by_names) > 0
    for mine, theirs in zip(by_directory, by_names, strict=True):
        assert mine.direction == theirs.direction == "inbound"
        assert mine.answered_by == theirs.answered_by
        assert mine.legs == theirs.legs
