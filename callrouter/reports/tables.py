"""The report's tables as header + rows of strings, so text and HTML print the same columns."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from . import formatting as f
from .model import DailyReport, Escalation, GroupRow, StatsTable, Unrecovered

Table = tuple[list[str], list[list[str]]]

ACTIVITY_HEADER = [
    "",
    "calls",
    "made",
    "made ans.",
    "received",
    "minutes",
    "min in",
    "min out",
    "avg",
    "longest",
]


def _activity(row: GroupRow) -> list[str]:
    c = row.calls
    return [
        f.label(row),
        str(c.calls),
        str(c.made),
        str(c.made_answered),
        str(c.received),
        f.minutes(c.talk_seconds),
        f.minutes(c.inbound_talk_seconds),
        f.minutes(c.outbound_talk_seconds),
        f.duration(c.average_seconds),
        f.duration(c.longest_seconds if c.answered else None),
    ]


def _rung(row: GroupRow) -> list[str]:
    r = row.rung
    return [str(r.rung), str(r.not_picked_up), str(r.rung_missed)] if r else ["", "", ""]


def _tasks(row: GroupRow) -> list[str]:
    t = row.tasks
    if t is None:
        return ["", "", "", ""]
    return [str(t.open), str(t.overdue), str(t.done_on_time), str(t.done_late)]


RUNG_HEADER = ["rung", "not picked up", "of which missed"]
TASK_HEADER = ["tasks open", "overdue", "done on time", "done late"]


def managers(rows: list[GroupRow]) -> Table:
    header = ACTIVITY_HEADER + ["answer p50"] + RUNG_HEADER + TASK_HEADER
    body = [
        _activity(r)
        + [f.seconds(r.inbound.answer_p50 if r.inbound else None)]
        + _rung(r)
        + _tasks(r)
        for r in rows
    ]
    return header, body


def departments(rows: list[GroupRow]) -> Table:
    header = ACTIVITY_HEADER + RUNG_HEADER + TASK_HEADER
    return header, [_activity(r) + _rung(r) + _tasks(r) for r in rows]


def days(rows: list[GroupRow], short: float) -> Table:
    header = ACTIVITY_HEADER + [
        "offered",
        "missed",
        "LCR",
        f"LCR w/o <{short:g}s",
        "LCR per caller",
        "answer p50",
        "p90",
        "recovered",
    ]
    body = []
    for r in rows:
        i, rec = r.inbound, r.recovery
        body.append(
            _activity(r)
            + [
                str(i.offered) if i else "",
                str(i.missed) if i else "",
                f.percent(i.lcr if i else None),
                f.percent(i.lcr_without_short if i else None),
                f.percent(i.lcr_per_caller if i else None),
                f.seconds(i.answer_p50 if i else None),
                f.seconds(i.answer_p90 if i else None),
                f"{rec.recovered}/{rec.missed_with_number}" if rec else "",
            ]
        )
    return header, body


def unrecovered(items: list[Unrecovered], tz: ZoneInfo) -> Table:
    header = ["number", "name", "missed", "first missed", "age", "responsible", "task due", "flags"]
    body = [
        [
            u.number,
            u.contact_name or "",
            str(u.missed_calls),
            f.local(u.first_missed_at, tz),
            f.age(u.age_seconds),
            u.responsible or "nobody",
            f.local(u.task_due_at, tz),
            ", ".join(w for w, on in (("overdue", u.overdue), ("escalated", u.escalated)) if on),
        ]
        for u in items
    ]
    return header, body


def escalations(items: list[Escalation], tz: ZoneInfo) -> Table:
    header = ["task", "number", "responsible now", "was due", "escalated", "what happened"]
    body = [
        [
            f"#{e.task_id}",
            e.number or "",
            e.responsible or "",
            f.local(e.due_at, tz),
            f.local(e.escalated_at, tz, "%H:%M"),
            e.note,
        ]
        for e in items
    ]
    return header, body


def stats(table: StatsTable) -> Table:
    rows = table.rows + [table.total]
    if table.by == "day":
        return days(rows, table.short_abandon_seconds)
    if table.by == "manager":
        return managers(rows)
    return departments(rows)


def report_managers(report: DailyReport) -> Table:
    return managers(report.managers)
