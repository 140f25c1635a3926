"""GET /analytics: the owner's and the head of sales' figures, from the report's own code.

One day (`date=YYYY-MM-DD`, default today so far) is `build_daily`, the model behind
`callrouter report daily --format json`; a period (`from`/`to`) is `build_stats` per manager
and per department, the model behind `callrouter stats --json`. Every figure on the page is
wrapped as `<span data-metric="PATH" data-value="RAW">shown</span>`: PATH is the JSON key path
of that figure (a list of rows is entered by the row's `key`: `managers.3.calls.made`), RAW the
JSON value itself, so a test compares the page with the JSON report key by key.

A head of sales sees their department's rows (callrouter/reports/scope.py); a manager does not
have this page (404).
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import NumberPattern, parse_pattern
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callrouter.reports import charts, render_json
from callrouter.reports.daily import build_daily
from callrouter.reports.model import DailyReport
from callrouter.reports.render_text import alert_lines
from callrouter.reports.scope import Scope, department_scope, narrow_daily, narrow_stats
from callrouter.reports.stats import build_stats
from callrouter.web.auth import ANALYSTS, current_user, require_roles
from callrouter.web.i18n import gettext, lang_of
from callrouter.web.render import duration, render, render_text

MAX_DAYS = 366
PAGE = "analytics.html"
SECTION = "analytics_section.html"
CACHE_SECONDS = 60.0
CACHE_SIZE = 64
T = TypeVar("T")


class BadPeriod(ValueError):
    """The query string's dates are not a period: "date" (not YYYY-MM-DD), "order" (ends
    before it starts) or "long" (more than MAX_DAYS)."""


def period_error(request: Request, problem: str) -> str:
    if problem == "order":
        return gettext(request, "The period ends before it starts.")
    if problem == "long":
        return gettext(request, "The period is longer than %(n)s days.", n=MAX_DAYS)
    return gettext(request, "Not a date: use YYYY-MM-DD.")


def parse_period(params: dict[str, str], today: date) -> tuple[date, date]:
    """(first, last) local days from `date`, or `from`/`to` (`to` defaults to `from`)."""

    def day(name: str) -> date | None:
        text = (params.get(name) or "").strip()
        if not text:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadPeriod("date") from None

    single = day("date")
    first, last = day("from"), day("to")
    if single is not None:
        return single, single
    if first is None and last is None:
        return today, today
    first = first or last
    last = last or first
    assert first is not None and last is not None
    if last < first:
        raise BadPeriod("order")
    if (last - first).days >= MAX_DAYS:
        raise BadPeriod("long")
    return first, last


NO_VALUE = "—"


@cache
def _formats(lang: str) -> tuple[Locale, NumberPattern, NumberPattern, NumberPattern]:
    """The locale and its number patterns, parsed once (babel parses them on every call
    otherwise, which a page of 200 figures feels)."""
    locale = Locale.parse(lang)
    return (
        locale,
        locale.decimal_formats[None],
        parse_pattern("#,##0.0"),
        parse_pattern("#,##0.0%"),
    )


def shown(value: Any, kind: str, lang: str) -> str:
    """How a figure reads on the page, in the user's language: a count, minutes with one
    decimal, a rate as a percentage with one decimal, a duration as m:ss; "—" for no value."""
    if value is None:
        return NO_VALUE
    locale, count, tenths, percent = _formats(lang)
    if kind == "int":
        return count.apply(value, locale)
    if kind == "minutes":
        return tenths.apply(value, locale)
    if kind == "percent":
        return percent.apply(value, locale)
    if kind == "duration":
        return duration(value)
    raise ValueError(f"unknown kind of figure {kind!r}")


def lookup(data: Any, path: str) -> Any:
    """The value at a `data-metric` path in the report's JSON (lists entered by row `key`;
    a missing part, such as a row without inbound figures, is None)."""
    node = data
    for part in path.split("."):
        if node is None:
            return None
        if isinstance(node, list):
            node = next((row for row in node if str(row.get("key")) == part), None)
        else:
            node = node.get(part)
    return node


class Figures:
    """`fig(path, kind)` in the template: the figure at `path`, wrapped with its metric path
    and its raw JSON value."""

    def __init__(self, data: Any, lang: str) -> None:
        self.data = data
        self.lang = lang

    def __call__(self, path: str, kind: str = "int") -> Markup:
        value = lookup(self.data, path)
        return Markup(
            f'<span data-metric="{escape(path)}" data-value="{escape(json.dumps(value))}">'
            f"{escape(shown(value, kind, self.lang))}</span>"
        )


class ReportCache:
    """The reports behind the page, computed once a minute per period and shared.

    Twenty people opening the analytics at nine o'clock ask for the same day: the first
    request computes it (the same `build_daily` / `build_stats` as the CLI) and the others wait
    for that very computation instead of running their own, so the database does the work
    once. A report is kept `CACHE_SECONDS` (by the app's clock; the page says "as of" when
    it was computed), so "today so far" is at most a minute behind. A failed computation is
    not kept."""

    def __init__(self, seconds: float = CACHE_SECONDS, size: int = CACHE_SIZE) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], tuple[datetime, asyncio.Task[Any]]] = (
            OrderedDict()
        )

    async def get(
        self, key: tuple[Any, ...], now: datetime, compute: Callable[[], Awaitable[T]]
    ) -> T:
        found = self._entries.get(key)
        if found is not None and abs((now - found[0]).total_seconds()) < self.seconds:
            self._entries.move_to_end(key)
            task = found[1]
        else:
            task = asyncio.ensure_future(compute())
            self._entries[key] = (now, task)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        try:
            # Shielded: a reader who leaves does not cancel the others' computation.
            return cast(T, await asyncio.shield(task))
        except Exception:
            if self._entries.get(key, (None, None))[1] is task:
                del self._entries[key]
            raise


def report_cache(request: Request) -> ReportCache:
    cache = getattr(request.app.state, "analytics_cache", None)
    if cache is None:
        cache = ReportCache()
        request.app.state.analytics_cache = cache
    return cast(ReportCache, cache)


@dataclass
class Computed:
    """A report as the cache keeps it: the model, its JSON data, and the section's HTML
    already rendered per (scope, language) — all of it dropped together when it expires."""

    kind: str
    report: Any
    sections: dict[tuple[Any, ...], Markup] = field(default_factory=dict)


@require_roles(*ANALYSTS)
async def analytics(request: Request) -> Response:
    user = current_user(request)
    settings = request.app.state.settings
    database = request.app.state.database
    tz = ZoneInfo(settings.timezone)
    now = request.app.state.clock()
    today = now.astimezone(tz).date()
    lang = lang_of(request)
    try:
        first, last = parse_period(dict(request.query_params), today)
    except BadPeriod as exc:
        context = {"error": period_error(request, str(exc)), "mode": "error"}
        section = render_text(request, SECTION, first=today, last=today, **context, **_dates(today))
        return render(request, PAGE, status_code=400, section=Markup(section))
    scope: Scope | None = None
    if user.role == "head_of_sales":
        scope = await department_scope(database, user.department_id, user.manager_id)

    async def compute() -> Computed:
        if first == last:
            return Computed("day", await build_daily(database, first, now, settings))
        return Computed(
            "period",
            (
                await build_stats(database, first, last, "manager", now, settings),
                await build_stats(database, first, last, "department", now, settings),
            ),
        )

    computed = await report_cache(request).get((first, last), now, compute)
    key = (scope, lang)
    section = computed.sections.get(key)
    if section is None:
        context = section_context(computed, scope, lang)
        section = Markup(
            render_text(request, SECTION, first=first, last=last, **context, **_dates(today))
        )
        computed.sections[key] = section
    return render(request, PAGE, section=section)


def section_context(computed: Computed, scope: Scope | None, lang: str) -> dict[str, Any]:
    """What analytics_section.html shows of a computed report, for one scope and language."""
    if computed.kind == "day":
        report: DailyReport = computed.report
        if scope is not None:
            report = narrow_daily(report, scope)
        return {
            "error": None,
            "mode": "day",
            "report": report,
            "fig": Figures(render_json.to_data(report), lang),
            "alerts": alert_lines(report, lang),
            "chart_hours": Markup(charts.hourly_calls(report.hours, lang)),
            "chart_managers": Markup(charts.manager_activity(report.managers, lang)),
            "chart_trend": Markup(
                charts.lcr_trend(report.trend, report.short_abandon_seconds, lang)
            ),
            "previous": report.day - timedelta(days=1),
            "following": report.day + timedelta(days=1),
        }
    by_manager, by_department = computed.report
    if scope is not None:
        by_manager = narrow_stats(by_manager, scope)
        by_department = narrow_stats(by_department, scope)
    data = {
        "by_manager": render_json.to_data(by_manager),
        "by_department": render_json.to_data(by_department),
    }
    return {
        "error": None,
        "mode": "period",
        "by_manager": by_manager,
        "by_department": by_department,
        "fig": Figures(data, lang),
        "chart_managers": Markup(
            charts.manager_activity([r for r in by_manager.rows if r.key is not None], lang)
        ),
    }


def _dates(today: date) -> dict[str, date]:
    return {
        "today": today,
        "week_ago": today - timedelta(days=6),
        "month_ago": today - timedelta(days=29),
    }


routes: list[BaseRoute] = [Route("/analytics", analytics, methods=["GET"])]
