"""`callrouter calls …`: the recorded call, its legs, and its recording — only from its folder."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from crm.call_sink import DbCallSink
from models.db import Database
from tests.sink.test_call_sink import inbound


@pytest.fixture
def stored(cli, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    recordings = tmp_path / "monitor"
    recordings.mkdir()
    monkeypatch.setenv("CALLROUTER_RECORDINGS_DIR", str(recordings))
    cli("managers", "add", "Анна", "--phone", "101")
    cli("managers", "add", "Борис", "--phone", "102")

    async def store(*calls) -> None:
        db = Database(db_url)
        try:
            for call in calls:
                await DbCallSink(db).store(call)
        finally:
            await db.dispose()

    def put(*calls) -> None:
        asyncio.run(store(*calls))

    return cli, recordings, put


def test_show_and_list(stored) -> None:
    cli, recordings, put = stored
    call = inbound("9001.1", answered_by="PJSIP/102", rung=("PJSIP/101", "PJSIP/102"))
    put(call, inbound("9001.2", answered_by=None))
    shown = json.loads(cli("calls", "show", "1", "--json").out)
    assert shown["answered_by"] == "Борис" and shown["caller_name"] == "Иван Петров"
    assert [(leg["endpoint"], leg["answered"]) for leg in shown["legs"]] == [
        ("PJSIP/101", False),
        ("PJSIP/102", True),
    ]
    text = cli("calls", "show", "1").out
    assert "← answered" in text and "Борис" in text
    missed = json.loads(cli("calls", "list", "--missed", "--json").out)
    assert [c["id"] for c in missed] == [2]
    by_number = json.loads(cli("calls", "list", "--number", "8 916 123-45-67", "--json").out)
    assert len(by_number) == 2


@pytest.mark.parametrize(
    "recording",
    ["in-ok.wav", "../secret.wav", "/etc/passwd", "link.wav"],
)
def test_recording_only_from_inside_its_folder(stored, tmp_path: Path, recording: str) -> None:
    cli, recordings, put = stored
    (recordings / "in-ok.wav").write_bytes(b"RIFF-ok")
    (tmp_path / "secret.wav").write_bytes(b"secret")
    (recordings / "link.wav").symlink_to(tmp_path / "secret.wav")
    put(
        replace(
            inbound("9003.1"),
            recording_file=recording if recording.startswith("/") else str(recordings / recording),
        )
    )
    out = tmp_path / "out.wav"
    result = cli("calls", "recording", "1", "--out", str(out))
    if recording == "in-ok.wav":
        assert result.code == 0 and out.read_bytes() == b"RIFF-ok"
    else:
        assert result.code == 2 and "outside the recordings folder" in result.err
        assert not out.exists()


def test_unknown_call_is_a_clear_error(stored) -> None:
    cli, _, _ = stored
    result = cli("calls", "show", "77")
    assert result.code == 2 and "no call #77" in result.err
