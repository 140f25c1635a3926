"""The database sink for finished calls: one row per call, then the lead rules, one transaction.

Idempotent on (system, linkedid): writing the same call twice changes nothing, so the listener
may retry and replay its spool freely. The contact row is locked (`SELECT … FOR UPDATE`; SQLite
takes the write lock at BEGIN) before any deal or task is looked at, so two listeners that see
the same new number at the same moment create one contact, one deal and one call-back task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from agi_scripts import variables as v
from ami_listener.calls import CompletedCall
from callrouter.settings import LeadSettings
from router.directory import Directory, Manager

from .db import Database
from .directory import load_directory
from .leads import LeadOutcome, LeadRules
from .tables import Call, CallLeg, Contact

log = logging.getLogger(__name__)

_TRUE = {"1", "yes", "true"}


@dataclass(frozen=True)
class WriteResult:
    call_id: int
    created: bool  # False: the call was already stored (a replay)
    contact_id: int | None = None
    lead: LeadOutcome | None = None


class DbCallSink:
    """Stores `CompletedCall`s; satisfies the listener's `CallSink` protocol."""

    def __init__(
        self, db: Database, leads: LeadSettings | None = None, directory_ttl: float = 5.0
    ) -> None:
        self._db = db
        self._rules = LeadRules(leads or LeadSettings())
        # Managers and schedules change rarely; reading them once per call cost more than the
        # call's own writes. A manager added now is recognised within `directory_ttl` seconds.
        self._directory_ttl = directory_ttl
        self._directory: tuple[float, Directory] | None = None

    async def _current_directory(self, session: AsyncSession) -> Directory:
        now = time.monotonic()
        if self._directory is None or now - self._directory[0] > self._directory_ttl:
            self._directory = (now, await load_directory(session))
        return self._directory[1]

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        await self.store_many(calls)

    async def store(self, call: CompletedCall) -> WriteResult:
        """Store one call in its own transaction."""
        return (await self.store_many([call]))[0]

    async def store_many(self, calls: Sequence[CompletedCall]) -> list[WriteResult]:
        """Store `calls` in order, in one transaction: all of them or (on an error) none."""
        async with self._db.transaction() as session:
            stored = await self._already_stored(session, calls)
            directory = await self._current_directory(session)
            managers = {m.endpoint: m for m in directory.managers}
            results = []
            for call in calls:
                existing = stored.get((call.system, call.linkedid))
                if existing is not None:
                    results.append(WriteResult(existing, created=False))
                    continue
                result = await self._store(session, call, managers, directory)
                stored[(call.system, call.linkedid)] = result.call_id
                results.append(result)
            return results

    async def _already_stored(
        self, session: AsyncSession, calls: Sequence[CompletedCall]
    ) -> dict[tuple[str, str], int]:
        keys = {(call.system, call.linkedid) for call in calls}
        rows = await session.execute(
            select(Call.system, Call.linkedid, Call.id).where(
                tuple_(Call.system, Call.linkedid).in_(sorted(keys))
            )
        )
        return {(system, linkedid): call_id for system, linkedid, call_id in rows}

    async def _store(
        self,
        session: AsyncSession,
        call: CompletedCall,
        managers: dict[str, Manager],
        directory: Directory,
    ) -> WriteResult:
        contact, is_new = await self._contact_for(session, call)
        row = _call_row(call, managers, contact)
        session.add(row)
        await session.flush()
        lead = await self._apply_lead_rules(
            session, call, row, contact, is_new, managers, directory
        )
        if lead is not None and lead.deal_id is not None:
            row.deal_id = lead.deal_id
        await session.flush()
        log.info(
            "call recorded: %s %s %s %s talk=%.0fs%s",
            call.system,
            call.linkedid,
            call.direction,
            call.disposition,
            call.talk_seconds,
            " (new lead)" if lead and lead.created_deal else "",
        )
        return WriteResult(row.id, True, contact.id if contact else None, lead)

    async def _contact_for(
        self, session: AsyncSession, call: CompletedCall
    ) -> tuple[Contact | None, bool]:
        number = call.external_number
        if number is None or call.direction == "internal":
            return None, False
        if call.direction == "outbound":
            # A manager dialling out does not make a contact of every number they call.
            contact = await session.scalar(
                select(Contact).where(Contact.phone == number).with_for_update()
            )
            return contact, False
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        created = await session.execute(
            insert(Contact)
            .values(
                phone=number,
                name=_clean_name(call.caller_name, number),
                created_at=call.started_at,
                updated_at=call.started_at,
            )
            .on_conflict_do_nothing(index_elements=["phone"])
            .returning(Contact.id)
        )
        is_new = created.scalar() is not None
        contact = await session.scalar(
            select(Contact)
            .where(Contact.phone == number)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return contact, is_new

    async def _apply_lead_rules(
        self,
        session: AsyncSession,
        call: CompletedCall,
        row: Call,
        contact: Contact | None,
        is_new: bool,
        managers: dict[str, Manager],
        directory: Directory,
    ) -> LeadOutcome | None:
        if contact is None:
            return None
        if call.direction == "inbound":
            if row.missed:
                return await self._rules.missed_inbound(session, contact, row, directory)
            answerer = managers.get(call.answered_by or "")
            return await self._rules.answered_inbound(
                session, contact, is_new, answerer, row, directory
            )
        if call.direction == "outbound":
            deal = await self._rules.open_deal(session, contact)
            recovered = 0
            if call.disposition == "ANSWERED":
                recovered = await self._rules.recover(session, contact, row)
            return LeadOutcome(deal.id if deal else None, recovered_calls=recovered)
        return None


def _clean_name(name: str | None, number: str) -> str | None:
    if not name:
        return None
    name = " ".join(name.split())[:200]
    if name in {number, number.lstrip("+")} or name.lower() in {"unknown", "anonymous"}:
        return None
    return name


def _call_row(call: CompletedCall, managers: dict[str, Manager], contact: Contact | None) -> Call:
    variables = call.variable_map
    answered = call.disposition == "ANSWERED"
    after_hours = call.after_hours or variables.get(v.AFTER_HOURS, "").lower() in _TRUE
    answerer = managers.get(call.answered_by or "") if call.direction == "inbound" else None
    placed_by = managers.get(call.manager_endpoint or "")
    row = Call(
        system=call.system,
        linkedid=call.linkedid,
        direction=call.direction,
        external_number=call.external_number,
        external_number_raw=call.external_number_raw,
        caller_name=call.caller_name,
        dialed_number=call.dialed_number,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        ring_seconds=call.ring_seconds,
        talk_seconds=call.talk_seconds,
        disposition=call.disposition,
        missed=call.direction == "inbound" and not answered,
        abandoned=call.abandoned,
        abandon_seconds=call.abandon_seconds,
        after_hours=after_hours,
        manager_id=(answerer or placed_by).id if (answerer or placed_by) else None,
        answered_by_manager_id=answerer.id if answerer else None,
        answered_endpoint=call.answered_by,
        recording_file=call.recording_file,
        route_step=variables.get(v.STEP),
        plan_id=variables.get(v.PLAN_ID),
        variables=dict(call.variables),
        contact_id=contact.id if contact else None,
    )
    row.legs = [
        CallLeg(
            endpoint=leg.endpoint,
            manager_id=managers[leg.endpoint].id if leg.endpoint in managers else None,
            ring_started_at=leg.ring_started_at,
            ring_seconds=leg.ring_seconds,
            answered=leg.answered,
            dial_status=leg.dial_status,
        )
        for leg in call.legs
    ]
    return row
