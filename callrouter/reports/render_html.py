"""The daily report as one self-contained HTML page (inline CSS, inline SVG charts)."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from . import charts, tables
from .i18n import translator
from .model import DailyReport
from .render_text import alert_lines, headline, title

STYLE = """
body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:980px;margin:16px auto;padding:0 8px}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;font-size:12px}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.headline li{margin:2px 0}.alert{color:#b71c1c;font-weight:bold}.left{color:#888}
"""


def _table(table: tables.Table) -> str:
    header, body = table
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_daily(report: DailyReport, lang: str | None = None) -> str:
    """The whole report as HTML, charts included as inline SVG, in `lang` (default English)."""
    _ = translator(lang)
    tz = ZoneInfo(report.timezone)
    words = {
        "alerts": _("Alerts"),
        "none": _("None."),
        "hours": _("Calls per hour"),
        "trend": _("Lost Call Rate, last %(n)s days") % {"n": len(report.trend)},
        "departments": _("Departments"),
        "managers": _("Managers"),
        "escalated": _("Escalated call-backs (%(n)s)") % {"n": len(report.escalations)},
    }
    w = {key: escape(text) for key, text in words.items()}
    heading = escape(title(report, lang))
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(lang or "en")}"><head><meta charset="utf-8">',
        f"<title>{heading}</title><style>{STYLE}</style></head><body>",
        f"<h1>{heading}</h1>",
        '<ul class="headline">'
        + "".join(f"<li>{escape(line)}</li>" for line in headline(report, lang))
        + "</ul>",
        f"<h2>{w['alerts']}</h2>",
    ]
    alerts = alert_lines(report, lang)
    if alerts:
        parts.append(
            "<ul>" + "".join(f'<li class="alert">{escape(a)}</li>' for a in alerts) + "</ul>"
        )
    else:
        parts.append(f"<p>{w['none']}</p>")
    parts += [
        f"<h2>{w['hours']}</h2>",
        charts.hourly_calls(report.hours, lang),
        f"<h2>{w['trend']}</h2>",
        charts.lcr_trend(report.trend, report.short_abandon_seconds, lang),
        f"<h2>{w['departments']}</h2>",
        _table(tables.departments(report.departments, _)),
        f"<h2>{w['managers']}</h2>",
        charts.manager_activity(report.managers, lang),
        _table(tables.managers(report.managers, _)),
        f"<h2>{w['escalated']}</h2>",
    ]
    if report.escalations:
        parts.append(_table(tables.escalations(report.escalations, tz, _)))
    total = _("Unrecovered missed calls: %(n)s numbers") % {"n": report.unrecovered_total}
    parts.append(f"<h2>{escape(total)}</h2>")
    if report.unrecovered:
        parts.append(_table(tables.unrecovered(report.unrecovered, tz, _)))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
