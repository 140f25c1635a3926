"""The classic stdin/stdout AGI script as Asterisk runs it: a subprocess fed a recorded env."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from agi_scripts.file_source import FileDirectorySource
from core import dialplan as var
from tests.agi.fake_asterisk import DialOutcome, FakeAsterisk, read_transcript
from tests.agi.support import lab_settings, route_calls

SNAPSHOT = {
    "departments": [{"id": 1, "name": "Sales", "timezone": "Europe/Moscow"}],
    "managers": [
        {"id": 1, "name": "Ivan", "endpoint": "SIP/101", "department_id": 1},
        {"id": 2, "name": "Olga", "endpoint": "SIP/102", "department_id": 1},
        {"id": 3, "name": "Petr", "endpoint": "SIP/103", "department_id": 1},
        {
            "id": 4,
            "name": "Head",
            "endpoint": "SIP/104",
            "role": "head_of_sales",
            "department_id": 1,
        },
        {"id": 5, "name": "Owner", "endpoint": "SIP/105", "role": "owner"},
    ],
    "contacts": [
        {"id": 7, "phone": "+79161234567", "name": "Иван Петров", "responsible_manager_id": 1}
    ],
}


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    return path


async def run_classic(fake: FakeAsterisk, snapshot: Path) -> bytes:
    """Run `agi_scripts.classic:main` as Asterisk would; return what it wrote to stderr."""
    env = {**os.environ, "CALLROUTER_AGI__DIRECTORY_FILE": str(snapshot), "CALLROUTER_CONFIG": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys, agi_scripts.classic as c; sys.exit(c.main())",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=snapshot.parent,
    )
    async with asyncio.timeout(20):
        process.stdin.write(b"".join(fake.env))
        await process.stdin.drain()
        while line := await process.stdout.readline():
            process.stdin.write(fake.answer(line))
            await process.stdin.drain()
        stderr = await process.stderr.read()
        assert await process.wait() == 0
    return stderr


def scenario(name: str, dials: list[DialOutcome]) -> FakeAsterisk:
    transcript = read_transcript(name)
    return FakeAsterisk(transcript.env, lambda _: "NOT_INUSE", dials)


@pytest.mark.parametrize(
    ("name", "dials"),
    [
        ("02", [DialOutcome("NOANSWER"), DialOutcome("ANSWER", -1, True, "SIP/102-00000038")]),
        ("04", [DialOutcome("NOANSWER"), DialOutcome("CANCEL", -1, True)]),
        ("03", [DialOutcome("NOANSWER")] * 3),
    ],
)
async def test_classic_script_routes_like_the_fastagi_server(snapshot, name, dials):
    classic, fast = scenario(name, list(dials)), scenario(name, list(dials))
    stderr = await run_classic(classic, snapshot)
    await route_calls(fast, source=FileDirectorySource(snapshot), settings=lab_settings())
    assert classic.dial_data and classic.dial_data == fast.dial_data
    assert classic.variables == fast.variables
    assert b"+7916" not in stderr and "Иван".encode() not in stderr and b"7903" not in stderr


async def test_classic_script_with_no_directory_hands_back_to_the_dialplan(tmp_path):
    fake = scenario("01b", [])
    await run_classic(fake, tmp_path / "missing.json")
    assert fake.dial_data == []
    assert fake.variables[var.RESULT] == "FAILED"
