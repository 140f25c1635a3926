"""Hand-built SVG charts for the HTML report: no plotting library, no external files.

Each function returns one self-contained `<svg>` element (with a <title> for screen readers)
that e-mail clients and browsers show inline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from .i18n import translator
from .model import GroupRow, HourPoint, TrendPoint

COLOURS = {"answered": "#2e7d32", "missed": "#c62828", "made": "#1565c0", "minutes": "#ef6c00"}
FONT = 'font-family="Helvetica,Arial,sans-serif" font-size="11"'


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k not below `value` (at least 1)."""
    if value <= 1:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def _text(x: float, y: float, text: str, anchor: str = "middle", fill: str = "#333") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}" {FONT}>'
        f"{escape(text)}</text>"
    )


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    parts = []
    for name, colour in items:
        parts.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(x + 14, y, name, "start"))
        x += 22 + 7 * len(name)
    return parts


def _y_axis(
    left: float, top: float, height: float, right: float, top_value: float, suffix: str = ""
) -> list[str]:
    parts = []
    for i in range(5):
        value = top_value * i / 4
        y = top + height - height * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(_text(left - 4, y + 4, f"{value:g}{suffix}", "end"))
    return parts


def hourly_calls(points: Sequence[HourPoint], lang: str | None = None) -> str:
    """Stacked bars per local hour: inbound answered, missed, calls made."""
    _ = translator(lang)
    width, height, left, top, bottom = 720, 240, 40, 30, 30
    plot_h = height - top - bottom
    top_value = nice_ceiling(
        max((p.inbound_answered + p.missed + p.made for p in points), default=0)
    )
    slot = (width - left - 10) / max(len(points), 1)
    body = _y_axis(left, top, plot_h, width - 10, top_value)
    for i, p in enumerate(points):
        x = left + i * slot + slot * 0.15
        y = top + plot_h
        for value, colour in (
            (p.inbound_answered, COLOURS["answered"]),
            (p.missed, COLOURS["missed"]),
            (p.made, COLOURS["made"]),
        ):
            h = plot_h * value / top_value
            if value:
                body.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{slot * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(p.label)}: '
                    f"{value}</title></rect>"
                )
            y -= h
        if i % 3 == 0:
            body.append(_text(left + i * slot + slot / 2, height - bottom + 14, p.label))
    body += _legend(
        left,
        16,
        [
            (_("answered"), COLOURS["answered"]),
            (_("missed"), COLOURS["missed"]),
            (_("made"), COLOURS["made"]),
        ],
    )
    return _svg(width, height, _("Calls per hour"), body)


def manager_activity(rows: Sequence[GroupRow], lang: str | None = None) -> str:
    """Two bars per manager: calls (made + received) and minutes on the line."""
    _ = translator(lang)
    bar, gap, left, top = 9, 8, 150, 26
    width = 720
    height = top + len(rows) * (2 * bar + gap) + 10
    span = width - left - 60
    most_calls = max((r.calls.calls for r in rows), default=0) or 1
    most_minutes = max((r.calls.talk_minutes for r in rows), default=0) or 1
    body = _legend(left, 16, [(_("calls"), COLOURS["made"]), (_("minutes"), COLOURS["minutes"])])
    y = top
    for r in rows:
        name = r.label if r.active else _("%(name)s (left)") % {"name": r.label}
        body.append(_text(left - 6, y + bar + 3, name, "end"))
        for value, most, colour, shown in (
            (r.calls.calls, most_calls, COLOURS["made"], f"{r.calls.calls}"),
            (r.calls.talk_minutes, most_minutes, COLOURS["minutes"], f"{r.calls.talk_minutes:.0f}"),
        ):
            w = span * value / most
            body.append(
                f'<rect x="{left}" y="{y:.1f}" width="{w:.1f}" height="{bar}" fill="{colour}"/>'
            )
            body.append(_text(left + w + 4, y + bar - 1, shown, "start"))
            y += bar
        y += gap
    return _svg(width, height, _("Calls and minutes per manager"), body)


def lcr_trend(points: Sequence[TrendPoint], short_seconds: float, lang: str | None = None) -> str:
    """LCR per day, all misses and without short abandons; days without calls leave a gap."""
    _ = translator(lang)
    width, height, left, top, bottom = 720, 240, 44, 30, 30
    plot_h = height - top - bottom
    rates = [r for p in points for r in (p.lcr, p.lcr_without_short) if r is not None]
    top_value = nice_ceiling(max(rates, default=0) * 100) if rates else 10.0
    top_value = max(top_value, 10.0)
    step = (width - left - 10) / max(len(points) - 1, 1)
    body = _y_axis(left, top, plot_h, width - 10, top_value, "%")
    series = (
        (_("all misses"), COLOURS["missed"], [p.lcr for p in points]),
        (
            _("without short abandons (<%(short)s s)") % {"short": f"{short_seconds:g}"},
            COLOURS["made"],
            [p.lcr_without_short for p in points],
        ),
    )
    for _name, colour, values in series:
        segment: list[str] = []
        for i, value in enumerate(values + [None]):
            if value is not None:
                x, y = left + i * step, top + plot_h - plot_h * value * 100 / top_value
                segment.append(f"{x:.1f},{y:.1f}")
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
            elif segment:
                body.append(
                    f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"/>'
                )
                segment = []
    for i, p in enumerate(points):
        if (len(points) - 1 - i) % 7 == 0:
            body.append(_text(left + i * step, height - bottom + 14, p.day.strftime("%d.%m")))
    body += _legend(left, 16, [(name, colour) for name, colour, _ in series])
    return _svg(width, height, _("Lost Call Rate, last days"), body)
