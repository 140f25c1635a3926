"""The writer sorts its failures: the database away (retry) or this call refused (set it aside);
and a call another writer stored first is a success, not a failure."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from ami_listener.sink import CallRefused
from crm.call_sink import DbCallSink
from crm.write_errors import database_away
from models.db import Database
from models.tables import Call, CallLeg, Contact, Deal, Manager, OutboxEvent, Task

from .test_call_sink import T0, add_office, inbound

POISON = "+79035550102"
REFUSAL = "calls from this number are refused"
OURS = {"ami_listener", "callrouter", "crm", "models"}  # the drivers' own DEBUG lines aside


async def refuse_calls_from(db: Database, number: str) -> None:
    """A constraint of the database's own that refuses every call row from `number`."""
    async with db.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON calls "
                    f"WHEN NEW.external_number = '{number}' "
                    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
                )
            )
            return
        await conn.execute(
            text(
                "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.external_number = '{number}' THEN "
                f"RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'check_violation'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON calls "
                "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
            )
        )


async def drop_refusal(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "DROP TRIGGER refuse_poison"
                + ("" if conn.dialect.name == "sqlite" else " ON calls")
            )
        )


async def counts(db: Database) -> dict[str, int]:
    async with db.reader() as s:
        return {
            t.__tablename__: await s.scalar(select(func.count()).select_from(t))
            for t in (Call, CallLeg, Contact, Deal, Task, OutboxEvent)
        }


@pytest.fixture
async def office(db: Database) -> Database:
    await add_office(db)
    return db


async def test_a_refused_batch_is_call_refused_with_a_reason_and_no_personal_data(
    office: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await refuse_calls_from(office, POISON)
    sink = DbCallSink(office)
    good = inbound("9101.1")
    poisoned = inbound("9101.2", number=POISON, at=T0 + timedelta(minutes=1))
    with caplog.at_level(logging.DEBUG), pytest.raises(CallRefused) as refused:
        await sink.record([good, poisoned])
    assert "IntegrityError" in refused.value.error
    assert REFUSAL in refused.value.detail
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.split(".")[0] in OURS)
    for text_ in (refused.value.error, refused.value.detail, ours):
        assert POISON.lstrip("+") not in text_ and "INSERT" not in text_
    # All or nothing: the good call waits for the listener to write it alone.
    assert (await counts(office))["calls"] == 0
    assert (await sink.record([good]))[0].created
    with pytest.raises(CallRefused):
        await sink.record([poisoned])
    await drop_refusal(office)
    assert (await sink.record([poisoned]))[0].created  # the cause fixed: stored


async def test_the_database_away_is_raised_as_it_is_for_the_listener_to_retry(
    db_backend: str, tmp_path: Path
) -> None:
    if db_backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/callrouter.sqlite3"
    else:
        url = "postgresql+asyncpg://postgres@127.0.0.1:1/test"  # nothing listens on port 1
    away = Database(url)
    try:
        with pytest.raises(Exception) as failure:
            await DbCallSink(away).record([inbound("9102.1")])
    finally:
        await away.dispose()
    assert not isinstance(failure.value, CallRefused)
    assert database_away(failure.value)


async def test_a_manager_removed_while_the_directory_is_cached_costs_one_attempt(
    office: Database,
) -> None:
    sink = DbCallSink(office, directory_ttl=3600)
    await sink.store(inbound("9103.1", answered_by="PJSIP/101"))  # the directory is cached
    async with office.transaction() as s:
        await s.execute(Manager.__table__.delete().where(Manager.endpoint == "PJSIP/102"))
    call = inbound(
        "9103.2", answered_by="PJSIP/102", rung=("PJSIP/102",), at=T0 + timedelta(hours=1)
    )
    with pytest.raises(CallRefused) as refused:
        await sink.record([call])
    assert "IntegrityError" in refused.value.error  # the foreign key to the removed manager
    stored = await sink.record([call])  # the listener's retry, one call at a time
    assert stored[0].created
    async with office.reader() as s:
        row = await s.get(Call, stored[0].call_id)
    assert row.answered_by_manager_id is None and row.answered_endpoint == "PJSIP/102"


async def test_a_bug_in_the_lead_rules_refuses_that_call_only(
    office: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = DbCallSink(office)
    original = sink._rules.missed_inbound

    async def broken_for_one_number(session, work, contact, call, directory):  # type: ignore[no-untyped-def]
        if contact.phone == POISON:
            raise KeyError("a rule that forgot a case")
        return await original(session, work, contact, call, directory)

    monkeypatch.setattr(sink._rules, "missed_inbound", broken_for_one_number)
    with pytest.raises(CallRefused) as refused:
        await sink.record([inbound("9104.1", answered_by=None, number=POISON)])
    assert refused.value.error == "KeyError"
    assert (await sink.record([inbound("9104.2", answered_by=None)]))[0].created


async def test_two_writers_storing_the_same_calls_at_once_both_succeed_and_store_each_once(
    db_url: str, office: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Two listeners on one Asterisk and one database: the loser of the insert is not an error."""
    first, second = Database(db_url), Database(db_url)
    try:
        sinks = [DbCallSink(first), DbCallSink(second)]
        with caplog.at_level(logging.WARNING):
            for round_ in range(8):
                number = f"+7925000001{round_}"
                calls = [
                    inbound(
                        f"race{round_}.{i}",
                        number=number,
                        answered_by=None,
                        at=T0 + timedelta(minutes=i),
                    )
                    for i in range(3)
                ]
                results = await asyncio.gather(
                    sinks[0].record(calls[:2]), sinks[1].record([calls[1], calls[2]])
                )
                created = [r.created for batch in results for r in batch]
                assert created.count(True) == 3, created
        assert caplog.records == []
    finally:
        await first.dispose()
        await second.dispose()
    found = await counts(office)
    assert (found["calls"], found["contacts"], found["deals"], found["tasks"]) == (24, 8, 8, 8)
    async with office.reader() as s:
        misses = list(await s.scalars(select(Task.missed_calls)))
        per_call = await s.execute(
            select(OutboxEvent.payload).where(OutboxEvent.kind == "call.recorded")
        )
        told = [payload["call_id"] for (payload,) in per_call]
    assert misses == [3] * 8
    assert len(told) == len(set(told)) == 24  # each call told once, by the writer that won
