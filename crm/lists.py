"""The CLI's listings — deals, contacts, calls, tasks — read straight from the database.

`callrouter deals list` and the others must answer within 400 ms (issue #17); SQLAlchemy's
import alone would take half of that, so these read through `models/direct.py` with SQL written
here, once, for SQLite and PostgreSQL alike. The rows, their order and filters are those of the
ORM functions they replace; who a reference names is `crm/inputs.py`'s rules, the same the ORM
commands follow. Nothing here imports SQLAlchemy (nor another crm module that does).

Each listing gives a `Page`: at most `limit` rows (None: all) and how many there are in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm.inputs import contact_id_in, match_manager, no_contact, phone_or_error
from models.direct import Reader
from models.values import TaskStatus


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class ManagerRow:
    id: int
    name: str
    endpoint: str
    active: bool


def managers(reader: Reader) -> list[ManagerRow]:
    """Every manager, in id order."""
    rows = reader.fetch(
        "SELECT id, name, endpoint, active FROM managers ORDER BY id", flags=("active",)
    )
    return [ManagerRow(**row) for row in rows]


def manager_id(reader: Reader, ref: str) -> int:
    """The id of the manager `ref` names ('#id', endpoint, extension or name)."""
    return match_manager(ref, managers(reader)).id


def contact_id(reader: Reader, ref: str, region: str) -> int:
    """The id of the contact `ref` names: '#12' / a short id, else a phone number."""
    candidate = contact_id_in(ref)
    if candidate is not None and reader.fetch(
        "SELECT id FROM contacts WHERE id = :id", {"id": candidate}
    ):
        return candidate
    found = reader.fetch(
        "SELECT id FROM contacts WHERE phone = :phone", {"phone": phone_or_error(ref, region)}
    )
    if not found:
        raise no_contact(ref)
    return int(found[0]["id"])


class _Where:
    """`WHERE` conditions and their parameters, added one by one."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: dict[str, object] = {}

    def add(self, condition: str, **params: object) -> None:
        self.conditions.append(condition)
        self.params.update(params)

    def __str__(self) -> str:
        return f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


def _page(
    reader: Reader,
    select: str,
    table: str,
    where: _Where,
    order: str,
    limit: int | None,
    times: Sequence[str],
    flags: Sequence[str] = (),
) -> Page:
    """The rows of `select … FROM table <alias>`; counted again only when the limit cut them."""
    cut = " LIMIT :limit" if limit is not None else ""
    params = {**where.params, "limit": limit} if limit is not None else where.params
    rows = reader.fetch(f"{select}{where} ORDER BY {order}{cut}", params, times=times, flags=flags)
    total = len(rows)
    if limit is not None and total >= limit:
        counted = reader.fetch(f"SELECT count(*) AS n FROM {table}{where}", where.params)
        total = int(counted[0]["n"])
    return Page(rows, total)


def list_deals(
    reader: Reader,
    *,
    status: str | None = None,
    manager_id: int | None = None,
    source: str | None = None,
    contact_id: int | None = None,
    limit: int | None = 200,
) -> Page:
    """Deals, newest first, with their client's phone and name and the responsible's name:
    id, title, phone, name, status, source, responsible, updated_at."""
    where = _Where()
    if status is not None:
        where.add("d.status = :status", status=status)
    if manager_id is not None:
        where.add("d.responsible_manager_id = :manager", manager=manager_id)
    if source is not None:
        where.add("d.source = :source", source=source)
    if contact_id is not None:
        where.add("d.contact_id = :contact", contact=contact_id)
    select = (
        "SELECT d.id, d.title, c.phone, c.name, d.status, d.source, m.name AS responsible, "
        "d.updated_at FROM deals d "
        "LEFT JOIN contacts c ON c.id = d.contact_id "
        "LEFT JOIN managers m ON m.id = d.responsible_manager_id"
    )
    return _page(reader, select, "deals d", where, "d.id DESC", limit, times=("updated_at",))


def list_contacts(reader: Reader, *, manager_id: int | None = None, limit: int | None) -> Page:
    """Contacts in the order they were added: id, phone, name, responsible, created_at."""
    where = _Where()
    if manager_id is not None:
        where.add("c.responsible_manager_id = :manager", manager=manager_id)
    select = (
        "SELECT c.id, c.phone, c.name, m.name AS responsible, c.created_at FROM contacts c "
        "LEFT JOIN managers m ON m.id = c.responsible_manager_id"
    )
    return _page(reader, select, "contacts c", where, "c.id", limit, times=("created_at",))


def list_calls(
    reader: Reader, *, number: str | None = None, missed: bool = False, limit: int | None
) -> Page:
    """Calls, newest first: id, started_at, direction, external_number, external_number_raw,
    disposition, manager, ring_seconds, talk_seconds, missed, recovered_at."""
    where = _Where()
    if number is not None:
        where.add("k.external_number = :number", number=number)
    if missed:
        where.add("k.missed = :missed", missed=True)
    select = (
        "SELECT k.id, k.started_at, k.direction, k.external_number, k.external_number_raw, "
        "k.disposition, m.name AS manager, k.ring_seconds, k.talk_seconds, k.missed, "
        "k.recovered_at FROM calls k LEFT JOIN managers m ON m.id = k.manager_id"
    )
    return _page(
        reader,
        select,
        "calls k",
        where,
        "k.started_at DESC",
        limit,
        times=("started_at", "recovered_at"),
        flags=("missed",),
    )


def list_tasks(
    reader: Reader,
    *,
    manager_id: int | None = None,
    overdue_at: datetime | None = None,
    status: TaskStatus | None = TaskStatus.OPEN,
    limit: int | None = 500,
) -> Page:
    """Tasks, soonest deadline first; `overdue_at` keeps open tasks due before that moment:
    id, deal_id, type, due_at, responsible, status, comment."""
    where = _Where()
    if manager_id is not None:
        where.add("t.responsible_manager_id = :manager", manager=manager_id)
    if status is not None:
        where.add("t.status = :status", status=status.value)
    if overdue_at is not None:
        where.add("t.status = :open", open=TaskStatus.OPEN.value)
        where.add("t.due_at < :overdue_at", overdue_at=overdue_at)
    select = (
        "SELECT t.id, t.deal_id, t.type, t.due_at, m.name AS responsible, t.status, t.comment "
        "FROM tasks t LEFT JOIN managers m ON m.id = t.responsible_manager_id"
    )
    return _page(reader, select, "tasks t", where, "t.due_at, t.id", limit, times=("due_at",))
