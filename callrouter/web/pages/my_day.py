"""GET /my-day: the manager's home — open tasks overdue, due today, due tomorrow (sections
`overdue`, `today`, `tomorrow`), each with its client, deal and the done / reschedule forms;
and their unreturned missed calls with their age (`missed`). Days are the manager's
department's (crm/my_day.py).

Each section shows its SECTION_LIMIT most urgent entries and says "and N more": the tasks'
link is `/my-day?all=1` (every task of the three sections), the misses' is `/missed`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callrouter.web.auth import current_user
from callrouter.web.render import render
from crm.my_day import my_day

from .crm_common import age_text, database, local_input, now, settings, user_zone, words

SECTION_LIMIT = 20


async def show_day(request: Request, *, status_code: int = 200, **extra: Any) -> Response:
    user = current_user(request)
    show_all = request.query_params.get("all") == "1"
    at = now(request)
    conf = settings(request)
    day = await my_day(
        database(request).fast,
        user.manager_id,
        at,
        default_timezone=conf.timezone,
        lookback=timedelta(days=conf.report.unrecovered_lookback_days),
        limit=None if show_all else SECTION_LIMIT,
        timezone=user_zone(request),
    )
    return render(
        request,
        "my_day.html",
        status_code=status_code,
        day=day,
        sections=[
            ("overdue", day.overdue, day.overdue_total),
            ("today", day.due_today, day.today_total),
            ("tomorrow", day.tomorrow, day.tomorrow_total),
        ],
        now_at=at,
        words=words(request),
        age=lambda seconds: age_text(request, seconds),
        timezone=day.timezone,
        default_due=local_input(at + timedelta(days=1), day.timezone),
        here="/my-day",
        **extra,
    )


async def my_day_page(request: Request) -> Response:
    return await show_day(request)


routes: list[BaseRoute] = [Route("/my-day", my_day_page, methods=["GET"])]
