"""Issue #14, point 4: every answered call lands on a deal card.

A known client with no open deal who calls and gets through gets a new deal (status new, source
"repeat call") for their responsible manager, and the call is on it; `leads.deal_for_repeat_calls
= false` turns that off.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.settings import LeadSettings
from crm import deals
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Call, Contact, Deal, Manager, Task
from tests.sink.test_call_sink import CLIENT, T0, inbound, office  # noqa: F401

ANNA, BORIS = 1, 2


async def _client_with_a_won_deal(db: Database) -> int:
    """Анна's client whose only deal is won; returns the deal's id."""
    async with db.transaction() as s:
        contact = Contact(phone=CLIENT, name="Иван", responsible_manager_id=ANNA)
        s.add(contact)
        await s.flush()
        old = await deals.create_deal(s, contact, source=deals.DealSource.MANUAL, now=T0)
        leads = LeadSettings()
        await deals.set_status(
            s,
            old,
            "won",
            statuses=leads.deal_statuses,
            closed_statuses=leads.closed_statuses,
            now=T0,
        )
        return old.id


async def test_a_known_client_calling_again_opens_a_repeat_call_deal(
    office: Database,  # noqa: F811
) -> None:
    won = await _client_with_a_won_deal(office)
    later = T0 + timedelta(days=3)
    # Борис happens to answer; the client stays Анна's, and so does the new deal.
    result = await DbCallSink(office).store(inbound("rc.1", at=later, answered_by="PJSIP/102"))
    assert result.lead.created_deal
    async with office.reader() as s:
        new = (await s.scalars(select(Deal).where(Deal.id != won))).all()
        call = await s.get(Call, result.call_id)
        tasks = (await s.scalars(select(Task))).all()
    assert [(d.source, d.status, d.responsible_manager_id) for d in new] == [
        ("repeat_call", "new", ANNA)
    ]
    assert call.deal_id == new[0].id
    assert tasks == []  # a repeat call is a card for the conversation, not a new lead to qualify
    # Another call while that deal is open goes onto it: no second deal.
    again = await DbCallSink(office).store(
        inbound("rc.2", at=later + timedelta(hours=1), answered_by="PJSIP/101")
    )
    assert not again.lead.created_deal and again.lead.deal_id == new[0].id


async def test_repeat_call_deals_can_be_turned_off(office: Database) -> None:  # noqa: F811
    won = await _client_with_a_won_deal(office)
    sink = DbCallSink(office, LeadSettings(deal_for_repeat_calls=False))
    result = await sink.store(inbound("rc.3", at=T0 + timedelta(days=3), answered_by="PJSIP/101"))
    async with office.reader() as s:
        assert [d.id for d in await s.scalars(select(Deal))] == [won]
        assert (await s.get(Call, result.call_id)).deal_id is None


async def test_a_client_whose_manager_left_gets_the_repeat_deal_by_the_lead_rule(
    office: Database,  # noqa: F811
) -> None:
    won = await _client_with_a_won_deal(office)
    async with office.transaction() as s:
        (await s.get(Manager, ANNA)).active = False
    result = await DbCallSink(office).store(
        inbound("rc.4", at=T0 + timedelta(days=3), answered_by="PJSIP/102")
    )
    async with office.reader() as s:
        contact = await s.scalar(select(Contact))
        new = (await s.scalars(select(Deal).where(Deal.id != won))).all()
    # Борис answered: he is a manager, so the client and the new deal are his — not Анна's.
    assert contact.responsible_manager_id == BORIS
    assert [(d.source, d.responsible_manager_id) for d in new] == [("repeat_call", BORIS)]
    assert result.lead.deal_id == new[0].id
