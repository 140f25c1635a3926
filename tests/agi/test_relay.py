"""`callrouter-agi` (agi_scripts/relay.py): a classic AGI that hands the call to the FastAGI
service, and routes in process when the service is not there — the same Dials either way."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from agi_scripts.env import EnvCollector
from agi_scripts.fastagi import start_fastagi_server
from agi_scripts.file_source import FileDirectorySource
from agi_scripts.relay import as_fastagi
from tests.agi.fake_asterisk import DialOutcome
from tests.agi.support import WEDNESDAY_NOON, lab_settings, route_calls
from tests.agi.test_classic import scenario, snapshot  # noqa: F401  (fixture)

DIALS = {
    "02": [DialOutcome("NOANSWER"), DialOutcome("ANSWER", -1, True, "SIP/102-00000038")],
    "03": [DialOutcome("NOANSWER")] * 3,
}


def classic_env(fastagi_env: list[bytes]) -> list[bytes]:
    """What Asterisk writes to a classic script: no agi_network lines, the script as request."""
    lines = [line for line in fastagi_env if not line.startswith((b"agi_network", b"agi_request"))]
    return [b"agi_request: callrouter-agi\n", *lines]


async def run_relay(fake, address: str, snapshot_path: Path) -> bytes:
    env = {
        **os.environ,
        "CALLROUTER_AGI__DIRECTORY_FILE": str(snapshot_path),
        "CALLROUTER_CONFIG": "",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from agi_scripts.relay import main; sys.exit(main(sys.argv))",
        address,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=snapshot_path.parent,
    )
    async with asyncio.timeout(20):
        process.stdin.write(b"".join(classic_env(fake.env)))
        await process.stdin.drain()
        while line := await process.stdout.readline():
            process.stdin.write(fake.answer(line))
            await process.stdin.drain()
        stderr = await process.stderr.read()
        assert await process.wait() == 0
    return stderr


def test_environment_becomes_a_fastagi_request_for_route() -> None:
    env = b"agi_request: callrouter-agi\nagi_channel: SIP/carrier-1\nagi_callerid: +79161234567\n\n"
    converted = as_fastagi(env, "127.0.0.1", 4573)
    assert converted.startswith(
        b"agi_network: yes\nagi_network_script: route\nagi_request: agi://127.0.0.1:4573/route\n"
    )
    assert b"agi_channel: SIP/carrier-1\nagi_callerid: +79161234567\n\n" in converted
    assert b"callrouter-agi" not in converted


def test_the_relay_reads_the_environment_as_the_service_does() -> None:
    """Where the environment ends and which lines it has: the one reading in agi_scripts.env,
    for Asterisk's `\n` lines, `\r\n` lines and an empty environment alike."""
    crlf = b"agi_request: callrouter-agi\r\nagi_channel: SIP/carrier-1\r\n\r\n200 result=0\n"
    converted = as_fastagi(crlf, "127.0.0.1", 4573)
    assert converted.endswith(b"\nagi_channel: SIP/carrier-1\r\n\n200 result=0\n")
    assert b"callrouter-agi" not in converted
    assert as_fastagi(b"\n", "h", 1) == (
        b"agi_network: yes\nagi_network_script: route\nagi_request: agi://h:1/route\n\n"
    )
    collector = EnvCollector(1024)
    env, rest = collector.add(converted)
    assert env.channel == "SIP/carrier-1" and env.network_script == "route"
    assert rest == b"200 result=0\n"


def test_the_relay_imports_nothing_but_the_standard_library_and_the_env_reader() -> None:
    """Its cold start is on the caller's ear (bench/routing_classic.py): no routing stack, and
    not even asyncio, until the service turns out to be down."""
    code = (
        "import sys; import agi_scripts.relay; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('agi_scripts', 'core', 'models', 'router', 'callrouter', 'asyncio', 'dataclasses'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["agi_scripts", "agi_scripts.env", "agi_scripts.errors", "agi_scripts.relay"]


@pytest.mark.parametrize("name", sorted(DIALS))
async def test_relay_through_the_service_dials_like_fastagi(snapshot, name):  # noqa: F811
    relayed, direct = scenario(name, list(DIALS[name])), scenario(name, list(DIALS[name]))
    server = await start_fastagi_server(
        lab_settings(), FileDirectorySource(snapshot), clock=lambda: WEDNESDAY_NOON, port=0
    )
    try:
        stderr = await run_relay(relayed, f"127.0.0.1:{server.port}", snapshot)
    finally:
        await server.close()
    await route_calls(direct, source=FileDirectorySource(snapshot), settings=lab_settings())
    assert relayed.dial_data and relayed.dial_data == direct.dial_data
    assert relayed.variables == direct.variables
    assert b"+7916" not in stderr


async def test_relay_with_the_service_down_routes_in_process(snapshot):  # noqa: F811
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    relayed, direct = scenario("03", list(DIALS["03"])), scenario("03", list(DIALS["03"]))
    await run_relay(relayed, f"127.0.0.1:{closed}", snapshot)
    await route_calls(direct, source=FileDirectorySource(snapshot), settings=lab_settings())
    assert relayed.dial_data and relayed.dial_data == direct.dial_data
