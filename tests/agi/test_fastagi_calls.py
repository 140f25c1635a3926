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


def later(delay: int, endpoint: str) -> str:
    """The Dial target that adds `endpoint` after `delay` seconds (core/channels.py)."""
    technology, resource = endpoint.split("/")
    return f"Local/{delay}-{technology}-{resource}@callrouter-ring-delayed/n"


# The known client's whole plan as ONE Dial: Ivan at once, the department at 10 s, the head at
# 20 s, the owner at 30 s; everyone keeps ringing to the end (40 s).
KNOWN_CLIENT_DIAL = (
    "&".join(
        [
            "SIP/101",
            later(10, "SIP/102"),
            later(10, "SIP/103"),
            later(20, "SIP/104"),
            later(30, "SIP/105"),
        ]
    )
    + ",40"
)
NEW_CALLER_DIAL = (
    "&".join(["SIP/101", "SIP/102", "SIP/103", later(10, "SIP/104"), later(20, "SIP/105")]) + ",40"
)
# Each step its own Dial: keep_ringing off after the first.
STEP_BY_STEP = [
    StepSettings(kind="responsible", timeout=10),
    StepSettings(kind="department", timeout=10, keep_ringing=False),
]


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
    assert fake.dial_data == [KNOWN_CLIENT_DIAL]
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == "1"
    assert fake.variables[var.STEP] == "1"
    assert fake.variables[var.STEP_KIND] == "responsible"
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
    [dial] = fake.dial_data
    assert dial.startswith(f"{endpoint}&{later(10, 'SIP/102')}&")
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == "1"


@pytest.mark.parametrize(
    ("peer", "manager", "step", "kind"),
    [
        # The lab's L3 shape (/n): DIALEDPEERNAME is the Local leg's ;1 half, never the phone.
        ("Local/10-SIP-102@callrouter-ring-delayed-00000004;1", "2", "2", "department"),
        ("Local/10-SIP-103@callrouter-ring-delayed-00000005;1", "3", "2", "department"),
        ("Local/20-SIP-104@callrouter-ring-delayed-00000006;1", "4", "3", "head_of_sales"),
        ("Local/30-SIP-105@callrouter-ring-delayed-00000007;1", "5", "4", "owner"),
        # Ivan kept ringing from step 1 and answered later: his own step is still 1.
        ("SIP/101-0000000b", "1", "1", "responsible"),
    ],
)
async def test_the_phone_behind_a_local_leg_is_the_answerer_and_its_step_is_reached(
    peer, manager, step, kind
):
    fake = fake_from("01b", dials=[DialOutcome("ANSWER", -1, True, peer, seconds=45)])
    await route_calls(fake)
    assert fake.dial_data == [KNOWN_CLIENT_DIAL]
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == manager
    assert fake.variables[var.STEP] == step
    assert fake.variables[var.STEP_KIND] == kind
    assert fake.variables[var.DIALSTATUS] == "ANSWER"


async def test_a_local_leg_of_another_context_is_nobody_s_phone():
    # L3's own lab context: not callrouter's, so not read as SIP/103's.
    peer = "Local/3-103@ring-delayed-00000004;1"
    fake = fake_from("01b", dials=[DialOutcome("ANSWER", -1, True, peer)])
    await route_calls(fake)
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert var.ANSWERED_BY not in fake.variables


async def test_escalation_answered_at_the_department_step_is_one_dial():
    peer = "Local/10-SIP-102@callrouter-ring-delayed-00000004;1"
    fake = fake_from("02", dials=[DialOutcome("ANSWER", -1, True, peer, seconds=30)])
    await route_calls(fake)
    assert fake.dial_data == [KNOWN_CLIENT_DIAL]
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert fake.variables[var.ANSWERED_BY] == "2"
    assert fake.variables[var.STEP] == "2"
    assert fake.variables[var.STEP_KIND] == "department"


async def test_new_caller_rings_the_department_at_once_and_nobody_answers():
    fake = fake_from("03")  # +79035550101, unknown: the first recorded Dial is NOANSWER
    await route_calls(fake)
    assert fake.dial_data == [NEW_CALLER_DIAL]
    assert fake.variables[var.RESULT] == "NO_ANSWER"
    assert fake.variables[var.LEAD] == "new"
    assert fake.variables[var.STEP] == "3", "the Dial ran out: its last step was reached"
    assert fake.variables[var.STEP_KIND] == "owner"


async def test_known_client_escalation_through_every_step_is_one_dial_that_adds_people():
    fake = fake_from("02", dials=[DialOutcome("NOANSWER", seconds=40)] * 4)
    await route_calls(fake)
    assert fake.dial_data == [KNOWN_CLIENT_DIAL]
    assert fake.variables[var.RESULT] == "NO_ANSWER"
    assert fake.variables[var.STEP] == "4"
    assert fake.variables[var.STEP_KIND] == "owner"
    assert var.ANSWERED_BY not in fake.variables


@pytest.mark.parametrize(
    ("seconds", "step", "kind"),
    [(4, "1", "responsible"), (14, "2", "department"), (25, "3", "head_of_sales")],
)
async def test_caller_hanging_up_stops_the_dial_and_the_step_in_progress_is_recorded(
    seconds, step, kind
):
    fake = fake_from("04", dials=[DialOutcome("CANCEL", -1, True, seconds=seconds)])
    await route_calls(fake)
    assert fake.dial_data == [KNOWN_CLIENT_DIAL], "no Dial after the caller left"
    assert fake.variables[var.RESULT] == "CALLER_HANGUP"
    assert fake.variables[var.DIALSTATUS] == "CANCEL", "the HANGUP line did not shift replies"
    assert fake.variables[var.STEP] == step
    assert fake.variables[var.STEP_KIND] == kind
    assert fake.commands.count("GET FULL VARIABLE ${EPOCH}") == 1, "the clock after the Dial"


async def test_busy_responsible_manager_sends_the_call_to_the_department_at_once():
    fake = fake_from(
        "01b",
        device_states={"SIP/101": "INUSE"},
        dials=[DialOutcome("ANSWER", -1, True, "SIP/103-0000000a")],
    )
    await route_calls(fake)
    # The responsible step is skipped at once: the department rings from 0, the head is added
    # at 10 s, the owner at 20 s; the skipped step's 10 s are not added (as before).
    assert fake.dial_data == [
        "&".join(["SIP/102", "SIP/103", later(10, "SIP/104"), later(20, "SIP/105")]) + ",30"
    ]
    assert fake.variables[var.ANSWERED_BY] == "3"
    assert fake.variables[var.STEP] == "2"


async def test_the_device_states_and_asterisks_clock_are_asked_in_one_command():
    fake = fake_from("03")
    await route_calls(fake)
    queries = [c for c in fake.commands if c.startswith("GET FULL VARIABLE")]
    # One question while the caller is looked up: every phone of the office and ${EPOCH}.
    # The Dial needs no other: the later phones are checked by the dialplan at their offsets.
    assert queries == [
        "GET FULL VARIABLE "
        + ",".join(f"${{DEVICE_STATE(SIP/10{n})}}" for n in range(1, 6))
        + ",${EPOCH}",
    ]
    assert len(fake.dial_data) == 1


async def test_a_later_phone_busy_now_is_still_in_the_dial_its_own_step_checks_it():
    # The head and the owner read BUSY when the call arrives; they are not dropped for that:
    # the Local leg checks them when their step starts (the dialplan's DEVICE_STATE).
    fake = fake_from("01b", device_states={"SIP/104": "BUSY", "SIP/105": "INUSE"})
    await route_calls(fake)
    assert fake.dial_data == [KNOWN_CLIENT_DIAL]


async def test_a_busy_responsible_manager_is_skipped_on_the_early_states_without_asking_again():
    fake = fake_from("01b", device_states={"SIP/101": "INUSE"})
    await route_calls(fake)
    dial = next(i for i, c in enumerate(fake.commands) if c.startswith("EXEC Dial"))
    before_dial = fake.commands[:dial]
    assert len(before_dial) == 2 and before_dial[0].startswith("GET FULL VARIABLE")
    assert "CALLROUTER_STEP=2,CALLROUTER_STEP_KIND=department" in before_dial[1]
    assert fake.dial_data[0].startswith("SIP/102&SIP/103&Local/")


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
    assert fake.dial_data == [NEW_CALLER_DIAL]


async def test_unavailable_and_busy_states_from_the_lab_are_skipped():
    def states(endpoint: str) -> str:
        return {"SIP/101": "UNAVAILABLE", "SIP/102": "BUSY", "SIP/104": "ONHOLD"}.get(
            endpoint, "NOT_INUSE"
        )

    fake = fake_from("05", device_states=states, dials=[DialOutcome("NOANSWER")])
    await route_calls(fake)
    # 101 (the responsible manager) unavailable: his step is skipped at once; 102 busy stays
    # out; the head (ONHOLD now) is left to his Local leg's own check at 10 s.
    assert fake.dial_data == [f"SIP/103&{later(10, 'SIP/104')}&{later(20, 'SIP/105')},30"]
    assert fake.variables[var.RESULT] == "NO_ANSWER"


async def test_phone_ringing_for_another_call_is_skipped_new_caller_gets_the_department():
    fake = fake_from("09", "s2")
    await route_calls(fake)
    assert fake.dial_data == [f"SIP/102&SIP/103&{later(10, 'SIP/104')}&{later(20, 'SIP/105')},40"]
    assert fake.variables[var.LEAD] == "new"
    assert var.CONTACT_ID not in fake.variables


async def test_phone_rung_in_the_previous_dial_is_kept_although_it_still_reads_ringing():
    rung: set[str] = set()

    def lagging(endpoint: str) -> str:
        # Every phone this call rang still reads RINGING (the lag); 100 rings for another call.
        return "RINGING" if endpoint in rung or endpoint == "SIP/100" else "NOT_INUSE"

    # No owner; the head's step starts a new Dial (keep_ringing off) and the fallback targets
    # join it: 102 is in both Dials, 100 only in the second.
    office = replace(LAB_OFFICE, managers=LAB_OFFICE.managers[:4])
    steps = [
        StepSettings(kind="department", timeout=10),
        StepSettings(kind="head_of_sales", timeout=10, keep_ringing=False),
    ]
    fake = fake_from("03", device_states=lagging, dials=[DialOutcome("NOANSWER")] * 2)
    original = fake._exec

    def remember(app: str, data: str) -> str:
        rung.update(data.split(",")[0].split("&"))
        return original(app, data)

    fake._exec = remember
    settings = lab_settings(steps=steps, fallback_targets=["SIP/102", "SIP/100"])
    await route_calls(fake, source=MemorySource(directory=office), settings=settings)
    assert fake.dial_data == [
        "SIP/101&SIP/102&SIP/103,10",
        "SIP/104&SIP/102,10",  # 100 rings for another call: left out; 102 is ours, kept
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
    assert first.dial_data == [KNOWN_CLIENT_DIAL]
    assert second.dial_data == [f"SIP/102&SIP/103&{later(10, 'SIP/104')}&{later(20, 'SIP/105')},40"]
    assert first.variables[var.PLAN_ID] != second.variables[var.PLAN_ID]


async def test_slow_database_falls_back_to_the_default_plan_within_the_budget():
    source = MemorySource(hang_contacts=True)
    fake = fake_from("01b", dials=[DialOutcome("ANSWER", -1, True, "SIP/102-00000001")])
    await route_calls(fake, source=source, settings=lab_settings(decision_budget_ms=50))
    assert source.lookups == ["+79161234567"]
    assert fake.dial_data == [NEW_CALLER_DIAL], "the default plan: department first"
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
        "GET FULL VARIABLE "
        + ",".join(f"${{DEVICE_STATE(SIP/10{n})}}" for n in range(1, 6))
        + ",${EPOCH}",
        'EXEC MSet "CALLROUTER_PLAN_ID=1795746830.87,CALLROUTER_LEAD=existing,'
        "CALLROUTER_CONTACT_ID=7,CALLROUTER_AFTER_HOURS=0,CALLROUTER_DECISION=directory,"
        'CALLROUTER_STEP=1,CALLROUTER_STEP_KIND=responsible"',
    ]


async def test_a_later_dial_sends_only_its_own_variables():
    fake = fake_from("02")
    await route_calls(fake, settings=lab_settings(steps=STEP_BY_STEP))
    assert fake.dial_data == ["SIP/101,10", "SIP/102&SIP/103,10"]
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
    await route_calls(fake, settings=lab_settings(steps=STEP_BY_STEP))
    assert fake.dial_data == ["SIP/101,10", "SIP/102&SIP/103,10"]
    assert len([c for c in fake.commands if c.startswith("EXEC MSet")]) == 1, "asked once"
    assert fake.variables[var.PLAN_ID] == "1795746841.90"
    assert fake.variables[var.STEP] == "2"
    assert fake.variables[var.RESULT] == "ANSWERED"


async def test_every_routed_call_reaches_the_on_routed_hook_once():
    answered, missed = fake_from("01b"), fake_from("03")
    outcomes = []
    await route_calls(answered, missed, on_routed=outcomes.append)
    assert sorted((o.result.value, o.step_reached, o.step_kind) for o in outcomes) == [
        ("ANSWERED", 1, "responsible"),
        ("NO_ANSWER", 3, "owner"),
    ]


async def test_the_configured_steps_are_dialled_in_their_order_and_timeouts():
    fake = fake_from("03")  # unknown caller, nobody answers
    steps = [StepSettings(kind="department", timeout=15), StepSettings(kind="owner", timeout=20)]
    await route_calls(fake, settings=lab_settings(steps=steps))
    assert fake.dial_data == [f"SIP/101&SIP/102&SIP/103&{later(15, 'SIP/105')},35"]
    assert fake.variables[var.STEP_KIND] == "owner"


async def test_keep_ringing_off_starts_a_second_dial_whose_later_phones_still_wait():
    steps = [
        *STEP_BY_STEP,
        StepSettings(kind="head_of_sales", timeout=10),  # keeps the department ringing
    ]
    peer = "Local/10-SIP-104@callrouter-ring-delayed-00000002;1"
    fake = fake_from(
        "02", dials=[DialOutcome("NOANSWER", seconds=10), DialOutcome("ANSWER", -1, True, peer)]
    )
    await route_calls(fake, settings=lab_settings(steps=steps))
    assert fake.dial_data == ["SIP/101,10", f"SIP/102&SIP/103&{later(10, 'SIP/104')},20"]
    msets = [c for c in fake.commands if c.startswith("EXEC MSet")]
    assert msets[1] == 'EXEC MSet "CALLROUTER_STEP=2,CALLROUTER_STEP_KIND=department"'
    assert fake.variables[var.ANSWERED_BY] == "4"
    assert (fake.variables[var.STEP], fake.variables[var.STEP_KIND]) == ("3", "head_of_sales")
