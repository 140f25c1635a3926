"""The missed calls board: numbers with unreturned missed calls, who is on them, the deadline,
the escalation — the read model behind the web's /missed and My day's missed section.

"Unreturned" is the daily report's "unrecovered" (callrouter/reports/definitions.py): a missed
inbound call with a number whose `recovered_at` is not set (a later answered call of at least
`leads.recovery_min_talk_seconds` connects that number with a manager), started within the last
`lookback` days. One entry per number, oldest first; who is on it is the holder of the open
call-back task, else the client's responsible manager. Escalations are `crm/callbacks.py`'s
columns on that task.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from crm.access import Viewer, contact_filter, scope_kind, scope_params, task_action_filter
from crm.callbacks import EscalationMode, escalation_mode
from models.fast_reads import FastReader
from models.tables import Call, Contact, Manager, Task
from models.values import TaskPurpose, TaskStatus

DEFAULT_LOOKBACK = timedelta(days=7)
BOARD_LIMIT = 500


@dataclass(frozen=True)
class Escalated:
    at: datetime
    from_manager: str | None
    to_manager: str | None
    mode: EscalationMode


@dataclass(frozen=True)
class MissedEntry:
    number: str  # E.164
    contact_id: int | None
    contact_name: str | None
    missed_calls: int
    first_missed_at: datetime
    last_missed_at: datetime
    last_call_id: int
    age_seconds: float  # since the first unreturned miss
    responsible: str | None  # who is on it: the call-back's holder, else the client's manager
    responsible_id: int | None
    task_id: int | None  # the open call-back task
    deal_id: int | None
    due_at: datetime | None
    overdue: bool
    escalation: Escalated | None


@dataclass(frozen=True)
class MissedBoard:
    entries: tuple[MissedEntry, ...]
    total: int  # numbers, however many are shown


def _open_callback() -> ColumnElement[bool]:
    return and_(Task.purpose == TaskPurpose.CALLBACK.value, Task.status == TaskStatus.OPEN.value)


@functools.cache
def _board_statement(kind: str) -> Select[Any]:
    """The unreturned misses since `:since`, one row per number, oldest first, for a viewer of
    this `access.scope_kind` (their ids bound by `access.scope_params`): built once per kind."""
    viewer = {
        "all": Viewer("owner"),
        "department": Viewer("head_of_sales", 0, 0),
        "manager": Viewer("manager", 0),
        "nobody": Viewer("manager"),
    }[kind]
    scope = []
    if not viewer.sees_all:
        holders = task_action_filter(viewer, bound=True)
        clients = contact_filter(viewer, one=True, bound=True)
        assert holders is not None and clients is not None
        # Checked for each missed call of the window (a few hundred), never by listing every
        # client of the viewer first.
        scope.append(
            or_(
                exists().where(Contact.id == Call.contact_id, clients),
                exists().where(Task.contact_id == Call.contact_id, _open_callback(), holders),
            )
        )
    grouped = (
        select(
            func.min(Call.external_number).label("number"),
            func.min(Call.contact_id).label("contact_id"),
            func.count().label("n"),
            func.min(Call.started_at).label("first"),
            func.max(Call.started_at).label("last"),
            func.max(Call.id).label("last_id"),
        )
        .where(
            Call.direction == "inbound",
            Call.missed.is_(True),
            Call.external_number.is_not(None),
            Call.recovered_at.is_(None),
            Call.started_at >= bindparam("since", type_=Call.started_at.type),
            *scope,
        )
        # Grouped by expressions no index has, so the planner reads the window by time instead
        # of walking the whole number index for its order.
        .group_by(func.coalesce(Call.external_number, ""), func.coalesce(Call.contact_id, 0))
    )
    inner = grouped.subquery()
    return select(inner).order_by(inner.c.first, inner.c.number)


async def missed_board(
    reads: FastReader,
    viewer: Viewer,
    now: datetime,
    *,
    lookback: timedelta = DEFAULT_LOOKBACK,
    limit: int = BOARD_LIMIT,
) -> MissedBoard:
    """The unreturned misses the viewer sees: of their clients, or whose call-back they hold."""
    found = await reads.rows(
        _board_statement(scope_kind(viewer)), {"since": now - lookback, **scope_params(viewer)}
    )
    total, rows = len(found), found[:limit]
    contact_ids = [r.contact_id for r in rows if r.contact_id is not None]
    tasks, people, checks, names = await _details(reads, contact_ids)
    entries = []
    for r in rows:
        task = tasks.get(r.contact_id)
        contact = people.get(r.contact_id)
        holder = (
            task.responsible_manager_id
            if task
            else (contact.responsible_manager_id if contact else None)
        )
        escalation = None
        if task is not None and task.escalated_at is not None:
            escalation = Escalated(
                task.escalated_at,
                names.get(task.escalated_from_manager_id or -1),
                names.get(task.escalated_to_manager_id or -1),
                escalation_mode(
                    task.escalated_to_manager_id, task.id if task.id in checks else None
                ),
            )
        first = r.first
        entries.append(
            MissedEntry(
                number=r.number,
                contact_id=r.contact_id,
                contact_name=contact.name if contact else None,
                missed_calls=int(r.n),
                first_missed_at=first,
                last_missed_at=r.last,
                last_call_id=int(r.last_id),
                age_seconds=max((now - first).total_seconds(), 0.0),
                responsible=names.get(holder) if holder is not None else None,
                responsible_id=holder,
                task_id=task.id if task else None,
                deal_id=task.deal_id if task else None,
                due_at=task.due_at if task else None,
                overdue=bool(task and task.due_at < now),
                escalation=escalation,
            )
        )
    return MissedBoard(tuple(entries), total)


_CALLBACK_TASKS = select(
    Task.id,
    Task.contact_id,
    Task.deal_id,
    Task.responsible_manager_id,
    Task.due_at,
    Task.escalated_at,
    Task.escalated_from_manager_id,
    Task.escalated_to_manager_id,
).where(
    Task.contact_id.in_(bindparam("contact_ids", expanding=True)),
    Task.purpose == TaskPurpose.CALLBACK.value,
    Task.status == TaskStatus.OPEN.value,
)
_CONTACTS = select(Contact.id, Contact.name, Contact.responsible_manager_id).where(
    Contact.id.in_(bindparam("contact_ids", expanding=True))
)
_CHECKS = select(Task.escalation_of_task_id).where(
    Task.escalation_of_task_id.in_(bindparam("task_ids", expanding=True))
)
_NAMES = select(Manager.id, Manager.name)


async def _details(
    reads: FastReader, contact_ids: list[int]
) -> tuple[dict[int, Any], dict[int, Any], set[int | None], dict[int, str]]:
    """For the board's clients: their open call-back tasks and contact rows (by contact id), the
    ids of those tasks that have a check (an escalation copy), and the managers' names. Nothing
    is asked when there are no clients (a miss from an unknown number names nobody)."""
    if not contact_ids:
        return {}, {}, set(), {}
    ids = {"contact_ids": contact_ids}
    tasks = {t.contact_id: t for t in await reads.rows(_CALLBACK_TASKS, ids)}
    people = {c.id: c for c in await reads.rows(_CONTACTS, ids)}
    task_ids = [t.id for t in tasks.values()]
    checks = (
        {r[0] for r in await reads.rows(_CHECKS, {"task_ids": task_ids})} if task_ids else set()
    )
    names = {i: n for i, n in await reads.rows(_NAMES)}
    return tasks, people, checks, names
