"""Escalate unreturned call-backs past their deadline, once each.

A call-back task still open `callbacks.escalate_after_minutes` after its deadline goes up the
line: to the target ("reassign"), or it stays with its holder while the target gets a check task
("copy"). What happened is kept in columns: `Task.escalated_at`, `escalated_from_manager_id`,
`escalated_to_manager_id` (None: nobody to escalate to) and, on the check task,
`escalation_of_task_id`. The note added to the comment is for people; nothing reads it back.

Safe to run from a timer as often as one likes, and from two places at once: each task is
claimed by an UPDATE … WHERE escalated_at IS NULL, so only one run escalates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import CallbackSettings
from crm.ownership import can_take_work
from models.db import Database
from models.tables import Contact, Manager, Task
from models.values import CreatedBy, TaskPurpose, TaskStatus, TaskType
from router.directory import Role

# "none": there was nobody to escalate to; the call-back stays with its holder, marked escalated.
EscalationMode = Literal["reassign", "copy", "none"]


@dataclass(frozen=True)
class EscalationResult:
    task_id: int
    number: str
    from_manager: str
    to_manager: str | None
    mode: EscalationMode
    copy_task_id: int | None = None


async def escalate_callbacks(
    db: Database, settings: CallbackSettings, now: datetime, tz: ZoneInfo, dry_run: bool = False
) -> list[EscalationResult]:
    """Escalate every open call-back task past due + grace that was never escalated.

    Returns what was escalated (with `dry_run`, what would be; nothing is written).
    """
    try:
        return await _escalate_all(db, settings, now, tz, dry_run)
    except _DryRun as done:
        return done.results


def escalation_note(
    *, at: datetime, due_at: datetime, held: str, target: str | None, mode: str, tz: ZoneInfo
) -> str:
    """What one escalation did, in words (the comment's note and the daily report's line)."""
    when = _local(at, tz)
    if target is None or mode == "none":
        return f"escalated {when}: not returned by {held}, nobody to escalate to"
    if mode == "copy":
        return f"escalated {when}: {target} checks on {held}, due {_local(due_at, tz)}"
    return f"escalated {when}: moved from {held} to {target}, due {_local(due_at, tz)}"


def escalation_mode(target_id: int | None, check_task_id: int | None) -> EscalationMode:
    """How a stored escalation went, from its columns: a check task exists only in "copy" mode."""
    if target_id is None:
        return "none"
    return "copy" if check_task_id is not None else "reassign"


class _DryRun(Exception):
    """Raised to roll a dry run's transaction back, carrying what it would have done."""

    def __init__(self, results: list[EscalationResult]) -> None:
        super().__init__("dry run")
        self.results = results


async def _escalate_all(
    db: Database, settings: CallbackSettings, now: datetime, tz: ZoneInfo, dry_run: bool
) -> list[EscalationResult]:
    async with db.transaction() as session:
        limit = now - timedelta(minutes=settings.escalate_after_minutes)
        due = (
            await session.scalars(
                select(Task)
                .where(
                    Task.purpose == TaskPurpose.CALLBACK.value,
                    Task.status == TaskStatus.OPEN.value,
                    Task.escalated_at.is_(None),
                    Task.due_at <= limit,
                )
                .order_by(Task.due_at, Task.id)
            )
        ).all()
        results = []
        for task in due:
            result = await _escalate(session, task, settings, now, tz)
            if result is not None:
                results.append(result)
        if dry_run:
            raise _DryRun(results)
        return results


async def _escalate(
    session: AsyncSession, task: Task, settings: CallbackSettings, now: datetime, tz: ZoneInfo
) -> EscalationResult | None:
    claimed = await session.execute(
        update(Task)
        .where(Task.id == task.id, Task.escalated_at.is_(None))
        .values(escalated_at=now)
        .execution_options(synchronize_session=False)
    )
    if not claimed.rowcount:
        return None  # another run got there first
    holder = await session.get(Manager, task.responsible_manager_id)
    contact = await session.get(Contact, task.contact_id)
    target = await _target(session, settings, exclude=task.responsible_manager_id)
    held = holder.name if holder else "?"
    number = contact.phone if contact else "?"
    mode: EscalationMode = settings.mode if target is not None else "none"
    task.escalated_at = now
    task.escalated_from_manager_id = task.responsible_manager_id
    task.escalated_to_manager_id = target.id if target else None
    copy_id = None
    if target is not None and mode == "reassign":
        task.responsible_manager_id = target.id
    elif target is not None and mode == "copy":
        copy_id = await _add_check(session, task, target, settings, now, number, held, tz)
    note = escalation_note(
        at=now,
        due_at=task.due_at,
        held=held,
        target=target.name if target else None,
        mode=mode,
        tz=tz,
    )
    task.comment = f"{task.comment} [{note}]"
    await session.flush()
    return EscalationResult(task.id, number, held, target.name if target else None, mode, copy_id)


async def _add_check(
    session: AsyncSession,
    task: Task,
    target: Manager,
    settings: CallbackSettings,
    now: datetime,
    number: str,
    held: str,
    tz: ZoneInfo,
) -> int:
    """The target's task to make sure the holder calls the client back; its id."""
    check = Task(
        deal_id=task.deal_id,
        contact_id=task.contact_id,
        responsible_manager_id=target.id,
        due_at=now + timedelta(minutes=settings.copy_due_minutes),
        type=TaskType.CALL.value,
        comment=f"Missed call from {number} not returned by {held} (task #{task.id}, "
        f"due {_local(task.due_at, tz)}): make sure the client is called back",
        purpose=TaskPurpose.GENERAL.value,
        created_by=CreatedBy.RULE.value,
        escalation_of_task_id=task.id,
    )
    session.add(check)
    await session.flush()
    return check.id


async def _target(
    session: AsyncSession, settings: CallbackSettings, exclude: int
) -> Manager | None:
    """The configured manager, else the first active one of the role, else the owner."""
    if settings.to_manager_id is not None:
        chosen = await session.get(Manager, settings.to_manager_id)
        if chosen is not None and can_take_work(chosen) and chosen.id != exclude:
            return chosen
    roles = [settings.to_role, Role.OWNER.value]
    for role in dict.fromkeys(roles):
        chosen = await session.scalar(
            select(Manager)
            .where(Manager.role == role, Manager.active.is_(True), Manager.id != exclude)
            .order_by(Manager.id)
            .limit(1)
        )
        if chosen is not None:
            return chosen
    return None


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
