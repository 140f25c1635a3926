"""Channel names (core/channels.py): the awkward ones, and every one Asterisk wrote in the lab."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from asterisk_sim.transcripts import transcripts_dir
from core.channels import ChannelName, endpoint_of, parse_channel
from core.dialplan import RING_DELAYED_CONTEXT

TRANSCRIPTS = transcripts_dir(Path(__file__).resolve().parents[2])
_HEADER = re.compile(rb"^(?:Channel|DestChannel|LocalOneChannel|LocalTwoChannel): (.+?)\r?$", re.M)


@pytest.mark.parametrize(
    ("name", "parts", "endpoint"),
    [
        (
            "PJSIP/office-fax-0000001a",
            ("PJSIP", "office-fax", "0000001a", None),
            "PJSIP/office-fax",
        ),
        ("PJSIP/cafe-beef-00000003", ("PJSIP", "cafe-beef", "00000003", None), "PJSIP/cafe-beef"),
        ("PJSIP/cafe-beef", ("PJSIP", "cafe-beef", "", None), "PJSIP/cafe-beef"),
        ("Local/101@ctx-0000000a;1", ("Local", "101@ctx", "0000000a", 1), "Local/101@ctx"),
        ("SIP/carrier-00000035", ("SIP", "carrier", "00000035", None), "SIP/carrier"),
        ("PJSIP/desk.2_b-0000ffff", ("PJSIP", "desk.2_b", "0000ffff", None), "PJSIP/desk.2_b"),
        ("PJSIP/101", ("PJSIP", "101", "", None), "PJSIP/101"),
        ("SIP/carrier/+79161234567", ("SIP", "carrier/+79161234567", "", None), None),
        ("none", ("", "none", "", None), "none"),
        ("", ("", "", "", None), ""),
    ],
)
def test_awkward_names(name: str, parts: tuple, endpoint: str | None) -> None:
    channel = parse_channel(name)
    assert (channel.technology, channel.resource, channel.suffix, channel.half) == parts
    assert channel.endpoint == (endpoint if endpoint is not None else name)
    assert endpoint_of(name) == channel.endpoint
    assert str(channel) == name


def test_a_local_channel_maps_to_its_target_and_its_pair() -> None:
    one = parse_channel("Local/101@ctx-0000000a;1")
    two = parse_channel("Local/101@ctx-0000000a;2")
    assert (one.extension, one.context, one.half) == ("101", "ctx", 1)
    assert one.is_local and one.pair == two.pair == "Local/101@ctx-0000000a"
    # A dial target: no suffix, no half, a Dial option after the context.
    target = parse_channel("Local/3-103@ring-delayed/n")
    assert (target.extension, target.context, target.suffix, target.pair) == (
        "3-103",
        "ring-delayed",
        "",
        None,
    )
    # Phones have no pair and no context; their extension is their number.
    phone = parse_channel("PJSIP/101-00000001")
    assert (phone.extension, phone.context, phone.pair, phone.is_local) == (
        "101",
        None,
        None,
        False,
    )


def recorded_names() -> set[str]:
    names: set[str] = set()
    for path in TRANSCRIPTS.rglob("ami.log"):
        names.update(m.decode() for m in _HEADER.findall(path.read_bytes()))
    for path in [*TRANSCRIPTS.rglob("cdr.csv"), *TRANSCRIPTS.rglob("cdr_csv_lines.csv")]:
        for row in csv.reader(path.read_text(encoding="utf-8").splitlines()):
            names.update(name for name in (row[5], row[6]) if name)
    names.discard("none")  # a global VarSet's Channel
    return names


def test_every_channel_asterisk_named_in_the_lab() -> None:
    names = recorded_names()
    assert len(names) > 80  # the transcripts are there
    endpoints = set()
    for name in names:
        channel = parse_channel(name)
        assert str(channel) == name
        if channel.is_internal:  # CLIEval/4: Asterisk's own counter, no hex suffix, no call
            assert channel.suffix == "" and channel.half is None, name
            endpoints.add(channel.endpoint)
            continue
        assert re.fullmatch(r"[0-9a-f]{8}", channel.suffix), name
        if channel.is_local:
            assert channel.half in (1, 2), name
            assert channel.context in ("ring-delayed", RING_DELAYED_CONTEXT), name
        else:
            assert channel.half is None, name
        endpoints.add(channel.endpoint)
    assert endpoints == {
        *(f"SIP/{n}" for n in ("carrier", "101", "102", "103")),
        *(f"PJSIP/{n}" for n in ("carrier", "101", "102", "103", "201", "202")),
        "Local/3-103@ring-delayed",
        "Local/6-202@ring-delayed",
        # callrouter's own plan on a real Asterisk (callrouter-real/)
        f"Local/4-PJSIP-102@{RING_DELAYED_CONTEXT}",
        f"Local/7-PJSIP-103@{RING_DELAYED_CONTEXT}",
        f"Local/10-PJSIP-202@{RING_DELAYED_CONTEXT}",
        "CLIEval/4",
    }


_RESOURCE = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@given(
    technology=st.sampled_from(["PJSIP", "SIP", "IAX2"]),
    resource=_RESOURCE.filter(lambda r: not re.search(r"-[0-9a-fA-F]{8}$", r)),
    counter=st.integers(0, 2**32 - 1),
)
def test_any_endpoint_name_comes_back_from_its_channels(technology, resource, counter) -> None:
    channel = f"{technology}/{resource}-{counter:08x}"
    assert parse_channel(channel) == ChannelName(technology, resource, f"{counter:08x}")
    assert (
        endpoint_of(channel)
        == endpoint_of(f"{technology}/{resource}")
        == f"{technology}/{resource}"
    )


@given(st.text(max_size=60))
def test_any_text_is_taken_apart_and_put_back(text: str) -> None:
    assert str(parse_channel(text)) == text
