"""The closed vocabularies stored in the database (each also a CHECK constraint)."""

from __future__ import annotations

import enum

# calls.direction's vocabulary is the listener's, defined once in core.
from core.calls import Direction as Direction


class StrEnum(enum.StrEnum):
    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


class TaskType(StrEnum):
    CALL = "call"
    MEETING = "meeting"
    EMAIL = "email"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskPurpose(StrEnum):
    """Why the task exists; 'callback' tasks are unique per contact while open."""

    GENERAL = "general"
    NEW_LEAD = "new_lead"
    CALLBACK = "callback"


class CreatedBy(StrEnum):
    PERSON = "person"
    RULE = "rule"
    LISTENER = "listener"


class DealSource(StrEnum):
    INBOUND_CALL = "inbound_call"
    MISSED_CALL = "missed_call"
    MANUAL = "manual"
    REPEAT_CALL = "repeat_call"  # a known client's answered call when no deal of theirs was open


def check_in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"
