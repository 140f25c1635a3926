"""POST /tasks/{id}/done, /tasks/{id}/cancel, /tasks/{id}/reschedule (fields `due`, `reason`).

Only a task its user may act on (crm/access.py: held by someone in their scope) is touched;
any other is a task that does not exist (404, nothing named). Each form carries `next`, the page
it came from (My day or a deal card), and goes back there; a refused reschedule shows that page
again with the errors beside the task's form (400), and writes nothing.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from callrouter.web.i18n import gettext
from callrouter.web.render import error_page, not_found
from crm import access, tasks
from models.errors import InputError
from models.values import TaskStatus

from .crm_common import (
    actor,
    database,
    next_target,
    now,
    parse_local,
    record_id,
    reschedule_errors,
    user_zone,
    viewer,
)
from .deals import show_card
from .my_day import show_day


async def _close(request: Request, status: TaskStatus, reason: str) -> Response:
    task_id = record_id(request, "task_id")
    if task_id is None:
        return not_found(request)
    form = await request.form()
    v = viewer(request)
    try:
        async with database(request).transaction() as s:
            if not await access.may_act_on_task(s, v, task_id):
                return not_found(request)
            task = await tasks.get_task(s, task_id)
            await tasks.close_task(s, task, status=status, reason=reason, now=now(request))
    except InputError:
        return error_page(request, 400, gettext(request, "This task is already closed."))
    return RedirectResponse(next_target(form, "/my-day"), status_code=303)


async def task_done(request: Request) -> Response:
    return await _close(request, TaskStatus.DONE, "done by hand")


async def task_cancel(request: Request) -> Response:
    return await _close(request, TaskStatus.CANCELLED, "cancelled by hand")


async def task_reschedule(request: Request) -> Response:
    task_id = record_id(request, "task_id")
    if task_id is None:
        return not_found(request)
    form = await request.form()
    v = viewer(request)
    back = next_target(form, "/my-day")
    due_text = str(form.get("due") or "").strip()
    reason = str(form.get("reason") or "")
    zone = user_zone(request)
    at = now(request)
    due = parse_local(due_text, zone)
    db = database(request)
    async with db.reader() as s:
        if not await access.may_act_on_task(s, v, task_id):
            return not_found(request)
        task = await tasks.get_task(s, task_id)
        deal_id, is_open = task.deal_id, task.status == TaskStatus.OPEN.value
    if not is_open:
        return error_page(request, 400, gettext(request, "This task is already closed."))
    errors = reschedule_errors(request, due_text, due, reason, at)
    if not errors:
        _label, manager_id, user_id = actor(request)
        try:
            async with db.transaction() as s:
                await tasks.reschedule_task(
                    s,
                    await tasks.get_task(s, task_id),
                    due_at=due,
                    reason=reason,
                    now=at,
                    tz=ZoneInfo(zone),
                    author_user_id=user_id,
                    author_manager_id=manager_id,
                )
        except InputError as exc:
            errors["due"] = str(exc)
    if not errors:
        return RedirectResponse(back, status_code=303)
    refused = {"task_id": task_id, "errors": errors, "due": due_text, "reason": reason}
    if back.startswith(f"/deals/{deal_id}"):
        return await show_card(request, deal_id, status_code=400, reschedule=refused)
    return await show_day(request, status_code=400, reschedule=refused)


routes: list[BaseRoute] = [
    Route("/tasks/{task_id}/done", task_done, methods=["POST"]),
    Route("/tasks/{task_id}/cancel", task_cancel, methods=["POST"]),
    Route("/tasks/{task_id}/reschedule", task_reschedule, methods=["POST"]),
]
