"""The writer's first step: a batch of finished calls becomes call rows, legs and contacts.

What is stored already is left alone (replays), an inbound call from a new number makes its
contact, the batch's contacts are locked (`SELECT … FOR UPDATE`, in phone order; SQLite took
the write lock at BEGIN) before anything looks at their deals or tasks, and the call rows and
legs are inserted, a fixed handful of statements for the whole batch. A call another writer
inserted meanwhile (two listeners on one database) is not an error: the insert skips it and it
counts as stored before, like a replay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ami_listener.calls import CompletedCall
from core import dialplan as v
from models.tables import Call, CallLeg, Contact
from router.directory import Directory, Manager

CallKey = tuple[str, str]  # (system, linkedid)


@dataclass(frozen=True)
class NewCall:
    """A call this batch inserted: its record, its row (detached, with its id), its contact."""

    call: CompletedCall
    row: Call
    contact: Contact | None
    made_contact: bool  # its number became a contact with this call: a new lead


@dataclass
class BatchRows:
    """What the first step did: the calls stored before, the new ones in order, the contacts."""

    earlier: dict[CallKey, int] = field(default_factory=dict)  # key -> id of the stored row
    new: dict[CallKey, NewCall] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)  # phone -> contact, locked
    managers: dict[str, Manager] = field(default_factory=dict)  # endpoint -> manager


def key_of(call: CompletedCall) -> CallKey:
    return (call.system, call.linkedid)


async def write_rows(
    session: AsyncSession, calls: Sequence[CompletedCall], directory: Directory
) -> BatchRows:
    """Insert the batch's new calls, their legs and new contacts; lock the batch's contacts."""
    batch = BatchRows(managers={m.endpoint: m for m in directory.managers})
    batch.earlier = await _already_stored(session, calls)
    fresh: dict[CallKey, CompletedCall] = {}
    for call in calls:
        if key_of(call) not in batch.earlier:
            fresh.setdefault(key_of(call), call)
    batch.contacts, creators = await _contacts_for(session, list(fresh.values()), batch.managers)
    contacts = _contacts_as_of_each_call(fresh, batch.contacts, creators)
    # Only a caller who rang in is a new lead; a number a manager talked to is just a contact.
    first_calls = {key for key in creators if fresh[key].direction == "inbound"}
    values = {key: _call_values(call, batch.managers, contacts[key]) for key, call in fresh.items()}
    ids = await _insert_calls(session, values)
    lost_race = [key for key in fresh if key not in ids]
    if lost_race:
        batch.earlier.update(await _already_stored(session, [fresh[key] for key in lost_race]))
    legs = [
        {"call_id": ids[key], **leg}
        for key, call in fresh.items()
        if key in ids
        for leg in _leg_values(call, batch.managers)
    ]
    if legs:
        await session.execute(insert(CallLeg.__table__), legs)
    for key, call in fresh.items():
        if key in ids:
            # Not in the session: nothing about it is written again at commit.
            row = Call(id=ids[key], **values[key])
            batch.new[key] = NewCall(call, row, contacts[key], key in first_calls)
    return batch


async def _already_stored(
    session: AsyncSession, calls: Sequence[CompletedCall]
) -> dict[CallKey, int]:
    keys = {key_of(call) for call in calls}
    rows = await session.execute(
        select(Call.system, Call.linkedid, Call.id).where(
            tuple_(Call.system, Call.linkedid).in_(sorted(keys))
        )
    )
    return {(system, linkedid): call_id for system, linkedid, call_id in rows}


def _dialect_insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def _contacts_for(
    session: AsyncSession, calls: list[CompletedCall], managers: dict[str, Manager]
) -> tuple[dict[str, Contact], set[CallKey]]:
    """The contacts of the calls' external numbers, locked; new numbers are created for a caller
    who rang in and for a number a manager talked to (every conversation belongs to a card).
    Also the keys of the calls that created their contact."""
    numbers: set[str] = set()
    creators: dict[str, CompletedCall] = {}
    for call in calls:
        number = contact_number(call)
        if number is None:
            continue
        numbers.add(number)
        if call.direction == "inbound" or call.answered_at is not None:
            # A manager dialling a number nobody answered does not make a contact of it.
            creators.setdefault(number, call)
    created: set[str] = set()
    if creators:
        # Sorted, so two listeners lock in the same order. Parameter lists, not
        # .values([...]): the statement is compiled once and cached, and SQLAlchemy renders
        # each batch as one multi-row INSERT ("insertmanyvalues").
        result = await session.execute(
            _dialect_insert(session)(Contact.__table__)
            .on_conflict_do_nothing(index_elements=["phone"])
            .returning(Contact.phone),
            [
                {
                    "phone": number,
                    "name": _clean_name(call.caller_name, number)
                    if call.direction == "inbound"
                    else None,
                    "responsible_manager_id": _talked_to_by(call, managers),
                    "created_at": call.started_at,
                    "updated_at": call.started_at,
                }
                for number, call in sorted(creators.items())
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
    return contacts, {key_of(creators[number]) for number in created}


def _talked_to_by(call: CompletedCall, managers: dict[str, Manager]) -> int | None:
    """A number a manager called and talked to is that manager's client (if they can take it);
    an inbound caller's responsible is the lead rules' to decide."""
    if call.direction == "inbound":
        return None
    manager = managers.get(call.manager_endpoint or "")
    return manager.id if manager is not None and manager.active else None


def contact_number(call: CompletedCall) -> str | None:
    """The number whose contact the call belongs to (none for internal calls)."""
    if call.direction == "internal":
        return None
    return call.external_number


def _contacts_as_of_each_call(
    calls: dict[CallKey, CompletedCall],
    contacts: dict[str, Contact],
    first_calls: set[CallKey],
) -> dict[CallKey, Contact | None]:
    """Each call's contact as if the calls were stored one at a time: a number this batch made
    a contact of is nobody's contact before the call that made it (an outbound call to it
    earlier in the batch stays without one, as it would have)."""
    created_by = {contact_number(calls[key]): key for key in first_calls}
    made: set[str] = set()
    result: dict[CallKey, Contact | None] = {}
    for key, call in calls.items():
        number = contact_number(call)
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
    session: AsyncSession, values: dict[CallKey, dict[str, Any]]
) -> dict[CallKey, int]:
    """Insert the call rows, one statement for the batch; returns the ids of those inserted.

    A call whose (system, linkedid) another writer stored meanwhile is skipped, not an error
    (on PostgreSQL the insert waits for that writer's commit). The ids are matched by
    (system, linkedid), so the order rows come back in does not matter.
    """
    if not values:
        return {}
    inserted = await session.execute(
        _dialect_insert(session)(Call.__table__)
        .on_conflict_do_nothing(index_elements=["system", "linkedid"])
        .returning(Call.system, Call.linkedid, Call.id),
        list(values.values()),
    )
    return {(system, linkedid): call_id for system, linkedid, call_id in inserted}


def _call_values(
    call: CompletedCall, managers: dict[str, Manager], contact: Contact | None
) -> dict[str, Any]:
    variables = call.variable_map
    answered = call.disposition == "ANSWERED"
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
        "after_hours": call.after_hours,  # read from CALLROUTER_AFTER_HOURS by the assembly
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
