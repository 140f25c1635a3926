"""Backfill from Asterisk's Master.csv: the recorded CDR files, and idempotence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ami_listener.assemble import EndpointClassifier
from ami_listener.backfill import parse_master_csv
from ami_listener.tracker import CallTracker
from asterisk_sim.transcripts import transcripts_dir
from core.phonebook import PhoneBook
from tests.ami.events import replay, scenario_events
from tests.ami.fixtures import ALL_SCENARIOS
from tests.ami.test_tracker import ANSWERING_CHANNELS, renamed

SCENARIOS = transcripts_dir(Path(__file__).resolve().parents[2])
LOCAL_SCENARIOS = tuple(
    f"pjsip-local/{path.name}" for path in sorted((SCENARIOS / "pjsip-local").glob("L*"))
)
# What Master.csv carries of a call, compared as is; times it carries to the second.
CARRIED = (
    "linkedid",
    "direction",
    "external_number",
    "external_number_raw",
    "caller_name",
    "dialed_number",
    "disposition",
    "answered_by",
    "manager_endpoint",
    "talk_seconds",
    "abandoned",
)


def cdr_text(scenario: str) -> str:
    folder = SCENARIOS / scenario
    path = folder / "cdr.csv" if (folder / "cdr.csv").exists() else folder / "cdr_csv_lines.csv"
    return path.read_text(encoding="utf-8")


# Hand-read from each scenario's cdr.csv and notes.md.
EXPECTED = {
    "01b-known-client-answered-cdr-mappings": ("inbound", "ANSWERED", "SIP/101", 3.0, False, 1),
    "02-escalation-answered-step2": ("inbound", "ANSWERED", "SIP/102", 3.0, False, 4),
    "03-escalation-all-steps-missed": ("inbound", "NO ANSWER", None, 0.0, False, 6),
    "04-caller-abandons-while-ringing": ("inbound", "NO ANSWER", None, 0.0, True, 3),
    "05-busy-and-unavailable": ("inbound", "BUSY", None, 0.0, False, 2),
    "06-outbound-callback": ("outbound", "ANSWERED", "SIP/carrier", 3.0, False, 1),
    "07-agi-server-down": ("inbound", "ANSWERED", "SIP/102", 3.0, False, 1),
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_recorded_cdr_files_give_the_calls_that_happened(scenario: str) -> None:
    text = (SCENARIOS / scenario / "cdr.csv").read_text(encoding="utf-8")
    calls, rejected = parse_master_csv(text, system="pbx1", region="RU")
    assert rejected == []
    assert len(calls) == 1
    call = calls[0]
    got = (
        call.direction,
        call.disposition,
        call.answered_by,
        call.talk_seconds,
        call.abandoned,
        len(call.legs),
    )
    assert got == EXPECTED[scenario]
    assert call.external_number == "+79161234567" or scenario.startswith("03")
    if call.direction == "inbound":
        assert call.dialed_number == "7000"


def test_two_concurrent_calls_are_two_calls_with_their_names() -> None:
    text = (SCENARIOS / "09-two-concurrent-calls" / "cdr.csv").read_text(encoding="utf-8")
    calls, _ = parse_master_csv(text, system="pbx1", region="RU")
    assert [(c.external_number, c.caller_name, c.answered_by) for c in calls] == [
        ("+79161234567", "Иван Петров", "SIP/101"),
        ("+79037654321", "Anna Smirnova", "SIP/102"),
    ]


def test_garbage_lines_are_reported_and_skipped() -> None:
    good = (SCENARIOS / "01b-known-client-answered-cdr-mappings" / "cdr.csv").read_text(
        encoding="utf-8"
    )
    text = (
        "garbage\n"
        + good
        + '"","1","2","x","","SIP/1-1","","Dial","","yesterday",,"",0,0,"NO ANSWER","D","9.9",""\n'
    )
    calls, rejected = parse_master_csv(text, system="pbx1", region="RU")
    assert len(calls) == 1
    assert [r.line for r in rejected] == [1, 3]


def test_backfill_twice_changes_nothing(cli, tmp_path: Path) -> None:
    cli("managers", "add", "Анна", "--phone", "SIP/101")
    cli("managers", "add", "Борис", "--phone", "SIP/102")
    cli("managers", "add", "Head", "--phone", "SIP/103", "--role", "head_of_sales")
    master = tmp_path / "Master.csv"
    master.write_text(
        "".join(
            (SCENARIOS / name / "cdr.csv").read_text(encoding="utf-8")
            for name in (
                "02-escalation-answered-step2",
                "03-escalation-all-steps-missed",
                "06-outbound-callback",
            )
        ),
        encoding="utf-8",
    )
    first = cli("backfill", "--from", str(master))
    assert first.code == 0 and "3 call(s)" in first.out and "3 added" in first.out
    second = cli("backfill", "--from", str(master))
    assert "0 added, 3 already recorded" in second.out
    calls = json.loads(cli("calls", "list", "--json").out)
    assert sorted((c["direction"], c["disposition"]) for c in calls) == [
        ("inbound", "ANSWERED"),
        ("inbound", "NO ANSWER"),
        ("outbound", "ANSWERED"),
    ]
    # The answered new number is Борис's lead; the missed one's call-back goes to a manager by
    # the fair rule (fewest open leads: Анна), not to the head of sales (issue #14, point 1).
    tasks = json.loads(cli("tasks", "list", "--json").out)
    assert sorted((t["responsible"], t["type"], t["comment"].split()[0]) for t in tasks) == [
        ("Анна", "call", "Call"),
        ("Борис", "call", "Qualify"),
    ]


@pytest.mark.parametrize("scenario", ALL_SCENARIOS + LOCAL_SCENARIOS)
def test_backfill_gives_the_call_the_listener_gives(scenario: str) -> None:
    """Backfill and listener share one assembly: from the same call's Master.csv lines and AMI
    events they record the same call, as far as the CSV tells (no variables, no recording,
    whole seconds, no CANCEL: a leg the CSV says was not answered)."""
    heard, tracker = replay(scenario_events(scenario))
    read, rejected = parse_master_csv(cdr_text(scenario), system="pbx1", region="RU")
    assert rejected == [] and tracker.bad_events == 0
    assert sorted(c.linkedid for c in read) == sorted(c.linkedid for c in heard)
    by_id = {call.linkedid: call for call in read}
    for live in heard:
        call = by_id[live.linkedid]
        assert [getattr(call, f) for f in CARRIED] == [getattr(live, f) for f in CARRIED]
        # Master.csv's times are the events' cut to the second; the last channel may hang up
        # a moment after the Cdr closed.
        assert 0 <= (live.started_at - call.started_at).total_seconds() < 1
        assert 0 <= (live.ended_at - call.ended_at).total_seconds() < 1.5
        if live.answered_at is None:
            assert call.answered_at is None
        else:
            assert call.answered_at is not None
            assert 0 <= (live.answered_at - call.answered_at).total_seconds() < 1
        assert abs(live.ring_seconds - call.ring_seconds) < 1
        if live.abandon_seconds is None:
            assert call.abandon_seconds is None
        else:
            assert call.abandon_seconds is not None
            assert abs(live.abandon_seconds - call.abandon_seconds) < 1
        # The CSV does not say when a Local channel's half began to dial its phone, so legs
        # are compared as sets.
        assert sorted(map(_leg, call.legs)) == sorted(map(_leg, live.legs))


def _leg(leg) -> tuple[str, str, bool, str | None]:
    status = "NOANSWER" if leg.dial_status == "CANCEL" else leg.dial_status
    return leg.endpoint, leg.channel, leg.answered, status


def test_a_local_channels_own_lines_join_the_call_that_dialled_it() -> None:
    """Lab L3: the head's phone answered a Local leg; its `;2` half wrote lines under its own
    uniqueid. One call, answered by the phone, not three calls from the same number."""
    calls, _ = parse_master_csv(
        cdr_text("pjsip-local/L3-head-answers-after-added"), system="pbx1", region="RU"
    )
    assert [(c.linkedid, c.answered_by, c.disposition) for c in calls] == [
        ("1796210722.18", "PJSIP/103", "ANSWERED")
    ]
    assert [leg.endpoint for leg in calls[0].legs if leg.answered] == ["PJSIP/103"]


@pytest.mark.parametrize(("channel", "endpoint"), ANSWERING_CHANNELS)
def test_the_answering_channel_is_recorded_as_its_endpoint(channel: str, endpoint: str) -> None:
    scenario = "01b-known-client-answered-cdr-mappings"
    text = cdr_text(scenario).replace("SIP/101-00000034", channel)
    (call,), _ = parse_master_csv(text, system="pbx1", region="RU")
    assert call.answered_by == endpoint and [leg.endpoint for leg in call.legs] == [endpoint]
    (live,), _ = replay(renamed(scenario_events(scenario), "SIP/101-00000034", channel))
    assert (call.answered_by, call.direction) == (live.answered_by, live.direction)


# ---- phones are what the directory says they are (issue #14, point 6) ---------------------

OUTBOUND = "06-outbound-callback"
OUTBOUND_PHONE = "SIP/101-00000048"
INBOUND = "01b-known-client-answered-cdr-mappings"


def _by_directory(*phones: str) -> EndpointClassifier:
    return EndpointClassifier(phones=PhoneBook.of(phones))


@pytest.mark.parametrize(
    ("channel", "manager_endpoint"),
    [
        ("SIP/anna-00000048", "SIP/anna"),
        ("SIP/cafe-beef-00000048", "SIP/cafe-beef"),
        ("SIP/office-fax-00000048", None),  # no manager's phone: the office calling out
    ],
)
def test_backfill_reads_an_outbound_call_by_the_directory(channel, manager_endpoint) -> None:
    classifier = _by_directory("SIP/101", "SIP/anna", "SIP/cafe-beef")
    text = cdr_text(OUTBOUND).replace(OUTBOUND_PHONE, channel)
    (call,), rejected = parse_master_csv(text, system="pbx1", region="RU", classifier=classifier)
    assert rejected == []
    assert (call.direction, call.manager_endpoint) == ("outbound", manager_endpoint)
    assert call.external_number == "+79161234567"
    events = renamed(scenario_events(OUTBOUND), OUTBOUND_PHONE, channel)
    (live,), _ = replay(events, CallTracker("pbx1", phones=lambda: classifier.phones))
    assert [getattr(call, f) for f in CARRIED] == [getattr(live, f) for f in CARRIED]


def test_backfill_maps_a_local_answerer_to_its_extensions_phone() -> None:
    text = cdr_text(INBOUND).replace("SIP/101-00000034", "Local/101@ctx-0000000a;1")
    (call,), _ = parse_master_csv(
        text, system="pbx1", region="RU", classifier=_by_directory("SIP/101")
    )
    assert (call.direction, call.answered_by) == ("inbound", "SIP/101")


def test_backfill_stores_a_lettered_phones_call_as_its_managers(cli, tmp_path: Path) -> None:
    """The owner backfills a day the listener missed: Анна's call from `SIP/anna` is her
    outbound call, the fax's is an outbound call of nobody; neither is a client calling in."""
    cli("managers", "add", "Анна", "--phone", "SIP/anna")
    cli("managers", "add", "Борис", "--phone", "SIP/cafe-beef")
    outbound = cdr_text(OUTBOUND)
    master = tmp_path / "Master.csv"
    master.write_text(
        outbound.replace(OUTBOUND_PHONE, "SIP/anna-00000048")
        + outbound.replace(OUTBOUND_PHONE, "SIP/office-fax-00000050")
        .replace("1795746897.126", "1795746997.127")
        .replace("02:34:", "02:36:")
        + cdr_text(INBOUND).replace("SIP/101-00000034", "Local/cafe-beef@ctx-0000000a;1"),
        encoding="utf-8",
    )
    done = cli("backfill", "--from", str(master))
    assert done.code == 0 and "3 added" in done.out
    calls = json.loads(cli("calls", "list", "--json").out)
    assert sorted((c["direction"], c["manager"] or "") for c in calls) == [
        ("inbound", "Борис"),
        ("outbound", ""),
        ("outbound", "Анна"),
    ]
