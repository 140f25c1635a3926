"""GET /missed: the missed calls board — numbers with unreturned missed calls in the user's
scope (a manager: theirs; a head of sales: the department's; the owner: all), with their age,
the call-back's deadline, who is on it, and its escalation (crm/missed_board.py)."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callrouter.web.render import render
from crm import access
from crm.missed_board import missed_board

from .crm_common import age_text, database, now, settings, user_zone, viewer, words


async def missed_page(request: Request) -> Response:
    v = viewer(request)
    at = now(request)
    conf = settings(request)
    db = database(request)
    board = await missed_board(
        db.fast, v, at, lookback=timedelta(days=conf.report.unrecovered_lookback_days)
    )
    async with db.reader() as s:
        contacts = {
            e.contact_id
            for e in board.entries
            if e.contact_id is not None
            and (v.sees_all or await access.may_see_contact(s, v, e.contact_id))
        }
    return render(
        request,
        "missed.html",
        board=board,
        contacts=contacts,
        now_at=at,
        words=words(request),
        age=lambda seconds: age_text(request, seconds),
        timezone=user_zone(request),
    )


routes: list[BaseRoute] = [Route("/missed", missed_page, methods=["GET"])]
