"""GET /deals (search, filters, pages) and the deal card: GET /deals/{id}, with its forms —
POST /deals/{id}/status (fires the automation rules, as `callrouter deals status`),
POST /deals/{id}/tasks (the same checks as `callrouter tasks add`), POST /deals/{id}/notes.

A deal outside the user's scope (crm/access.py) does not exist for them: 404, nothing named.
A refused form is shown again with its values and `<p class="error" data-field=…>`, status 400,
and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from callrouter.web.i18n import gettext
from callrouter.web.render import not_found, render
from crm import access, deals, notes, tasks, views
from crm.listing import search_deals
from models.errors import InputError, MissingField, NotFound
from models.tables import Manager

from .crm_common import (
    TaskForm,
    actor,
    check_task_form,
    database,
    local_input,
    now,
    page_number,
    record_id,
    settings,
    user_zone,
    viewer,
    words,
)


async def deal_list(request: Request) -> Response:
    params = request.query_params
    q = (params.get("q") or "").strip()[:100]
    statuses = list(settings(request).leads.deal_statuses)
    status = params.get("status") or ""
    status = status if status in statuses else ""
    manager_text = params.get("manager") or ""
    manager_id = int(manager_text) if manager_text.isdigit() and len(manager_text) < 12 else None
    v = viewer(request)
    async with database(request).reader() as s:
        found = await search_deals(
            s,
            v,
            q=q,
            status=status or None,
            manager_id=manager_id,
            page=page_number(params.get("page")),
            region=settings(request).default_region,
        )
        managers = await access.visible_managers(s, v)

    def page_link(page: int) -> str:
        query = {"q": q, "status": status, "manager": manager_id or "", "page": page}
        return "/deals?" + urlencode({k: val for k, val in query.items() if val not in ("", None)})

    return render(
        request,
        "deals.html",
        found=found,
        q=q,
        status=status,
        statuses=statuses,
        manager_id=manager_id,
        managers=managers,
        page_link=page_link,
        words=words(request),
        timezone=user_zone(request),
    )


async def show_card(
    request: Request,
    deal_id: int,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    """The deal card (with a refused form's values and errors in `extra`), or 404."""
    v = viewer(request)
    conf = settings(request)
    async with database(request).reader() as s:
        staff = await access.all_managers(s)
        try:
            card = await views.deal_card(
                s,
                deal_id,
                recordings_dir=conf.recordings_dir,
                min_talk=conf.leads.recovery_min_talk_seconds,
                scope=access.deal_filter(v),
                names={m.id: m.name for m in staff},
            )
        except NotFound:
            return not_found(request)
    visible = access.in_scope(v, staff)
    assignable = [(m.id, m.name) for m in visible if m.active]
    scope = {m.id for m in visible}
    zone = user_zone(request)
    actionable = {
        t.id for t in card.tasks if t.status == "open" and (v.sees_all or t.responsible_id in scope)
    }
    user = request.state.user
    task_form = extra.pop("task_form", None) or TaskForm(
        responsible=str(user.manager_id) if any(i == user.manager_id for i, _ in assignable) else ""
    )
    return render(
        request,
        "deal.html",
        status_code=status_code,
        card=card,
        timeline=card.timeline(),
        statuses=list(conf.leads.deal_statuses),
        assignable=assignable,
        actionable=actionable,
        task_form=task_form,
        task_types=["call", "meeting", "email"],
        words=words(request),
        timezone=zone,
        now_at=now(request),
        default_due=local_input(now(request) + timedelta(days=1), zone),
        here=f"/deals/{deal_id}",
        **extra,
    )


async def deal_card(request: Request) -> Response:
    deal_id = record_id(request, "deal_id")
    if deal_id is None:
        return not_found(request)
    return await show_card(request, deal_id)


def _back(deal_id: int, anchor: str = "") -> Response:
    return RedirectResponse(f"/deals/{deal_id}{anchor}", status_code=303)


async def change_status(request: Request) -> Response:
    deal_id = record_id(request, "deal_id")
    if deal_id is None:
        return not_found(request)
    form = await request.form()
    wanted = str(form.get("status") or "").strip()
    conf = settings(request).leads
    label, manager_id, _user_id = actor(request)
    v = viewer(request)
    try:
        async with database(request).transaction() as s:
            if not await access.may_see_deal(s, v, deal_id):
                return not_found(request)
            deal = await deals.get_deal(s, deal_id)
            if wanted not in conf.deal_statuses:
                raise _FormError(gettext(request, "Choose one of the statuses."))
            if wanted == deal.status:
                raise _FormError(gettext(request, "The deal already has this status."))
            by = await s.get(Manager, manager_id) if manager_id is not None else None
            await deals.set_status(
                s,
                deal,
                wanted,
                statuses=conf.deal_statuses,
                closed_statuses=conf.closed_statuses,
                now=now(request),
                actor=label,
                actor_manager=by,
                min_lead=timedelta(minutes=conf.min_lead_minutes),
            )
    except _FormError as exc:
        return await show_card(request, deal_id, status_code=400, status_error=str(exc))
    except InputError as exc:
        message = gettext(request, "The status was not changed: %(reason)s", reason=str(exc))
        return await show_card(request, deal_id, status_code=400, status_error=message)
    return _back(deal_id, "#tasks")


class _FormError(Exception):
    """A form's input refused before anything was written (the message is for the page)."""


async def add_task(request: Request) -> Response:
    deal_id = record_id(request, "deal_id")
    if deal_id is None:
        return not_found(request)
    form = await request.form()
    v = viewer(request)
    zone = user_zone(request)
    at = now(request)
    _label, manager_id, _user_id = actor(request)
    db = database(request)
    async with db.reader() as s:
        if not await access.may_see_deal(s, v, deal_id):
            return not_found(request)
        assignable = dict(await access.assignable_managers(s, v))
    typed, responsible_id, due = check_task_form(
        request, form, zone=zone, at=at, assignable=assignable
    )
    if not typed.errors:
        try:
            async with db.transaction() as s:
                deal = await deals.get_deal(s, deal_id)
                author = await s.get(Manager, manager_id) if manager_id else None
                await tasks.add_task(
                    s,
                    deal=deal,
                    responsible=await s.get(Manager, responsible_id or 0),
                    due_at=due,
                    task_type=typed.type,
                    comment=typed.comment,
                    created_by_manager=author,
                    now=at,
                )
        except InputError as exc:
            typed.errors[_field_of(exc)] = str(exc)
    if typed.errors:
        return await show_card(request, deal_id, status_code=400, task_form=typed)
    return _back(deal_id, "#tasks")


def _field_of(exc: InputError) -> str:
    """The form field a CRM refusal is about."""
    if isinstance(exc, MissingField):
        return {"responsible manager": "responsible", "deadline": "due"}.get(exc.field, exc.field)
    text = str(exc)
    if "deadline" in text:
        return "due"
    if "type" in text:
        return "type"
    return "responsible"


async def add_note(request: Request) -> Response:
    deal_id = record_id(request, "deal_id")
    if deal_id is None:
        return not_found(request)
    form = await request.form()
    text = str(form.get("text") or "")
    v = viewer(request)
    _label, manager_id, user_id = actor(request)
    error = None
    if not text.strip():
        error = gettext(request, "Write the note first.")
    elif len(text.strip()) > notes.MAX_NOTE:
        error = gettext(request, "The note is too long.")
    async with database(request).transaction() as s:
        if not await access.may_see_deal(s, v, deal_id):
            return not_found(request)
        if error is None:
            await notes.add_note(
                s,
                deal_id,
                text,
                now=now(request),
                author_user_id=user_id,
                author_manager_id=manager_id,
            )
    if error is not None:
        return await show_card(request, deal_id, status_code=400, note_error=error, note_text=text)
    return _back(deal_id, "#history")


routes: list[BaseRoute] = [
    Route("/deals", deal_list, methods=["GET"]),
    Route("/deals/{deal_id}", deal_card, methods=["GET"]),
    Route("/deals/{deal_id}/status", change_status, methods=["POST"]),
    Route("/deals/{deal_id}/tasks", add_task, methods=["POST"]),
    Route("/deals/{deal_id}/notes", add_note, methods=["POST"]),
]
