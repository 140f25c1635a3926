"""The daily report and the stats table as plain text (a terminal, the e-mail's text part)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from babel.dates import format_date
from tabulate import tabulate

from . import formatting as f
from . import tables
from .i18n import translator
from .model import DailyReport, StatsTable


def _table(table: tables.Table) -> str:
    header, body = table
    return tabulate(body, headers=header, tablefmt="simple", disable_numparse=True)


def headline(report: DailyReport, lang: str | None = None) -> list[str]:
    """The figures an owner reads first, one per line."""
    _ = translator(lang)
    c, i, r, t = report.calls, report.inbound, report.recovery, report.tasks
    return [
        _(
            "Calls: %(calls)s (made %(made)s, received %(received)s) · answered %(answered)s · "
            "%(minutes)s min on the line (inbound %(inbound)s, outbound %(outbound)s) · "
            "average %(average)s · longest %(longest)s"
        )
        % {
            "calls": c.calls,
            "made": c.made,
            "received": c.received,
            "answered": c.answered,
            "minutes": f.minutes(c.talk_seconds),
            "inbound": f.minutes(c.inbound_talk_seconds),
            "outbound": f.minutes(c.outbound_talk_seconds),
            "average": f.duration(c.average_seconds),
            "longest": f.duration(c.longest_seconds if c.answered else None),
        },
        _(
            "Inbound: %(offered)s offered · %(answered)s answered · %(missed)s missed "
            "(%(after_hours)s after hours, %(short)s short abandons) · "
            "time to answer p50 %(p50)s, p90 %(p90)s"
        )
        % {
            "offered": i.offered,
            "answered": i.answered,
            "missed": i.missed,
            "after_hours": i.after_hours_missed,
            "short": i.short_abandons,
            "p50": f.seconds(i.answer_p50),
            "p90": f.seconds(i.answer_p90),
        },
        _("Lost Call Rate: %(rates)s") % {"rates": f.lcr_line(i, report.short_abandon_seconds, _)},
        _(
            "Recovery: %(recovered)s of %(missed)s missed calls recovered (%(rate)s) · "
            "median time to recovery %(median)s"
        )
        % {
            "recovered": r.recovered,
            "missed": r.missed_with_number,
            "rate": f.percent(r.rate),
            "median": f.duration(r.median_seconds),
        },
        _(
            "Tasks: %(open)s open · %(overdue)s overdue · done that day %(on_time)s on time, "
            "%(late)s late"
        )
        % {"open": t.open, "overdue": t.overdue, "on_time": t.done_on_time, "late": t.done_late},
    ]


def weekday_date(day: date, lang: str | None) -> str:
    """ "Wednesday 2026-11-25" (English) or "среда 2026-11-25"."""
    if not lang or lang == "en":
        return day.strftime("%A %Y-%m-%d")
    return format_date(day, "EEEE yyyy-MM-dd", locale=lang)


def title(report: DailyReport, lang: str | None = None) -> str:
    _ = translator(lang)
    tz = ZoneInfo(report.timezone)
    state = (
        ""
        if report.complete
        else _(" — so far, as of %(time)s") % {"time": f.local(report.generated_at, tz, "%H:%M")}
    )
    return (
        _("Daily report for %(day)s (%(zone)s)")
        % {
            "day": weekday_date(report.day, lang),
            "zone": report.timezone,
        }
        + state
    )


def alert_lines(report: DailyReport, lang: str | None = None) -> list[str]:
    """The alerts' messages; in another language than English, a shorter form of the same
    figures (the subject, today's value, the baseline and the drop)."""
    if not lang or lang == "en":
        return [a.message for a in report.alerts]
    _ = translator(lang)
    weekday = format_date(report.day, "EEEE", locale=lang)
    lines = []
    for a in report.alerts:
        subject = a.subject
        if subject.startswith("department "):
            subject = _("department %(name)s") % {"name": subject.removeprefix("department ")}
        words = (
            _("%(n)s calls") % {"n": f"{a.today:.0f}"}
            if a.measure == "calls"
            else _("%(n)s minutes on the line") % {"n": f"{a.today:.1f}"}
        )
        drop = 1 - a.today / a.baseline if a.baseline else 0.0
        lines.append(
            _("%(subject)s: %(words)s today vs %(baseline)s on an average %(weekday)s (−%(drop)s)")
            % {
                "subject": subject,
                "words": words,
                "baseline": f"{a.baseline:.1f}",
                "weekday": weekday,
                "drop": f"{drop:.0%}",
            }
        )
    return lines


def render_daily(report: DailyReport, lang: str | None = None) -> str:
    """The whole report as text, in `lang` (default English)."""
    _ = translator(lang)
    tz = ZoneInfo(report.timezone)
    parts = [title(report, lang), "", *headline(report, lang), ""]
    parts.append(_("Alerts"))
    parts += [f"  ! {line}" for line in alert_lines(report, lang)] or ["  " + _("none")]
    parts += ["", _("Departments"), _table(tables.departments(report.departments, _)), ""]
    parts += [_("Managers"), _table(tables.managers(report.managers, _))]
    parts += ["", _("Escalated call-backs (%(n)s)") % {"n": len(report.escalations)}]
    if report.escalations:
        parts.append(_table(tables.escalations(report.escalations, tz, _)))
    shown = len(report.unrecovered)
    more = _(", the %(n)s oldest shown") % {"n": shown} if shown < report.unrecovered_total else ""
    parts += [
        "",
        _("Unrecovered missed calls: %(n)s numbers") % {"n": report.unrecovered_total} + more,
    ]
    if report.unrecovered:
        parts.append(_table(tables.unrecovered(report.unrecovered, tz, _)))
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
