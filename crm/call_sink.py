"""The database sink for finished calls: one row per call, then the lead rules, one transaction.

Idempotent on (system, linkedid): writing the same call twice changes nothing, so the listener
may retry and replay its spool freely. The contact rows are locked (`SELECT … FOR UPDATE`, in
phone order; SQLite takes the write lock at BEGIN) before any deal or task is looked at, so two
listeners that see the same new number at the same moment create one contact, one deal and one
call-back task. Calls come in batches (whatever the listener's spool holds, up to its batch
size), one transaction per batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ami_listener.calls import CompletedCall
from core import dialplan as v
from core.settings import LeadSettings
from crm.leads import LeadOutcome, LeadRules, OpenWork
from models.db import Database
from models.directory import load_directory
from models.tables import Call, CallLeg, Contact
from router.directory import Directory, Manager

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
        """Store `calls` in order, in one transaction: all of them or (on an error) none.

        The batch costs a fixed handful of statements (what is stored already, the contacts,
        what is open for them, the call rows and legs) plus the writes its lead rules make.
        """
        async with self._db.transaction() as session:
            stored = await self._already_stored(session, calls)
            fresh: dict[tuple[str, str], CompletedCall] = {}
            for call in calls:
                key = (call.system, call.linkedid)
                if key not in stored:
                    fresh.setdefault(key, call)
            directory = await self._current_directory(session)
            managers = {m.endpoint: m for m in directory.managers}
            contacts, first_calls = await self._contacts_for(session, list(fresh.values()))
            call_contacts = _contacts_as_of_each_call(fresh, contacts, first_calls)
            work = await OpenWork.load(
                session,
                {contact.id for contact in contacts.values()},
                self._rules.settings.closed_statuses,
            )
            rows = await _insert_calls(session, fresh, call_contacts, managers)
            deal_of_call: list[dict[str, int]] = []
            results = []
            for call in calls:
                key = (call.system, call.linkedid)
                if key in stored:
                    results.append(WriteResult(stored[key], created=False))
                    continue
                row = rows[key]
                if fresh.pop(key, None) is None:  # the same call twice in one batch
                    results.append(WriteResult(row.id, created=False))
                    continue
                contact = call_contacts[key]
                lead = await self._apply_lead_rules(
                    session, work, call, row, contact, first_calls, managers, directory
                )
                if lead is not None and lead.deal_id is not None:
                    deal_of_call.append({"call": row.id, "deal": lead.deal_id})
                log.info(
                    "call recorded: %s %s %s %s talk=%.0fs%s",
                    call.system,
                    call.linkedid,
                    call.direction,
                    call.disposition,
                    call.talk_seconds,
                    " (new lead)" if lead and lead.created_deal else "",
                )
                results.append(WriteResult(row.id, True, contact.id if contact else None, lead))
            if deal_of_call:
                calls_table = Call.__table__
                await session.execute(
                    update(calls_table)
                    .where(calls_table.c.id == bindparam("call"))
                    .values(deal_id=bindparam("deal")),
                    deal_of_call,
                )
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

    async def _contacts_for(
        self, session: AsyncSession, calls: list[CompletedCall]
    ) -> tuple[dict[str, Contact], set[tuple[str, str]]]:
        """The contacts of the calls' external numbers, locked; new numbers that rang in are
        created. Also the keys of the calls that created their contact (new leads)."""
        numbers: set[str] = set()
        first_inbound: dict[str, CompletedCall] = {}
        for call in calls:
            number = _contact_number(call)
            if number is None:
                continue
            numbers.add(number)
            if call.direction == "inbound":
                first_inbound.setdefault(number, call)
        created: set[str] = set()
        if first_inbound:
            # A manager dialling out does not make a contact of every number they call: only
            # inbound callers become contacts. Sorted, so two listeners lock in the same order.
            # Parameter lists, not .values([...]): the statement is compiled once and cached,
            # and SQLAlchemy renders each batch as one multi-row INSERT ("insertmanyvalues").
            insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            result = await session.execute(
                insert(Contact.__table__)
                .on_conflict_do_nothing(index_elements=["phone"])
                .returning(Contact.phone),
                [
                    {
                        "phone": number,
                        "name": _clean_name(call.caller_name, number),
                        "created_at": call.started_at,
                        "updated_at": call.started_at,
                    }
                    for number, call in sorted(first_inbound.items())
                ],
            )
            created = set(result.scalars())
        contacts: dict[str, Contact] = {}
        if numbers:
            for contact in await session.scalars(
                select(Contact)
                .where(Contact.phone.in_(sorted(numbers)))
                .order_by(Contact.phone)
                .with_for_update()
                .execution_options(populate_existing=True)
            ):
                contacts[contact.phone] = contact
        firsts = (first_inbound[number] for number in created)
        return contacts, {(call.system, call.linkedid) for call in firsts}

    async def _apply_lead_rules(
        self,
        session: AsyncSession,
        work: OpenWork,
        call: CompletedCall,
        row: Call,
        contact: Contact | None,
        first_calls: set[tuple[str, str]],
        managers: dict[str, Manager],
        directory: Directory,
    ) -> LeadOutcome | None:
        if contact is None:
            return None
        if call.direction == "inbound":
            if row.missed:
                return await self._rules.missed_inbound(session, work, contact, row, directory)
            answerer = managers.get(call.answered_by or "")
            is_new = (call.system, call.linkedid) in first_calls
            return await self._rules.answered_inbound(
                session, work, contact, is_new, answerer, row, directory
            )
        if call.direction == "outbound":
            deal = work.deals.get(contact.id)
            recovered = 0
            if call.disposition == "ANSWERED":
                recovered = await self._rules.recover(session, work, contact, row)
            return LeadOutcome(deal.id if deal else None, recovered_calls=recovered)
        return None


def _contact_number(call: CompletedCall) -> str | None:
    """The number whose contact the call belongs to (none for internal calls)."""
    if call.direction == "internal":
        return None
    return call.external_number


def _contacts_as_of_each_call(
    calls: dict[tuple[str, str], CompletedCall],
    contacts: dict[str, Contact],
    first_calls: set[tuple[str, str]],
) -> dict[tuple[str, str], Contact | None]:
    """Each call's contact as if the calls were stored one at a time: a number this batch made
    a contact of is nobody's contact before the call that made it (an outbound call to it
    earlier in the batch stays without one, as it would have)."""
    created_by = {_contact_number(calls[key]): key for key in first_calls}
    made: set[str] = set()
    result: dict[tuple[str, str], Contact | None] = {}
    for key, call in calls.items():
        number = _contact_number(call)
        contact = contacts.get(number) if number is not None else None
        if contact is not None and number in created_by:
            if created_by[number] == key:
                made.add(number)
            elif number not in made:
                contact = None
        result[key] = contact
    return result


def _clean_name(name: str | None, number: str) -> str | None:
    if not name:
        return None
    name = " ".join(name.split())[:200]
    if name in {number, number.lstrip("+")} or name.lower() in {"unknown", "anonymous"}:
        return None
    return name


async def _insert_calls(
    session: AsyncSession,
    calls: dict[tuple[str, str], CompletedCall],
    contacts: dict[tuple[str, str], Contact | None],
    managers: dict[str, Manager],
) -> dict[tuple[str, str], Call]:
    """Insert the call rows and their legs, two statements for the whole batch (the returned
    ids are matched by (system, linkedid), so the order rows come back in does not matter).

    Returns each call's row as a detached `Call` (with its id) for the lead rules to read; it
    is not in the session, so nothing about it is written again at commit.
    """
    if not calls:
        return {}
    values = {key: _call_values(call, managers, contacts[key]) for key, call in calls.items()}
    inserted = await session.execute(
        insert(Call.__table__).returning(Call.system, Call.linkedid, Call.id),
        list(values.values()),
    )
    ids = {(system, linkedid): call_id for system, linkedid, call_id in inserted}
    legs = [
        {"call_id": ids[key], **leg}
        for key, call in calls.items()
        for leg in _leg_values(call, managers)
    ]
    if legs:
        await session.execute(insert(CallLeg.__table__), legs)
    return {key: Call(id=ids[key], **row) for key, row in values.items()}


def _call_values(
    call: CompletedCall, managers: dict[str, Manager], contact: Contact | None
) -> dict[str, Any]:
    variables = call.variable_map
    answered = call.disposition == "ANSWERED"
    after_hours = call.after_hours or variables.get(v.AFTER_HOURS, "").lower() in _TRUE
    answerer = managers.get(call.answered_by or "") if call.direction == "inbound" else None
    placed_by = managers.get(call.manager_endpoint or "")
    return {
        "system": call.system,
        "linkedid": call.linkedid,
        "direction": call.direction,
        "external_number": call.external_number,
        "external_number_raw": call.external_number_raw,
        "caller_name": call.caller_name,
        "dialed_number": call.dialed_number,
        "started_at": call.started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "ring_seconds": call.ring_seconds,
        "talk_seconds": call.talk_seconds,
        "disposition": call.disposition,
        "missed": call.direction == "inbound" and not answered,
        "abandoned": call.abandoned,
        "abandon_seconds": call.abandon_seconds,
        "after_hours": after_hours,
        "manager_id": (answerer or placed_by).id if (answerer or placed_by) else None,
        "answered_by_manager_id": answerer.id if answerer else None,
        "answered_endpoint": call.answered_by,
        "recording_file": call.recording_file,
        "route_step": variables.get(v.STEP),
        "plan_id": variables.get(v.PLAN_ID),
        "variables": dict(call.variables),
        "contact_id": contact.id if contact else None,
    }


def _leg_values(call: CompletedCall, managers: dict[str, Manager]) -> list[dict[str, Any]]:
    return [
        {
            "endpoint": leg.endpoint,
            "manager_id": managers[leg.endpoint].id if leg.endpoint in managers else None,
            "ring_started_at": leg.ring_started_at,
            "ring_seconds": leg.ring_seconds,
            "answered": leg.answered,
            "dial_status": leg.dial_status,
        }
        for leg in call.legs
    ]
