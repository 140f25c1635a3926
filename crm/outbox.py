"""What the CRM did, as events: written to the `outbox` table with the change, told after commit.

An event is written in the same transaction as what it reports, so it exists exactly when the
change does; the webhook publisher reads the unpublished rows and sets `published_at`. After
the commit the writer also hands the events to its subscribers, in process (live views): a
subscriber that fails is logged and skipped, since what it reports is stored already.

Payloads hold ids only — never a phone number, a name or a recording path.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.tables import OutboxEvent

log = logging.getLogger(__name__)

CALL_RECORDED = "call.recorded"  # call_id, contact_id, deal_id
LEAD_CREATED = "lead.created"  # deal_id, contact_id, call_id: a deal the listener opened
TASK_CREATED = "task.created"  # task_id, deal_id, contact_id, call_id
TASK_UPDATED = "task.updated"  # task_id, call_id: an open call-back got one more missed call
TASK_CLOSED = "task.closed"  # task_id, call_id: a call-back done by this call


@dataclass(frozen=True)
class CrmEvent:
    """One outbox row: `id` orders the events (None until written)."""

    kind: str
    payload: Mapping[str, int | None]
    id: int | None = None
    created_at: datetime | None = None


Subscriber = Callable[[Sequence[CrmEvent]], Awaitable[None]]


async def write_events(
    session: AsyncSession, events: Sequence[CrmEvent], now: datetime
) -> list[CrmEvent]:
    """Insert `events` (one statement for them all); returns them with their ids, in id order."""
    if not events:
        return []
    table: Table = OutboxEvent.__table__  # type: ignore[assignment]
    rows = await session.execute(
        insert(table).returning(table.c.id, table.c.kind, table.c.payload),
        [{"kind": e.kind, "payload": dict(e.payload), "created_at": now} for e in events],
    )
    return sorted(
        (CrmEvent(kind, payload, event_id, now) for event_id, kind, payload in rows),
        key=lambda e: e.id or 0,
    )


async def tell(subscribers: Sequence[Subscriber], events: Sequence[CrmEvent]) -> None:
    """Hand committed events to every subscriber; one failing never stops the others."""
    if not events:
        return
    for subscriber in subscribers:
        try:
            await subscriber(events)
        except Exception as exc:
            log.error(
                "event subscriber %s failed on %d event(s) (%s); they stay in the outbox",
                getattr(subscriber, "__qualname__", type(subscriber).__name__),
                len(events),
                type(exc).__name__,
            )
