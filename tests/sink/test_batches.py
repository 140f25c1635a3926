"""Writing calls in batches stores exactly what writing them one at a time stores.

The listener hands the sink whatever its spool holds, so where a batch starts and ends is
chance: a miss and its recovery, a new number and its repeat call, may fall in one batch or in
two. A seeded day of traffic between a few numbers is stored once call by call and once in
batches of odd sizes, into two fresh databases; everything the CRM shows must be the same.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from ami_listener.calls import CompletedCall
from crm.call_sink import DbCallSink
from models.db import Database
from models.tables import Call, Contact, Deal, Manager, Task

from .test_call_sink import T0, add_office, inbound, outbound

NUMBERS = ["+79161234567", "+79035550101", "+79261112233", "+74951234567"]
PHONES = ["PJSIP/101", "PJSIP/102"]


def traffic(seed: int, calls: int = 80) -> list[CompletedCall]:
    """Calls in the order the listener would emit them: misses, repeats, call-backs."""
    rng = random.Random(seed)
    at = T0
    out = []
    for i in range(calls):
        at += timedelta(minutes=rng.choice([1, 3, 7, 20]))
        number = rng.choice(NUMBERS)
        kind = rng.choice(["missed", "missed", "answered", "callback", "callback_unanswered"])
        if kind == "missed":
            out.append(inbound(f"9{i:03d}.1", at=at, number=number, answered_by=None))
        elif kind == "answered":
            answerer = rng.choice(PHONES)
            out.append(inbound(f"9{i:03d}.1", at=at, number=number, answered_by=answerer))
        else:
            call = outbound(
                f"9{i:03d}.1", at=at, phone=rng.choice(PHONES), answered=kind == "callback"
            )
            out.append(_to(call, number))
    return out


def _to(call: CompletedCall, number: str) -> CompletedCall:
    return replace(call, external_number=number, external_number_raw=number, dialed_number=number)


async def crm_view(db: Database) -> dict[str, list[tuple]]:
    """Everything a user sees, by natural keys (ids depend on insertion order)."""
    async with db.reader() as s:
        managers = {m.id: m.endpoint for m in await s.scalars(select(Manager))}
        phones = {c.id: c.phone for c in await s.scalars(select(Contact))}
        linkedids = {c.id: c.linkedid for c in await s.scalars(select(Call))}
        deals = {d.id: d for d in await s.scalars(select(Deal))}

        def deal_key(deal_id: int | None) -> tuple | None:
            if deal_id is None:
                return None
            deal = deals[deal_id]
            return (phones[deal.contact_id], deal.source, deal.created_at)

        contacts = [
            (c.phone, c.name, managers.get(c.responsible_manager_id), c.created_at)
            for c in await s.scalars(select(Contact))
        ]
        calls = [
            (
                c.linkedid,
                phones.get(c.contact_id),
                deal_key(c.deal_id),
                c.missed,
                c.recovered_at,
                linkedids.get(c.recovered_by_call_id),
                managers.get(c.manager_id),
            )
            for c in await s.scalars(select(Call))
        ]
        tasks = [
            (
                phones[t.contact_id],
                deal_key(t.deal_id),
                t.purpose,
                t.status,
                managers.get(t.responsible_manager_id),
                t.due_at,
                t.missed_calls,
                t.last_missed_at,
                t.closed_at,
                linkedids.get(t.closed_by_call_id),
                t.comment,
            )
            for t in await s.scalars(select(Task))
        ]
        deal_rows = [
            (*deal_key(d.id), d.status, managers.get(d.responsible_manager_id))
            for d in deals.values()
        ]
    return {
        "contacts": sorted(contacts, key=repr),
        "calls": sorted(calls, key=repr),
        "tasks": sorted(tasks, key=repr),
        "deals": sorted(deal_rows, key=repr),
    }


@pytest.mark.parametrize("seed", [1, 2])
async def test_batches_store_what_one_call_at_a_time_stores(
    db: Database, other_db_url: str, seed: int
) -> None:
    calls = traffic(seed)
    one_by_one, batched = db, Database(other_db_url)
    try:
        await add_office(one_by_one)
        await add_office(batched)
        sink = DbCallSink(one_by_one)
        for call in calls:
            await sink.store(call)
        sink = DbCallSink(batched)
        rng = random.Random(seed)
        i = 0
        while i < len(calls):
            size = rng.choice([1, 2, 5, 7, 13])
            results = await sink.store_many(calls[i : i + size])
            assert all(r.created for r in results)
            i += size
        expected, got = await crm_view(one_by_one), await crm_view(batched)
    finally:
        await batched.dispose()
    assert got == expected
    # The day really exercised the rules it is about.
    assert any(row[4] is not None for row in expected["calls"]), "no miss was recovered"
    assert any(row[6] > 1 for row in expected["tasks"]), "no repeat miss bumped a call-back"
    assert any(row[3] == "done" for row in expected["tasks"]), "no call-back closed itself"


async def test_a_batch_repeating_stored_calls_and_itself_writes_each_call_once(
    db: Database,
) -> None:
    await add_office(db)
    calls = traffic(3, calls=12)
    sink = DbCallSink(db)
    first = await sink.store_many(calls[:6])
    again = await sink.store_many([*calls[3:9], calls[8]])
    assert [r.created for r in again] == [False] * 3 + [True] * 3 + [False]
    assert again[-1].call_id == again[-2].call_id
    assert [r.call_id for r in again[:3]] == [r.call_id for r in first[3:6]]
    async with db.reader() as s:
        stored = list(await s.scalars(select(Call.linkedid)))
    assert sorted(stored) == sorted(c.linkedid for c in calls[:9])
