"""callrouter's delayed Local legs: the extension that carries the phone, and reading it back."""

from __future__ import annotations

import pytest

from core import dialplan as var
from core.channels import DelayedRing, delayed_ring_target, parse_delayed_ring
from core.phonebook import PhoneBook


@pytest.mark.parametrize(
    ("endpoint", "delay", "target"),
    [
        ("PJSIP/101", 10, "Local/10-PJSIP-101@callrouter-ring-delayed/n"),
        ("SIP/110", 5, "Local/5-SIP-110@callrouter-ring-delayed/n"),
        ("PJSIP/cafe-beef", 20, "Local/20-PJSIP-cafe-beef@callrouter-ring-delayed/n"),
    ],
)
def test_a_phone_and_its_delay_travel_in_the_extension_and_come_back(endpoint, delay, target):
    assert delayed_ring_target(endpoint, delay) == target
    # What the dialplan's ${CUT(EXTEN,-,1)}, ${CUT(EXTEN,-,2)}, ${CUT(EXTEN,-,3-)} give:
    exten = target.removeprefix("Local/").partition("@")[0]
    fields = exten.split("-")
    assert (fields[0], f"{fields[1]}/{'-'.join(fields[2:])}") == (str(delay), endpoint)
    back = DelayedRing(delay, endpoint)
    assert parse_delayed_ring(target) == back
    # Both halves of the channel, and DIALEDPEERNUMBER (L3: `3-103@ring-delayed/n`).
    exten_at = target.removeprefix("Local/").removesuffix("/n")
    assert parse_delayed_ring(f"Local/{exten_at}-00000004;1") == back
    assert parse_delayed_ring(f"Local/{exten_at}-00000004;2") == back
    assert parse_delayed_ring(f"{exten_at}/n") == back
    assert parse_delayed_ring(exten_at) == back


@pytest.mark.parametrize(
    ("endpoint", "delay"),
    [("PJSIP/101@carrier", 10), ("Local/101@ctx/n", 10), ("PJSIP/101", 0), ("SIP/110", -3)],
)
def test_what_cannot_wait_gets_no_local_leg(endpoint, delay):
    assert delayed_ring_target(endpoint, delay) is None


@pytest.mark.parametrize(
    "name",
    [
        "Local/3-103@ring-delayed-00000004;1",  # the lab's own context (L3)
        "Local/101@ctx-0000000a;1",
        "PJSIP/101-00000001",
        "Local/x-PJSIP-101@callrouter-ring-delayed-00000004;1",
        "Local/10-101@callrouter-ring-delayed-00000004;1",  # no technology
        "Local/10-PJSIP-@callrouter-ring-delayed-00000004;1",
        "",
    ],
)
def test_other_channels_are_not_delayed_legs(name):
    assert parse_delayed_ring(name) is None


def test_the_phonebook_reads_a_delayed_leg_as_the_phone_it_rings():
    book = PhoneBook.of(["SIP/101", "PJSIP/101", "PJSIP/cafe-beef"])
    context = var.RING_DELAYED_CONTEXT
    assert book.phone_of(f"Local/10-SIP-101@{context}-00000004;1") == "SIP/101"
    assert book.phone_of(f"Local/10-PJSIP-101@{context}-00000004;2") == "PJSIP/101"
    assert book.phone_of(f"Local/20-PJSIP-cafe-beef@{context}-0000000c;1") == "PJSIP/cafe-beef"
    assert book.phone_of(f"Local/20-PJSIP-102@{context}-0000000c;1") is None, "not ours"
    # Other Local channels keep the extension rule.
    assert book.phone_of("Local/101@ctx-0000000a;1") == "SIP/101"
