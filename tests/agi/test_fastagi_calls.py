"""The FastAGI server routing calls against a scripted Asterisk replaying the lab transcripts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from agi_scripts.executor import MAX_PROBED_PHONES
from core import dialplan as var
from router.directory import Manager, Role
from router.settings import StepSettings
from tests.agi.fake_asterisk import DialOutcome, FakeAsterisk, read_transcript
from tests.agi.support import (
    LAB_OFFICE,
    SATURDAY_NOON,
    MemorySource,
    lab_settings,
    route_calls,
)


def fake_from(scenario: str, session: str = "s1", **overrides) -> FakeAsterisk:
    transcript = read_transcript(scenario, session)
    # The lab had no head of sales or owner phones (104, 105): idle like the others.
    states = {"SIP/104": "NOT_INUSE", "SIP/105": "NOT_INUSE", **transcript.device_states}
    args = {"env": transcript.env, "device_states": states, "dials": transcript.dials}
    if isinstance(overrides.get("device_states"), dict):
        overrides["device_states"] = {**states, **overrides["device_states"]}
    args.update(overrides)
    return FakeAsterisk(**args)


async def test_known_client_is_answered_by_their_manager_at_step_1():
    fake = fake_from("01b")
    await route_calls(fake)
    assert fake.dial_data == ["SIP/101,10"]
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == "1"
    assert fake.variables[var.STEP] == "1"
    assert fake.variables[var.LEAD] == "existing"
    assert fake.variables[var.CONTACT_ID] == "7"
    assert fake.variables[var.PLAN_ID] == "1795746830.87"
    assert fake.variables[var.AFTER_HOURS] == "0"
    assert fake.variables[var.DECISION] == "directory"


@pytest.mark.parametrize(
    ("endpoint", "peer"),
    [
        ("PJSIP/office-fax", "PJSIP/office-fax-0000001a"),
        ("PJSIP/cafe-beef", "PJSIP/cafe-beef-00000003"),
        ("Local/101@ctx", "Local/101@ctx-0000000a;1"),
        ("SIP/101", "SIP/101-00000034"),  # lab 01b
        ("PJSIP/102", "PJSIP/102-00000009"),  # lab L2
    ],
)
async def test_the_manager_who_answered_is_found_from_the_answering_channel(endpoint, peer):
    """DIALEDPEERNAME names a channel; the manager is the one whose endpoint it belongs to."""
    ivan = replace(LAB_OFFICE.managers[0], endpoint=endpoint)
    office = replace(LAB_OFFICE, managers=(ivan, *LAB_OFFICE.managers[1:]))
    fake = fake_from(
        "01b",
        device_states={endpoint: "NOT_INUSE"},
        dials=[DialOutcome("ANSWER", -1, True, peer)],
    )
    await route_calls(fake, source=MemorySource(directory=office))
    assert fake.dial_data == [f"{endpoint},10"]
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == "1"


async def test_escalation_answered_at_the_department_step():
    fake = fake_from("02")
    await route_calls(fake)
    assert fake.dial_data == ["SIP/101,10", "SIP/102&SIP/103,10"]
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == "2"
    assert fake.variables[var.STEP] == "2"
    assert fake.variables[var.STEP_KIND] == "department"


async def test_new_caller_escalates_from_the_department_and_nobody_answers():
    fake = fake_from("03")  # +79035550101, unknown: three recorded NOANSWER steps
    await route_calls(fake)
    assert fake.dial_data == [
        "SIP/101&SIP/102&SIP/103,10",
        "SIP/101&SIP/102&SIP/103&SIP/104,10",
        "SIP/101&SIP/102&SIP/103&SIP/104&SIP/105,20",
    ]
    assert fake.variables[var.RESULT] == "NO_ANSWER"
    assert fake.variables[var.LEAD] == "new"


async def test_known_client_escalation_through_every_step_adds_people():
    fake = fake_from("02", dials=[DialOutcome("NOANSWER")] * 4)
    await route_calls(fake)
    assert fake.dial_data == [
        "SIP/101,10",
        "SIP/102&SIP/103,10",
        "SIP/102&SIP/103&SIP/104,10",
        "SIP/102&SIP/103&SIP/104&SIP/105,10",
    ]
    assert fake.variables[var.RESULT] == "NO_ANSWER"
    assert fake.variables[var.STEP] == "4"
    assert var.ANSWERED_BY not in fake.variables


async def test_caller_hanging_up_at_step_2_stops_the_escalation():
    fake = fake_from("04")
    await route_calls(fake)
    assert len(fake.dial_data) == 2, "no Dial after the caller left"
    assert fake.variables[var.RESULT] == "CALLER_HANGUP"
    assert fake.variables[var.DIALSTATUS] == "CANCEL", "the HANGUP line did not shift replies"


async def test_busy_responsible_manager_sends_the_call_to_the_department_at_once():
    fake = fake_from(
        "01b",
        device_states={"SIP/101": "INUSE"},
        dials=[DialOutcome("ANSWER", -1, True, "SIP/103-0000000a")],
    )
    await route_calls(fake)
    assert fake.dial_data == ["SIP/102&SIP/103,10"]
    assert fake.variables[var.ANSWERED_BY] == "3"


async def test_a_steps_device_states_are_asked_in_one_command():
    fake = fake_from("03")
    await route_calls(fake)
    queries = [c for c in fake.commands if c.startswith("GET FULL VARIABLE")]
    # The first asks every phone of the office while the caller is looked up; each later step
    # asks its own phones, after the Dial before it changed their states.
    assert queries == [
        "GET FULL VARIABLE " + ",".join(f"${{DEVICE_STATE(SIP/10{n})}}" for n in range(1, 6)),
        "GET FULL VARIABLE " + ",".join(f"${{DEVICE_STATE(SIP/10{n})}}" for n in range(1, 5)),
        "GET FULL VARIABLE " + ",".join(f"${{DEVICE_STATE(SIP/10{n})}}" for n in range(1, 6)),
    ]
    assert len(fake.dial_data) == 3


async def test_a_busy_responsible_manager_is_skipped_on_the_early_states_without_asking_again():
    fake = fake_from("01b", device_states={"SIP/101": "INUSE"})
    await route_calls(fake)
    dial = next(i for i, c in enumerate(fake.commands) if c.startswith("EXEC Dial"))
    before_dial = fake.commands[:dial]
    assert len(before_dial) == 2 and before_dial[0].startswith("GET FULL VARIABLE")
    assert "CALLROUTER_STEP=2,CALLROUTER_STEP_KIND=department" in before_dial[1]
    assert fake.dial_data[0] == "SIP/102&SIP/103,10"


async def test_an_office_too_big_for_one_early_probe_is_asked_step_by_step():
    managers = tuple(
        Manager(n, f"M{n}", f"SIP/{100 + n}", Role.MANAGER, 1)
        for n in range(1, MAX_PROBED_PHONES + 2)
    )
    big = replace(LAB_OFFICE, managers=managers)
    fake = fake_from("03", device_states=lambda _: "NOT_INUSE", dials=[DialOutcome("ANSWER", -1)])
    await route_calls(fake, source=MemorySource(directory=big))
    queries = [c for c in fake.commands if c.startswith("GET FULL VARIABLE")]
    assert len(queries) == 1 and queries[0].count("DEVICE_STATE") == MAX_PROBED_PHONES + 1
    assert fake.dial_data[0].count("&") == MAX_PROBED_PHONES


async def test_an_answer_that_does_not_give_one_state_per_phone_rings_them_all():
    # Two values for one phone: the states cannot be told apart, so none is trusted to skip.
    fake = fake_from("03", device_states=lambda e: "BUSY,BUSY" if e == "SIP/101" else "BUSY")
    await route_calls(fake)
    assert fake.dial_data[0] == "SIP/101&SIP/102&SIP/103,10"


async def test_unavailable_and_busy_states_from_the_lab_are_skipped():
    def states(endpoint: str) -> str:
        return {"SIP/101": "UNAVAILABLE", "SIP/102": "BUSY", "SIP/104": "ONHOLD"}.get(
            endpoint, "NOT_INUSE"
        )

    fake = fake_from(
        "05",
        device_states=states,
        dials=[DialOutcome("BUSY"), DialOutcome("CHANUNAVAIL"), DialOutcome("NOANSWER")],
    )
    await route_calls(fake)
    assert fake.dial_data == ["SIP/103,10", "SIP/103,10", "SIP/103&SIP/105,10"]
    assert fake.variables[var.RESULT] == "NO_ANSWER"


async def test_phone_ringing_for_another_call_is_skipped_new_caller_gets_the_department():
    fake = fake_from("09", "s2")
    await route_calls(fake)
    assert fake.dial_data == ["SIP/102&SIP/103,10"]
    assert fake.variables[var.LEAD] == "new"
    assert var.CONTACT_ID not in fake.variables


async def test_phone_rung_in_the_previous_step_is_kept_although_it_still_reads_ringing():
    rung: set[str] = set()

    def lagging(endpoint: str) -> str:
        # Every phone this call rang still reads RINGING (the lag); 104 rings for another call.
        return "RINGING" if endpoint in rung or endpoint == "SIP/104" else "NOT_INUSE"

    fake = fake_from("02", device_states=lagging, dials=[DialOutcome("NOANSWER")] * 4)
    original = fake._exec

    def remember(app: str, data: str) -> str:
        rung.update(data.split(",")[0].split("&"))
        return original(app, data)

    fake._exec = remember
    await route_calls(fake)
    assert fake.dial_data == [
        "SIP/101,10",
        "SIP/102&SIP/103,10",
        "SIP/102&SIP/103,10",  # the head rings for another call: left out, the rest kept
        "SIP/102&SIP/103&SIP/105,10",
    ]


async def test_after_hours_sets_the_result_and_never_dials():
    fake = fake_from("01b")
    await route_calls(fake, now=SATURDAY_NOON)
    assert fake.dial_data == []
    assert fake.variables[var.RESULT] == "AFTER_HOURS"
    assert fake.variables[var.AFTER_HOURS] == "1"


async def test_two_concurrent_calls_are_routed_independently():
    first, second = fake_from("09", "s1"), fake_from("09", "s2")
    first.device_states = {"SIP/101": "NOT_INUSE", "SIP/102": "NOT_INUSE", "SIP/103": "NOT_INUSE"}
    await route_calls(first, second)
    assert first.dial_data == ["SIP/101,10"]
    assert second.dial_data == ["SIP/102&SIP/103,10"]
    assert first.variables[var.PLAN_ID] != second.variables[var.PLAN_ID]


async def test_slow_database_falls_back_to_the_default_plan_within_the_budget():
    source = MemorySource(hang_contacts=True)
    fake = fake_from("01b", dials=[DialOutcome("ANSWER", -1, True, "SIP/102-00000001")])
    await route_calls(fake, source=source, settings=lab_settings(decision_budget_ms=50))
    assert source.lookups == ["+79161234567"]
    assert fake.dial_data[0] == "SIP/101&SIP/102&SIP/103,10", "the default plan: department first"
    assert fake.variables[var.DECISION] == "last_directory"
    assert fake.variables[var.RESULT] == "ANSWERED"


async def test_database_never_loaded_uses_the_fallback_targets():
    fake = fake_from("01b", device_states={"SIP/100": "NOT_INUSE"}, dials=[DialOutcome("NOANSWER")])
    await route_calls(
        fake, source=MemorySource(fail=True), settings=lab_settings(fallback_targets=["SIP/100"])
    )
    assert fake.dial_data == ["SIP/100,40"]
    assert fake.variables[var.DECISION] == "fallback_targets"


async def test_database_never_loaded_and_no_fallback_hands_the_call_to_the_dialplan():
    fake = fake_from("01b")
    await route_calls(fake, source=MemorySource(fail=True))
    assert fake.dial_data == []
    assert fake.variables == {var.RESULT: "FAILED"}


async def test_the_first_dial_waits_on_two_commands_the_plan_travels_in_one_mset():
    fake = fake_from("01b")
    await route_calls(fake)
    dial = next(i for i, c in enumerate(fake.commands) if c.startswith("EXEC Dial"))
    assert fake.commands[:dial] == [
        "GET FULL VARIABLE " + ",".join(f"${{DEVICE_STATE(SIP/10{n})}}" for n in range(1, 6)),
        'EXEC MSet "CALLROUTER_PLAN_ID=1795746830.87,CALLROUTER_LEAD=existing,'
        "CALLROUTER_CONTACT_ID=7,CALLROUTER_AFTER_HOURS=0,CALLROUTER_DECISION=directory,"
        'CALLROUTER_STEP=1,CALLROUTER_STEP_KIND=responsible"',
    ]


async def test_a_later_step_sends_only_its_own_variables():
    fake = fake_from("02")
    await route_calls(fake)
    msets = [c for c in fake.commands if c.startswith("EXEC MSet")]
    assert msets[1] == 'EXEC MSet "CALLROUTER_STEP=2,CALLROUTER_STEP_KIND=department"'


async def test_once_the_caller_has_hung_up_the_outcome_goes_one_set_variable_at_a_time():
    fake = fake_from("01b")  # answered; the caller hangs up at the end: Dial gives -1
    await route_calls(fake)
    dial = next(i for i, c in enumerate(fake.commands) if c.startswith("EXEC Dial"))
    after = fake.commands[dial + 1 :]
    assert not [c for c in after if c.startswith("EXEC")], "MSet does not run on a dead channel"
    assert 'SET VARIABLE CALLROUTER_RESULT "ANSWERED"' in after
    assert fake.variables[var.DIALSTATUS] == "ANSWER"


async def test_a_value_mset_would_alter_is_sent_with_set_variable():
    # The environment is untrusted: a uniqueid with MSet's separator and a quote in it.
    transcript = read_transcript("01b")
    env = [
        b'agi_uniqueid: 1795746830.87,X="1"\n' if line.startswith(b"agi_uniqueid:") else line
        for line in transcript.env
    ]
    fake = fake_from("01b", env=env)
    await route_calls(fake)
    assert fake.variables[var.PLAN_ID] == '1795746830.87,X="1"'
    assert "X" not in fake.variables
    assert fake.variables[var.LEAD] == "existing"


async def test_an_asterisk_without_mset_still_gets_every_variable():
    fake = fake_from("02")
    original = fake._exec

    def no_mset(app: str, data: str) -> str:
        if app == "MSet":  # res_agi: "Could not find application (MSet)"
            return "200 result=-2\n"
        return original(app, data)

    fake._exec = no_mset
    await route_calls(fake)
    assert fake.dial_data == ["SIP/101,10", "SIP/102&SIP/103,10"]
    assert len([c for c in fake.commands if c.startswith("EXEC MSet")]) == 1, "asked once"
    assert fake.variables[var.PLAN_ID] == "1795746841.90"
    assert fake.variables[var.STEP] == "2"
    assert fake.variables[var.RESULT] == "ANSWERED"


async def test_every_routed_call_reaches_the_on_routed_hook_once():
    answered, missed = fake_from("01b"), fake_from("03")
    outcomes = []
    await route_calls(answered, missed, on_routed=outcomes.append)
    assert sorted((o.result.value, o.step_reached) for o in outcomes) == [
        ("ANSWERED", 1),
        ("NO_ANSWER", 3),
    ]


async def test_the_configured_steps_are_dialled_in_their_order_and_timeouts():
    fake = fake_from("03")  # unknown caller, nobody answers
    steps = [StepSettings(kind="department", timeout=15), StepSettings(kind="owner", timeout=20)]
    await route_calls(fake, settings=lab_settings(steps=steps))
    assert fake.dial_data == ["SIP/101&SIP/102&SIP/103,15", "SIP/101&SIP/102&SIP/103&SIP/105,20"]
    assert fake.variables[var.STEP_KIND] == "owner"
