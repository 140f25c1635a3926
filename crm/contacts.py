"""Contacts: one row per E.164 number, with a name and a responsible manager."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.inputs import contact_id_in, no_contact, phone_or_error
from crm.ownership import Moved, assign_client, check_assignable
from models.errors import Duplicate, InputError
from models.tables import Contact, Manager


async def find_by_phone(session: AsyncSession, phone_e164: str) -> Contact | None:
    return await session.scalar(select(Contact).where(Contact.phone == phone_e164))


async def get_contact(session: AsyncSession, ref: str, region: str) -> Contact:
    """A contact by id ('#12' or '12' when short) or by any spelling of its phone number
    (`crm.inputs.contact_id_in`'s rules)."""
    contact_id = contact_id_in(ref)
    if contact_id is not None:
        contact = await session.get(Contact, contact_id)
        if contact is not None:
            return contact
    contact = await find_by_phone(session, phone_or_error(ref, region))
    if contact is None:
        raise no_contact(ref)
    return contact


async def add_contact(
    session: AsyncSession,
    phone: str,
    *,
    region: str,
    name: str | None = None,
    responsible: Manager | None = None,
) -> Contact:
    e164 = phone_or_error(phone, region)
    if responsible is not None:
        check_assignable(responsible, "clients")
    if await find_by_phone(session, e164):
        raise Duplicate(f"contact {e164} already exists")
    contact = Contact(
        phone=e164,
        name=(name or "").strip() or None,
        responsible_manager_id=responsible.id if responsible else None,
    )
    session.add(contact)
    await session.flush()
    return contact


async def assign_responsible(
    session: AsyncSession,
    contact: Contact,
    manager: Manager,
    *,
    closed_statuses: Sequence[str],
    now: datetime,
    keep_tasks: bool = False,
    actor: str = "cli",
) -> Moved:
    """Make `manager` responsible for the client: the contact, its open deals and (unless
    `keep_tasks`) their open tasks — the ownership model's one way (crm/ownership.py)."""
    return await assign_client(
        session,
        contact,
        manager,
        closed_statuses=closed_statuses,
        now=now,
        keep_tasks=keep_tasks,
        actor=actor,
    )


# `contacts import` (batched, with an update mode): crm/contact_import.py.
# `contacts list`: crm/lists.py, read without the ORM.


async def rename_contact(session: AsyncSession, contact: Contact, name: str) -> None:
    """Give the contact a new name (one line, within the column's length)."""
    value = name.strip()
    if not value:
        raise InputError("a new name is needed (it cannot be empty)")
    contact.name = value  # checked by models.limits on the way in
    await session.flush()
