"""The daily report as one self-contained HTML page (inline CSS, inline SVG charts)."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from . import charts, tables
from .model import DailyReport
from .render_text import headline, title

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


def render_daily(report: DailyReport) -> str:
    """The whole report as HTML, charts included as inline SVG."""
    tz = ZoneInfo(report.timezone)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title(report))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title(report))}</h1>",
        '<ul class="headline">'
        + "".join(f"<li>{escape(line)}</li>" for line in headline(report))
        + "</ul>",
        "<h2>Alerts</h2>",
    ]
    if report.alerts:
        parts.append(
            "<ul>"
            + "".join(f'<li class="alert">{escape(a.message)}</li>' for a in report.alerts)
            + "</ul>"
        )
    else:
        parts.append("<p>None.</p>")
    parts += [
        "<h2>Calls per hour</h2>",
        charts.hourly_calls(report.hours),
        f"<h2>Lost Call Rate, last {len(report.trend)} days</h2>",
        charts.lcr_trend(report.trend, report.short_abandon_seconds),
        "<h2>Departments</h2>",
        _table(tables.departments(report.departments)),
        "<h2>Managers</h2>",
        charts.manager_activity(report.managers),
        _table(tables.managers(report.managers)),
        f"<h2>Escalated call-backs ({len(report.escalations)})</h2>",
    ]
    if report.escalations:
        parts.append(_table(tables.escalations(report.escalations, tz)))
    parts.append(f"<h2>Unrecovered missed calls: {report.unrecovered_total} numbers</h2>")
    if report.unrecovered:
        parts.append(_table(tables.unrecovered(report.unrecovered, tz)))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
