"""The database writer of finished calls: rows and legs → lead rules → events, one transaction.

Idempotent on (system, linkedid): writing the same call twice changes nothing, so the listener
may retry and replay its spool freely, and a call another listener stored first counts as
stored. Calls come in batches (whatever the listener's spool holds, up to its batch size), one
transaction per batch, in three steps:

1. `call_rows.write_rows`: what is stored already, the contacts (created, locked), the call
   rows and legs;
2. `call_leads.run_lead_rules`: deals, call-back tasks, recovered misses, and what changed as
   events;
3. `outbox.write_events`: the events into the `outbox` table, in the same transaction.

After the commit the events go to the subscribers given at construction (`outbox.tell`).

Errors are sorted for the listener by `record`/`write` (`write_errors.py`): the database being
away is raised as it is (retry later); a batch the database refuses becomes `CallRefused`, so
the listener can find the refused call and set it aside while the others are written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ami_listener.calls import CompletedCall
from ami_listener.sink import CallRefused
from core.settings import LeadSettings
from crm.call_leads import run_lead_rules
from crm.call_rows import BatchRows, CallKey, key_of, write_rows
from crm.leads import LeadOutcome, LeadRules
from crm.outbox import CrmEvent, Subscriber, tell, write_events
from crm.write_errors import database_away, describe
from models.db import Database
from models.directory import load_directory
from router.directory import Directory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteResult:
    call_id: int
    created: bool  # False: the call was already stored (a replay, or another writer's)
    contact_id: int | None = None
    lead: LeadOutcome | None = None


class DbCallSink:
    """Stores `CompletedCall`s; satisfies the listener's `CallSink` protocol."""

    def __init__(
        self,
        db: Database,
        leads: LeadSettings | None = None,
        directory_ttl: float = 5.0,
        *,
        subscribers: Sequence[Subscriber] = (),
        sales_department_id: int | None = None,
    ) -> None:
        self._db = db
        # sales_department_id: routing.sales_department_id, the override of the default
        # department that leads belong to when their answerer has none.
        self._rules = LeadRules(leads or LeadSettings(), sales_department_id)
        self._subscribers = tuple(subscribers)
        # Managers and schedules change rarely; reading them once per call cost more than the
        # call's own writes. A manager added now is recognised within `directory_ttl` seconds.
        self._directory_ttl = directory_ttl
        self._directory: tuple[float, Directory] | None = None

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        """The listener's `CallSink.write`: `record` without the results."""
        await self.record(calls)

    async def record(self, calls: Sequence[CompletedCall]) -> list[WriteResult]:
        """`store_many`, its errors sorted: `CallRefused` when the database refuses the batch
        (some call in it); any other exception means it cannot write now."""
        try:
            return await self.store_many(calls)
        except Exception as exc:
            if database_away(exc):
                raise
            # A manager removed since the directory was read would refuse every call naming
            # them: the next attempt reads the directory again.
            self._directory = None
            error, detail = describe(exc)
            if len(calls) == 1 and not isinstance(exc, SQLAlchemyError):
                # A bug, not the database: its traceback (no statement in it) is for a developer.
                log.warning(
                    "the writer failed on call %s (%s)", calls[0].linkedid, error, exc_info=exc
                )
            raise CallRefused(error, detail) from None

    async def store(self, call: CompletedCall) -> WriteResult:
        """Store one call in its own transaction."""
        return (await self.store_many([call]))[0]

    async def store_many(self, calls: Sequence[CompletedCall]) -> list[WriteResult]:
        """Store `calls` in order, in one transaction: all of them or (on an error) none.

        The batch costs a fixed handful of statements (what is stored already, the contacts,
        what is open for them, the call rows and legs, the events) plus the writes its lead
        rules make. Database errors are raised as they come (see `record`).
        """
        async with self._db.transaction() as session:
            directory = await self._current_directory(session)
            batch = await write_rows(session, calls, directory)
            leads, events = await run_lead_rules(session, self._rules, batch, directory)
            written = await write_events(session, events, datetime.now(UTC))
        _log_recorded(batch, leads)
        await tell(self._subscribers, written)
        return _results(calls, batch, leads)

    async def _current_directory(self, session: AsyncSession) -> Directory:
        now = time.monotonic()
        if self._directory is None or now - self._directory[0] > self._directory_ttl:
            self._directory = (now, await load_directory(session))
        return self._directory[1]


def _results(
    calls: Sequence[CompletedCall],
    batch: BatchRows,
    leads: dict[CallKey, LeadOutcome | None],
) -> list[WriteResult]:
    results = []
    reported: set[CallKey] = set()
    for call in calls:
        key = key_of(call)
        if key in batch.earlier:
            results.append(WriteResult(batch.earlier[key], created=False))
        elif key in reported:  # the same call twice in one batch
            results.append(WriteResult(batch.new[key].row.id, created=False))
        else:
            new = batch.new[key]
            contact_id = new.contact.id if new.contact else None
            results.append(WriteResult(new.row.id, True, contact_id, leads[key]))
            reported.add(key)
    return results


def _log_recorded(batch: BatchRows, leads: dict[CallKey, LeadOutcome | None]) -> None:
    """One line per call the database now has (ids and figures, no numbers or names)."""
    for key, new in batch.new.items():
        call, lead = new.call, leads[key]
        log.info(
            "call recorded: %s %s %s %s talk=%.0fs%s",
            call.system,
            call.linkedid,
            call.direction,
            call.disposition,
            call.talk_seconds,
            " (new lead)" if lead and lead.created_deal else "",
        )


__all__ = ["CallRefused", "CrmEvent", "DbCallSink", "WriteResult"]
