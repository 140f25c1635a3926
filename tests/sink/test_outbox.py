"""What the writer did, as events: in the outbox with the change, told to subscribers after commit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.call_sink import DbCallSink
from crm.outbox import CrmEvent
from models.db import Database
from models.tables import Call, Deal, OutboxEvent, Task

from .test_call_sink import CLIENT, T0, add_office, inbound, outbound


class Listening:
    """A subscriber that keeps every batch of events it was told."""

    def __init__(self) -> None:
        self.told: list[list[CrmEvent]] = []

    async def __call__(self, events: Sequence[CrmEvent]) -> None:
        self.told.append(list(events))


async def outbox(db: Database) -> list[OutboxEvent]:
    async with db.reader() as s:
        return list(await s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def kinds(events: Sequence[CrmEvent | OutboxEvent]) -> list[str]:
    return [e.kind for e in events]


@pytest.fixture
async def office(db: Database) -> Database:
    await add_office(db)
    return db


async def test_a_new_lead_is_told_as_a_call_a_lead_and_a_task_with_ids_only(
    office: Database,
) -> None:
    listening = Listening()
    sink = DbCallSink(office, subscribers=[listening])
    result = await sink.store(inbound("8001.1", answered_by="PJSIP/102"))
    async with office.reader() as s:
        deal = await s.scalar(select(Deal))
        task = await s.scalar(select(Task))
    rows = await outbox(office)
    assert [(r.kind, r.payload) for r in rows] == [
        ("call.recorded", {"call_id": result.call_id, "contact_id": 1, "deal_id": deal.id}),
        ("lead.created", {"deal_id": deal.id, "contact_id": 1, "call_id": result.call_id}),
        (
            "task.created",
            {"task_id": task.id, "deal_id": deal.id, "contact_id": 1, "call_id": result.call_id},
        ),
    ]
    assert all(r.published_at is None and r.created_at is not None for r in rows)
    text = json.dumps([r.payload for r in rows])
    assert CLIENT.lstrip("+") not in text and "Иван" not in text  # ids, never personal data
    # The subscribers heard the same events, with the outbox ids, after the commit.
    assert [[(e.id, e.kind, dict(e.payload)) for e in told] for told in listening.told] == [
        [(r.id, r.kind, r.payload) for r in rows]
    ]


async def test_misses_and_the_call_back_are_told_as_task_changes(office: Database) -> None:
    listening = Listening()
    sink = DbCallSink(office, subscribers=[listening])
    first = await sink.store(inbound("8002.1", answered_by=None))
    second = await sink.store(inbound("8002.2", answered_by=None, at=T0 + timedelta(minutes=2)))
    back = await sink.store(outbound("8002.3", at=T0 + timedelta(minutes=10)))
    assert [kinds(told) for told in listening.told] == [
        ["call.recorded", "lead.created", "task.created"],
        ["call.recorded", "task.updated"],
        ["call.recorded", "task.closed"],
    ]
    task_id = first.lead.task_id
    assert dict(listening.told[1][1].payload) == {"task_id": task_id, "call_id": second.call_id}
    assert dict(listening.told[2][1].payload) == {"task_id": task_id, "call_id": back.call_id}


async def test_a_batch_is_told_once_in_the_calls_order_and_a_replay_tells_nothing(
    office: Database,
) -> None:
    listening = Listening()
    sink = DbCallSink(office, subscribers=[listening])
    calls = [
        inbound("8003.1", answered_by=None),
        inbound("8003.2", answered_by=None, at=T0 + timedelta(minutes=2)),
        inbound("8003.3", answered_by=None, number=None, name=None, at=T0 + timedelta(minutes=3)),
    ]
    await sink.store_many(calls)
    await sink.store_many(calls)  # a replay: nothing new happened
    assert len(listening.told) == 1
    assert kinds(listening.told[0]) == [
        "call.recorded",
        "lead.created",
        "task.created",
        "call.recorded",
        "task.updated",
        "call.recorded",
    ]
    assert kinds(await outbox(office)) == kinds(listening.told[0])


async def test_a_failing_subscriber_neither_undoes_the_write_nor_silences_the_others(
    office: Database,
) -> None:
    async def broken(events: Sequence[CrmEvent]) -> None:
        raise RuntimeError("the live view is gone")

    listening = Listening()
    sink = DbCallSink(office, subscribers=[broken, listening])
    result = await sink.store(inbound("8004.1"))
    assert result.created and len(listening.told) == 1
    async with office.reader() as s:
        assert await s.get(Call, result.call_id) is not None
