"""The whole pipeline on loopback: simulator → FastAGI server → (calls) → AMI → listener → database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from agi_scripts.fastagi import start_fastagi_server
from ami_listener.calls import CompletedCall
from ami_listener.service import AmiListener
from ami_listener.tracker import PhoneSource
from asterisk_sim import AsteriskSimulator, Phone, SimConfig, VirtualClock
from core.settings import AgiSettings, AmiSettings, Settings
from crm.call_sink import DbCallSink, WriteResult
from crm.contacts import add_contact
from crm.staff import add_department, add_manager
from models.db import Database
from models.directory import DbDirectorySource
from router.directory import Role

SECRET = "e2e-secret"
KNOWN = "+79161234567"


class RecordingSink:
    """The real database sink, plus a way for the test to wait until N calls are stored."""

    def __init__(self, db: Database) -> None:
        self.inner = DbCallSink(db)
        self.results: list[WriteResult] = []
        self.calls: list[CompletedCall] = []
        self._changed = asyncio.Condition()

    async def write(self, calls: Sequence[CompletedCall]) -> None:
        results = await self.inner.store_many(calls)
        async with self._changed:
            self.results.extend(results)
            self.calls.extend(calls)
            self._changed.notify_all()

    async def wait_for(self, count: int, within: float = 15.0) -> list[CompletedCall]:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(lambda: len(self.calls) >= count)
        return self.calls


async def lab_office(db: Database) -> None:
    """The lab's phones as managers (SIP/101…105), and Иван Петров as 101's client."""
    async with db.transaction() as s:
        sales = await add_department(s, "Продажи", "Europe/Moscow")
        anna = await add_manager(s, name="Анна", endpoint="SIP/101", department=sales)
        await add_manager(s, name="Борис", endpoint="SIP/102", department=sales)
        await add_manager(s, name="Вера", endpoint="SIP/103", department=sales)
        await add_manager(
            s, name="Head", endpoint="SIP/104", role=Role.HEAD_OF_SALES, department=sales
        )
        await add_manager(s, name="Owner", endpoint="SIP/105", role=Role.OWNER)
        await add_contact(s, KNOWN, region="RU", name="Иван Петров", responsible=anna)


@dataclass
class Pipeline:
    sim: AsteriskSimulator
    sink: RecordingSink
    listener: AmiListener


@asynccontextmanager
async def pipeline(
    db: Database,
    spool: Path,
    phones: dict[str, Phone],
    *,
    agi_up: bool = True,
    directory_phones: PhoneSource | None = None,
) -> AsyncIterator[Pipeline]:
    """`directory_phones`: the listener's phones source (None: told by their names)."""
    settings = Settings(agi=AgiSettings(env_timeout=2.0, command_timeout=2.0, shutdown_grace=1.0))
    server = await start_fastagi_server(settings, DbDirectorySource(db), port=0)
    agi_port = server.port if agi_up else _closed_port()
    sim = AsteriskSimulator(SimConfig(agi_address=("127.0.0.1", agi_port), clock=VirtualClock()))
    for ext, phone in phones.items():
        sim.add_phone(ext, phone)
    ami_port = await sim.start_ami(users={"callrouter": SECRET})
    sink = RecordingSink(db)
    listener = AmiListener(
        AmiSettings(port=ami_port, username="callrouter", secret=SECRET, cdr_grace=0.3),
        "pbx1",
        sink,
        spool_dir=spool,
        tick=0.05,
        phones=directory_phones,
    )
    running = asyncio.create_task(listener.run())
    try:
        yield Pipeline(sim, sink, listener)
    finally:
        await listener.stop()
        await running
        await sim.stop()
        await server.close()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def connected(p: Pipeline) -> Pipeline:
    async with asyncio.timeout(10):
        await p.listener.connection.connected.wait()
    return p
