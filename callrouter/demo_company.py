"""The sample company of `callrouter demo`: a sales department, its phones and its clients."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import deals, staff, users
from models.tables import Contact, Manager
from models.values import DealSource
from router.directory import Role

FIRST = ["Иван", "Пётр", "Анна", "Мария", "Ольга", "Сергей", "Дмитрий", "Елена", "Наталья", "Алексей",
         "Татьяна", "Андрей", "Юлия", "Михаил", "Ирина", "Николай", "Светлана", "Павел"]  # fmt: skip
LAST = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев", "Козлов",
        "Новиков", "Морозов", "Волков", "Соловьёв", "Васильев", "Зайцев", "Павлов", "Семёнов"]  # fmt: skip
COMPANIES = ["ООО «Ромашка»", "ИП Сидоров", "АО «Вектор»", "ООО «Стройсервис»", "ООО «Техно»"]


@dataclass(frozen=True)
class StaffMember:
    name: str
    extension: str
    role: Role
    answer_after: float | None  # how quickly this person picks up (None: never today)
    registered: bool = True


STAFF = (
    StaffMember("Анна Смирнова", "101", Role.MANAGER, 3.0),
    StaffMember("Борис Орлов", "102", Role.MANAGER, 5.0),
    StaffMember("Вера Соколова", "103", Role.MANAGER, None),  # rings and rings: in a meeting
    StaffMember("Глеб Морозов", "104", Role.MANAGER, 7.0),
    StaffMember("Дарья Волкова", "105", Role.MANAGER, 4.0, registered=False),  # off sick: phone off
    StaffMember("Егор Лебедев", "106", Role.MANAGER, 9.0),
    StaffMember("Жанна Кузнецова", "110", Role.HEAD_OF_SALES, 4.0),
    StaffMember("Захар Петров", "200", Role.OWNER, 2.0),
)


@dataclass(frozen=True)
class Client:
    phone: str
    name: str
    manager_extension: str


def person_name(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    female = first.endswith(("а", "я")) and first not in {"Никита"}
    return f"{first} {last}{'а' if female and not last.endswith('а') else ''}"


def make_clients(rng: random.Random, count: int) -> list[Client]:
    managers = [s.extension for s in STAFF if s.role is Role.MANAGER]
    phones = rng.sample(range(10**7), count)
    return [
        Client(f"+7916{number:07d}", person_name(rng), rng.choice(managers)) for number in phones
    ]


async def create_company(
    session: AsyncSession, clients: list[Client], technology: str, rng: random.Random, now
) -> dict[str, int]:
    """Department, staff and clients (a third of them with a deal in progress); extension → id."""
    sales = await staff.add_department(session, "Отдел продаж", "Europe/Moscow")
    await staff.set_hours(session, sales, "mon-fri 09:00-18:00")
    ids: dict[str, int] = {}
    for member in STAFF:
        manager = await staff.add_manager(
            session,
            name=member.name,
            endpoint=f"{technology}/{member.extension}",
            role=member.role,
            department=sales if member.role is not Role.OWNER else None,
            email=f"{member.extension}@example.com",
        )
        ids[member.extension] = manager.id
    for client in clients:
        contact = Contact(
            phone=client.phone,
            name=client.name,
            responsible_manager_id=ids[client.manager_extension],
        )
        session.add(contact)
        await session.flush()
        if rng.random() < 0.33:
            await deals.create_deal(
                session,
                contact,
                source=DealSource.MANUAL,
                now=now,
                title=rng.choice(COMPANIES),
                status="in_progress",
            )
    return ids


@dataclass(frozen=True)
class DemoLogin:
    """A web user the demo created: the log-in, its (demo-only) password, who and what role."""

    login: str
    password: str
    name: str
    role: str


PASSWORD_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing to misread (no l/1, o/0)


async def create_users(session: AsyncSession, rng: random.Random) -> list[DemoLogin]:
    """A web account for every person of the staff (the owner, the head of sales, each
    manager): the log-in is the extension, the password random — printed by the demo, which
    is the only place a password is ever shown."""
    logins = []
    managers = (await session.scalars(select(Manager).order_by(Manager.id))).all()
    for manager in managers:
        login = users.login_for_manager(manager)
        password = "".join(rng.choice(PASSWORD_LETTERS) for _ in range(10))
        await users.add_user(session, login, password=password, manager=manager)
        logins.append(DemoLogin(login, password, manager.name, manager.role))
    return logins
