"""A hand-counted day of calls (Friday 2026-11-20, Moscow = UTC+3) and the office that took them.

Every expected figure in the tests is counted by hand from the table in `build_day` — read the
comments there, not the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from models.db import Database
from models.tables import Call, CallLeg, Contact, Deal, Department, Manager, Task

MSK = ZoneInfo("Europe/Moscow")
DAY = date(2026, 11, 20)  # a Friday
NEXT_NOON = datetime(2026, 11, 21, 12, 0, tzinfo=MSK).astimezone(UTC)  # "as of" for the report
DAY_END = datetime(2026, 11, 20, 23, 59, 59, tzinfo=MSK).astimezone(UTC)


def at(day: date, hh: int, mm: int = 0, ss: float = 0.0) -> datetime:
    """A local Moscow time on `day`, as aware UTC."""
    local = datetime(day.year, day.month, day.day, hh, mm, tzinfo=MSK) + timedelta(seconds=ss)
    return local.astimezone(UTC)


def number(n: int) -> str:
    return f"+791600000{n:02d}"


@dataclass
class Office:
    ids: dict[str, int] = field(default_factory=dict)  # manager name / department name → id
    contacts: dict[str, int] = field(default_factory=dict)  # number → contact id
    calls: dict[str, int] = field(default_factory=dict)  # fixture name → call id
    tasks: dict[str, int] = field(default_factory=dict)


class Builder:
    def __init__(self, session, office: Office) -> None:  # type: ignore[no-untyped-def]
        self.s = session
        self.o = office
        self.seq = 0

    async def contact(self, phone: str, responsible: str | None = None) -> int:
        if phone not in self.o.contacts:
            row = Contact(
                phone=phone,
                responsible_manager_id=self.o.ids[responsible] if responsible else None,
            )
            self.s.add(row)
            await self.s.flush()
            self.o.contacts[phone] = row.id
        return self.o.contacts[phone]

    async def call(
        self,
        name: str,
        direction: str,
        start: datetime,
        *,
        phone: str | None = None,
        manager: str | None = None,
        ring: float = 0.0,
        talk: float = 0.0,
        answered: bool = True,
        abandon: float | None = None,
        after_hours: bool = False,
        legs: tuple[tuple[str, bool], ...] = (),
    ) -> int:
        self.seq += 1
        contact = await self.contact(phone) if phone and direction == "inbound" else None
        if phone and direction == "outbound":
            contact = self.o.contacts.get(phone)
        answered_at = start + timedelta(seconds=ring) if answered else None
        end = (
            start + timedelta(seconds=ring + talk)
            if answered
            else start + timedelta(seconds=abandon if abandon is not None else ring)
        )
        manager_id = self.o.ids[manager] if manager else None
        row = Call(
            system="pbx1",
            linkedid=f"{name}.{self.seq}",
            direction=direction,
            external_number=phone,
            started_at=start,
            answered_at=answered_at,
            ended_at=end,
            ring_seconds=ring if answered else (abandon if abandon is not None else ring),
            talk_seconds=talk,
            disposition="ANSWERED" if answered else "NO ANSWER",
            missed=direction == "inbound" and not answered,
            abandoned=abandon is not None,
            abandon_seconds=abandon,
            after_hours=after_hours,
            manager_id=manager_id,
            answered_by_manager_id=manager_id if direction == "inbound" else None,
            contact_id=contact,
            variables={},
            legs=[
                CallLeg(endpoint=f"PJSIP/{who}", manager_id=self.o.ids[who], answered=picked)
                for who, picked in legs
            ],
        )
        self.s.add(row)
        await self.s.flush()
        self.o.calls[name] = row.id
        return row.id

    async def recovered(self, missed: str, by: str, when: datetime) -> None:
        row = await self.s.get(Call, self.o.calls[missed])
        row.recovered_at = when
        row.recovered_by_call_id = self.o.calls[by]
        await self.s.flush()

    async def task(
        self,
        name: str,
        who: str,
        phone: str,
        due: datetime,
        *,
        status: str = "open",
        closed: datetime | None = None,
        purpose: str = "general",
    ) -> int:
        contact = await self.contact(phone)
        deal = Deal(contact_id=contact, source="manual")
        self.s.add(deal)
        await self.s.flush()
        row = Task(
            deal_id=deal.id,
            contact_id=contact,
            responsible_manager_id=self.o.ids[who],
            due_at=due,
            type="call",
            comment=f"task {name}",
            status=status,
            purpose=purpose,
            created_by="person",
            closed_at=closed,
        )
        self.s.add(row)
        await self.s.flush()
        self.o.tasks[name] = row.id
        return row.id


async def build_office(db: Database) -> Office:
    office = Office()
    async with db.transaction() as s:
        for dept in ("Продажи", "Опт"):
            row = Department(name=dept, timezone="Europe/Moscow")
            s.add(row)
            await s.flush()
            office.ids[dept] = row.id
        for name, role, dept, active in (
            ("Анна", "manager", "Продажи", True),
            ("Борис", "manager", "Продажи", True),
            ("Head", "head_of_sales", "Продажи", True),
            ("Owner", "owner", None, True),
            ("Вера", "manager", "Опт", True),
            ("Гена", "manager", "Продажи", False),  # has left; still made a call that day
        ):
            row = Manager(
                name=name,
                endpoint=f"PJSIP/{name}",
                role=role,
                department_id=office.ids[dept] if dept else None,
                active=active,
            )
            s.add(row)
            await s.flush()
            office.ids[name] = row.id
    return office


async def build_day(db: Database) -> Office:
    """The office and its hand-counted Friday. Times are Moscow local."""
    office = await build_office(db)
    d, prev, nxt = DAY, DAY - timedelta(1), DAY + timedelta(1)
    async with db.transaction() as s:
        b = Builder(s, office)
        # Thursday: a call that starts before midnight belongs to Thursday, not Friday.
        await b.call(
            "thu_late",
            "inbound",
            at(prev, 23, 55),
            phone=number(20),
            manager="Анна",
            ring=3,
            talk=600,
            legs=(("Анна", True),),
        )
        # Thursday: a miss from number 6, never recovered.
        await b.call(
            "thu_miss",
            "inbound",
            at(prev, 15),
            phone=number(6),
            answered=False,
            abandon=30,
            legs=(("Анна", False),),
        )
        # Friday, inbound — 8 offered.
        # c1: answered by Анна at step 1 after 4 s, 60 s talk.
        await b.call(
            "c1",
            "inbound",
            at(d, 9),
            phone=number(1),
            manager="Анна",
            ring=4,
            talk=60,
            legs=(("Анна", True),),
        )
        # c2: the department rings; Борис answers after 8 s, 120 s.
        await b.call(
            "c2",
            "inbound",
            at(d, 9, 30),
            phone=number(2),
            manager="Борис",
            ring=8,
            talk=120,
            legs=(("Анна", False), ("Борис", True)),
        )
        # c3: missed, the caller hung up at 4.9 s — a short abandon.
        await b.call(
            "c3",
            "inbound",
            at(d, 10),
            phone=number(3),
            answered=False,
            abandon=4.9,
            legs=(("Анна", False), ("Борис", False)),
        )
        # c4: missed, hung up at 5.1 s — not short. Recovered the next day.
        await b.call(
            "c4",
            "inbound",
            at(d, 10, 5),
            phone=number(4),
            answered=False,
            abandon=5.1,
            legs=(("Анна", False), ("Борис", False)),
        )
        # c5: answered at the last step, by the owner, after 35 s; Анна rang twice (steps 1, 2).
        await b.call(
            "c5",
            "inbound",
            at(d, 11),
            phone=number(5),
            manager="Owner",
            ring=35,
            talk=30,
            legs=(
                ("Анна", False),
                ("Анна", False),
                ("Борис", False),
                ("Head", False),
                ("Owner", True),
            ),
        )
        # c6: missed, every step ran out (no abandon).
        await b.call(
            "c6",
            "inbound",
            at(d, 12),
            phone=number(6),
            answered=False,
            ring=40,
            legs=(("Анна", False), ("Борис", False), ("Head", False), ("Owner", False)),
        )
        # c7: after hours, missed, hung up at 12 s; nobody rang.
        await b.call(
            "c7",
            "inbound",
            at(d, 20),
            phone=number(7),
            answered=False,
            abandon=12,
            after_hours=True,
        )
        # c8: after hours, answered by Борис after 10 s; 1200 s talk, crosses midnight.
        await b.call(
            "c8",
            "inbound",
            at(d, 23, 50),
            phone=number(8),
            manager="Борис",
            ring=10,
            talk=1200,
            after_hours=True,
            legs=(("Борис", True),),
        )
        # Friday, outbound — 4 made, 3 answered.
        await b.call("o1", "outbound", at(d, 14), phone=number(3), manager="Анна", ring=5, talk=90)
        await b.call(
            "o2",
            "outbound",
            at(d, 14, 10),
            phone=number(6),
            manager="Анна",
            answered=False,
            ring=30,
        )
        await b.call(
            "o3", "outbound", at(d, 15), phone=number(99), manager="Гена", ring=5, talk=300
        )
        await b.call("o4", "outbound", at(d, 16), phone=number(98), manager="Вера", ring=5, talk=45)
        # An internal call: counted nowhere.
        await b.call("i1", "internal", at(d, 16, 30), manager="Анна", ring=2, talk=100)
        # Saturday: Борис calls number 4 back and gets through at 09:00:05.
        await b.call(
            "sat_cb", "outbound", at(nxt, 9), phone=number(4), manager="Борис", ring=5, talk=60
        )
        await b.recovered("c3", "o1", at(d, 14, 0, 5))
        await b.recovered("c4", "sat_cb", at(nxt, 9, 0, 5))
        # Tasks.
        await b.task("cb6", "Анна", number(6), at(prev, 15, 15), purpose="callback")
        await b.task("on_time", "Борис", number(2), at(d, 18), status="done", closed=at(d, 17))
        await b.task("late", "Борис", number(1), at(d, 12), status="done", closed=at(d, 13))
        await b.task("later", "Анна", number(5), at(d + timedelta(2), 18))
        await b.task(
            "thu_done", "Анна", number(8), at(prev, 18), status="done", closed=at(prev, 17)
        )
        await b.task(
            "cancelled", "Борис", number(7), at(d, 18), status="cancelled", closed=at(d, 11)
        )
        # Four earlier Fridays: Анна makes 10 answered 60 s calls each (her baseline).
        for week in range(1, 5):
            friday = d - timedelta(weeks=week)
            for i in range(10):
                await b.call(
                    f"base{week}.{i}",
                    "outbound",
                    at(friday, 10, i),
                    phone=number(50),
                    manager="Анна",
                    ring=2,
                    talk=60,
                )
    return office
