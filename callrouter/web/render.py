"""Templates: `render(request, "name.html", **context)` → an HTML response in the user's language.

One Jinja2 environment per language (autoescape on, the i18n extension with that language's
catalog installed), built once. Every template gets:
- `user` (the logged-in `WebUser`, or None), `csrf_token`, `csrf_field()` (the hidden input),
  `lang`, `request`, `_` / `gettext` / `ngettext` (values given as keywords are escaped);
- filters, in the user's locale and the company's time zone (settings `timezone`):
  `dt` (a datetime: "2 дек. 2026 г., 14:05"; `dt("short")`, `dt("HH:mm")`, `dt(tz="Asia/…")`),
  `date` (a date or datetime, `date("short")`), `time` ("14:05"), `duration` (seconds → "1:05",
  "1:02:03"), `number` (12 345), `percent` (0.125 → "12,5 %"), `phone` (E.164 → "+7 916 123-45-67"),
  `task_rows(words, now)` (tasks → their lines' ready texts, task_rows.py).

Speed (issue #16: a page of a hundred rows renders in a few milliseconds): babel's Locale objects
are parsed once per language, phone numbers and date-times are formatted once per value (bounded
caches), and the CSRF hidden input is built once per page, not once per form.
"""

from __future__ import annotations

from copy import copy
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .i18n import LOCALES, TEMPLATE_DIR, gettext, lang_of, translate, translations
from .task_rows import TaskRow, task_rows


@cache
def _locale(lang: str) -> Locale:
    """The babel Locale of `lang`, parsed once (babel parses a string locale on every call)."""
    return Locale.parse(lang)


def _zone(ctx: Any, tz: str | None) -> ZoneInfo:
    if tz:
        return ZoneInfo(tz)
    return ZoneInfo(ctx.get("timezone") or "UTC")


@pass_context
def _dt(ctx: Any, value: datetime | None, format: str = "medium", tz: str | None = None) -> str:
    if value is None:
        return ""
    return _format_datetime(value, format, tz or ctx.get("timezone") or "UTC", ctx["lang"])


@lru_cache(maxsize=16384)
def _format_datetime(value: datetime, format: str, zone: str, lang: str) -> str:
    """babel's format_datetime (tens of microseconds a call), once per moment shown: a page
    asked again shows the same deadlines and calls."""
    return format_datetime(value, format, tzinfo=ZoneInfo(zone), locale=_locale(lang))


@pass_context
def _date(
    ctx: Any, value: date | datetime | None, format: str = "medium", tz: str | None = None
) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(_zone(ctx, tz)).date()
    return format_date(value, format, locale=_locale(ctx["lang"]))


@pass_context
def _time(ctx: Any, value: datetime | None, format: str = "HH:mm", tz: str | None = None) -> str:
    if value is None:
        return ""
    return format_time(value.astimezone(_zone(ctx, tz)), format, locale=_locale(ctx["lang"]))


def duration(value: float | timedelta | None) -> str:
    """Seconds → "0:07", "1:05", "1:02:03" (hours only when there are some)."""
    if value is None:
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    sign = "-" if seconds < 0 else ""
    total = int(round(abs(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


@pass_context
def _number(ctx: Any, value: float | int | None, format: str | None = None) -> str:
    if value is None:
        return ""
    return format_decimal(value, format=format, locale=_locale(ctx["lang"]))


@cache
def _percent_pattern(lang: str) -> Any:
    """The locale's percent pattern ("#,##0 %" in Russian) with up to one decimal."""
    pattern = copy(_locale(lang).percent_formats[None])
    pattern.frac_prec = (0, 1)
    return pattern


@pass_context
def _percent(ctx: Any, value: float | None, format: str | None = None) -> str:
    if value is None:
        return ""
    if format is not None:
        return format_percent(value, format=format, locale=_locale(ctx["lang"]))
    return str(_percent_pattern(ctx["lang"]).apply(value, _locale(ctx["lang"])))


def phone(value: str | None) -> str:
    """E.164 → the international form ("+7 916 123-45-67"); anything else as it is."""
    if not value:
        return ""
    return _phone(value)


@lru_cache(maxsize=16384)
def _phone(value: str) -> str:
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(parsed):
        return value
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@pass_context
def _task_rows(ctx: Any, tasks: Any, words: Any, now: datetime) -> list[TaskRow]:
    lang, zone = ctx["lang"], ctx.get("timezone") or "UTC"
    return task_rows(
        tasks,
        words=words,
        now=now,
        due_text=lambda at: _format_datetime(at, "short", zone, lang),
        phone=phone,
        deal_number=translate(lang, "Deal #%(id)s"),
    )


def _csrf_field_for(token: str) -> Any:
    field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token))

    def csrf_field() -> Markup:
        return field

    return csrf_field


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        dt=_dt,
        date=_date,
        time=_time,
        duration=duration,
        number=_number,
        percent=_percent,
        phone=phone,
        task_rows=_task_rows,
    )
    return env


def render(
    request: Request,
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The template `name` rendered for this request's user and language."""
    return HTMLResponse(
        render_text(request, name, **context), status_code=status_code, headers=headers
    )


def render_text(request: Request, name: str, **context: Any) -> str:
    lang = lang_of(request)
    env = environment(lang if lang in LOCALES else "ru")
    token = getattr(request.state, "csrf_token", "") or ""
    settings = getattr(request.app.state, "settings", None)
    base: dict[str, Any] = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_token": token,
        "csrf_field": _csrf_field_for(token),
        "lang": lang,
        "timezone": settings.timezone if settings is not None else "UTC",
    }
    return env.get_template(name).render({**base, **context})


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status_code, message=message)


def not_found(request: Request) -> HTMLResponse:
    """404 that names nothing: the same page for a record that does not exist and for one the
    user may not see."""
    return error_page(request, 404, gettext(request, "Page not found."))
