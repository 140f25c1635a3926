"""The deal card and the call card: read once, plain data, the same for the CLI and a web page."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from core.settings import LeadSettings
from crm import deals, views
from crm.call_sink import DbCallSink
from models.db import Database
from models.errors import NotFound
from tests.sink.test_call_sink import CLIENT, T0, inbound, office  # noqa: F401

RECORDINGS = "/var/spool/asterisk/monitor"


async def _missed_then_answered(db: Database) -> None:
    """A new number misses (lead, deal, call-back), calls again an hour later; Борис answers."""
    sink = DbCallSink(db)
    await sink.store(inbound("v.1", answered_by=None))
    again = T0 + timedelta(hours=1)
    await sink.store(
        inbound("v.2", at=again, answered_by="PJSIP/102", rung=("PJSIP/101", "PJSIP/102"))
    )


async def test_the_deal_card_shows_the_whole_story(office: Database) -> None:  # noqa: F811
    db = office
    await _missed_then_answered(db)
    leads = LeadSettings()
    async with db.transaction() as s:
        await deals.set_status(
            s,
            await deals.get_deal(s, 1),
            "proposal_sent",
            statuses=leads.deal_statuses,
            closed_statuses=leads.closed_statuses,
            now=T0 + timedelta(hours=2),
            actor="manager:Борис",
        )
    async with db.reader() as s:
        card = await views.deal_card(s, 1)

    # Issue #14: the missed new number's deal and call-back went to a manager (Анна, by the fair
    # rule), not to the head of sales.
    assert (card.status, card.source, card.responsible) == ("proposal_sent", "missed_call", "Анна")
    assert card.contact == views.CardContact(1, CLIENT, "Иван Петров")
    assert [(h.at, h.from_status, h.to_status, h.by) for h in card.history] == [
        (T0, None, "new", "listener"),
        (T0 + timedelta(hours=2), "new", "proposal_sent", "manager:Борис"),
    ]
    assert [(t.status, t.responsible, t.close_reason) for t in card.tasks] == [
        ("done", "Анна", "client called again: call #2 answered"),  # the call-back
        ("open", "Анна", None),  # the automation rule's, on proposal_sent
    ]
    assert card.calls == (
        views.CallLine(
            1,
            T0,
            "inbound",
            "NO ANSWER",
            None,
            20.0,
            0.0,
            f"{RECORDINGS}/in-v.1.wav",
            missed=True,
            recovered_by_call_id=2,
        ),
        views.CallLine(
            2,
            T0 + timedelta(hours=1),
            "inbound",
            "ANSWERED",
            "Борис",
            4.0,
            61.0,
            f"{RECORDINGS}/in-v.2.wav",
        ),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        card.status = "won"  # type: ignore[misc]


async def test_the_call_card_names_who_was_rung(office: Database) -> None:  # noqa: F811
    db = office
    await _missed_then_answered(db)
    async with db.reader() as s:
        missed = await views.call_card(s, 1)
        answered = await views.call_card(s, 2)
    assert (missed.missed, missed.recovered_at, missed.answered_by) == (
        True,
        T0 + timedelta(hours=1, seconds=4),  # when Борис answered the second call
        None,
    )
    assert (answered.answered_by, answered.manager, answered.deal_id) == ("Борис", "Борис", 1)
    assert (answered.ring_seconds, answered.talk_seconds) == (4.0, 61.0)
    assert answered.recording == f"{RECORDINGS}/in-v.2.wav"
    assert answered.legs == (
        views.LegLine("PJSIP/101", "Анна", 10.0, False, "CANCEL"),
        views.LegLine("PJSIP/102", "Борис", 3.0, True, "ANSWER"),
    )


async def test_a_card_that_does_not_exist_is_not_found(office: Database) -> None:  # noqa: F811
    async with office.reader() as s:
        with pytest.raises(NotFound, match="no deal #7"):
            await views.deal_card(s, 7)
        with pytest.raises(NotFound, match="no call #7"):
            await views.call_card(s, 7)
