"""`Planner`: plan() for call after call on one directory, its steps worked out once per case."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta

import pytest

from router.directory import Directory, WorkingHours
from router.plan import Planner, plan
from router.policy import RoutingPolicy, StepKind, StepRule
from router.schedule import ring_schedule
from tests.routing.office import (
    HEAD,
    IVAN,
    KNOWN,
    NO_MANAGER,
    OFFICE,
    OLGA,
    SATURDAY_NOON,
    WEDNESDAY_NOON,
    call,
)

# Olga works mornings only; Ivan, the responsible manager, afternoons only.
SHIFTS = replace(
    OFFICE,
    managers=tuple(
        replace(m, shift=WorkingHours.office(time(9, 0), time(13, 0)))
        if m is OLGA
        else replace(m, shift=WorkingHours.office(time(13, 0), time(18, 0)))
        if m is IVAN
        else m
        for m in OFFICE.managers
    ),
)
MOMENTS = [WEDNESDAY_NOON + timedelta(hours=h) for h in (-3, 0, 1, 2, 7)] + [SATURDAY_NOON]


@pytest.mark.parametrize("directory", [OFFICE, SHIFTS, Directory()])
@pytest.mark.parametrize("contact", [KNOWN, NO_MANAGER, None])
def test_a_planner_plans_as_plan_does_whatever_the_moment(directory, contact):
    planner = Planner(directory)
    for moment in MOMENTS * 2:  # the second round from what the planner kept
        assert planner.plan(call(), contact, moment) == plan(call(), directory, contact, moment)


def test_who_is_on_shift_is_asked_per_call_not_kept():
    planner = Planner(SHIFTS)
    morning = planner.plan(call(), KNOWN, WEDNESDAY_NOON - timedelta(hours=2))
    afternoon = planner.plan(call(), KNOWN, WEDNESDAY_NOON + timedelta(hours=2))
    assert OLGA.endpoint in morning.steps[0].endpoints
    assert IVAN.endpoint not in {e for step in morning.steps for e in step.endpoints}
    assert afternoon.steps[0].kind is StepKind.RESPONSIBLE
    assert afternoon.steps[0].endpoints == (IVAN.endpoint,)
    assert OLGA.endpoint not in {e for step in afternoon.steps for e in step.endpoints}


def test_calls_alike_share_their_steps_and_so_their_ring_schedule():
    planner = Planner(OFFICE)
    first = planner.plan(call(uniqueid="1.1"), KNOWN, WEDNESDAY_NOON)
    second = planner.plan(call(uniqueid="1.2"), KNOWN, WEDNESDAY_NOON + timedelta(minutes=5))
    assert (first.id, second.id) == ("1.1", "1.2")
    assert first.steps is second.steps
    assert ring_schedule(first) is ring_schedule(second)
    other = planner.plan(call(uniqueid="1.3"), NO_MANAGER, WEDNESDAY_NOON)
    assert other.steps != first.steps
    assert ring_schedule(other) != ring_schedule(first)


def test_the_policy_is_the_planners():
    head_only = RoutingPolicy(rules=(StepRule(StepKind.HEAD_OF_SALES, 30),))
    route = Planner(OFFICE, head_only).plan(call(), KNOWN, WEDNESDAY_NOON)
    assert route == plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON, head_only)
    assert [step.endpoints for step in route.steps] == [(HEAD.endpoint,)]
