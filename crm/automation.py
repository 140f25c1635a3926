"""Automation rules: a deal entering a status gives its responsible manager a task.

Rules fire inside the transaction that changes the status, and the (status change, rule)
pair is unique in the database, so a rule fires exactly once per status change.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.worktime import rule_deadline
from crm.deadlines import DEFAULT_MIN_LEAD, load_department_hours
from crm.ownership import owner_for_new_work
from models.errors import InputError, NotFound
from models.tables import AutomationRule, Contact, Deal, DealStatusChange, Manager, Task
from models.values import CreatedBy, TaskPurpose, TaskType

TEMPLATE_FIELDS = (
    "deal_id",
    "deal_title",
    "deal_status",
    "contact_name",
    "contact_phone",
    "manager_name",
)


def check_template(template: str) -> str:
    if not template.strip():
        raise InputError("a rule needs a task comment")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise InputError(f"invalid comment template: {exc}") from None
    unknown = names - set(TEMPLATE_FIELDS)
    if unknown:
        raise InputError(
            f"unknown field(s) in comment template: {', '.join(sorted(unknown))}; "
            f"available: {', '.join(TEMPLATE_FIELDS)}"
        )
    return template


def render_comment(template: str, deal: Deal, contact: Contact, manager: Manager | None) -> str:
    return template.format(
        deal_id=deal.id,
        deal_title=deal.title or "",
        deal_status=deal.status,
        contact_name=contact.name or contact.phone,
        contact_phone=contact.phone,
        manager_name=manager.name if manager else "",
    )


async def add_rule(
    session: AsyncSession,
    *,
    name: str,
    on_status: str,
    task_type: TaskType,
    due_after: timedelta,
    comment: str,
    statuses: Sequence[str],
) -> AutomationRule:
    if on_status not in statuses:
        raise InputError(f"unknown deal status {on_status!r}: choose one of {', '.join(statuses)}")
    if due_after < timedelta(0):
        raise InputError("a rule's deadline cannot be in the past")
    rule = AutomationRule(
        name=name.strip() or f"{on_status} → {task_type.value}",
        on_status=on_status,
        task_type=task_type.value,
        due_after_minutes=int(due_after.total_seconds() // 60),
        comment_template=check_template(comment),
        active=True,
    )
    session.add(rule)
    await session.flush()
    return rule


async def list_rules(session: AsyncSession) -> Sequence[AutomationRule]:
    return (await session.scalars(select(AutomationRule).order_by(AutomationRule.id))).all()


async def remove_rule(session: AsyncSession, rule_id: int) -> None:
    rule = await session.get(AutomationRule, rule_id)
    if rule is None:
        raise NotFound(f"no automation rule #{rule_id}")
    await session.delete(rule)
    await session.flush()


async def fire_rules(
    session: AsyncSession,
    deal: Deal,
    change: DealStatusChange,
    now: datetime,
    *,
    closed_statuses: Sequence[str] = ("won", "lost"),
    min_lead: timedelta = DEFAULT_MIN_LEAD,
) -> list[Task]:
    """Create the tasks of every active rule for the status `change` just recorded.

    The tasks go to the deal's responsible; when they are deactivated, the client first passes
    to whoever `crm.ownership.owner_for_new_work` names (never to an inactive manager).
    Deadlines count the working days and hours of that manager's department
    (`core.worktime.rule_deadline`), never sooner than `min_lead` of working time."""
    rules = (
        await session.scalars(
            select(AutomationRule).where(
                AutomationRule.on_status == change.to_status, AutomationRule.active.is_(True)
            )
        )
    ).all()
    if not rules:
        return []
    contact = await session.get(Contact, deal.contact_id)
    manager = await owner_for_new_work(
        session, deal, closed_statuses=closed_statuses, now=now, actor="automation"
    )
    if contact is None:
        return []
    if manager is None:
        raise InputError(
            f"deal #{deal.id} has no active responsible manager, so rule "
            f"{rules[0].name!r} cannot give anyone its task; assign one first"
        )
    hours = await load_department_hours(session, manager.department_id)
    tasks = [
        Task(
            deal_id=deal.id,
            contact_id=deal.contact_id,
            responsible_manager_id=manager.id,
            due_at=rule_deadline(hours, now, timedelta(minutes=rule.due_after_minutes), min_lead),
            type=rule.task_type,
            comment=render_comment(rule.comment_template, deal, contact, manager),
            purpose=TaskPurpose.GENERAL.value,
            created_by=CreatedBy.RULE.value,
            rule_id=rule.id,
            status_change_id=change.id,
        )
        for rule in rules
    ]
    session.add_all(tasks)
    await session.flush()
    return tasks
