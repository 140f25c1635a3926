"""Untrusted caller IDs and misbehaving peers cost one session at most, never the server."""

from __future__ import annotations

import asyncio

import pytest

from agi_scripts.fastagi import start_fastagi_server
from core import dialplan as var
from tests.agi.fake_asterisk import DialOutcome, FakeAsterisk, parse_args, read_transcript
from tests.agi.support import WEDNESDAY_NOON, MemorySource, lab_settings, route_calls

ENV = read_transcript("01b").env


def env_with(**fields: bytes) -> list[bytes]:
    lines = []
    for line in ENV:
        key = line.split(b":", 1)[0].decode()
        lines.append(b"%s: %s\n" % (key.encode(), fields[key]) if key in fields else line)
    return lines


HOSTILE_CALLERS = [
    b"anonymous",
    b"",
    b"unknown",
    b"Not A Number",
    b"7" * 200,
    b"+7916\xff\xfe1234567",
]
HOSTILE_NAMES = [
    b'Ivan "The Client" \\ Petrov',
    b"\xff\xfe\xfd not utf-8",
    b"line\rbreak",
    b"x" * 5000,
]


@pytest.mark.parametrize("callerid", HOSTILE_CALLERS)
async def test_unusable_caller_ids_are_routed_as_anonymous(callerid):
    fake = FakeAsterisk(
        env_with(agi_callerid=callerid), lambda _: "NOT_INUSE", [DialOutcome("NOANSWER")] * 4
    )
    await route_calls(fake)
    assert fake.dial_data[0].startswith("SIP/101&SIP/102&SIP/103&Local/10-SIP-104@")
    assert fake.variables[var.LEAD] == "none"
    assert fake.variables[var.RESULT] == "NO_ANSWER"


async def test_quotes_and_backslashes_around_a_real_number_still_find_the_client():
    fake = FakeAsterisk(
        env_with(agi_callerid=b'"+7916" \\ 1234567'),
        lambda _: "NOT_INUSE",
        [DialOutcome("ANSWER", -1, True, "SIP/101-1")],
    )
    await route_calls(fake)
    assert fake.variables[var.LEAD] == "existing"
    assert fake.dial_data[0].startswith("SIP/101&Local/10-SIP-102@")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_hostile_caller_names_never_break_a_command(name):
    fake = FakeAsterisk(
        env_with(agi_calleridname=name),
        lambda _: "NOT_INUSE",
        [DialOutcome("ANSWER", -1, True, "SIP/101-1")],
    )
    await route_calls(fake)
    assert fake.variables[var.RESULT] == "ANSWERED"
    assert all(raw.count(b"\n") == 1 and raw.endswith(b"\n") for raw in fake.raw_commands)


async def test_newline_in_the_name_splits_the_env_line_and_is_ignored():
    env = env_with(agi_calleridname=b"Ivan\nEXEC Hangup")
    fake = FakeAsterisk(env, lambda _: "NOT_INUSE", [DialOutcome("ANSWER", -1, True, "SIP/101-1")])
    await route_calls(fake)
    assert fake.dial_data[0].startswith("SIP/101&Local/10-SIP-102@")


async def test_quotes_and_backslashes_in_the_uniqueid_arrive_intact_in_one_argument():
    uniqueid = '17.1" EXEC Hangup \\'
    fake = FakeAsterisk(
        env_with(agi_uniqueid=uniqueid.encode()),
        lambda _: "NOT_INUSE",
        [DialOutcome("ANSWER", -1, True, "SIP/101-1")],
    )
    await route_calls(fake)
    assert fake.variables[var.PLAN_ID] == uniqueid
    assert not any(
        parse_args(c)[0] == "EXEC" and parse_args(c)[1] == "Hangup" for c in fake.commands
    )


async def test_hostile_endpoint_in_the_directory_is_never_dialled():
    from dataclasses import replace

    from tests.agi.support import LAB_OFFICE

    evil = replace(LAB_OFFICE.managers[1], endpoint="SIP/102&Local/666,1,tTg")
    source = MemorySource(
        directory=replace(
            LAB_OFFICE, managers=(LAB_OFFICE.managers[0], evil, *LAB_OFFICE.managers[2:])
        )
    )
    fake = FakeAsterisk(
        env_with(agi_callerid=b"+79990001122"), lambda _: "NOT_INUSE", [DialOutcome("NOANSWER")] * 4
    )
    await route_calls(fake, source=source)
    assert all("666" not in data for data in fake.dial_data)
    assert fake.dial_data[0].startswith("SIP/101&SIP/103&Local/10-SIP-104@")


async def _misbehave(port: int, behaviour: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if behaviour == "close_at_once":
        writer.close()
    elif behaviour == "half_env_then_close":
        writer.write(b"".join(ENV[:5]))
        await writer.drain()
        writer.close()
    elif behaviour == "half_env_then_silence":
        writer.write(b"".join(ENV[:5]) + b"agi_callerid: +7916")
        await writer.drain()
        assert await reader.read() == b"", "the server gives up and closes"
        writer.close()
    elif behaviour == "never_answers":
        writer.write(b"".join(ENV))
        await writer.drain()
        assert await reader.readline()  # the first command, then silence
        assert await reader.read() == b"", "the server gives up and closes"
        writer.close()
    elif behaviour == "garbage_reply":
        writer.write(b"".join(ENV))
        await writer.drain()
        await reader.readline()
        writer.write(b"\x00\xff garbage " + b"9" * 20000 + b"\n")
        await writer.drain()
        assert await reader.read() == b""
        writer.close()


@pytest.mark.parametrize(
    "behaviour",
    [
        "close_at_once",
        "half_env_then_close",
        "half_env_then_silence",
        "never_answers",
        "garbage_reply",
    ],
)
async def test_a_misbehaving_peer_does_not_stall_other_calls(behaviour):
    settings = lab_settings()
    settings.agi.env_timeout = 0.3
    settings.agi.command_timeout = 0.3
    server = await start_fastagi_server(
        settings, MemorySource(), clock=lambda: WEDNESDAY_NOON, port=0
    )
    good = FakeAsterisk(
        read_transcript("01b").env,
        lambda _: "NOT_INUSE",
        [DialOutcome("ANSWER", -1, True, "SIP/101-1")],
    )
    try:
        async with asyncio.timeout(5):
            bad = asyncio.create_task(_misbehave(server.port, behaviour))
            await good.call(server.port)
            await bad
    finally:
        await server.close()
    assert good.variables[var.RESULT] == "ANSWERED"
    assert server.active_sessions == 0


async def test_peer_outside_allowed_peers_gets_nothing():
    settings = lab_settings()
    settings.agi.allowed_peers = ["10.9.9.9"]
    fake = FakeAsterisk(ENV)
    await route_calls(fake, settings=settings)
    assert fake.commands == []


async def test_unknown_script_name_is_not_routed():
    fake = FakeAsterisk(env_with(agi_network_script=b"other"))
    await route_calls(fake)
    assert fake.commands == []
