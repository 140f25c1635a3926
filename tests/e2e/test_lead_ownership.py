"""Issue #14, point 1, through the whole pipeline (simulator → router → listener → database):
the owner picks up a new caller nobody else answered; the lead goes to a manager, and the
client's next call rings that manager first, alone — not the owner."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from asterisk_sim import Caller, Phone
from models.db import Database
from models.tables import Contact, Deal, Task
from tests.e2e.pipeline import connected, lab_office, pipeline

NEW = "+79035550177"
ANNA = 1


def office() -> dict[str, Phone]:
    phones = {ext: Phone() for ext in ("101", "102", "103", "104")}
    phones["105"] = Phone(answer_after=1.0, talk=20.0)  # the owner, the last step
    return phones


async def test_the_owner_answers_a_new_caller_the_next_call_rings_the_manager_first(
    db: Database, tmp_path: Path
) -> None:
    await lab_office(db)
    async with pipeline(db, tmp_path, office()) as p:
        await connected(p)
        first = await p.sim.inbound_call(Caller(NEW, "Новый клиент"))
        await p.sink.wait_for(1)
        assert first.answered_by == "SIP/105"
        async with db.reader() as s:
            contact = await s.scalar(select(Contact).where(Contact.phone == NEW))
            deal = await s.scalar(select(Deal))
            task = await s.scalar(select(Task))
        assert contact.responsible_manager_id == deal.responsible_manager_id == ANNA
        assert task.responsible_manager_id == ANNA and "answered by Owner (owner)" in task.comment
        # The client calls again; this time Анна picks up — on the first step, rung alone.
        p.sim.add_phone("101", Phone(answer_after=1.0, talk=5.0))
        again = await p.sim.inbound_call(Caller(NEW, "Новый клиент"))
        await p.sink.wait_for(2)
    assert again.answered_by == "SIP/101"
    # One Dial for the plan (issue 18): Анна alone at first, the others were still waiting.
    assert len(again.dials) == 1 and [c[:8] for c in again.dials[0].invited] == ["SIP/101-"]
