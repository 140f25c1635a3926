""" "Rung / not picked up" per manager counts one ring per phone per call (issue #18).

A phone can have several legs in one call: in the recorded Local-channel escalation
(tests/fixtures/asterisk/pjsip-local) 101 is rung by step 1's own Dial and again by the big
Dial, two INVITEs, two legs. The manager was still rung once for that call, and either picked
it up or did not. Legs of Local channels (no manager: `Local/3-103@…`) never count.
"""

from __future__ import annotations

from datetime import timedelta

from callrouter.reports.model import RungFigures, Window
from callrouter.reports.queries import rung
from models.db import Database
from models.tables import CallLeg

from .office import DAY, Builder, Office, at, build_office, number

DAY_WINDOW = Window("day", at(DAY, 0), at(DAY, 0) + timedelta(days=1))


async def build(db: Database) -> Office:
    office = await build_office(db)
    async with db.transaction() as s:
        b = Builder(s, office)
        # c1: missed; Анна rung twice (step 1, then the big Dial), Борис once, the head's
        # Local leg still waiting (no phone leg for him, only the Local pair's own row)
        c1 = await b.call(
            "c1",
            "inbound",
            at(DAY, 10),
            phone=number(1),
            ring=12,
            answered=False,
            legs=(("Анна", False), ("Анна", False), ("Борис", False)),
        )
        s.add(CallLeg(call_id=c1, endpoint="Local/3-Head@ring-delayed", manager_id=None))
        # c2: answered by Борис in the big Dial; Анна rung twice, not picked up by her
        await b.call(
            "c2",
            "inbound",
            at(DAY, 11),
            phone=number(2),
            manager="Борис",
            ring=5,
            talk=60,
            legs=(("Анна", False), ("Анна", False), ("Борис", True)),
        )
        # c3: answered by Анна on her second INVITE (step 2): rung once, picked up
        await b.call(
            "c3",
            "inbound",
            at(DAY, 12),
            phone=number(3),
            manager="Анна",
            ring=5,
            talk=30,
            legs=(("Анна", False), ("Анна", True)),
        )
        await s.flush()
    return office


async def test_a_phone_rung_twice_in_one_call_is_one_ring(db: Database) -> None:
    office = await build(db)
    async with db.transaction() as s:
        figures = await rung(s, [DAY_WINDOW], by="manager")
    anna, boris = office.ids["Анна"], office.ids["Борис"]
    # Анна: rung in c1, c2, c3 (3, not 6 legs); not picked up in c1, c2; c1 was missed
    assert figures[(0, anna)] == RungFigures(rung=3, not_picked_up=2, rung_missed=1)
    # Борис: c1 (missed), c2 (picked up)
    assert figures[(0, boris)] == RungFigures(rung=2, not_picked_up=1, rung_missed=1)
    assert (0, office.ids["Head"]) not in figures  # his Local leg never rang his phone
    assert (0, None) not in figures


async def test_a_department_counts_each_call_once(db: Database) -> None:
    office = await build(db)
    async with db.transaction() as s:
        figures = await rung(s, [DAY_WINDOW], by="department")
    # c1, c2, c3 each rang the department's phones; c1 and c2 were not picked up by all of them
    # (a department "picks up" a call when one of its phones did: c2, c3)
    assert figures[(0, office.ids["Продажи"])] == RungFigures(
        rung=3, not_picked_up=1, rung_missed=1
    )
