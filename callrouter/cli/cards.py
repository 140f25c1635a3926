"""The JSON shapes of a card's tasks and calls, shared by `deals show` and `contacts show`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm import views


def task_json(t: views.TaskLine) -> dict[str, Any]:
    return {
        "id": t.id,
        "type": t.type,
        "status": t.status,
        "due_at": t.due_at,
        "responsible": t.responsible,
        "comment": t.comment,
        "closed_reason": t.close_reason,
        "attempts": list(t.attempts),
    }


def call_json(k: views.CallLine) -> dict[str, Any]:
    return {
        "id": k.id,
        "at": k.started_at,
        "direction": k.direction,
        "disposition": k.disposition,
        "manager": k.manager,
        "talk_seconds": k.talk_seconds,
        "recording": k.recording,
        "recording_missing": k.recording_missing,
        "attempts": list(k.attempts),
    }
