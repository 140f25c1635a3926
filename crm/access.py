"""Who sees what: the role scopes of deals, contacts, tasks and calls, in one place.

- a manager: their own clients (contacts they are responsible for, or hold a deal of), their
  deals, their tasks (and the tasks of their deals), and their calls (rung, answered, dialled
  by them, or of their client or deal);
- a head of sales: the same for every manager of their department (themselves included);
  without a department, only their own, as a manager;
- the owner and an admin: everything.

The filters are SQL conditions (`deal_filter` …) for listings, and `may_see_*` for one record;
a record outside the scope is, for the pages, a record that does not exist (404, nothing named).
With `bound=True` a filter names the viewer through bind parameters (`scope_params`), so one
statement per kind of viewer (`scope_kind`) is built once and serves everyone of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from models.tables import Call, CallLeg, Contact, Deal, Manager, Task

ROLES = ("manager", "head_of_sales", "owner", "admin")
SEES_ALL = frozenset({"owner", "admin"})


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a role, the manager they are (None for an admin with no phone), and
    their department."""

    role: str
    manager_id: int | None = None
    department_id: int | None = None

    @property
    def sees_all(self) -> bool:
        return self.role in SEES_ALL

    @property
    def is_department_head(self) -> bool:
        return self.role == "head_of_sales" and self.department_id is not None


SCOPE_MANAGER = "scope_manager_id"
SCOPE_DEPARTMENT = "scope_department_id"


def scope_kind(viewer: Viewer) -> str:
    """ "all", "department", "manager" or "nobody" (a non-owner with no manager)."""
    if viewer.sees_all:
        return "all"
    if viewer.is_department_head:
        return "department"
    return "manager" if viewer.manager_id is not None else "nobody"


def scope_params(viewer: Viewer) -> dict[str, int]:
    """The values of a `bound=True` filter's parameters for this viewer."""
    kind = scope_kind(viewer)
    if kind == "department":
        return {SCOPE_DEPARTMENT: viewer.department_id}  # type: ignore[dict-item]
    return {SCOPE_MANAGER: viewer.manager_id} if kind == "manager" else {}  # type: ignore[dict-item]


def _people(viewer: Viewer, bound: bool = False) -> Any:
    """The managers whose records the viewer sees, as something `.in_()` takes (or, `bound`,
    one bind parameter for a manager); None: all."""
    kind = scope_kind(viewer)
    if kind == "all":
        return None
    if kind == "department":
        department = bindparam(SCOPE_DEPARTMENT) if bound else viewer.department_id
        return select(Manager.id).where(Manager.department_id == department)
    if kind == "nobody":
        return []
    return bindparam(SCOPE_MANAGER) if bound else [viewer.manager_id]


def _in(column: Any, people: Any) -> ColumnElement[bool]:
    if isinstance(people, BindParameter):
        return column == people  # type: ignore[no-any-return]
    if isinstance(people, list) and not people:
        return false()
    if isinstance(people, list) and len(people) == 1:
        return column == people[0]  # type: ignore[no-any-return]
    return column.in_(people)  # type: ignore[no-any-return]


def deal_filter(viewer: Viewer) -> ColumnElement[bool] | None:
    """The deals the viewer sees: the responsible manager is in their scope. None: all."""
    people = _people(viewer)
    return None if people is None else _in(Deal.responsible_manager_id, people)


def contact_filter(
    viewer: Viewer, *, one: bool = False, bound: bool = False
) -> ColumnElement[bool] | None:
    """The clients the viewer sees: responsible in scope, or one of their deals is.

    `one`: the form for checking a single row (a correlated EXISTS), not for a listing (an IN
    over the viewer's deals, computed once)."""
    people = _people(viewer, bound)
    if people is None:
        return None
    held = (
        exists().where(Deal.contact_id == Contact.id, _in(Deal.responsible_manager_id, people))
        if one
        else Contact.id.in_(select(Deal.contact_id).where(_in(Deal.responsible_manager_id, people)))
    )
    return or_(_in(Contact.responsible_manager_id, people), held)


def task_filter(viewer: Viewer, *, one: bool = False) -> ColumnElement[bool] | None:
    """The tasks the viewer sees: their own (responsible in scope) and those of their deals
    (`one` as for `contact_filter`)."""
    people = _people(viewer)
    if people is None:
        return None
    of_deal = (
        exists().where(Deal.id == Task.deal_id, _in(Deal.responsible_manager_id, people))
        if one
        else Task.deal_id.in_(select(Deal.id).where(_in(Deal.responsible_manager_id, people)))
    )
    return or_(_in(Task.responsible_manager_id, people), of_deal)


def task_action_filter(viewer: Viewer, *, bound: bool = False) -> ColumnElement[bool] | None:
    """The tasks the viewer may close or reschedule: those held by someone in their scope (a
    manager does not close the head's check on their own call-back)."""
    people = _people(viewer, bound)
    return None if people is None else _in(Task.responsible_manager_id, people)


def call_filter(viewer: Viewer) -> ColumnElement[bool] | None:
    """The calls the viewer sees: rung, answered or made by someone in scope, or of a client or
    deal in scope (correlated: meant for checking one call, as the recording route does)."""
    people = _people(viewer)
    if people is None:
        return None
    clients = contact_filter(viewer, one=True)
    assert clients is not None
    return or_(
        _in(Call.manager_id, people),
        _in(Call.answered_by_manager_id, people),
        exists().where(CallLeg.call_id == Call.id, _in(CallLeg.manager_id, people)),
        exists().where(Deal.id == Call.deal_id, _in(Deal.responsible_manager_id, people)),
        exists().where(Contact.id == Call.contact_id, clients),
    )


def client_ids(viewer: Viewer) -> Any:
    """The ids of the clients the viewer sees, as a subquery (the viewer must not see all)."""
    scope = contact_filter(viewer)
    assert scope is not None, "everyone's clients: no need to list them"
    return select(Contact.id).where(scope)


async def _exists(session: AsyncSession, model: Any, record_id: int, scope: Any) -> bool:
    query = select(model.id).where(model.id == record_id)
    if scope is not None:
        query = query.where(scope)
    return await session.scalar(query.limit(1)) is not None


async def may_see_deal(session: AsyncSession, viewer: Viewer, deal_id: int) -> bool:
    """The deal exists and is in the viewer's scope."""
    return await _exists(session, Deal, deal_id, deal_filter(viewer))


async def may_see_contact(session: AsyncSession, viewer: Viewer, contact_id: int) -> bool:
    return await _exists(session, Contact, contact_id, contact_filter(viewer, one=True))


async def may_see_task(session: AsyncSession, viewer: Viewer, task_id: int) -> bool:
    return await _exists(session, Task, task_id, task_filter(viewer, one=True))


async def may_act_on_task(session: AsyncSession, viewer: Viewer, task_id: int) -> bool:
    """The task exists and the viewer may mark it done, cancel or reschedule it."""
    return await _exists(session, Task, task_id, task_action_filter(viewer))


async def may_see_call(session: AsyncSession, viewer: Viewer, call_id: int) -> bool:
    """The call (and so its recording) exists and is in the viewer's scope."""
    return await _exists(session, Call, call_id, call_filter(viewer))


async def may_assign_to(session: AsyncSession, viewer: Viewer, manager_id: int) -> bool:
    """Whether the viewer may give work to this manager: a manager to themselves, a head to
    their department, the owner and an admin to anyone."""
    return await _exists(session, Manager, manager_id, _manager_scope(viewer))


def _manager_scope(viewer: Viewer) -> ColumnElement[bool] | None:
    people = _people(viewer)
    return None if people is None else _in(Manager.id, people)


async def assignable_managers(session: AsyncSession, viewer: Viewer) -> list[tuple[int, str]]:
    """(id, name) of the active managers the viewer may give a task to, by name."""
    query = select(Manager.id, Manager.name).where(Manager.active.is_(True))
    scope = _manager_scope(viewer)
    if scope is not None:
        query = query.where(scope)
    rows = await session.execute(query.order_by(Manager.name, Manager.id))
    return [(i, n) for i, n in rows.all()]


@dataclass(frozen=True)
class StaffMember:
    id: int
    name: str
    active: bool
    department_id: int | None


_ALL_MANAGERS = select(Manager.id, Manager.name, Manager.active, Manager.department_id).order_by(
    Manager.name, Manager.id
)


async def all_managers(session: AsyncSession) -> list[StaffMember]:
    """Every manager row (departed ones too), by name: for names on a page and, through
    `in_scope`, its forms' choices — one statement for both."""
    rows = await session.execute(_ALL_MANAGERS)
    return [StaffMember(*row) for row in rows.all()]


def in_scope(viewer: Viewer, staff: list[StaffMember]) -> list[StaffMember]:
    """The members of `staff` whose records the viewer sees (the rule of `_people`, in Python):
    `visible_managers`; its active ones are `assignable_managers`."""
    if viewer.sees_all:
        return list(staff)
    if viewer.is_department_head:
        return [m for m in staff if m.department_id == viewer.department_id]
    return [m for m in staff if viewer.manager_id is not None and m.id == viewer.manager_id]


async def visible_managers(session: AsyncSession, viewer: Viewer) -> list[tuple[int, str]]:
    """(id, name) of every manager whose records the viewer sees (the deals list's filter)."""
    query = select(Manager.id, Manager.name)
    scope = _manager_scope(viewer)
    if scope is not None:
        query = query.where(scope)
    rows = await session.execute(query.order_by(Manager.name, Manager.id))
    return [(i, n) for i, n in rows.all()]
