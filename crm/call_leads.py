"""The writer's second step: the lead rules run for each new call, in order, and say what they did.

The open work of the batch's contacts (open deals, open call-backs, unrecovered misses) is read
once; the rules keep it current as they go, so each call costs only the writes its rules make.
What each call changed becomes events for the outbox (ids only): the call recorded, a lead
created, a task created, a call-back bumped or closed.
"""

from __future__ import annotations

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_rows import BatchRows, CallKey, NewCall
from crm.leads import LeadOutcome, LeadRules, OpenWork
from crm.outbox import (
    CALL_RECORDED,
    LEAD_CREATED,
    TASK_CLOSED,
    TASK_CREATED,
    TASK_UPDATED,
    CrmEvent,
)
from models.tables import Call, Task
from router.directory import Directory


async def run_lead_rules(
    session: AsyncSession, rules: LeadRules, batch: BatchRows, directory: Directory
) -> tuple[dict[CallKey, LeadOutcome | None], list[CrmEvent]]:
    """Each new call's lead outcome, and the events of the whole batch in the calls' order."""
    work = await OpenWork.load(
        session,
        {contact.id for contact in batch.contacts.values()},
        rules.settings.closed_statuses,
    )
    outcomes: dict[CallKey, LeadOutcome | None] = {}
    events: list[CrmEvent] = []
    for key, new in batch.new.items():
        callback = work.callbacks.get(new.contact.id) if new.contact else None
        lead = await _apply(session, rules, work, new, batch, directory)
        outcomes[key] = lead
        events.extend(_events(new, lead, callback))
    deal_of_call = [
        {"call": batch.new[key].row.id, "deal": lead.deal_id}
        for key, lead in outcomes.items()
        if lead is not None and lead.deal_id is not None
    ]
    if deal_of_call:
        calls = Call.__table__
        await session.execute(
            update(calls).where(calls.c.id == bindparam("call")).values(deal_id=bindparam("deal")),
            deal_of_call,
        )
    return outcomes, events


async def _apply(
    session: AsyncSession,
    rules: LeadRules,
    work: OpenWork,
    new: NewCall,
    batch: BatchRows,
    directory: Directory,
) -> LeadOutcome | None:
    call, row, contact = new.call, new.row, new.contact
    if contact is None:
        return None
    if call.direction == "inbound":
        if row.missed:
            return await rules.missed_inbound(session, work, contact, row, directory)
        answerer = batch.managers.get(call.answered_by or "")
        return await rules.answered_inbound(
            session, work, contact, new.made_contact, answerer, row, directory
        )
    if call.direction == "outbound":
        deal = work.deals.get(contact.id)
        recovered, attempt_task = 0, None
        if call.disposition == "ANSWERED":
            recovered, attempt_task = await rules.recover(session, work, contact, row)
        return LeadOutcome(
            deal.id if deal else None, task_id=attempt_task, recovered_calls=recovered
        )
    return None


def _events(new: NewCall, lead: LeadOutcome | None, callback: Task | None) -> list[CrmEvent]:
    """What one call changed; `callback` is its contact's open call-back before the rules ran."""
    call_id = new.row.id
    contact_id = new.contact.id if new.contact else None
    deal_id = lead.deal_id if lead else None
    events = [
        CrmEvent(CALL_RECORDED, {"call_id": call_id, "contact_id": contact_id, "deal_id": deal_id})
    ]
    if lead is None:
        return events
    if lead.created_deal:
        events.append(
            CrmEvent(
                LEAD_CREATED, {"deal_id": deal_id, "contact_id": contact_id, "call_id": call_id}
            )
        )
    if callback is not None and callback.closed_by_call_id == call_id:
        events.append(CrmEvent(TASK_CLOSED, {"task_id": callback.id, "call_id": call_id}))
    if lead.task_id is not None:
        if callback is not None and lead.task_id == callback.id:
            events.append(CrmEvent(TASK_UPDATED, {"task_id": lead.task_id, "call_id": call_id}))
        else:
            payload = {
                "task_id": lead.task_id,
                "deal_id": deal_id,
                "contact_id": contact_id,
                "call_id": call_id,
            }
            events.append(CrmEvent(TASK_CREATED, payload))
    return events
