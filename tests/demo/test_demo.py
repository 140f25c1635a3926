"""`callrouter demo` on a shorter day: the report it prints agrees with the database it leaves."""

from __future__ import annotations

import asyncio
import json
import wave
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callrouter.cli import main
from callrouter.demo import DemoResult, run_demo
from callrouter.web.recordings import resolve
from core.settings import load_settings
from crm import users
from models.db import Database
from models.tables import Call, Manager, Task
from tests.crm.test_ownership_properties import broken_rules

ZONE = ZoneInfo("Europe/Moscow")


async def test_demo_report_agrees_with_the_database(tmp_path: Path) -> None:
    lines: list[str] = []
    result = await run_demo(
        tmp_path / "demo.sqlite3",
        tmp_path / "report.html",
        calls=30,
        seed=3,
        today=date(2026, 11, 25),
        out=lines.append,
    )
    assert result.day == date(2026, 11, 25)
    assert any("Playing 2026-11-25" in line for line in lines)
    report = result.report

    day_start = datetime.combine(result.day, time(0), tzinfo=ZONE).astimezone(UTC)
    day_end = datetime.combine(result.day, time(23, 59, 59), tzinfo=ZONE).astimezone(UTC)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}")
    try:
        async with db.reader() as s:
            that_day = Call.started_at.between(day_start, day_end)
            calls = await s.scalar(select(func.count()).select_from(Call).where(that_day))
            inbound = await s.scalar(
                select(func.count()).select_from(Call).where(that_day, Call.direction == "inbound")
            )
            missed = await s.scalar(
                select(func.count()).select_from(Call).where(that_day, Call.missed.is_(True))
            )
            recovered = await s.scalar(
                select(func.count())
                .select_from(Call)
                .where(that_day, Call.recovered_at.is_not(None))
            )
            talk = await s.scalar(select(func.sum(Call.talk_seconds)).where(that_day))
            rule_tasks = await s.scalar(
                select(func.count()).select_from(Task).where(Task.created_by == "rule")
            )
    finally:
        await db.dispose()

    # Every call the simulator played is one row, and the report counts the same rows.
    assert calls == result.calls == report.calls.calls
    sim_inbound = [r for r in result.results if r.agi_status is not None]
    assert inbound == len(sim_inbound) == report.inbound.offered
    assert missed == sum(1 for r in sim_inbound if r.answered_by is None) == report.inbound.missed
    assert recovered == report.recovery.recovered
    assert abs(talk - report.calls.talk_seconds) < 1e-6
    assert rule_tasks >= 1  # deals moved to "proposal sent" got their automatic call task
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "2026-11-25" in html
    assert "Lost Call Rate" in result.report_text
    await _recordings_and_logins_work(result, tmp_path)


async def _recordings_and_logins_work(result: DemoResult, tmp_path: Path) -> None:
    """Every answered call has a real WAV exactly its talk time long, inside the recordings
    folder the demo's settings file names; every person of the staff can log in."""
    settings = load_settings(result.config_path)
    assert settings.recordings_dir == result.recordings_dir == tmp_path / "demo-recordings"
    assert settings.database_url.endswith(str(result.database))
    assert settings.web.resolved_secret_key()
    assert result.config_path is not None and result.config_path.stat().st_mode & 0o077 == 0
    db = Database(settings.database_url)
    try:
        async with db.transaction() as s:
            calls = (await s.scalars(select(Call))).all()
            answered = [c for c in calls if c.answered_at is not None and c.talk_seconds > 0]
            assert answered and len(answered) == result.recordings
            for call in answered:
                path = resolve(settings.recordings_dir, call.recording_file or "")
                with wave.open(str(path)) as audio:
                    assert audio.getnchannels() == 1
                    assert abs(audio.getnframes() / audio.getframerate() - call.talk_seconds) < 0.01
            assert all(c.recording_file is None for c in calls if c not in answered)
            staff = (await s.scalars(select(Manager))).all()
            assert sorted(login.name for login in result.logins) == sorted(m.name for m in staff)
            for login in result.logins:
                assert await users.authenticate(s, login.login, login.password) is not None
                assert await users.authenticate(s, login.login, login.password + "x") is None
    finally:
        await db.dispose()


async def test_the_demo_strands_nothing_and_its_overdue_count_is_the_task_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "demo.sqlite3"
    result = await run_demo(
        database, tmp_path / "report.html", calls=40, seed=5, today=date(2026, 11, 25), out=print
    )
    url = f"sqlite+aiosqlite:///{database}"
    # What the owner reads in the report is what a manager's task list shows at that moment.
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLROUTER_CONFIG", raising=False)
    monkeypatch.setenv("CALLROUTER_DATABASE_URL", url)
    capsys.readouterr()
    at = f"{result.day} 20:00"  # the report's moment (run_demo builds it as of 20:00)
    code = await asyncio.to_thread(main, ["tasks", "list", "--overdue", "--at", at, "--json"])
    listed = json.loads(capsys.readouterr().out)
    assert code == 0
    assert len(listed) == result.report.tasks.overdue
    assert result.report.tasks.overdue < result.report.tasks.open  # not everything is late
    # And nothing in it is stranded: the ownership model's rules hold on the demo's database.
    db = Database(url)
    try:
        assert await broken_rules(db) == []
    finally:
        await db.dispose()
