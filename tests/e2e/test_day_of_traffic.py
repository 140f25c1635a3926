"""A day of mixed traffic (inbound known and new numbers, abandons, outbound call-backs), played
concurrently through the simulator: the database holds exactly the calls that happened."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from asterisk_sim import Phone
from asterisk_sim.traffic import plan_day, play_day
from models.db import Database
from models.tables import Call, Task
from tests.e2e.pipeline import connected, lab_office, pipeline


async def test_a_day_of_mixed_traffic(db: Database, tmp_path: Path) -> None:
    await lab_office(db)
    phones = {
        "101": Phone(answer_after=12.0, talk=40.0),  # slower than any step: never picks up
        "102": Phone(answer_after=9.0, talk=300.0),  # long calls keep 102 busy for the next ones
        "103": Phone(),  # rings, never answers
        "104": Phone(answer_after=8.0, talk=15.0),
        "105": Phone(answer_after=9.0, talk=10.0),
    }
    plan = plan_day(seed=7, calls=60, known=10, hours=2.0, abandon_rate=0.4, phones=("101", "102"))
    async with pipeline(db, tmp_path, phones) as p:
        await connected(p)
        results = await play_day(p.sim, plan, seed=7)
        await p.sink.wait_for(len(results), within=30)

    async with db.reader() as s:
        calls = {c.linkedid: c for c in await s.scalars(select(Call))}
        open_callbacks = (
            await s.execute(
                select(Task.contact_id, func.count())
                .where(Task.purpose == "callback", Task.status == "open")
                .group_by(Task.contact_id)
            )
        ).all()
    assert set(calls) == {r.linkedid for r in results}  # one row per call that happened, none extra
    for planned, result in zip(plan, results, strict=True):
        row = calls[result.linkedid]
        assert row.direction == planned.kind and row.external_number == planned.number
        answered = result.answered_by is not None
        assert (row.disposition == "ANSWERED") == answered, result.linkedid
        billsec = max((int(c.get("BillableSeconds", 0)) for c in result.cdr_rows), default=0)
        assert row.talk_seconds == billsec, result.linkedid
        if row.direction == "inbound" and answered:
            assert row.answered_endpoint == result.answered_by.rsplit("-", 1)[0]
    assert all(count == 1 for _, count in open_callbacks)  # never two open call-backs per contact
    missed = [c for c in calls.values() if c.missed]
    answered_inbound = [c for c in calls.values() if c.direction == "inbound" and not c.missed]
    assert missed and answered_inbound, "the day should contain both missed and answered calls"
    # A miss is recovered exactly when a later call with that number got through to a person.
    recovered = 0
    for miss in missed:
        if miss.external_number is None:
            continue
        later = [
            c
            for c in calls.values()
            if c.external_number == miss.external_number
            and c.started_at > miss.started_at
            and c.disposition == "ANSWERED"
            and c.ended_at >= miss.ended_at
        ]
        assert (miss.recovered_at is not None) == bool(later), miss.linkedid
        recovered += bool(later)
    assert recovered, "the day should contain recovered misses"
