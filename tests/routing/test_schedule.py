"""The ring schedule (issue 18): each phone once per Dial, from the offset of its own step."""

from __future__ import annotations

from dataclasses import replace

from router.directory import Directory
from router.plan import plan
from router.policy import DEFAULT_POLICY, RoutingPolicy, StepKind, StepRule
from router.schedule import can_wait, ring_schedule
from tests.routing.office import IVAN, KNOWN, OFFICE, OLGA, PETR, WEDNESDAY_NOON, call


def starts(schedule) -> list[tuple[int, str, int]]:
    """(start second from the first Dial, endpoint, number of the step that added it)."""
    return [(second, ring.endpoint, ring.step.number) for second, ring in schedule.rings]


def policy(*rules: StepRule, fallback: tuple[str, ...] = ()) -> RoutingPolicy:
    return RoutingPolicy(rules=rules, fallback_targets=fallback)


def test_known_client_one_dial_every_phone_once_from_its_own_step():
    schedule = ring_schedule(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON))
    [dial] = schedule.dials
    assert starts(schedule) == [
        (0, "PJSIP/101", 1),  # the responsible manager, and he keeps ringing
        (10, "PJSIP/102", 2),  # the department
        (10, "PJSIP/103", 2),
        (20, "PJSIP/104", 3),  # the head at +10 s of the department step
        (30, "PJSIP/105", 4),  # the owner at the next step
    ]
    assert dial.timeout == schedule.total_seconds == 40
    assert dial.offsets == (0, 10, 20, 30)
    assert not any(ring.early for ring in dial.rings)


def test_new_caller_the_department_at_once_and_the_last_step_takes_the_skipped_time():
    schedule = ring_schedule(plan(call("+79990001122"), OFFICE, None, WEDNESDAY_NOON))
    assert starts(schedule) == [
        (0, "PJSIP/101", 1),
        (0, "PJSIP/102", 1),
        (0, "PJSIP/103", 1),
        (10, "PJSIP/104", 2),
        (20, "PJSIP/105", 3),
    ]
    assert schedule.total_seconds == 40


def test_keep_ringing_off_starts_a_new_dial_and_the_phones_before_stop():
    rules = (
        StepRule(StepKind.RESPONSIBLE, 10),
        StepRule(StepKind.DEPARTMENT, 15, keep_ringing=False),
        StepRule(StepKind.HEAD_OF_SALES, 10),
        StepRule(StepKind.OWNER, 5),
    )
    schedule = ring_schedule(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON, policy(*rules)))
    first, second = schedule.dials
    assert (first.start, first.timeout, [r.endpoint for r in first.rings]) == (
        0,
        10,
        ["PJSIP/101"],
    )
    # Ivan stops at 10 s and rests: the department step is for the others.
    assert second.start == 10 and second.timeout == 30
    assert [(r.endpoint, r.offset) for r in second.rings] == [
        ("PJSIP/102", 0),
        ("PJSIP/103", 0),
        ("PJSIP/104", 15),
        ("PJSIP/105", 25),
    ]
    assert starts(schedule)[-1] == (35, "PJSIP/105", 4)


def test_keep_ringing_off_on_the_owner_step_rings_the_owner_alone():
    rules = (
        StepRule(StepKind.DEPARTMENT, 10),
        StepRule(StepKind.OWNER, 10, keep_ringing=False),
    )
    route = plan(call("+79990001122"), OFFICE, None, WEDNESDAY_NOON, policy(*rules))
    assert [step.endpoints for step in route.steps] == [
        ("PJSIP/101", "PJSIP/102", "PJSIP/103"),
        ("PJSIP/105",),
    ]
    assert [len(dial.rings) for dial in ring_schedule(route).dials] == [3, 1]


def test_a_step_that_adds_nobody_keeps_its_place_in_the_timeline():
    no_head = replace(OFFICE, managers=tuple(m for m in OFFICE.managers if m.id != 4))
    schedule = ring_schedule(plan(call(), no_head, KNOWN, WEDNESDAY_NOON))
    assert starts(schedule)[-1] == (30, "PJSIP/105", 4), "the owner when the timeline says"


def test_a_fallback_target_that_cannot_wait_rings_from_the_start_of_its_dial():
    no_owner = replace(OFFICE, managers=tuple(m for m in OFFICE.managers if m.id != 5))
    mobile = "PJSIP/+79160000000@carrier"
    route = plan(
        call(), no_owner, KNOWN, WEDNESDAY_NOON, replace(DEFAULT_POLICY, fallback_targets=(mobile,))
    )
    [dial] = ring_schedule(route).dials
    ring = dial.ring_of(mobile)
    assert ring is not None and ring.step.kind is StepKind.OWNER
    assert (ring.offset, ring.due, ring.early) == (0, 30, True)
    assert dial.ring_of("PJSIP/104").early is False


def test_the_fallback_plan_is_one_dial_of_phones_at_once():
    route = plan(
        call(),
        Directory(),
        None,
        WEDNESDAY_NOON,
        replace(DEFAULT_POLICY, fallback_targets=("PJSIP/100", "SIP/110")),
    )
    [dial] = ring_schedule(route).dials
    assert [(r.endpoint, r.offset) for r in dial.rings] == [("PJSIP/100", 0), ("SIP/110", 0)]
    assert dial.timeout == 40 and dial.steps[0].kind is StepKind.FALLBACK


def test_the_step_in_progress_at_a_second_of_the_dial():
    [dial] = ring_schedule(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON)).dials
    assert [dial.step_at(s).number for s in (0, 9.9, 10, 19, 20, 30, 39, 45)] == [
        1,
        1,
        2,
        2,
        3,
        4,
        4,
        4,
    ]


def test_without_its_first_step_a_dial_starts_with_the_next_one_now():
    [dial] = ring_schedule(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON)).dials
    rest = dial.without_first_step()
    assert rest is not None
    assert rest.start == 10 and rest.timeout == 30
    assert [(r.endpoint, r.offset) for r in rest.rings] == [
        ("PJSIP/102", 0),
        ("PJSIP/103", 0),
        ("PJSIP/104", 10),
        ("PJSIP/105", 20),
    ]
    assert {r.endpoint for r in rest.first_step_rings()} == {OLGA.endpoint, PETR.endpoint}
    assert IVAN.endpoint not in {r.endpoint for r in rest.rings}, "not rung, not added later"
    last = rest.without_first_step().without_first_step()
    assert last is not None and last.without_first_step() is None


def test_what_can_wait_in_a_local_extension():
    assert can_wait("PJSIP/101") and can_wait("SIP/110") and can_wait("PJSIP/cafe-beef")
    assert can_wait("PJSIP/anna.k_2") and can_wait("IAX2/+79161234567")
    for endpoint in ("PJSIP/101@carrier", "Local/101@ctx/n", "DAHDI/g1/123", "101", "PJSIP/a b"):
        assert not can_wait(endpoint), endpoint


def test_keep_ringing_is_read_from_the_steps_and_on_by_default():
    from router.settings import RoutingSettings, StepSettings, policy_from_settings

    settings = RoutingSettings(
        steps=[
            StepSettings(kind=StepKind.RESPONSIBLE, timeout=10),
            StepSettings(kind=StepKind.DEPARTMENT, timeout=10),
            StepSettings(kind=StepKind.OWNER, timeout=10, keep_ringing=False),
        ]
    )
    rules = policy_from_settings(settings).rules
    assert [rule.keep_ringing for rule in rules] == [True, True, False]
    route = plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON, policy_from_settings(settings))
    # On the first step the value means nothing: nothing rings before it.
    assert [step.keep_ringing for step in route.steps] == [False, True, False]
    assert [len(dial.steps) for dial in ring_schedule(route).dials] == [2, 1]
