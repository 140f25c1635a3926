"""Tasks: the database refuses one without a person, a deadline, a type or a comment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.notes import add_note, check_note
from crm.ownership import check_assignable
from models.errors import InputError, MissingField, NotFound
from models.tables import Deal, Manager, Task
from models.values import CreatedBy, TaskPurpose, TaskStatus, TaskType


def parse_task_type(text: str | None) -> TaskType:
    if text is None or not str(text).strip():
        raise MissingField("type")
    try:
        return TaskType(str(text).strip().lower())
    except ValueError:
        raise InputError(
            f"unknown task type {text!r}: choose one of {', '.join(TaskType.values())}"
        ) from None


def check_deadline(due_at: datetime, now: datetime, *, allow_past: bool = False) -> None:
    """Refuse a deadline already gone: nobody can meet it, and it would count as overdue."""
    if due_at < now and not allow_past:
        raise InputError(
            f"the deadline is {_ago(now - due_at)} in the past; a task is due from now on "
            "(pass --allow-past to record one that is already overdue)"
        )


def _ago(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n} {unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "min")) if n]
    return " ".join(parts[:2]) or f"{int(delta.total_seconds())} s"


async def add_task(
    session: AsyncSession,
    *,
    deal: Deal | None,
    responsible: Manager | None,
    due_at: datetime | None,
    task_type: TaskType | str | None,
    comment: str | None,
    created_by: CreatedBy = CreatedBy.PERSON,
    created_by_manager: Manager | None = None,
    purpose: TaskPurpose = TaskPurpose.GENERAL,
    now: datetime | None = None,
    allow_past: bool = False,
) -> Task:
    """Add a task, naming the first missing required field if there is one.

    A deadline before `now` (default: the clock) is refused unless `allow_past`."""
    if deal is None:
        raise MissingField("deal")
    if responsible is None:
        raise MissingField("responsible manager")
    if due_at is None:
        raise MissingField("deadline")
    kind = parse_task_type(task_type) if not isinstance(task_type, TaskType) else task_type
    if comment is None or not comment.strip():
        raise MissingField("comment")
    check_assignable(responsible, "tasks")
    check_deadline(due_at, now or datetime.now(UTC), allow_past=allow_past)
    task = Task(
        deal_id=deal.id,
        contact_id=deal.contact_id,
        responsible_manager_id=responsible.id,
        due_at=due_at,
        type=kind.value,
        comment=comment.strip(),
        purpose=purpose.value,
        created_by=created_by.value,
        created_by_manager_id=created_by_manager.id if created_by_manager else None,
    )
    session.add(task)
    await session.flush()
    return task


async def get_task(session: AsyncSession, task_id: int) -> Task:
    task = await session.get(Task, task_id)
    if task is None:
        raise NotFound(f"no task #{task_id}")
    return task


def _open(task: Task) -> Task:
    if task.status != TaskStatus.OPEN.value:
        raise InputError(f"task #{task.id} is already {task.status}; only an open task changes")
    return task


async def edit_task(
    session: AsyncSession,
    task: Task,
    *,
    comment: str | None = None,
    task_type: TaskType | str | None = None,
) -> list[str]:
    """Change an open task's comment and/or type; the names of the fields changed."""
    _open(task)
    changed: list[str] = []
    if comment is not None:
        if not comment.strip():
            raise MissingField("comment")
        if comment.strip() != task.comment:
            task.comment = comment.strip()
            changed.append("comment")
    if task_type is not None:
        kind = task_type if isinstance(task_type, TaskType) else parse_task_type(task_type)
        if kind.value != task.type:
            task.type = kind.value
            changed.append("type")
    await session.flush()
    return changed


async def reassign_task(session: AsyncSession, task: Task, manager: Manager) -> bool:
    """Give an open task to another (active) manager; False when they already hold it."""
    _open(task)
    check_assignable(manager, "tasks")
    if task.responsible_manager_id == manager.id:
        return False
    task.responsible_manager_id = manager.id
    await session.flush()
    return True


async def close_task(
    session: AsyncSession,
    task: Task,
    *,
    status: TaskStatus,
    reason: str,
    now: datetime,
    call_id: int | None = None,
) -> None:
    if task.status != TaskStatus.OPEN.value:
        raise InputError(f"task #{task.id} is already {task.status}")
    task.status = status.value
    task.closed_at = now
    task.close_reason = reason
    task.closed_by_call_id = call_id
    await session.flush()


async def reschedule_task(
    session: AsyncSession,
    task: Task,
    *,
    due_at: datetime | None,
    reason: str | None,
    now: datetime,
    tz: ZoneInfo,
    author_user_id: int | None = None,
    author_manager_id: int | None = None,
) -> None:
    """Move an open task's deadline; the reason is kept as a 'reschedule' note on its deal
    ("#12 2026-12-01 10:00 → 2026-12-02 15:00: <reason>", times in `tz`)."""
    if task.status != TaskStatus.OPEN.value:
        raise InputError(f"task #{task.id} is already {task.status}")
    if due_at is None:
        raise MissingField("new deadline", "rescheduled task")
    reason = (reason or "").strip()
    if not reason:
        raise MissingField("reason", "rescheduled task")
    check_note(reason)
    check_deadline(due_at, now)
    old = task.due_at

    def local(at: datetime) -> str:
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    task.due_at = due_at
    await add_note(
        session,
        task.deal_id,
        f"#{task.id} {local(old)} → {local(due_at)}: {reason}",
        now=now,
        kind="reschedule",
        author_user_id=author_user_id,
        author_manager_id=author_manager_id,
    )
