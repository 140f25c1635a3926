"""Phones are what the directory says they are (issue #14, point 6), through the simulator, the
listener with the service's own directory phones, and the database writer (both backends)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from asterisk_sim import Phone
from callrouter.service.phones import DirectoryPhones
from crm.staff import add_department, add_manager
from models.db import Database
from models.tables import Call, Manager
from tests.e2e.pipeline import connected, pipeline

CLIENT = "+79161234567"
OTHER = "+79035550101"


async def office(db: Database) -> dict[str, int]:
    async with db.transaction() as s:
        sales = await add_department(s, "Продажи", "Europe/Moscow")
        anna = await add_manager(s, name="Анна", endpoint="SIP/anna", department=sales)
        boris = await add_manager(s, name="Борис", endpoint="SIP/cafe-beef", department=sales)
        ids = {"anna": anna.id, "boris": boris.id}
    async with db.transaction() as s:  # Борис has left; his phone is still the office's
        await s.execute(update(Manager).where(Manager.id == ids["boris"]).values(active=False))
    return ids


async def stored(db: Database) -> dict[str, Call]:
    async with db.reader() as s:
        return {c.external_number: c for c in await s.scalars(select(Call))}


async def test_calls_out_from_lettered_phones_are_their_managers_outbound_calls(
    db: Database, tmp_path: Path
) -> None:
    """Анна calls a client from `SIP/anna`, the fax dials another number: two outbound calls,
    Анна's and nobody's, and not one inbound call to count in the Lost Call Rate."""
    ids = await office(db)
    phones = DirectoryPhones(db)
    assert await phones.refresh()
    handsets = {"anna": Phone(name="Анна"), "cafe-beef": Phone(), "office-fax": Phone()}
    async with pipeline(db, tmp_path, handsets, directory_phones=phones) as p:
        await connected(p)
        await p.sim.outbound_call("anna", CLIENT, answer_after=1.0, talk=2.0)
        await p.sim.outbound_call("office-fax", OTHER, answer_after=1.0, talk=2.0)
        await p.sink.wait_for(2)
    calls = await stored(db)
    assert {n: (c.direction, c.manager_id) for n, c in calls.items()} == {
        CLIENT: ("outbound", ids["anna"]),
        OTHER: ("outbound", None),
    }


async def test_an_inactive_managers_phone_still_places_his_calls(
    db: Database, tmp_path: Path
) -> None:
    ids = await office(db)
    phones = DirectoryPhones(db)
    assert await phones.refresh()
    async with pipeline(db, tmp_path, {"cafe-beef": Phone()}, directory_phones=phones) as p:
        await connected(p)
        await p.sim.outbound_call("cafe-beef", CLIENT, answer_after=1.0, talk=2.0)
        await p.sink.wait_for(1)
    call = (await stored(db))[CLIENT]
    assert (call.direction, call.manager_id) == ("outbound", ids["boris"])


async def test_before_any_directory_loads_names_decide_and_that_is_said_once(
    tmp_path: Path, caplog
) -> None:
    """The database is away at start: the phones source gives nothing, the listener falls back
    to telling trunks by their names, and the log says so once."""
    away = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'no.db'}")
    phones = DirectoryPhones(away)
    try:
        assert await phones.refresh() is False
        assert await phones.refresh() is False
    finally:
        await away.dispose()
    assert phones() is None
    said = [r for r in caplog.records if getattr(r, "event", None) == "phones_by_name"]
    assert len(said) == 1
