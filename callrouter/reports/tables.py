"""The report's tables as header + rows of strings, so text and HTML print the same columns."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from . import formatting as f
from .i18n import Translate, mark, translator
from .model import DailyReport, Escalation, GroupRow, StatsTable, Unrecovered

Table = tuple[list[str], list[list[str]]]
_ = mark  # the headers are translated when a table is built, in the report's language
ENGLISH = translator(None)

ACTIVITY_HEADER = [
    "",
    _("calls"),
    _("made"),
    _("made ans."),
    _("received"),
    _("minutes"),
    _("min in"),
    _("min out"),
    _("avg"),
    _("longest"),
]


def _header(names: list[str], tr: Translate) -> list[str]:
    return [tr(name) for name in names]


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


RUNG_HEADER = [_("rung"), _("not picked up"), _("of which missed")]
TASK_HEADER = [_("tasks open"), _("overdue"), _("done on time"), _("done late")]


def managers(rows: list[GroupRow], tr: Translate = ENGLISH) -> Table:
    header = _header(ACTIVITY_HEADER + [_("answer p50")] + RUNG_HEADER + TASK_HEADER, tr)
    body = [
        _activity(r)
        + [f.seconds(r.inbound.answer_p50 if r.inbound else None)]
        + _rung(r)
        + _tasks(r)
        for r in rows
    ]
    return header, body


def departments(rows: list[GroupRow], tr: Translate = ENGLISH) -> Table:
    header = _header(ACTIVITY_HEADER + RUNG_HEADER + TASK_HEADER, tr)
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


def unrecovered(items: list[Unrecovered], tz: ZoneInfo, tr: Translate = ENGLISH) -> Table:
    header = _header(
        [
            _("number"),
            _("name"),
            _("missed"),
            _("first missed"),
            _("age"),
            _("responsible"),
            _("task due"),
            _("flags"),
        ],
        tr,
    )
    body = [
        [
            u.number,
            u.contact_name or "",
            str(u.missed_calls),
            f.local(u.first_missed_at, tz),
            f.age(u.age_seconds),
            u.responsible or tr(_("nobody")),
            f.local(u.task_due_at, tz),
            ", ".join(
                tr(w) for w, on in ((_("overdue"), u.overdue), (_("escalated"), u.escalated)) if on
            ),
        ]
        for u in items
    ]
    return header, body


def escalations(items: list[Escalation], tz: ZoneInfo, tr: Translate = ENGLISH) -> Table:
    header = _header(
        [
            _("task"),
            _("number"),
            _("responsible now"),
            _("was due"),
            _("escalated"),
            _("what happened"),
        ],
        tr,
    )
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
