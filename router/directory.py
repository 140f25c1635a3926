"""The company as the router sees it: pure, immutable snapshots loaded from the database.

Nothing here does I/O. `models.directory.load_directory()` builds a `Directory` from the
database; the router and the executor only ever read these snapshots.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo


class Role(enum.StrEnum):
    MANAGER = "manager"
    HEAD_OF_SALES = "head_of_sales"
    OWNER = "owner"


@dataclass(frozen=True)
class WorkingHours:
    """A department's week: weekday (0 = Monday) → list of (start, end) local times."""

    week: dict[int, tuple[tuple[time, time], ...]]
    timezone: str = "Europe/Moscow"
    holidays: frozenset[date] = frozenset()

    def is_open(self, at: datetime) -> bool:
        """True when `at` (timezone-aware) falls inside a working interval, holidays excluded."""
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.week.get(local.weekday(), ()))

    def end_of_day(self, at: datetime) -> datetime | None:
        """The end of the working interval that contains or follows `at` on the same local day."""
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return None
        ends = [end for start, end in self.week.get(local.weekday(), ()) if local.time() < end]
        if not ends:
            return None
        return datetime.combine(local.date(), max(ends), tzinfo=local.tzinfo)

    @classmethod
    def always(cls, timezone: str = "UTC") -> WorkingHours:
        """Open every minute of every day (a department with no schedule set)."""
        return cls({d: ((time(0, 0), time.max),) for d in range(7)}, timezone)

    @classmethod
    def office(
        cls,
        start: time = time(9, 0),
        end: time = time(18, 0),
        days: tuple[int, ...] = (0, 1, 2, 3, 4),
        timezone: str = "Europe/Moscow",
    ) -> WorkingHours:
        return cls({d: ((start, end),) for d in days}, timezone)


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    hours: WorkingHours = field(default_factory=WorkingHours.always)
    # The numbers (E.164) callers dial to reach this department: its lines.
    dids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Manager:
    id: int
    name: str
    endpoint: str  # the Asterisk dial string of the phone, e.g. "PJSIP/101" or "SIP/101"
    role: Role = Role.MANAGER
    department_id: int | None = None
    active: bool = True
    # The manager's own shift; None means "follows the department's working hours".
    shift: WorkingHours | None = None

    def on_shift(self, at: datetime) -> bool:
        """True when the manager works at `at`: no own shift set, or inside it."""
        return self.shift is None or self.shift.is_open(at)


@dataclass(frozen=True)
class Directory:
    """Everyone who can be rung, as of one load from the database."""

    departments: tuple[Department, ...] = ()  # in id order
    managers: tuple[Manager, ...] = ()
    # The department a call to no department's line goes to (None: not set).
    default_department_id: int | None = None

    def manager(self, manager_id: int | None) -> Manager | None:
        return next((m for m in self.managers if m.id == manager_id), None)

    def department(self, department_id: int | None) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)

    def departments_of_did(self, did: str) -> tuple[Department, ...]:
        """The departments whose lines include `did` (E.164): one, or none; several only in a
        snapshot the database did not check (it keeps a number with one department)."""
        if not did:
            return ()
        return tuple(d for d in self.departments if did in d.dids)

    def by_role(self, role: Role) -> tuple[Manager, ...]:
        return tuple(m for m in self.managers if m.role is role and m.active)


@dataclass(frozen=True)
class ContactView:
    """The caller as the CRM knows them (None in the router's input when the number is new)."""

    id: int
    phone: str  # E.164
    name: str | None = None
    responsible_manager_id: int | None = None
