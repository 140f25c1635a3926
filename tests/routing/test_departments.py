"""Two departments, each with its own line and hours: the number dialled picks who rings."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from router.departments import ChoiceBasis, choose_department, department_warnings
from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours
from router.explain import format_plan
from router.plan import IncomingCall, plan
from router.policy import DEFAULT_POLICY
from tests.routing.office import SATURDAY_NOON, WEDNESDAY_NOON

SALES_LINE = "+74951110000"
SERVICE_LINE = "+74952220000"
SALES = Department(1, "Sales", WorkingHours.office(time(9), time(18)), frozenset({SALES_LINE}))
# The service desk works Saturdays and evenings until 21:00.
SERVICE = Department(
    2,
    "Service",
    WorkingHours.office(time(9), time(21), days=(0, 1, 2, 3, 4, 5)),
    frozenset({SERVICE_LINE}),
)
ANNA = Manager(1, "Anna", "PJSIP/101", Role.MANAGER, 1)
BORIS = Manager(2, "Boris", "PJSIP/102", Role.MANAGER, 1)
VERA = Manager(3, "Vera", "PJSIP/201", Role.MANAGER, 2)
GLEB = Manager(4, "Gleb", "PJSIP/202", Role.MANAGER, 2)
SALES_HEAD = Manager(5, "Sales head", "PJSIP/109", Role.HEAD_OF_SALES, 1)
SERVICE_HEAD = Manager(6, "Service head", "PJSIP/209", Role.HEAD_OF_SALES, 2)
OWNER = Manager(7, "Owner", "PJSIP/300", Role.OWNER, None)
TWO_LINES = Directory(
    departments=(SALES, SERVICE),
    managers=(ANNA, BORIS, VERA, GLEB, SALES_HEAD, SERVICE_HEAD, OWNER),
    default_department_id=SALES.id,
)


def dialling(did: str, caller: str = "+79250000000") -> IncomingCall:
    return IncomingCall(uniqueid="1795746830.9", caller=caller, did=did)


def rung(route) -> list[tuple[str, tuple[str, ...]]]:
    return [(step.kind.value, step.endpoints) for step in route.steps]


def test_a_call_to_the_service_line_rings_the_service_desk_and_its_head():
    route = plan(dialling(SERVICE_LINE), TWO_LINES, None, WEDNESDAY_NOON)
    assert route.department is not None
    assert route.department.department == SERVICE
    assert route.department.basis is ChoiceBasis.DID
    assert rung(route) == [
        ("department", ("PJSIP/201", "PJSIP/202")),
        ("head_of_sales", ("PJSIP/201", "PJSIP/202", "PJSIP/209")),
        ("owner", ("PJSIP/201", "PJSIP/202", "PJSIP/209", "PJSIP/300")),
    ]


def test_a_call_to_the_sales_line_rings_sales_only():
    route = plan(dialling(SALES_LINE), TWO_LINES, None, WEDNESDAY_NOON)
    assert route.steps[0].endpoints == ("PJSIP/101", "PJSIP/102")
    assert "PJSIP/209" not in route.steps[1].endpoints


def test_each_line_keeps_its_own_hours():
    # Saturday noon: sales is closed, the service desk is open.
    closed = plan(dialling(SALES_LINE), TWO_LINES, None, SATURDAY_NOON)
    assert closed.after_hours and closed.reason == "Sales is closed"
    open_ = plan(dialling(SERVICE_LINE), TWO_LINES, None, SATURDAY_NOON)
    assert not open_.after_hours
    assert open_.steps[0].endpoints == ("PJSIP/201", "PJSIP/202")
    # Wednesday 19:30: sales has gone home, the service desk answers until 21:00.
    evening = WEDNESDAY_NOON.replace(hour=19, minute=30)
    assert plan(dialling(SALES_LINE), TWO_LINES, None, evening).after_hours
    assert not plan(dialling(SERVICE_LINE), TWO_LINES, None, evening).after_hours


def test_a_number_that_is_no_line_goes_to_the_default_department():
    route = plan(dialling("+74959990000"), TWO_LINES, None, WEDNESDAY_NOON)
    assert route.department is not None
    assert route.department.department == SALES
    assert route.department.basis is ChoiceBasis.DEFAULT
    assert "is no department's line; the default department" in route.department.why
    marked_service = replace(TWO_LINES, default_department_id=SERVICE.id)
    unknown = plan(dialling(""), marked_service, None, WEDNESDAY_NOON)
    assert unknown.steps[0].endpoints == ("PJSIP/201", "PJSIP/202")


def test_the_routing_setting_overrides_the_default_and_a_line_beats_both():
    policy = replace(DEFAULT_POLICY, department_id=SERVICE.id)
    default = plan(dialling(""), TWO_LINES, None, WEDNESDAY_NOON, policy)
    assert default.department is not None and default.department.basis is ChoiceBasis.SETTING
    assert default.steps[0].endpoints == ("PJSIP/201", "PJSIP/202")
    by_line = plan(dialling(SALES_LINE), TWO_LINES, None, WEDNESDAY_NOON, policy)
    assert by_line.steps[0].endpoints == ("PJSIP/101", "PJSIP/102")


def test_the_client_s_own_manager_still_rings_first_on_the_other_line():
    client = ContactView(9, "+79250000000", "Client", responsible_manager_id=ANNA.id)
    route = plan(dialling(SERVICE_LINE), TWO_LINES, client, WEDNESDAY_NOON)
    assert rung(route)[:2] == [
        ("responsible", ("PJSIP/101",)),
        ("department", ("PJSIP/101", "PJSIP/201", "PJSIP/202")),  # 101 keeps ringing
    ]


def test_a_department_without_a_head_of_its_own_escalates_to_the_other_heads():
    no_head = replace(TWO_LINES, managers=(ANNA, BORIS, VERA, GLEB, SALES_HEAD, OWNER))
    route = plan(dialling(SERVICE_LINE), no_head, None, WEDNESDAY_NOON)
    assert route.steps[1].endpoints == ("PJSIP/201", "PJSIP/202", "PJSIP/109")


def test_why_the_department_was_chosen():
    only = Directory(departments=(SALES,), managers=(ANNA,))
    assert choose_department(only, "").basis is ChoiceBasis.ONLY
    several = replace(TWO_LINES, default_department_id=None)
    first = choose_department(several, "+74959990000")
    assert first.basis is ChoiceBasis.FIRST and first.department == SALES
    assert choose_department(Directory(), SALES_LINE).basis is ChoiceBasis.NONE


def test_warnings_name_what_to_fix_and_stay_quiet_when_all_is_set():
    assert department_warnings(TWO_LINES, WEDNESDAY_NOON) == ()
    [ambiguous] = department_warnings(
        replace(TWO_LINES, default_department_id=None), WEDNESDAY_NOON
    )
    assert "default department is ambiguous" in ambiguous
    assert "callrouter departments default NAME" in ambiguous
    twice = replace(TWO_LINES, departments=(SALES, replace(SERVICE, dids=frozenset({SALES_LINE}))))
    assert any(
        f"line {SALES_LINE} belongs to several departments" in w
        for w in department_warnings(twice, WEDNESDAY_NOON)
    )
    # The whole service desk has left: routing goes on, the warning says so.
    empty = replace(TWO_LINES, managers=(ANNA, BORIS, SALES_HEAD, OWNER))
    [nobody] = department_warnings(empty, WEDNESDAY_NOON)
    assert "'Service' has no active manager" in nobody
    assert plan(dialling(SERVICE_LINE), empty, None, WEDNESDAY_NOON).steps
    off_shift = WorkingHours.office(time(6), time(8))
    early = replace(
        TWO_LINES,
        managers=(ANNA, BORIS, replace(VERA, shift=off_shift), replace(GLEB, shift=off_shift)),
    )
    assert any(
        "none of its managers is on shift" in w for w in department_warnings(early, WEDNESDAY_NOON)
    )
    wrong = replace(DEFAULT_POLICY, department_id=42)
    assert any(
        "routing.sales_department_id = 42 names no department" in w
        for w in department_warnings(TWO_LINES, WEDNESDAY_NOON, wrong.department_id)
    )


def test_explain_says_which_department_why_and_when():
    route = plan(dialling(SERVICE_LINE), TWO_LINES, None, SATURDAY_NOON)
    lines = format_plan(route, "Europe/Moscow", ["check this"]).splitlines()
    assert lines[0] == f"Plan 1795746830.9 for +79250000000 calling {SERVICE_LINE}"
    assert lines[1] == "Evaluated at 2026-11-28 12:00 Sat (Europe/Moscow)"
    assert lines[2] == f"Department: Service (the number dialled, {SERVICE_LINE}, is its line)"
    assert lines[3] == "Warning: check this"
    london = replace(SERVICE, hours=replace(SERVICE.hours, timezone="Europe/London"))
    other_zone = replace(TWO_LINES, departments=(SALES, london))
    text = format_plan(
        plan(dialling(SERVICE_LINE), other_zone, None, SATURDAY_NOON), "Europe/Moscow"
    )
    assert "2026-11-28 09:00 Sat (Europe/London) for the department" in text
