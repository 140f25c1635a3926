"""GET /contacts (search by any spelling of a number or by name, pages) and the contact card
GET /contacts/{id}: phones, responsible, every deal and every call of the client (a call with no
deal is reachable here), its tasks. Outside the user's scope: 404, nothing named."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from callrouter.web.render import not_found, render
from crm import access, views
from crm.listing import search_contacts

from .crm_common import database, now, page_number, record_id, settings, user_zone, viewer, words


async def contact_list(request: Request) -> Response:
    params = request.query_params
    q = (params.get("q") or "").strip()[:100]
    async with database(request).reader() as s:
        found = await search_contacts(
            s,
            viewer(request),
            q=q,
            page=page_number(params.get("page")),
            region=settings(request).default_region,
        )

    def page_link(page: int) -> str:
        return "/contacts?" + urlencode({"q": q, "page": page} if q else {"page": page})

    return render(
        request,
        "contacts.html",
        found=found,
        q=q,
        page_link=page_link,
        timezone=user_zone(request),
    )


async def contact_card(request: Request) -> Response:
    contact_id = record_id(request, "contact_id")
    if contact_id is None:
        return not_found(request)
    v = viewer(request)
    conf = settings(request)
    async with database(request).reader() as s:
        if not await access.may_see_contact(s, v, contact_id):
            return not_found(request)
        card = await views.contact_card(
            s,
            contact_id,
            recordings_dir=conf.recordings_dir,
            min_talk=conf.leads.recovery_min_talk_seconds,
        )
        visible_deals = {d.id for d in card.deals if await access.may_see_deal(s, v, d.id)}
    return render(
        request,
        "contact.html",
        card=card,
        visible_deals=visible_deals,
        now_at=now(request),
        words=words(request),
        timezone=user_zone(request),
    )


routes: list[BaseRoute] = [
    Route("/contacts", contact_list, methods=["GET"]),
    Route("/contacts/{contact_id}", contact_card, methods=["GET"]),
]
