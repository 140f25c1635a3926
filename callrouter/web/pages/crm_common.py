"""What the CRM pages (my day, deals, contacts, tasks, missed) share: the viewer, the clock, the
user's time zone, typed dates, the words for statuses and types, and the task forms' checks.

Not a page module (no routes). Handlers never query the database themselves: they call the CRM
layer (crm/listing.py, crm/my_day.py, crm/views.py, crm/access.py …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from callrouter.web.auth import current_user, viewer
from callrouter.web.i18n import gettext
from callrouter.web.security import safe_next
from crm.access import Viewer
from models.db import Database
from models.values import TaskType

__all__ = ["Viewer", "viewer"]


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Any:
    return request.app.state.settings


def now(request: Request) -> datetime:
    clock = getattr(request.app.state, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def user_zone(request: Request) -> str:
    """The time zone the user reads and types times in: their department's, else the
    company's (settings `timezone`). Read with the session check (no query of its own)."""
    zone: str = current_user(request).timezone or settings(request).timezone
    return zone


def record_id(request: Request, name: str) -> int | None:
    """The path's id, or None when it is not a number a record could have."""
    text = str(request.path_params.get(name, ""))
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else 1


def next_target(form: Mapping[str, Any], default: str) -> str:
    """Where a form goes back to (a path on this site only)."""
    target = safe_next(str(form.get("next") or ""))
    return default if target == "/" else target


def parse_local(text: str | None, zone: str) -> datetime | None:
    """A `datetime-local` value ("2026-12-01T10:00") in `zone` → aware UTC; None if unreadable."""
    value = (text or "").strip()
    if not value:
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def local_input(at: datetime | None, zone: str) -> str:
    """An aware datetime as a `datetime-local` value in `zone`."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if at else ""


def words(request: Request) -> dict[str, dict[str, str]]:
    """The words for the stored vocabularies (a status not listed is shown as it is stored)."""
    r = request
    return {
        "status": {
            "new": gettext(r, "New"),
            "in_progress": gettext(r, "In progress"),
            "proposal_sent": gettext(r, "Proposal sent"),
            "won": gettext(r, "Won"),
            "lost": gettext(r, "Lost"),
        },
        "type": {
            "call": gettext(r, "Call"),
            "meeting": gettext(r, "Meeting"),
            "email": gettext(r, "E-mail"),
        },
        "task_status": {
            "open": gettext(r, "Open"),
            "done": gettext(r, "Done"),
            "cancelled": gettext(r, "Cancelled"),
        },
        "direction": {
            "inbound": gettext(r, "Inbound"),
            "outbound": gettext(r, "Outbound"),
            "internal": gettext(r, "Internal"),
        },
        "source": {
            "inbound_call": gettext(r, "Inbound call"),
            "missed_call": gettext(r, "Missed call"),
            "manual": gettext(r, "Added by hand"),
            "repeat_call": gettext(r, "Repeat call"),
        },
        "mode": {
            "reassign": gettext(r, "moved to"),
            "copy": gettext(r, "checked by"),
            "none": gettext(r, "nobody to escalate to"),
        },
    }


def age_text(request: Request, seconds: float) -> str:
    """ "3 d 4 h", "2 h 5 min", "7 min" in the user's language."""
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return gettext(request, "%(d)d d %(h)d h", d=days, h=hours)
    if hours:
        return gettext(request, "%(h)d h %(m)d min", h=hours, m=minutes)
    return gettext(request, "%(m)d min", m=minutes)


@dataclass
class TaskForm:
    """The new task form as typed, and what is wrong with it (field → message)."""

    responsible: str = ""
    due: str = ""
    type: str = ""
    comment: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def check_task_form(
    request: Request,
    form: Mapping[str, Any],
    *,
    zone: str,
    at: datetime,
    assignable: Mapping[int, str],
) -> tuple[TaskForm, int | None, datetime | None]:
    """Every field of the new task form checked at once (the page shows all that is wrong);
    crm/tasks.add_task checks them once more, as for the CLI."""
    typed = TaskForm(
        responsible=str(form.get("responsible") or "").strip(),
        due=str(form.get("due") or "").strip(),
        type=str(form.get("type") or "").strip(),
        comment=str(form.get("comment") or ""),
    )
    errors = typed.errors
    responsible = int(typed.responsible) if typed.responsible.isdigit() else None
    if not typed.responsible:
        errors["responsible"] = gettext(request, "Choose who is responsible.")
    elif responsible not in assignable:
        errors["responsible"] = gettext(request, "You cannot give a task to this person.")
    due = parse_local(typed.due, zone)
    if not typed.due:
        errors["due"] = gettext(request, "Set a deadline.")
    elif due is None:
        errors["due"] = gettext(request, "The deadline is not a date and time.")
    elif due < at:
        errors["due"] = gettext(request, "The deadline is in the past.")
    if not typed.type:
        errors["type"] = gettext(request, "Choose the type of task.")
    elif typed.type not in TaskType.values():
        errors["type"] = gettext(request, "Unknown type of task.")
    if not typed.comment.strip():
        errors["comment"] = gettext(request, "Write a comment: what is to be done.")
    return typed, responsible, due


def reschedule_errors(
    request: Request, due_text: str, due: datetime | None, reason: str, at: datetime
) -> dict[str, str]:
    errors = {}
    if not due_text:
        errors["due"] = gettext(request, "Set the new deadline.")
    elif due is None:
        errors["due"] = gettext(request, "The deadline is not a date and time.")
    elif due < at:
        errors["due"] = gettext(request, "The deadline is in the past.")
    if not reason.strip():
        errors["reason"] = gettext(request, "Say why the task is moved.")
    return errors


def actor(request: Request) -> tuple[str, int | None, int]:
    """Who acts, for the history: ("manager:<name>" or "web:<log-in>", manager id, user id)."""
    user = current_user(request)
    label = f"manager:{user.name}" if user.manager_id is not None else f"web:{user.login}"
    return label, user.manager_id, user.id
