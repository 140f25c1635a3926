"""A report narrowed to one department, for a head of sales (the web's analytics page).

The figures are not recomputed: the rows of the department's managers and of the department
itself are kept, as the whole report computed them, so every figure shown equals the same key
of `callrouter report daily --format json`. Company-wide figures (inbound, Lost Call Rate,
recovery) stay the company's: inbound calls reach the company's lines, not a department.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from models.db import Database

from . import queries as q
from .model import DailyReport, GroupRow, StatsTable


@dataclass(frozen=True)
class Scope:
    """Whose rows to keep: None = everybody (owner, admin)."""

    department_id: int | None
    managers: frozenset[int]
    manager_names: frozenset[str]
    department_name: str | None


async def department_scope(
    db: Database, department_id: int | None, manager_id: int | None
) -> Scope:
    """The department's managers (the departed included); without a department, the one
    manager alone."""
    async with db.reader() as s:
        people = await q.people(s)
        departments = await q.departments(s)
    if department_id is None:
        members = {manager_id} if manager_id is not None else set()
    else:
        members = {p.id for p in people.values() if p.department_id == department_id}
    return Scope(
        department_id,
        frozenset(members),
        frozenset(people[m].name for m in members if m in people),
        departments.get(department_id) if department_id is not None else None,
    )


def _rows(rows: list[GroupRow], keys: set[object]) -> list[GroupRow]:
    return [r for r in rows if r.key in keys]


def narrow_daily(report: DailyReport, scope: Scope) -> DailyReport:
    """The report with only the scope's managers, department and their alerts; the lists of
    client numbers (unrecovered, escalations) are left out: they belong to the missed-calls
    board, which is role-scoped record by record."""
    subjects = set(scope.manager_names)
    if scope.department_name is not None:
        subjects.add(f"department {scope.department_name}")
    return replace(
        report,
        managers=_rows(report.managers, set(scope.managers)),
        departments=_rows(report.departments, {scope.department_id}),
        alerts=[a for a in report.alerts if a.subject in subjects],
        unrecovered=[],
        escalations=[],
    )


def narrow_stats(table: StatsTable, scope: Scope) -> StatsTable:
    keys: set[object] = set(scope.managers) if table.by == "manager" else {scope.department_id}
    return replace(table, rows=_rows(table.rows, keys))
