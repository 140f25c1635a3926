from __future__ import annotations

from router.explain import format_plan
from router.plan import plan
from tests.routing.office import KNOWN, OFFICE, SATURDAY_NOON, WEDNESDAY_NOON, call


def test_explains_every_step_with_its_people_times_and_reason():
    text = format_plan(plan(call(), OFFICE, KNOWN, WEDNESDAY_NOON))
    assert text.splitlines()[0] == "Plan 1795746830.87 for +79161234567 calling 7000"
    assert "Lead: existing, contact #7" in text
    assert "Step 1 [responsible] 0-10 s: Ivan (PJSIP/101)" in text
    assert (
        "Step 4 [owner] 30-40 s: Olga (PJSIP/102), Petr (PJSIP/103), Head (PJSIP/104), Owner (PJSIP/105)"
        in text
    )
    assert text.count("    why: ") == 4
    assert "Total ring time 40 s" in text


def test_explains_after_hours():
    text = format_plan(plan(call(None), OFFICE, None, SATURDAY_NOON))
    assert "for anonymous" in text
    assert "After hours: Sales is closed" in text
    assert "Step" not in text
