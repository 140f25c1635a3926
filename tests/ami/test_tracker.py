"""CallTracker on recorded events: pure, tolerant, never a duplicate."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ami_listener.tracker import CallTracker
from ami_listener.wire import AmiFramer

from .events import replay, scenario_events
from .expected import EXPECTED, check_call
from .fixtures import ALL_SCENARIOS, read_sessions


def edited(events, match, **changes):
    """A copy of `events` with `changes` applied to every event for which `match` is true."""
    return [{**e, **changes} if match(e) else e for e in events]


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_pure_replay_matches_what_happened(scenario: str) -> None:
    calls, tracker = replay(scenario_events(scenario))
    assert [c.linkedid for c in calls] == [e.linkedid for e in EXPECTED[scenario]]
    for call, want in zip(calls, EXPECTED[scenario], strict=True):
        check_call(call, want)
    assert tracker.in_flight == 0 and tracker.bad_events == 0


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_starting_mid_stream_never_crashes_duplicates_or_invents(scenario: str) -> None:
    events = scenario_events(scenario)
    full = {c.linkedid: c for c in replay(events)[0]}
    for cut in range(len(events) + 1):
        calls, tracker = replay(events[cut:])
        ids = [c.linkedid for c in calls]
        assert len(ids) == len(set(ids)), cut
        for call in calls:
            # A call is recorded only when its start was seen, and then exactly as in full.
            assert call == full[call.linkedid], (cut, call.linkedid)
        assert tracker.bad_events == 0


def test_late_cdr_within_grace_is_used_and_after_grace_ignored() -> None:
    events = list(scenario_events("01b-known-client-answered-cdr-mappings"))
    cdr_index = next(i for i, e in enumerate(events) if e["Event"] == "Cdr")
    cdr = events.pop(cdr_index)
    hangup_at = float(events[-1]["Timestamp"])

    # Within the grace: Cdr arrives 1 s after the last Hangup; its BillableSeconds win.
    late = {**cdr, "Timestamp": f"{hangup_at + 1:.6f}", "BillableSeconds": "7"}
    (call,), _ = replay([*events, late])
    assert call.talk_seconds == 7

    # After the grace: the call was already emitted from events; the Cdr is ignored, no dup.
    tracker = CallTracker("pbx1", cdr_grace=2.0)
    calls = [c for e in events for c in tracker.process(e)]
    tick = {"Event": "Newstate", "Timestamp": f"{hangup_at + 2.5:.6f}", "Linkedid": "x"}
    calls += tracker.process(tick)
    assert len(calls) == 1 and calls[0].talk_seconds == pytest.approx(3.0, abs=0.1)  # events
    calls += tracker.process({**late, "Timestamp": f"{hangup_at + 3:.6f}"})
    calls += tracker.flush()
    assert len(calls) == 1


def test_cdr_without_linkedid_is_matched_by_the_caller_uniqueid() -> None:
    events = edited(
        scenario_events("01a-known-client-answered-default-cdr"),
        lambda e: e["Event"] == "Cdr",
        BillableSeconds="4",
    )
    (call,), _ = replay(events)
    assert "LinkedID" not in next(e for e in events if e["Event"] == "Cdr")
    assert call.talk_seconds == 4  # the Cdr was found and is authoritative


def test_expire_uses_the_given_time_not_a_clock() -> None:
    events = scenario_events("07-agi-server-down")
    tracker = CallTracker("pbx1", cdr_grace=2.0)
    assert [c for e in events for c in tracker.process(e)] == []
    last = tracker.last_event_at
    assert tracker.expire(last + 1.0) == []
    (call,) = tracker.expire(last + 2.5)
    assert call.answered_by == "SIP/102"
    assert tracker.expire(last + 100) == [] and tracker.in_flight == 0


def test_shutdown_mid_call_records_it_as_best_known_and_forgets_it() -> None:
    events = scenario_events("02-escalation-answered-step2")
    answer = next(
        i for i, e in enumerate(events) if e["Event"] == "DialEnd" and e["DialStatus"] == "ANSWER"
    )
    tracker = CallTracker("pbx1")
    for event in events[: answer + 1]:
        assert tracker.process(event) == []
    at = float(events[answer]["Timestamp"]) + 1
    (call,) = tracker.process(
        {"Event": "Shutdown", "Timestamp": f"{at}", "Shutdown": "Cleanly", "Restart": "True"}
    )
    assert call.answered_by == "SIP/102" and call.disposition == "ANSWERED"
    assert call.ended_at.timestamp() == pytest.approx(at)
    assert tracker.in_flight == 0
    # What Asterisk still sends about that call after a restart is not a second call.
    rest, _ = replay(events[answer + 1 :], tracker)
    assert rest == []


def test_fully_booted_after_a_crash_resets_calls_in_flight() -> None:
    events = scenario_events("03-escalation-all-steps-missed")
    tracker = CallTracker("pbx1")
    for event in events[:60]:
        tracker.process(event)
    assert tracker.in_flight == 1
    last = tracker.last_event_at
    # Same login-time FullyBooted on a running Asterisk: nothing happens.
    assert tracker.process({"Event": "FullyBooted", "Uptime": "500"}, now=last + 5) == []
    # Asterisk booted 10 s ago, after our last event: it crashed and came back.
    (call,) = tracker.process({"Event": "FullyBooted", "Uptime": "10"}, now=last + 60)
    assert call.linkedid == "1795746863.99" and call.disposition == "NO ANSWER"
    assert tracker.in_flight == 0


def test_scenario_08_restart_is_survived() -> None:
    calls, tracker = replay(scenario_events("08-ami-reconnect"))
    assert calls == [] and tracker.bad_events == 0


def test_bad_events_are_logged_and_skipped_the_call_still_right(caplog) -> None:
    events = list(scenario_events("02-escalation-answered-step2"))
    junk = [
        {"Event": "Newchannel", "Timestamp": "1795746841.6"},  # missing Uniqueid/Linkedid
        {"Event": "DialEnd", "Linkedid": "1795746841.90"},  # missing DestUniqueid
        {"Event": "Hangup", "Linkedid": "1795746841.90", "Uniqueid": ""},
        {"Event": "NoSuchEvent", "Foo": "bar"},
        {
            "Event": "Cdr",
            "LinkedID": "1795746841.90",
            "BillableSeconds": "-5",
            "StartTime": "yesterday",
            "Disposition": "ANSWERED",
            "DestinationChannel": "X/1-1",
        },
        {"Event": "FullyBooted", "Uptime": "a long time"},
        {"Timestamp": "1"},  # not an event
        {
            "Event": "VarSet",
            "Linkedid": "1795746841.90",
            "Variable": ["CALLROUTER_X", "Y"],
            "Timestamp": "NaN",
            "Value": "v",
        },
    ]
    mixed = events[:40] + junk + events[40:]
    calls, tracker = replay(mixed)
    (call,) = calls
    check_call(
        call, dataclasses.replace(EXPECTED["02-escalation-answered-step2"][0], variables=None)
    )
    assert tracker.bad_events == 3
    # Damaged input is a warning that names what was missing, not an error (nothing of ours broke).
    assert caplog.text.count("skipping malformed AMI event (missing ") == 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_router_variables_and_after_hours() -> None:
    events = list(scenario_events("03-escalation-all-steps-missed"))
    first = events.index(
        next(e for e in events if e["Event"] == "VarSet" and e.get("Variable") == "CALLROUTER_STEP")
    )
    extra = {**events[first], "Variable": "CALLROUTER_AFTER_HOURS", "Value": "1"}
    (call,), _ = replay([*events[:first], extra, *events[first:]])
    assert call.after_hours is True
    assert dict(call.variables)["CALLROUTER_AFTER_HOURS"] == "1"
    assert dict(call.variables)["CALLROUTER_STEP"] == "3"


@pytest.mark.parametrize("value", ["1", " yes ", "TRUE", "on", "y"])
def test_after_hours_is_read_as_the_router_may_write_it(value: str) -> None:
    events = list(scenario_events("03-escalation-all-steps-missed"))
    varset = next(e for e in events if e.get("Variable") == "CALLROUTER_STEP")
    extra = {**varset, "Variable": "CALLROUTER_AFTER_HOURS", "Value": value}
    (call,), _ = replay([*events, extra])
    assert call.after_hours is True
    (call,), _ = replay([*events, {**extra, "Value": "0"}])
    assert call.after_hours is False


def renamed(events, old: str, new: str):
    """The events with channel `old` renamed `new` wherever a header names it."""
    return [
        {k: v.replace(old, new) if isinstance(v, str) else v for k, v in e.items()} for e in events
    ]


ANSWERING_CHANNELS = [
    ("PJSIP/office-fax-0000001a", "PJSIP/office-fax"),
    ("PJSIP/cafe-beef-00000003", "PJSIP/cafe-beef"),
    ("Local/101@ctx-0000000a;1", "Local/101@ctx"),
]


@pytest.mark.parametrize(("channel", "endpoint"), ANSWERING_CHANNELS)
def test_the_answering_channel_is_recorded_as_its_endpoint(channel: str, endpoint: str) -> None:
    events = renamed(
        scenario_events("01b-known-client-answered-cdr-mappings"), "SIP/101-00000034", channel
    )
    (call,), tracker = replay(events)
    assert call.answered_by == endpoint
    assert [(leg.endpoint, leg.channel, leg.answered) for leg in call.legs] == [
        (endpoint, channel, True)
    ]
    assert call.direction == "inbound" and tracker.bad_events == 0


def test_internal_call_between_two_phones() -> None:
    def ev(name, t, **fields):
        return {"Event": name, "Timestamp": f"{1795746000 + t:.6f}", **fields}

    a = dict(Channel="PJSIP/101-00000001", Uniqueid="9.1", Linkedid="9.1")
    b = dict(Channel="PJSIP/102-00000002", Uniqueid="9.2", Linkedid="9.1")
    events = [
        ev("Newchannel", 0, CallerIDNum="101", CallerIDName="Мария", Exten="102", **a),
        ev("Newchannel", 0.1, CallerIDNum="102", Exten="s", **b),
        ev("DialBegin", 0.1, DestChannel=b["Channel"], DestUniqueid="9.2", DialString="102", **a),
        ev("DialEnd", 4.1, DestChannel=b["Channel"], DestUniqueid="9.2", DialStatus="ANSWER", **a),
        ev("Hangup", 30, **b),
        ev("Hangup", 30.1, **a),
    ]
    (call,), _ = replay(events)
    assert call.direction == "internal"
    assert call.external_number is None and call.external_number_raw is None
    assert call.manager_endpoint == "PJSIP/101" and call.answered_by == "PJSIP/102"
    assert call.caller_name == "Мария" and call.dialed_number == "102"
    assert call.talk_seconds == pytest.approx(25.9) and call.ring_seconds == pytest.approx(4.1)


STREAMS = {s: b"".join(x.stream for x in read_sessions(s)) for s in ALL_SCENARIOS}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(ALL_SCENARIOS),
    data=st.data(),
)
def test_random_splits_and_truncations_never_break_the_pipeline(scenario: str, data) -> None:
    stream = STREAMS[scenario]
    end = data.draw(st.integers(0, len(stream)), label="truncate at")
    start = data.draw(st.sampled_from([0, 0, 0, len(stream) // 3]), label="start at")
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=40), label="cuts"))
    pieces, last = [], 0
    body = stream[start:end]
    for cut in [c for c in cuts if c < len(body)] + [len(body)]:
        pieces.append(body[last:cut])
        last = cut
    framer = AmiFramer(expect_banner=start == 0)
    tracker = CallTracker("pbx1")
    calls = []
    for piece in pieces:
        for message in framer.feed(piece):
            calls.extend(tracker.process(message))
    calls.extend(tracker.flush())
    full = {c.linkedid: c for c in replay(scenario_events(scenario))[0]}
    ids = [c.linkedid for c in calls]
    assert len(ids) == len(set(ids))
    for call in calls:
        assert call.linkedid in full
        if start == 0 and end == len(stream):
            assert call == full[call.linkedid]


def test_abandoned_call_rings_only_until_the_caller_hangs_up() -> None:
    """The caller's channel can outlive the abandon while the AGI winds down (lab 04)."""
    (call,), _ = replay(scenario_events("04-caller-abandons-while-ringing"))
    assert call.abandoned and call.abandon_seconds is not None
    assert call.ring_seconds == call.abandon_seconds
    assert (call.ended_at - call.started_at).total_seconds() >= call.ring_seconds
