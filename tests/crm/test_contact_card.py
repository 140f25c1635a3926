"""Issue #14, points 4 and 8 as a user sees them: `contacts show` lists every call of a client with
its recording, `deals show` flags a recording whose file is gone, and a too-short call-back is
listed as an attempt on the missed call and on the call-back task."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from crm.call_sink import DbCallSink
from models.db import Database
from tests.sink.test_call_sink import CLIENT, T0, inbound, outbound


@pytest.fixture
def story(cli, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Анна answers a new caller (recording on disk); an hour later the client's call is missed
    (its recording file is gone); Анна's call-back reaches voicemail for 3 s."""
    recordings = tmp_path / "monitor"
    recordings.mkdir()
    (recordings / "in-c.1.wav").write_bytes(b"RIFF")
    monkeypatch.setenv("CALLROUTER_RECORDINGS_DIR", str(recordings))
    cli("managers", "add", "Анна", "--phone", "101")
    cli("managers", "add", "Борис", "--phone", "102")
    later = T0 + timedelta(hours=1)
    back = outbound("c.3", at=later + timedelta(minutes=5))
    calls = [
        replace(inbound("c.1", answered_by="PJSIP/101"), recording_file="in-c.1.wav"),
        replace(inbound("c.2", at=later, answered_by=None), recording_file="in-c.2.wav"),
        replace(back, talk_seconds=3.0, ended_at=back.answered_at + timedelta(seconds=3)),
    ]

    async def store() -> None:
        db = Database(db_url)
        try:
            for call in calls:
                await DbCallSink(db).store(call)
        finally:
            await db.dispose()

    asyncio.run(store())
    return cli


def test_contacts_show_lists_every_call_with_its_recording(story) -> None:
    out = story("contacts", "show", "8 916 123-45-67")
    assert out.code == 0, out.err
    text = out.out
    assert "Contact #1 — Иван Петров" in text and CLIENT in text
    assert "responsible: Анна" in text
    assert "#1 [new] inbound_call for Анна" in text
    assert "recording in-c.1.wav" in text
    assert "recording missing: in-c.2.wav" in text
    assert "1 short call-back attempt: #3" in text  # on the missed call and on the task
    card = json.loads(story("contacts", "show", "#1", "--json").out)
    assert card["phones"] == [CLIENT] and card["responsible"] == "Анна"
    assert [d["source"] for d in card["deals"]] == ["inbound_call"]
    assert [(c["id"], c["recording_missing"]) for c in card["calls"]] == [
        (1, False),
        (2, True),
        (3, False),
    ]
    assert [c["attempts"] for c in card["calls"]] == [[], [3], []]
    callback = next(t for t in card["tasks"] if "Call back" in t["comment"])
    assert callback["status"] == "open" and callback["attempts"] == [3]


def test_deals_show_flags_a_missing_recording(story) -> None:
    text = story("deals", "show", "1").out
    assert "recording missing: in-c.2.wav" in text
    assert "recording in-c.1.wav" in text
    card = json.loads(story("deals", "show", "1", "--json").out)
    assert [c["recording_missing"] for c in card["calls"]] == [False, True, False]


@pytest.mark.parametrize("ref", ["+79990000000", "#99", "not a phone"])
def test_contacts_show_of_an_unknown_contact_is_one_clear_line(story, ref: str) -> None:
    out = story("contacts", "show", ref)
    assert out.code == 2 and out.out == ""
    assert len(out.err.strip().splitlines()) == 1
