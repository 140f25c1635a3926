"""Escalate unreturned call-backs past their deadline, once each (Task.escalated_at).

Safe to run from a timer as often as one likes, and from two places at once: each task is
claimed by an UPDATE … WHERE escalated_at IS NULL, so only one run escalates it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import AlertSettings
from models.db import Database
from models.tables import Contact, Manager, Task
from models.values import CreatedBy, TaskPurpose, TaskStatus, TaskType
from router.directory import Role

ESCALATION_MARK = "[escalated"


@dataclass(frozen=True)
class EscalationResult:
    task_id: int
    number: str
    from_manager: str
    to_manager: str | None
    mode: str
    copy_task_id: int | None = None


async def escalate_callbacks(
    db: Database, settings: AlertSettings, now: datetime, tz: ZoneInfo, dry_run: bool = False
) -> list[EscalationResult]:
    """Escalate every open call-back task past due + grace that was never escalated.

    Returns what was escalated (with `dry_run`, what would be; nothing is written).
    """
    try:
        return await _escalate_all(db, settings, now, tz, dry_run)
    except _DryRun as done:
        return done.results


class _DryRun(Exception):
    """Raised to roll a dry run's transaction back, carrying what it would have done."""

    def __init__(self, results: list[EscalationResult]) -> None:
        super().__init__("dry run")
        self.results = results


async def _escalate_all(
    db: Database, settings: AlertSettings, now: datetime, tz: ZoneInfo, dry_run: bool
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
    session: AsyncSession, task: Task, settings: AlertSettings, now: datetime, tz: ZoneInfo
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
    holder_name = holder.name if holder else "?"
    number = contact.phone if contact else "?"
    due_local = task.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    when = now.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    copy_id = None
    if target is None:
        note = f"{ESCALATION_MARK} {when}: not returned by {holder_name}, nobody to escalate to]"
    elif settings.escalation_mode == "reassign":
        note = (
            f"{ESCALATION_MARK} {when}: moved from {holder_name} to {target.name}, due {due_local}]"
        )
        task.responsible_manager_id = target.id
    else:
        note = f"{ESCALATION_MARK} {when}: {target.name} checks on {holder_name}, due {due_local}]"
        copy = Task(
            deal_id=task.deal_id,
            contact_id=task.contact_id,
            responsible_manager_id=target.id,
            due_at=now + timedelta(minutes=settings.copy_due_minutes),
            type=TaskType.CALL.value,
            comment=f"Missed call from {number} not returned by {holder_name} (task #{task.id}, "
            f"due {due_local}): make sure the client is called back",
            purpose=TaskPurpose.GENERAL.value,
            created_by=CreatedBy.RULE.value,
        )
        session.add(copy)
        await session.flush()
        copy_id = copy.id
    task.comment = f"{task.comment} {note}"
    task.escalated_at = now
    await session.flush()
    return EscalationResult(
        task.id,
        number,
        holder_name,
        target.name if target else None,
        settings.escalation_mode if target else "none",
        copy_id,
    )


async def _target(session: AsyncSession, settings: AlertSettings, exclude: int) -> Manager | None:
    """The configured manager, else the first active one of the role, else the owner."""
    if settings.escalate_to_manager_id is not None:
        chosen = await session.get(Manager, settings.escalate_to_manager_id)
        if chosen is not None and chosen.active and chosen.id != exclude:
            return chosen
    roles = [settings.escalate_to_role, Role.OWNER.value]
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


def escalation_note(comment: str) -> str:
    """The escalation note a task's comment carries (its last one), or ''."""
    at = comment.rfind(ESCALATION_MARK)
    return comment[at + 1 : -1] if at >= 0 and comment.endswith("]") else ""
