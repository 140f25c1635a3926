from __future__ import annotations

from dataclasses import replace
from datetime import time

import pytest

from router.directory import Directory, WorkingHours
from router.plan import LeadStatus, plan
from router.policy import RoutingPolicy, StepKind, StepRule
from router.settings import RoutingSettings, StepSettings, policy_from_settings
from tests.routing.office import (
    HEAD,
    IVAN,
    KNOWN,
    NO_MANAGER,
    OFFICE,
    OLGA,
    OWNER,
    PETR,
    SALES,
    SATURDAY_NOON,
    WEDNESDAY_NOON,
    call,
)


def endpoints(route) -> list[list[str]]:
    return [list(step.endpoints) for step in route.steps]


def test_known_client_rings_their_manager_alone_then_everyone_is_added_and_keeps_ringing():
    route = plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON)
    assert [s.kind for s in route.steps] == [
        StepKind.RESPONSIBLE,
        StepKind.DEPARTMENT,
        StepKind.HEAD_OF_SALES,
        StepKind.OWNER,
    ]
    assert endpoints(route) == [
        ["PJSIP/101"],
        ["PJSIP/101", "PJSIP/102", "PJSIP/103"],
        ["PJSIP/101", "PJSIP/102", "PJSIP/103", "PJSIP/104"],
        ["PJSIP/101", "PJSIP/102", "PJSIP/103", "PJSIP/104", "PJSIP/105"],
    ]
    assert [s.timeout for s in route.steps] == [10, 10, 10, 10]
    assert [s.keep_ringing for s in route.steps] == [False, True, True, True]
    assert route.lead is LeadStatus.EXISTING and route.contact_id == KNOWN.id
    assert route.id == "1795746830.87"


def test_new_caller_starts_with_the_whole_department():
    route = plan(call("+79990001122"), OFFICE, None, WEDNESDAY_NOON)
    assert endpoints(route)[0] == ["PJSIP/101", "PJSIP/102", "PJSIP/103"]
    assert route.lead is LeadStatus.NEW
    assert route.total_seconds == 40, "the skipped responsible step's time goes to the last step"
    assert route.steps[-1].timeout == 20


@pytest.mark.parametrize("caller", [None, ""])
def test_anonymous_caller_starts_at_the_department_with_no_lead(caller):
    route = plan(call(caller), OFFICE, None, WEDNESDAY_NOON)
    assert route.steps[0].kind is StepKind.DEPARTMENT
    assert route.lead is LeadStatus.NONE


def test_contact_without_responsible_manager_starts_at_the_department():
    route = plan(call(NO_MANAGER.phone), OFFICE, NO_MANAGER, WEDNESDAY_NOON)
    assert route.steps[0].kind is StepKind.DEPARTMENT
    assert "without a responsible manager" in route.reason


def test_inactive_or_off_shift_responsible_manager_is_skipped_at_once():
    off_shift = replace(IVAN, shift=WorkingHours.office(time(6, 0), time(8, 0)))
    for ivan in (replace(IVAN, active=False), off_shift):
        directory = replace(OFFICE, managers=(ivan, OLGA, PETR, HEAD, OWNER))
        route = plan(call(), directory, KNOWN, WEDNESDAY_NOON)
        assert route.steps[0].kind is StepKind.DEPARTMENT
        assert "PJSIP/101" not in route.steps[0].endpoints


def test_after_hours_gives_no_steps_and_says_why():
    route = plan(call(), OFFICE, KNOWN, SATURDAY_NOON)
    assert route.after_hours and route.steps == ()
    assert "Sales" in route.reason


def test_responsible_manager_who_is_the_only_department_member_rings_on_through_its_step():
    directory = replace(OFFICE, managers=(IVAN, HEAD, OWNER))
    route = plan(call(), directory, KNOWN, WEDNESDAY_NOON)
    # The department adds nobody, but Ivan keeps ringing through it: the step stays, so the
    # head is added when the configured timeline says (20 s), not earlier.
    assert endpoints(route) == [
        ["PJSIP/101"],
        ["PJSIP/101"],
        ["PJSIP/101", "PJSIP/104"],
        ["PJSIP/101", "PJSIP/104", "PJSIP/105"],
    ]
    assert [s.number for s in route.steps] == [1, 2, 3, 4]
    assert route.total_seconds == 40


def test_without_keep_ringing_the_lone_member_rests_and_the_department_step_is_skipped():
    directory = replace(OFFICE, managers=(IVAN, HEAD, OWNER))
    policy = replace(
        _default(),
        rules=(
            StepRule(StepKind.RESPONSIBLE, 10),
            StepRule(StepKind.DEPARTMENT, 10, keep_ringing=False),
            StepRule(StepKind.HEAD_OF_SALES, 10),
            StepRule(StepKind.OWNER, 10),
        ),
    )
    route = plan(call(), directory, KNOWN, WEDNESDAY_NOON, policy)
    assert endpoints(route) == [["PJSIP/101"], ["PJSIP/104"], ["PJSIP/104", "PJSIP/105"]]
    assert [s.keep_ringing for s in route.steps] == [False, False, True]
    assert route.total_seconds == 40


def test_no_owner_means_the_fallback_targets_join_the_last_step():
    directory = replace(OFFICE, managers=(IVAN, OLGA, PETR, HEAD))
    policy = replace(_default(), fallback_targets=("PJSIP/100",))
    route = plan(call(), directory, KNOWN, WEDNESDAY_NOON, policy)
    assert route.steps[-1].endpoints[-1] == "PJSIP/100"
    assert route.total_seconds == 40


def test_empty_directory_rings_only_the_fallback_for_the_whole_time():
    policy = replace(_default(), fallback_targets=("PJSIP/100", "PJSIP/200"))
    route = plan(call(), Directory(), None, WEDNESDAY_NOON, policy)
    assert len(route.steps) == 1
    assert route.steps[0].kind is StepKind.FALLBACK
    assert route.steps[0].endpoints == ("PJSIP/100", "PJSIP/200")
    assert route.steps[0].timeout == 40


def test_empty_directory_without_fallback_has_no_steps():
    route = plan(call(), Directory(), None, WEDNESDAY_NOON)
    assert route.steps == () and not route.after_hours
    assert "nobody" in route.reason


def test_without_a_uniqueid_the_plan_id_is_derived_from_the_inputs():
    first = plan(call(uniqueid=""), OFFICE, None, WEDNESDAY_NOON)
    again = plan(call(uniqueid=""), OFFICE, None, WEDNESDAY_NOON)
    later = plan(call(uniqueid=""), OFFICE, None, WEDNESDAY_NOON.replace(minute=1))
    assert first.id == again.id != later.id


def test_explicit_plan_id_wins():
    assert plan(call(), OFFICE, None, WEDNESDAY_NOON, plan_id="p-1").id == "p-1"


def test_manager_for_maps_endpoints_back_to_managers():
    route = plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON)
    assert route.manager_for("PJSIP/103") == PETR.id
    assert route.manager_for("PJSIP/999") is None


def test_policy_from_settings_reads_order_and_timeouts():
    settings = RoutingSettings(
        steps=[
            StepSettings(kind=StepKind.DEPARTMENT, timeout=15),
            StepSettings(kind=StepKind.OWNER, timeout=25),
        ],
        fallback_targets=["PJSIP/100", "PJSIP/100"],
        sales_department_id=SALES.id,
    )
    policy = policy_from_settings(settings)
    assert policy.rules == (StepRule(StepKind.DEPARTMENT, 15), StepRule(StepKind.OWNER, 25))
    assert policy.fallback_targets == ("PJSIP/100",)
    assert policy.total_seconds == 40
    route = plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON, policy)
    assert endpoints(route)[0] == ["PJSIP/101", "PJSIP/102", "PJSIP/103"]


def test_policy_default_matches_the_issue():
    assert policy_from_settings(RoutingSettings()).rules == (
        StepRule(StepKind.RESPONSIBLE, 10),
        StepRule(StepKind.DEPARTMENT, 10),
        StepRule(StepKind.HEAD_OF_SALES, 10),
        StepRule(StepKind.OWNER, 10),
    )


@pytest.mark.parametrize(
    "rules",
    [(), (StepRule(StepKind.OWNER, 5), StepRule(StepKind.OWNER, 5))],
)
def test_unusable_policies_are_refused(rules):
    with pytest.raises(ValueError):
        RoutingPolicy(rules=rules)


def test_non_positive_timeout_is_refused():
    with pytest.raises(ValueError, match="positive"):
        StepRule(StepKind.DEPARTMENT, 0)


def test_configured_department_decides_members_and_hours():
    night = replace(SALES, id=2, name="Night desk", hours=WorkingHours.always())
    directory = replace(
        OFFICE,
        departments=(SALES, night),
        managers=(IVAN, replace(OLGA, department_id=2), HEAD, OWNER),
    )
    policy = replace(_default(), department_id=2)
    route = plan(call("+79990001122"), directory, None, SATURDAY_NOON, policy)
    assert not route.after_hours
    assert route.steps[0].endpoints == ("PJSIP/102",)


def _default() -> RoutingPolicy:
    return policy_from_settings(RoutingSettings())
