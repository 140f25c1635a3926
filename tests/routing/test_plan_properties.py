"""Properties every plan keeps, over generated offices, contacts and policies."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours
from router.plan import IncomingCall, plan
from router.policy import RoutingPolicy, StepKind, StepRule
from router.schedule import ring_schedule
from tests.routing.office import MOSCOW

BASE = datetime(2026, 11, 23, 0, 0, tzinfo=MOSCOW)  # a Monday


@st.composite
def offices(draw) -> Directory:
    hours = draw(st.sampled_from([WorkingHours.always(), WorkingHours.office(time(9), time(18))]))
    department = Department(1, "Sales", hours)
    count = draw(st.integers(0, 8))
    managers = tuple(
        Manager(
            id=i + 1,
            name=f"m{i + 1}",
            endpoint=f"PJSIP/{101 + i}",
            role=draw(st.sampled_from(list(Role))),
            department_id=draw(st.sampled_from([1, None])),
            active=draw(st.booleans()),
            shift=draw(st.sampled_from([None, WorkingHours.office(time(8), time(14))])),
        )
        for i in range(count)
    )
    return Directory(departments=draw(st.sampled_from([(department,), ()])), managers=managers)


@st.composite
def policies(draw) -> RoutingPolicy:
    kinds = draw(
        st.lists(
            st.sampled_from(
                [StepKind.RESPONSIBLE, StepKind.DEPARTMENT, StepKind.HEAD_OF_SALES, StepKind.OWNER]
            ),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    rules = tuple(StepRule(kind, draw(st.integers(1, 60))) for kind in kinds)
    fallback = draw(st.sampled_from([(), ("PJSIP/100",), ("PJSIP/100", "PJSIP/101")]))
    return RoutingPolicy(rules=rules, fallback_targets=fallback)


inputs = st.tuples(
    offices(),
    st.one_of(st.none(), st.integers(1, 9)),
    policies(),
    st.integers(0, 7 * 24 * 60 - 1).map(lambda minutes: BASE + timedelta(minutes=minutes)),
    st.sampled_from([None, "+79161234567"]),
)


def build(office, responsible_id, policy, now, caller):
    contact = None
    if responsible_id is not None:
        contact = ContactView(1, "+79161234567", responsible_manager_id=responsible_id)
    return plan(IncomingCall("u1", caller), office, contact, now, policy), contact


@settings(max_examples=400, deadline=None)
@given(inputs)
def test_no_step_is_empty_and_steps_are_numbered(args):
    route, _ = build(*args)
    assert all(step.targets for step in route.steps)
    assert [step.number for step in route.steps] == list(range(1, len(route.steps) + 1))
    assert all(len(set(step.endpoints)) == len(step.endpoints) for step in route.steps)


@settings(max_examples=400, deadline=None)
@given(inputs)
def test_the_responsible_manager_never_rings_twice_in_a_row(args):
    """Once per Dial, and never in the Dial right after one that rang him (keep_ringing off)."""
    route, contact = build(*args)
    office = args[0]
    manager = office.manager(contact.responsible_manager_id) if contact else None
    if manager is None:
        return
    dials = ring_schedule(route).dials
    for before, after in zip(dials, dials[1:], strict=False):
        assert not (before.ring_of(manager.endpoint) and after.ring_of(manager.endpoint))


@settings(max_examples=400, deadline=None)
@given(inputs, st.lists(st.booleans(), min_size=4, max_size=4))
def test_the_schedule_rings_each_phone_once_per_dial_exactly_as_the_steps_say(args, keeps):
    office, responsible_id, policy, now, caller = args
    rules = tuple(
        replace(rule, keep_ringing=keep) for rule, keep in zip(policy.rules, keeps, strict=False)
    )
    route, _ = build(office, responsible_id, replace(policy, rules=rules), now, caller)
    schedule = ring_schedule(route)
    assert schedule.total_seconds == route.total_seconds
    assert [step for dial in schedule.dials for step in dial.steps] == list(route.steps)
    start = 0
    for dial in schedule.dials:
        assert dial.start == start
        start += dial.timeout
        assert not dial.steps[0].keep_ringing, "a Dial starts where keep_ringing is off"
        assert all(step.keep_ringing for step in dial.steps[1:])
        endpoints = [ring.endpoint for ring in dial.rings]
        assert len(endpoints) == len(set(endpoints)), "one ring per phone per Dial"
        for step, offset in zip(dial.steps, dial.offsets, strict=True):
            # Who rings during a step is exactly who the schedule has started by then.
            assert {r.endpoint for r in dial.rings if r.due <= offset} == set(step.endpoints)
        for ring in dial.rings:
            assert ring.due == dial.offsets[dial.steps.index(ring.step)]
            assert ring.offset == ring.due  # every endpoint here is PJSIP/1xx: all can wait


@settings(max_examples=400, deadline=None)
@given(inputs)
def test_every_plan_ends_with_the_owner_or_the_fallback(args):
    route, contact = build(*args)
    office, _, policy, now, _ = args
    owners = {m.endpoint for m in office.by_role(Role.OWNER) if m.on_shift(now)}
    ends_with_owner = policy.rules[-1].kind is StepKind.OWNER
    if route.after_hours or not ((owners and ends_with_owner) or policy.fallback_targets):
        return
    assert route.steps, "with an owner or a fallback there is always someone to ring"
    last = set(route.steps[-1].endpoints)
    fallback = set(policy.fallback_targets)
    # The one exception, so that the property above holds: a fallback target that is the
    # responsible manager's own phone stays out right after the step that rang it.
    manager = office.manager(contact.responsible_manager_id) if contact else None
    if manager is not None and len(route.steps) > 1:
        if manager.endpoint in route.steps[-2].endpoints:
            fallback.discard(manager.endpoint)
    assert last & owners or last >= fallback


@settings(max_examples=400, deadline=None)
@given(inputs)
def test_timeouts_add_up_to_the_configured_maximum(args):
    route, _ = build(*args)
    if route.steps:
        assert route.total_seconds == args[2].total_seconds


@settings(max_examples=200, deadline=None)
@given(inputs)
def test_only_working_people_are_planned_and_plans_are_deterministic(args):
    route, _ = build(*args)
    office, _, _, now, _ = args
    for step in route.steps:
        for target in step.targets:
            if target.manager_id is not None:
                manager = office.manager(target.manager_id)
                assert manager.active and manager.on_shift(now)
    assert build(*args)[0] == route
    if route.after_hours:
        assert route.steps == ()


def test_fallback_naming_the_responsible_phone_rings_it_once():
    """Found by the property above: fallback targets may include a manager's own phone."""
    office = Directory(
        departments=(Department(1, "Sales", WorkingHours.always()),),
        managers=(
            Manager(1, "m1", "PJSIP/101", Role.MANAGER, 1),
            Manager(2, "m2", "PJSIP/102", Role.MANAGER, 1),
        ),
    )
    policy = RoutingPolicy(
        rules=(StepRule(StepKind.RESPONSIBLE, 10), StepRule(StepKind.DEPARTMENT, 10)),
        fallback_targets=("PJSIP/100", "PJSIP/101"),
    )
    route, _ = build(office, 1, policy, BASE, "+79161234567")
    assert [step.endpoints for step in route.steps] == [
        ("PJSIP/101",),
        ("PJSIP/101", "PJSIP/102", "PJSIP/100"),
    ]
    [dial] = ring_schedule(route).dials
    assert [(ring.endpoint, ring.offset) for ring in dial.rings] == [
        ("PJSIP/101", 0),
        ("PJSIP/102", 10),
        ("PJSIP/100", 10),
    ]
