"""Backfill from Asterisk's Master.csv: the recorded CDR files, and idempotence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ami_listener.backfill import parse_master_csv
from asterisk_sim.transcripts import transcripts_dir

SCENARIOS = transcripts_dir(Path(__file__).resolve().parents[2])

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
    # The answered new number is Борис's lead; the missed one is a call-back for the head of sales.
    tasks = json.loads(cli("tasks", "list", "--json").out)
    assert sorted((t["responsible"], t["type"], t["comment"].split()[0]) for t in tasks) == [
        ("Head", "call", "Call"),
        ("Борис", "call", "Qualify"),
    ]
