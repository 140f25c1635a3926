from __future__ import annotations

from dataclasses import replace

from router.explain import format_plan
from router.plan import plan
from router.policy import DEFAULT_POLICY, RoutingPolicy, StepKind, StepRule
from tests.routing.office import KNOWN, OFFICE, SATURDAY_NOON, WEDNESDAY_NOON, call


def test_explains_every_step_with_its_people_times_and_reason():
    text = format_plan(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON))
    assert text.splitlines()[0] == "Plan 1795746830.87 for +79161234567 calling 7000"
    assert "Lead: existing, contact #7" in text
    assert "Step 1 [responsible] 0-10 s: Ivan (PJSIP/101)" in text
    assert (
        "Step 4 [owner] 30-40 s: Ivan (PJSIP/101), Olga (PJSIP/102), Petr (PJSIP/103), "
        "Head (PJSIP/104), Owner (PJSIP/105)" in text
    )
    assert text.count("    why: ") == 4
    assert "Total ring time 40 s" in text


def test_explains_the_second_each_phone_starts_ringing_once():
    lines = format_plan(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Who rings when"))
    assert "each phone rings once," in lines[start]
    assert lines[start + 1 : start + 6] == [
        "    from 0 s: Ivan (PJSIP/101), step 1",
        "    from 10 s: Olga (PJSIP/102), step 2",
        "    from 10 s: Petr (PJSIP/103), step 2",
        "    from 20 s: Head (PJSIP/104), step 3",
        "    from 30 s: Owner (PJSIP/105), step 4",
    ]
    assert lines[start + 6].startswith("Total ring time 40 s")


def test_explains_a_new_dial_where_keep_ringing_is_off():
    rules = (
        StepRule(StepKind.RESPONSIBLE, 10),
        StepRule(StepKind.DEPARTMENT, 10, keep_ringing=False),
    )
    text = format_plan(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON, RoutingPolicy(rules)))
    assert "  Dial 1, 0-10 s:\n    from 0 s: Ivan (PJSIP/101), step 1\n" in text
    assert (
        "  Dial 2, 10-20 s; the phones before stop (keep_ringing off):\n"
        "    from 10 s: Olga (PJSIP/102), step 2\n"
        "    from 10 s: Petr (PJSIP/103), step 2\n"
    ) in text


def test_explains_a_phone_that_cannot_wait_for_its_step():
    no_owner = replace(OFFICE, managers=OFFICE.managers[:4])
    policy = replace(DEFAULT_POLICY, fallback_targets=("PJSIP/+79160000000@carrier",))
    text = format_plan(plan(call(), no_owner, KNOWN, WEDNESDAY_NOON, policy))
    assert (
        "    from 0 s: PJSIP/+79160000000@carrier, step 4 (its step starts at 30 s, but this "
        "endpoint cannot wait in a Local leg: it rings from the start)"
    ) in text


def test_explains_after_hours():
    text = format_plan(plan(call(None), OFFICE, None, SATURDAY_NOON))
    assert "for anonymous" in text
    assert "After hours: Sales is closed" in text
    assert "Step" not in text
