"""The lab office (SIP/101…105, as in the transcripts), an in-memory source and a call runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from agi_scripts.executor import RouteOutcome
from agi_scripts.fastagi import start_fastagi_server
from core.settings import AgiSettings, Settings
from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours
from router.settings import RoutingSettings
from tests.agi.fake_asterisk import FakeAsterisk

MOSCOW = ZoneInfo("Europe/Moscow")
WEDNESDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=MOSCOW)
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=MOSCOW)

LAB_OFFICE = Directory(
    departments=(Department(1, "Sales", WorkingHours.office(time(9), time(18))),),
    managers=(
        Manager(1, "Ivan", "SIP/101", Role.MANAGER, 1),
        Manager(2, "Olga", "SIP/102", Role.MANAGER, 1),
        Manager(3, "Petr", "SIP/103", Role.MANAGER, 1),
        Manager(4, "Head", "SIP/104", Role.HEAD_OF_SALES, 1),
        Manager(5, "Owner", "SIP/105", Role.OWNER, None),
    ),
)
IVAN_PETROV = ContactView(7, "+79161234567", "Иван Петров", responsible_manager_id=1)


@dataclass
class MemorySource:
    """A DirectorySource over plain data; `hang` makes every call wait forever, `fail` raise."""

    directory: Directory = LAB_OFFICE
    contacts: tuple[ContactView, ...] = (IVAN_PETROV,)
    hang_contacts: bool = False
    fail: bool = False
    lookups: list[str] = field(default_factory=list)

    async def load_directory(self) -> Directory:
        if self.fail:
            raise ConnectionError("database is gone")
        return self.directory

    async def find_contact(self, phone_e164: str) -> ContactView | None:
        self.lookups.append(phone_e164)
        if self.fail:
            raise ConnectionError("database is gone")
        if self.hang_contacts:
            await asyncio.Event().wait()
        return next((c for c in self.contacts if c.phone == phone_e164), None)


def lab_settings(**routing: object) -> Settings:
    return Settings(
        agi=AgiSettings(env_timeout=1.0, command_timeout=1.0, shutdown_grace=1.0),
        routing=RoutingSettings(**routing),
    )


async def route_calls(
    *fakes: FakeAsterisk,
    source: MemorySource | None = None,
    settings: Settings | None = None,
    now: datetime = WEDNESDAY_NOON,
    on_routed: Callable[[RouteOutcome], None] | None = None,
) -> None:
    """Run each scripted Asterisk against a fresh FastAGI server, concurrently, to the end."""
    hooks = {} if on_routed is None else {"on_routed": on_routed}
    server = await start_fastagi_server(
        settings or lab_settings(), source or MemorySource(), clock=lambda: now, port=0, **hooks
    )
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(fake.call(server.port) for fake in fakes))
    finally:
        await server.close()
