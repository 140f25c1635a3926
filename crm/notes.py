"""Notes on a deal: what a person writes on the card, and why a task was rescheduled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import InputError, MissingField
from models.tables import NOTE_KINDS, DealNote, Manager, User

MAX_NOTE = 5000


@dataclass(frozen=True)
class NoteLine:
    id: int
    at: datetime
    kind: str  # "note" | "reschedule"
    text: str
    author: str | None  # the manager's name, else the user's log-in


def check_note(text: str | None) -> str:
    """The note's text, stripped; refused when empty or longer than MAX_NOTE characters."""
    value = (text or "").strip()
    if not value:
        raise MissingField("text", "note")
    if len(value) > MAX_NOTE:
        raise InputError(f"a note is at most {MAX_NOTE} characters long ({len(value)} given)")
    return value


async def add_note(
    session: AsyncSession,
    deal_id: int,
    text: str | None,
    *,
    now: datetime,
    kind: str = "note",
    author_user_id: int | None = None,
    author_manager_id: int | None = None,
) -> DealNote:
    if kind not in NOTE_KINDS:
        raise InputError(f"unknown note kind {kind!r}")
    note = DealNote(
        deal_id=deal_id,
        kind=kind,
        text=check_note(text),
        author_user_id=author_user_id,
        author_manager_id=author_manager_id,
        created_at=now,
    )
    session.add(note)
    await session.flush()
    return note


# Built once: a deal card asks it on every click.
_DEAL_NOTES = (
    select(DealNote.id, DealNote.created_at, DealNote.kind, DealNote.text, Manager.name, User.login)
    .outerjoin(Manager, Manager.id == DealNote.author_manager_id)
    .outerjoin(User, User.id == DealNote.author_user_id)
    .where(DealNote.deal_id == bindparam("deal_id"))
    .order_by(DealNote.created_at, DealNote.id)
)


async def deal_notes(session: AsyncSession, deal_id: int) -> tuple[NoteLine, ...]:
    """The deal's notes, oldest first."""
    rows = await session.execute(_DEAL_NOTES, {"deal_id": deal_id})
    return tuple(
        NoteLine(note_id, at, kind, text, manager or login)
        for note_id, at, kind, text, manager, login in rows.all()
    )
