"""The daily report and the stats table as plain text (a terminal, the e-mail's text part)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from tabulate import tabulate

from . import formatting as f
from . import tables
from .model import DailyReport, StatsTable


def _table(table: tables.Table) -> str:
    header, body = table
    return tabulate(body, headers=header, tablefmt="simple", disable_numparse=True)


def headline(report: DailyReport) -> list[str]:
    """The figures an owner reads first, one per line."""
    c, i, r, t = report.calls, report.inbound, report.recovery, report.tasks
    return [
        f"Calls: {c.calls} (made {c.made}, received {c.received}) · answered {c.answered} · "
        f"{f.minutes(c.talk_seconds)} min on the line (inbound {f.minutes(c.inbound_talk_seconds)}"
        f", outbound {f.minutes(c.outbound_talk_seconds)}) · average {f.duration(c.average_seconds)}"
        f" · longest {f.duration(c.longest_seconds if c.answered else None)}",
        f"Inbound: {i.offered} offered · {i.answered} answered · {i.missed} missed "
        f"({i.after_hours_missed} after hours, {i.short_abandons} short abandons) · "
        f"time to answer p50 {f.seconds(i.answer_p50)}, p90 {f.seconds(i.answer_p90)}",
        f"Lost Call Rate: {f.lcr_line(i, report.short_abandon_seconds)}",
        f"Recovery: {r.recovered} of {r.missed_with_number} missed calls recovered "
        f"({f.percent(r.rate)}) · median time to recovery {f.duration(r.median_seconds)}",
        f"Tasks: {t.open} open · {t.overdue} overdue · done that day {t.done_on_time} on time, "
        f"{t.done_late} late",
    ]


def title(report: DailyReport) -> str:
    tz = ZoneInfo(report.timezone)
    state = (
        "" if report.complete else f" — so far, as of {f.local(report.generated_at, tz, '%H:%M')}"
    )
    return f"Daily report for {report.day.strftime('%A %Y-%m-%d')} ({report.timezone}){state}"


def render_daily(report: DailyReport) -> str:
    """The whole report as text."""
    tz = ZoneInfo(report.timezone)
    parts = [title(report), "", *headline(report), ""]
    parts.append("Alerts")
    parts += [f"  ! {a.message}" for a in report.alerts] or ["  none"]
    parts += ["", "Departments", _table(tables.departments(report.departments)), ""]
    parts += ["Managers", _table(tables.managers(report.managers))]
    parts += ["", f"Escalated call-backs ({len(report.escalations)})"]
    if report.escalations:
        parts.append(_table(tables.escalations(report.escalations, tz)))
    shown = len(report.unrecovered)
    more = f", the {shown} oldest shown" if shown < report.unrecovered_total else ""
    parts += ["", f"Unrecovered missed calls: {report.unrecovered_total} numbers{more}"]
    if report.unrecovered:
        parts.append(_table(tables.unrecovered(report.unrecovered, tz)))
    return "\n".join(parts) + "\n"


def render_stats(table: StatsTable) -> str:
    """`callrouter stats` as text."""
    total = table.total
    lines = [
        f"Stats {table.first_day}..{table.last_day} ({table.timezone}) by {table.by}",
        _table(tables.stats(table)),
        "",
    ]
    if total.inbound is not None:
        lines.append(f"Lost Call Rate: {f.lcr_line(total.inbound, table.short_abandon_seconds)}")
    if total.recovery is not None:
        r = total.recovery
        lines.append(
            f"Recovery: {r.recovered} of {r.missed_with_number} ({f.percent(r.rate)}), "
            f"median {f.duration(r.median_seconds)}"
        )
    return "\n".join(lines) + "\n"
