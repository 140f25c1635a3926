"""Which department a call is for: the line it dialled, else the default department.

Pure, like the rest of the router. The `Directory` says which department owns which numbers
(DIDs, E.164) and which one is the default; `routing.sales_department_id`, when set, still
names the default and wins over the database's mark. With several departments and no default
the first by id takes the calls, as before departments had lines, and `department_warnings`
says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from router.directory import Department, Directory, Role


class ChoiceBasis(enum.StrEnum):
    DID = "did"  # the number dialled is one of the department's lines
    SETTING = "setting"  # routing.sales_department_id names it
    DEFAULT = "default"  # the department marked default
    ONLY = "only"  # the only department
    FIRST = "first"  # several departments, no default: the first by id (ambiguous)
    NONE = "none"  # no departments at all: every manager is "the department"


@dataclass(frozen=True)
class DepartmentChoice:
    department: Department | None
    basis: ChoiceBasis
    did: str = ""  # the number dialled as the router saw it ('' when none)

    @property
    def name(self) -> str:
        return self.department.name if self.department is not None else ""

    @property
    def why(self) -> str:
        """The reason in words, for `route explain`."""
        if self.basis is ChoiceBasis.DID:
            return f"the number dialled, {self.did}, is its line"
        if self.basis is ChoiceBasis.NONE:
            return "no departments: every manager rings as the department"
        dialled = (
            f"the number dialled, {self.did}, is no department's line"
            if self.did
            else "no number dialled"
        )
        default = {
            ChoiceBasis.SETTING: "the default department (routing.sales_department_id)",
            ChoiceBasis.DEFAULT: "the default department",
            ChoiceBasis.ONLY: "the only department",
            ChoiceBasis.FIRST: "several departments and no default: the first by id",
        }[self.basis]
        return f"{dialled}; {default}"


def choose_department(
    directory: Directory, did: str, configured_id: int | None = None
) -> DepartmentChoice:
    """The department whose line `did` (E.164, or '' when unknown) is; else the default one."""
    owners = directory.departments_of_did(did)
    if owners:
        return DepartmentChoice(owners[0], ChoiceBasis.DID, did)
    fallback = default_department(directory, configured_id)
    return DepartmentChoice(fallback.department, fallback.basis, did)


def default_department(directory: Directory, configured_id: int | None = None) -> DepartmentChoice:
    """The department a call to no department's line goes to, and why it is that one."""
    configured = directory.department(configured_id) if configured_id is not None else None
    if configured is not None:
        return DepartmentChoice(configured, ChoiceBasis.SETTING)
    marked = directory.department(directory.default_department_id)
    if marked is not None:
        return DepartmentChoice(marked, ChoiceBasis.DEFAULT)
    if not directory.departments:
        return DepartmentChoice(None, ChoiceBasis.NONE)
    first = min(directory.departments, key=lambda d: d.id)
    basis = ChoiceBasis.ONLY if len(directory.departments) == 1 else ChoiceBasis.FIRST
    return DepartmentChoice(first, basis)


def department_warnings(
    directory: Directory, now: datetime, configured_id: int | None = None
) -> tuple[str, ...]:
    """What an administrator should fix in the departments, one line each (none: all clear).

    An ambiguous default, a setting naming no department, a line owned twice, and a department
    calls can reach (it has lines or is the default) with no active manager, or open at `now`
    with none of its managers on shift. Nothing here stops a call from being routed.
    """
    warnings: list[str] = []
    if configured_id is not None and directory.department(configured_id) is None:
        warnings.append(
            f"routing.sales_department_id = {configured_id} names no department; it is ignored"
        )
    default = default_department(directory, configured_id)
    if default.basis is ChoiceBasis.FIRST:
        warnings.append(
            f"the default department is ambiguous: {len(directory.departments)} departments and "
            f"none is the default, so calls to no department's line go to {default.name!r} "
            "(the first by id); set one with `callrouter departments default NAME`"
        )
    for did in sorted({did for d in directory.departments for did in d.dids}):
        owners = directory.departments_of_did(did)
        if len(owners) > 1:
            names = ", ".join(repr(d.name) for d in owners)
            warnings.append(
                f"line {did} belongs to several departments ({names}); it rings {owners[0].name!r}"
            )
    for department in directory.departments:
        reachable = bool(department.dids) or department is default.department
        if reachable:
            warnings.extend(_staffing(directory, department, now))
    return tuple(warnings)


def _staffing(directory: Directory, department: Department, now: datetime) -> list[str]:
    members = [
        m
        for m in directory.managers
        if m.role is Role.MANAGER and m.department_id == department.id and m.active
    ]
    if not members:
        return [
            f"department {department.name!r} has no active manager: its department step "
            "rings nobody"
        ]
    if department.hours.is_open(now) and not any(m.on_shift(now) for m in members):
        return [f"department {department.name!r} is open now but none of its managers is on shift"]
    return []
