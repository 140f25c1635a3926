"""The routing hot path's own database source, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agi_scripts.db_source import DbLookupSource
from models import migrate
from models.db import Database
from router.directory import Role
from tests.faults.support import KNOWN, KNOWN_NAME, seed_office


async def test_finds_a_known_caller_and_no_one_for_a_new_number(db: Database, db_url: str):
    await seed_office(db)
    source = DbLookupSource(db_url)
    try:
        directory = await source.load_directory()
        found, unknown = await asyncio.gather(
            source.find_contact(KNOWN), source.find_contact("+79250000000")
        )
    finally:
        await source.close()
    assert found is not None and (found.phone, found.name) == (KNOWN, KNOWN_NAME)
    ivan = next(m for m in directory.managers if m.endpoint == "SIP/101")
    assert found.responsible_manager_id == ivan.id
    assert unknown is None
    assert [m.endpoint for m in directory.by_role(Role.OWNER)] == ["SIP/105"]


async def test_many_lookups_at_once_each_get_their_own_answer(db: Database, db_url: str):
    await seed_office(db)
    source = DbLookupSource(db_url)
    try:
        phones = [KNOWN if i % 3 == 0 else f"+7925000{i:04d}" for i in range(60)]
        answers = await asyncio.gather(*(source.find_contact(p) for p in phones))
    finally:
        await source.close()
    assert [a is not None for a in answers] == [p == KNOWN for p in phones]


async def test_a_lookup_on_a_database_that_is_gone_raises_and_the_next_one_still_answers(
    tmp_path: Path,
):
    # The decider turns the error into its fallback plan; the source must stay usable.
    path = tmp_path / "gone.sqlite3"
    source = DbLookupSource(f"sqlite+aiosqlite:///{path}")
    try:
        with pytest.raises(Exception, match="not initialised"):
            await source.find_contact(KNOWN)
        await migrate.upgrade_url(f"sqlite+aiosqlite:///{path}")
        db = Database(f"sqlite+aiosqlite:///{path}")
        await seed_office(db)
        await db.dispose()
        found = await source.find_contact(KNOWN)
    finally:
        await source.close()
    assert found is not None and found.phone == KNOWN


async def test_an_abandoned_lookup_is_answered_to_nobody_and_costs_nothing(
    db: Database, db_url: str
):
    await seed_office(db)
    source = DbLookupSource(db_url)
    try:
        lookup = asyncio.ensure_future(source.find_contact(KNOWN))
        await asyncio.sleep(0)
        lookup.cancel()  # the decision budget ran out
        assert await source.find_contact(KNOWN) is not None
    finally:
        await source.close()
    assert lookup.cancelled()
