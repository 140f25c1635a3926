"""Who sees what (crm/access.py): a manager their own, a head their department, the owner all."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm import access, contacts, deals, staff, tasks
from crm.access import Viewer
from models.db import Database
from models.tables import Call, CallLeg, Contact, Deal, Manager, Task
from models.values import DealSource
from router.directory import Role

T0 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 10:00 in Moscow, a Friday
PHONES = {"anna": "+79161110001", "boris": "+79162220002", "vera": "+79163330003"}


@dataclass
class World:
    """Sales (Анна, Борис, Head), Wholesale (Вера), the owner; one client, deal, task and two
    calls each (one answered by its manager, one missed that rang the whole department)."""

    managers: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def viewer(self, who: str) -> Viewer:
        roles = {"head": "head_of_sales", "owner": "owner", "admin": "admin"}
        dept = "wholesale" if who == "vera" else ("sales" if who != "owner" else None)
        return Viewer(
            roles.get(who, "manager"),
            self.managers.get(who),
            self.departments.get(dept) if dept else None,
        )


async def build_world(db: Database, *, names: dict[str, str] | None = None) -> World:
    names = names or {}
    w = World()
    async with db.transaction() as s:
        sales = await staff.add_department(s, "Продажи", "Europe/Moscow")
        await staff.set_hours(s, sales, "mon-fri 09:00-18:00")
        wholesale = await staff.add_department(s, "Опт", "Asia/Yekaterinburg")
        await staff.set_hours(s, wholesale, "mon-fri 09:00-18:00")
        w.departments = {"sales": sales.id, "wholesale": wholesale.id}
        people = [
            ("anna", "Анна", "PJSIP/101", Role.MANAGER, sales),
            ("boris", "Борис", "PJSIP/102", Role.MANAGER, sales),
            ("head", "Head", "PJSIP/103", Role.HEAD_OF_SALES, sales),
            ("vera", "Вера", "PJSIP/104", Role.MANAGER, wholesale),
            ("owner", "Owner", "PJSIP/200", Role.OWNER, None),
        ]
        rows = {}
        for key, name, endpoint, role, dept in people:
            rows[key] = await staff.add_manager(
                s, name=name, endpoint=endpoint, role=role, department=dept
            )
            w.managers[key] = rows[key].id
        for i, key in enumerate(("anna", "boris", "vera")):
            contact = await contacts.add_contact(
                s,
                PHONES[key],
                region="RU",
                name=names.get(key, f"Клиент {rows[key].name}"),
                responsible=rows[key],
            )
            w.contacts[key] = contact.id
            deal = await deals.create_deal(
                s, contact, source=DealSource.MANUAL, now=T0, title=f"Сделка {rows[key].name}"
            )
            w.deals[key] = deal.id
            task = await tasks.add_task(
                s,
                deal=deal,
                responsible=rows[key],
                due_at=T0 + timedelta(hours=2),
                task_type="call",
                comment=f"позвонить {i}",
                now=T0,
            )
            w.tasks[key] = task.id
            answered = Call(
                system="pbx",
                linkedid=f"{key}.1",
                direction="inbound",
                external_number=contact.phone,
                started_at=T0 - timedelta(hours=1),
                answered_at=T0 - timedelta(hours=1) + timedelta(seconds=3),
                ended_at=T0 - timedelta(minutes=59),
                ring_seconds=3,
                talk_seconds=57,
                disposition="ANSWERED",
                manager_id=rows[key].id,
                answered_by_manager_id=rows[key].id,
                contact_id=contact.id,
                deal_id=deal.id,
            )
            s.add(answered)
            await s.flush()
            w.calls[key] = answered.id
        # An anonymous miss that rang Анна and Борис: theirs (they were rung), and the head's.
        miss = Call(
            system="pbx",
            linkedid="anon.1",
            direction="inbound",
            started_at=T0,
            ended_at=T0 + timedelta(seconds=20),
            ring_seconds=20,
            disposition="NO ANSWER",
            missed=True,
        )
        s.add(miss)
        await s.flush()
        for key in ("anna", "boris"):
            s.add(CallLeg(call_id=miss.id, endpoint=rows[key].endpoint, manager_id=rows[key].id))
        w.calls["anon"] = miss.id
    return w


VIEWERS = ("anna", "boris", "head", "vera", "owner", "admin")


def expected(w: World, who: str, record_owner: str) -> bool:
    """The rule, written once more in plain Python."""
    if who in ("owner", "admin"):
        return True
    if who == "head":
        return record_owner in ("anna", "boris", "head")
    return who == record_owner


async def test_each_viewer_sees_exactly_their_scope(db: Database) -> None:
    w = await build_world(db)
    async with db.reader() as s:
        for who in VIEWERS:
            viewer = w.viewer(who)
            for owner in ("anna", "boris", "vera"):
                want = expected(w, who, owner)
                assert await access.may_see_deal(s, viewer, w.deals[owner]) is want, (who, owner)
                assert await access.may_see_contact(s, viewer, w.contacts[owner]) is want
                assert await access.may_see_task(s, viewer, w.tasks[owner]) is want
                assert await access.may_act_on_task(s, viewer, w.tasks[owner]) is want
                assert await access.may_see_call(s, viewer, w.calls[owner]) is want
            # The listings' filters agree with the one-record checks.
            for model, scope, ids in (
                (Deal, access.deal_filter(viewer), w.deals),
                (Contact, access.contact_filter(viewer), w.contacts),
                (Task, access.task_filter(viewer), w.tasks),
            ):
                query = select(model.id)
                if scope is not None:
                    query = query.where(scope)
                seen = set((await s.scalars(query)).all())
                assert seen == {ids[o] for o in ("anna", "boris", "vera") if expected(w, who, o)}
            rung = who in ("anna", "boris", "head", "owner", "admin")
            assert await access.may_see_call(s, viewer, w.calls["anon"]) is rung, who


async def test_records_that_do_not_exist_are_not_seen_by_anyone(db: Database) -> None:
    w = await build_world(db)
    async with db.reader() as s:
        for who in VIEWERS:
            viewer = w.viewer(who)
            assert not await access.may_see_deal(s, viewer, 9999)
            assert not await access.may_see_contact(s, viewer, 9999)
            assert not await access.may_see_task(s, viewer, 9999)
            assert not await access.may_see_call(s, viewer, 9999)


async def test_a_manager_without_a_phone_row_sees_nothing(db: Database) -> None:
    w = await build_world(db)
    nobody = Viewer("manager", None, w.departments["sales"])
    headless = Viewer("head_of_sales", w.managers["head"], None)
    async with db.reader() as s:
        for owner in ("anna", "boris", "vera"):
            assert not await access.may_see_deal(s, nobody, w.deals[owner])
            assert not await access.may_see_call(s, nobody, w.calls[owner])
            # A head of no department sees only their own, as a manager.
            assert not await access.may_see_deal(s, headless, w.deals[owner])


async def test_a_handed_over_client_keeps_the_closed_deal_with_its_old_manager(
    db: Database,
) -> None:
    """Борис's deal is won, then the client moves to Анна: the closed deal stays Борис's, and
    so does the client's card for him (he holds a deal of it); his open task went to Анна."""
    w = await build_world(db)
    async with db.transaction() as s:
        deal = await s.get(Deal, w.deals["boris"])
        await deals.set_status(
            s,
            deal,
            "won",
            statuses=["new", "won", "lost"],
            closed_statuses=["won", "lost"],
            now=T0 + timedelta(hours=1),
        )
        contact = await s.get(Contact, w.contacts["boris"])
        anna = await s.get(Manager, w.managers["anna"])
        await contacts.assign_responsible(
            s, contact, anna, closed_statuses=["won", "lost"], now=T0 + timedelta(hours=2)
        )
    async with db.reader() as s:
        boris, anna_v = w.viewer("boris"), w.viewer("anna")
        assert await access.may_see_deal(s, boris, w.deals["boris"])
        assert not await access.may_see_deal(s, anna_v, w.deals["boris"])
        assert await access.may_see_contact(s, anna_v, w.contacts["boris"])
        assert await access.may_see_contact(s, boris, w.contacts["boris"])
        assert not await access.may_see_contact(s, w.viewer("vera"), w.contacts["boris"])


async def test_who_may_be_given_a_task(db: Database) -> None:
    w = await build_world(db)
    async with db.reader() as s:
        mine = await access.assignable_managers(s, w.viewer("anna"))
        dept = await access.assignable_managers(s, w.viewer("head"))
        everyone = await access.assignable_managers(s, w.viewer("owner"))
        assert [i for i, _ in mine] == [w.managers["anna"]]
        assert {i for i, _ in dept} == {w.managers[k] for k in ("anna", "boris", "head")}
        assert {i for i, _ in everyone} == set(w.managers.values())
        assert await access.may_assign_to(s, w.viewer("head"), w.managers["boris"])
        assert not await access.may_assign_to(s, w.viewer("head"), w.managers["vera"])
        assert not await access.may_assign_to(s, w.viewer("anna"), w.managers["boris"])
