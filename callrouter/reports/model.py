"""The report as plain data: what the queries produce and the renderers print.

Nothing here touches the database or the clock; every value is already computed. Times are
aware UTC datetimes; renderers convert them to the company's zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class Window:
    """A half-open time range [start, end) in UTC, with the label people read (local time)."""

    label: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CallFigures:
    made: int = 0
    made_answered: int = 0
    received: int = 0
    received_answered: int = 0
    talk_seconds: float = 0.0
    longest_seconds: float = 0.0
    # talk_seconds split by direction: calls received (answered) and calls made (answered).
    inbound_talk_seconds: float = 0.0
    outbound_talk_seconds: float = 0.0

    @property
    def calls(self) -> int:
        return self.made + self.received

    @property
    def answered(self) -> int:
        return self.made_answered + self.received_answered

    @property
    def talk_minutes(self) -> float:
        return self.talk_seconds / 60.0

    @property
    def inbound_minutes(self) -> float:
        return self.inbound_talk_seconds / 60.0

    @property
    def outbound_minutes(self) -> float:
        return self.outbound_talk_seconds / 60.0

    @property
    def average_seconds(self) -> float | None:
        return self.talk_seconds / self.answered if self.answered else None


@dataclass(frozen=True)
class InboundFigures:
    offered: int = 0
    answered: int = 0
    missed: int = 0
    short_abandons: int = 0
    after_hours_offered: int = 0
    after_hours_missed: int = 0
    answer_p50: float | None = None
    answer_p90: float | None = None
    # Per caller (definitions.py): caller-days with a number, and those that never got through.
    callers: int = 0
    callers_lost: int = 0

    @property
    def lcr(self) -> float | None:
        return _rate(self.missed, self.offered)

    @property
    def lcr_per_caller(self) -> float | None:
        return _rate(self.callers_lost, self.callers)

    @property
    def lcr_without_short(self) -> float | None:
        return _rate(self.missed - self.short_abandons, self.offered - self.short_abandons)

    @property
    def lcr_working_hours(self) -> float | None:
        return _rate(self.missed - self.after_hours_missed, self.offered - self.after_hours_offered)


@dataclass(frozen=True)
class RungFigures:
    rung: int = 0
    not_picked_up: int = 0
    rung_missed: int = 0


@dataclass(frozen=True)
class RecoveryFigures:
    missed_with_number: int = 0
    recovered: int = 0
    median_seconds: float | None = None

    @property
    def rate(self) -> float | None:
        return _rate(self.recovered, self.missed_with_number)


@dataclass(frozen=True)
class TaskFigures:
    open: int = 0
    overdue: int = 0
    done_on_time: int = 0
    done_late: int = 0


@dataclass(frozen=True)
class WorkingDays:
    """A department's calendar as the activity baseline reads it: which local days it is open.

    `weekdays` None: no working hours set, open every day (as the router treats it)."""

    weekdays: frozenset[int] | None = None
    holidays: frozenset[date] = frozenset()

    def open_on(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return self.weekdays is None or day.weekday() in self.weekdays


@dataclass(frozen=True)
class Person:
    """A manager as the report names them; `active` False = has left (deactivated)."""

    id: int
    name: str
    department_id: int | None
    department: str | None
    role: str
    active: bool


@dataclass(frozen=True)
class GroupRow:
    """One line of a per-manager, per-department or per-day table."""

    key: int | str | None
    label: str
    calls: CallFigures
    rung: RungFigures | None = None
    tasks: TaskFigures | None = None
    inbound: InboundFigures | None = None
    recovery: RecoveryFigures | None = None
    active: bool = True


@dataclass(frozen=True)
class Unrecovered:
    number: str
    contact_name: str | None
    missed_calls: int
    first_missed_at: datetime
    last_missed_at: datetime
    age_seconds: float
    responsible: str | None
    task_id: int | None
    task_due_at: datetime | None
    overdue: bool
    escalated: bool


@dataclass(frozen=True)
class Alert:
    kind: str  # "activity_drop"
    subject: str  # "manager Анна", "department Продажи"
    measure: str  # "calls" | "minutes"
    today: float
    baseline: float
    message: str
    baseline_days: int = 0  # the on-shift days the baseline averages (definitions.py)


@dataclass(frozen=True)
class Escalation:
    """A call-back task escalated (once); `note` says from whom, to whom and how."""

    task_id: int
    number: str | None
    responsible: str | None
    due_at: datetime
    escalated_at: datetime
    note: str


@dataclass(frozen=True)
class HourPoint:
    label: str  # local "09:00"
    inbound_answered: int
    missed: int
    made: int


@dataclass(frozen=True)
class TrendPoint:
    day: date
    offered: int
    missed: int
    lcr: float | None
    lcr_without_short: float | None


@dataclass(frozen=True)
class DailyReport:
    day: date
    timezone: str
    generated_at: datetime
    complete: bool  # False: the day is still going on (figures so far)
    short_abandon_seconds: float
    calls: CallFigures
    inbound: InboundFigures
    recovery: RecoveryFigures
    departments: list[GroupRow]
    managers: list[GroupRow]
    hours: list[HourPoint]
    trend: list[TrendPoint]
    alerts: list[Alert]
    escalations: list[Escalation]
    unrecovered: list[Unrecovered]
    unrecovered_total: int
    tasks: TaskFigures = field(default_factory=TaskFigures)


@dataclass(frozen=True)
class StatsTable:
    """`callrouter stats`: the same figures for any period and grouping."""

    first_day: date
    last_day: date
    timezone: str
    by: str
    generated_at: datetime
    short_abandon_seconds: float
    rows: list[GroupRow]
    total: GroupRow


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None
