"""Tasks: the database refuses one without a person, a deadline, a type or a comment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
) -> Task:
    """Add a task, naming the first missing required field if there is one."""
    if deal is None:
        raise MissingField("deal")
    if responsible is None:
        raise MissingField("responsible manager")
    if due_at is None:
        raise MissingField("deadline")
    kind = parse_task_type(task_type) if not isinstance(task_type, TaskType) else task_type
    if comment is None or not comment.strip():
        raise MissingField("comment")
    if not responsible.active:
        raise InputError(f"manager {responsible.name!r} is deactivated")
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


async def list_tasks(
    session: AsyncSession,
    *,
    manager: Manager | None = None,
    overdue_at: datetime | None = None,
    status: TaskStatus | None = TaskStatus.OPEN,
    deal: Deal | None = None,
    limit: int = 500,
) -> Sequence[Task]:
    """Tasks, soonest deadline first; `overdue_at` keeps open tasks due before that moment."""
    query = select(Task).order_by(Task.due_at, Task.id).limit(limit)
    if manager is not None:
        query = query.where(Task.responsible_manager_id == manager.id)
    if status is not None:
        query = query.where(Task.status == status.value)
    if overdue_at is not None:
        query = query.where(Task.status == TaskStatus.OPEN.value, Task.due_at < overdue_at)
    if deal is not None:
        query = query.where(Task.deal_id == deal.id)
    return (await session.scalars(query)).all()


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
