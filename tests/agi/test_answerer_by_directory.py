"""The executor names the manager who answered from the answering channel, whatever the
directory calls the phone: letters and dashes, a Local dial string with options (issue #14,
point 6)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core import dialplan as var
from tests.agi.fake_asterisk import DialOutcome
from tests.agi.support import LAB_OFFICE, MemorySource, route_calls
from tests.agi.test_fastagi_calls import fake_from


@pytest.mark.parametrize(
    ("endpoint", "peer"),
    [
        ("PJSIP/anna", "PJSIP/anna-0000001a"),
        ("PJSIP/cafe-beef", "PJSIP/cafe-beef-00000003"),
        ("PJSIP/office-fax", "PJSIP/office-fax-0000001a"),
        ("Local/101@ctx/n", "Local/101@ctx-0000000a;1"),  # the dial string carries an option
        ("Local/101@ctx", "Local/101@ctx-0000000a;2"),
    ],
)
async def test_the_answering_channel_names_the_manager_whose_phone_it_is(endpoint, peer):
    first = replace(LAB_OFFICE.managers[0], endpoint=endpoint)
    office = replace(LAB_OFFICE, managers=(first, *LAB_OFFICE.managers[1:]))
    fake = fake_from(
        "01b",
        device_states={endpoint: "NOT_INUSE"},
        dials=[DialOutcome("ANSWER", -1, True, peer)],
    )
    await route_calls(fake, source=MemorySource(directory=office))
    [dial] = fake.dial_data  # the whole plan in one Dial, this phone first, at once
    assert dial.split("&")[0] == endpoint
    assert fake.variables[var.ANSWERED_BY] == str(first.id)


async def test_a_channel_of_no_phone_in_the_plan_names_nobody():
    fake = fake_from("01b", dials=[DialOutcome("ANSWER", -1, True, "PJSIP/office-fax-0000001a")])
    await route_calls(fake)
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert var.ANSWERED_BY not in fake.variables
