"""Unreturned call-backs past their deadline go up the line once, however often the timer runs."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from callrouter.reports.daily import build_daily
from core.settings import CallbackSettings, Settings, SettingsError, load_settings
from crm.callbacks import escalate_callbacks
from models.db import Database
from models.tables import Manager, Task

from .office import DAY, MSK, Builder, at, build_office, number


async def _callbacks(db: Database) -> dict[str, int]:
    office = await build_office(db)
    async with db.transaction() as s:
        b = Builder(s, office)
        await b.task("due_9", "Анна", number(1), at(DAY, 9), purpose="callback")
        await b.task("due_11", "Борис", number(2), at(DAY, 11), purpose="callback")
        await b.task("head_own", "Head", number(3), at(DAY, 9), purpose="callback")
        await b.task("general", "Анна", number(4), at(DAY, 9))  # not a call-back
    return office.tasks | {f"m:{k}": v for k, v in office.ids.items()}


async def _task(db: Database, task_id: int) -> Task:
    async with db.reader() as s:
        return await s.get(Task, task_id)


async def test_only_callbacks_past_deadline_plus_grace_escalate(db: Database) -> None:
    ids = await _callbacks(db)
    settings = CallbackSettings(escalate_after_minutes=30)
    # 10:45: due_9 is 1 h 45 min late; due_11 is not due; head_own belongs to the head already.
    done = await escalate_callbacks(db, settings, at(DAY, 10, 45), MSK)
    assert {(r.task_id, r.to_manager) for r in done} == {
        (ids["due_9"], "Head"),
        (ids["head_own"], "Owner"),  # the head cannot escalate to herself: the owner
    }
    moved = await _task(db, ids["due_9"])
    assert moved.responsible_manager_id == ids["m:Head"]
    assert moved.escalated_at == at(DAY, 10, 45)
    assert (moved.escalated_from_manager_id, moved.escalated_to_manager_id) == (
        ids["m:Анна"],
        ids["m:Head"],
    )
    assert "moved from Анна to Head" in moved.comment  # for people to read
    assert (await _task(db, ids["due_11"])).escalated_at is None
    assert (await _task(db, ids["general"])).escalated_at is None
    # 11:30: due_11 is exactly 30 minutes late → escalates; the others are not touched again.
    later = await escalate_callbacks(db, settings, at(DAY, 11, 30), MSK)
    assert [r.task_id for r in later] == [ids["due_11"]]
    assert (await _task(db, ids["due_9"])).escalated_at == at(DAY, 10, 45)


async def test_copy_mode_leaves_the_task_and_gives_the_head_a_check(db: Database) -> None:
    ids = await _callbacks(db)
    settings = CallbackSettings(mode="copy", copy_due_minutes=30)
    done = await escalate_callbacks(db, settings, at(DAY, 9, 5), MSK)
    [anna] = [r for r in done if r.task_id == ids["due_9"]]
    assert (await _task(db, ids["due_9"])).responsible_manager_id == ids["m:Анна"]
    check = await _task(db, anna.copy_task_id)
    assert check.responsible_manager_id == ids["m:Head"]
    assert check.purpose == "general" and check.status == "open"
    assert check.due_at == at(DAY, 9, 35)
    assert number(1) in check.comment and "Анна" in check.comment
    assert check.escalation_of_task_id == ids["due_9"]
    kept = await _task(db, ids["due_9"])
    assert (kept.escalated_from_manager_id, kept.escalated_to_manager_id) == (
        ids["m:Анна"],
        ids["m:Head"],
    )


async def test_a_configured_target_and_a_dry_run(db: Database) -> None:
    ids = await _callbacks(db)
    settings = CallbackSettings(to_manager_id=ids["m:Вера"])
    preview = await escalate_callbacks(db, settings, at(DAY, 12), MSK, dry_run=True)
    assert {r.to_manager for r in preview} == {"Вера"}
    assert (await _task(db, ids["due_9"])).escalated_at is None  # nothing written
    assert len(await escalate_callbacks(db, settings, at(DAY, 12), MSK)) == 3


async def test_nobody_to_escalate_to_is_recorded_once(db: Database) -> None:
    ids = await _callbacks(db)
    async with db.transaction() as s:
        for m in (await s.scalars(select(Manager))).all():
            m.active = m.name in {"Анна", "Борис", "Вера"}
    done = await escalate_callbacks(db, CallbackSettings(), at(DAY, 12), MSK)
    anna = next(r for r in done if r.task_id == ids["due_9"])
    assert (anna.to_manager, anna.mode) == (None, "none")
    kept = await _task(db, ids["due_9"])
    assert kept.responsible_manager_id == ids["m:Анна"]
    assert (kept.escalated_from_manager_id, kept.escalated_to_manager_id) == (ids["m:Анна"], None)
    assert await escalate_callbacks(db, CallbackSettings(), at(DAY, 13), MSK) == []


async def test_two_timers_at_once_escalate_each_task_once(db: Database) -> None:
    await _callbacks(db)
    other = Database(db.url)
    try:
        now = at(DAY, 12)
        a, b = await asyncio.gather(
            escalate_callbacks(db, CallbackSettings(mode="copy"), now, MSK),
            escalate_callbacks(other, CallbackSettings(mode="copy"), now, MSK),
        )
    finally:
        await other.dispose()
    assert len(a) + len(b) == 3
    async with db.reader() as s:
        checks = (await s.scalars(select(Task).where(Task.created_by == "rule"))).all()
    assert len(checks) == 3  # one check task per escalated call-back, never two
    assert all(t.due_at == now + timedelta(minutes=30) for t in checks)


async def test_the_daily_report_reads_the_columns_not_the_comment(db: Database) -> None:
    ids = await _callbacks(db)
    async with db.transaction() as s:  # the head is away at 09:30: the owner gets the checks
        await s.execute(update(Manager).where(Manager.name == "Head").values(active=False))
    await escalate_callbacks(db, CallbackSettings(mode="copy"), at(DAY, 9, 30), MSK)
    async with db.transaction() as s:
        await s.execute(update(Manager).where(Manager.name == "Head").values(active=True))
    await escalate_callbacks(db, CallbackSettings(), at(DAY, 12), MSK)
    async with db.transaction() as s:  # someone rewrites the comments: the report does not care
        await s.execute(update(Task).values(comment="called twice, no answer"))
    report = await build_daily(db, DAY, at(DAY, 18), Settings(timezone="Europe/Moscow"))
    notes = {e.task_id: (e.responsible, e.note) for e in report.escalations}
    assert notes == {
        ids["due_9"]: (
            "Анна",
            "escalated 2026-11-20 09:30: Owner checks on Анна, due 2026-11-20 09:00",
        ),
        ids["head_own"]: (
            "Head",
            "escalated 2026-11-20 09:30: Owner checks on Head, due 2026-11-20 09:00",
        ),
        ids["due_11"]: (
            "Head",
            "escalated 2026-11-20 12:00: moved from Борис to Head, due 2026-11-20 11:00",
        ),
    }


def test_callbacks_have_their_own_section(tmp_path: Path) -> None:
    config = tmp_path / "callrouter.toml"
    config.write_text(
        '[alerts]\nbaseline_weeks = 2\n\n[callbacks]\nescalate_after_minutes = 45\nmode = "copy"\n'
        'to_role = "owner"\nto_manager_id = 7\ncopy_due_minutes = 10\n',
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert settings.alerts.baseline_weeks == 2
    assert settings.callbacks == CallbackSettings(
        escalate_after_minutes=45,
        mode="copy",
        to_role="owner",
        to_manager_id=7,
        copy_due_minutes=10,
    )


@pytest.mark.parametrize(
    ("old", "value", "new"),
    [
        ("escalate_after_minutes", "30", "callbacks.escalate_after_minutes"),
        ("escalation_mode", '"copy"', "callbacks.mode"),
        ("escalate_to_role", '"owner"', "callbacks.to_role"),
        ("escalate_to_manager_id", "3", "callbacks.to_manager_id"),
        ("copy_due_minutes", "10", "callbacks.copy_due_minutes"),
    ],
)
def test_an_old_escalation_key_under_alerts_is_refused_with_its_new_name(
    tmp_path: Path, old: str, value: str, new: str
) -> None:
    config = tmp_path / "callrouter.toml"
    config.write_text(f"[alerts]\nbaseline_weeks = 2\n{old} = {value}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as refused:
        load_settings(config)
    assert f"alerts.{old}" in str(refused.value) and new in str(refused.value)
