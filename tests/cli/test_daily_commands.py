"""The everyday commands of issue #17 ("A CLI for daily work"): edit, reassign and reschedule a
task; edit a deal; search, rename, merge and delete a contact. Each runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from models.db import Database
from models.tables import Call, Contact, Deal, DealNote, Task
from tests.cli.test_admin_cli import office  # noqa: F401  (the fixture)

CLIENT = "+79161234567"
TWIN = "+79167654321"


def _json(cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def _ok(cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 0, result
    return result.out


def _refused(cli, table_counts, *args: str) -> str:
    """The command fails with one line on stderr, exit 2, and writes nothing."""
    before = table_counts()
    result = cli(*args)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("callrouter: error: "), result.err
    assert table_counts() == before
    return lines[0]


def _query(db_url: str, fn) -> Any:
    async def go() -> Any:
        db = Database(db_url)
        try:
            async with db.reader() as s:
                return await fn(s)
        finally:
            await db.dispose()

    return asyncio.run(go())


@pytest.fixture
def deal_with_task(office):  # noqa: F811
    """Анна's client with deal #1 and task #1 (a call, due tomorrow) on it."""
    cli = office
    _ok(cli, "contacts", "add", CLIENT, "--name", "Иван", "--responsible", "101")
    _ok(cli, "deals", "add", CLIENT, "--title", "Окна")
    args = ["--deal", "1", "--responsible", "101", "--due", "+1d", "--type", "call"]
    _ok(cli, "tasks", "add", *args, "--comment", "send the price list")
    return cli


def _task(cli, task_id: int = 1, status: str = "all") -> dict[str, Any]:
    (task,) = [t for t in _json(cli, "tasks", "list", "--status", status) if t["id"] == task_id]
    return task


# --- tasks ---------------------------------------------------------------------------------


def test_tasks_edit_changes_the_comment_and_the_type(deal_with_task, table_counts) -> None:
    cli = deal_with_task
    assert "comment and type changed" in _ok(
        cli, "tasks", "edit", "1", "--comment", "send the new prices", "--type", "email"
    )
    task = _task(cli)
    assert (task["comment"], task["type"]) == ("send the new prices", "email")
    assert "unknown task type" in _refused(cli, table_counts, "tasks", "edit", "1", "--type", "fax")
    assert "nothing to change" in _refused(cli, table_counts, "tasks", "edit", "1")
    assert "needs a comment" in _refused(cli, table_counts, "tasks", "edit", "1", "--comment", "  ")
    _ok(cli, "tasks", "done", "1")
    assert "already done" in _refused(cli, table_counts, "tasks", "edit", "1", "--comment", "x")


def test_tasks_reassign_gives_the_task_to_another_manager(deal_with_task, table_counts) -> None:
    cli = deal_with_task
    assert "task #1 is now Борис's" in _ok(cli, "tasks", "reassign", "1", "SIP/102")
    assert _task(cli)["responsible"] == "Борис"
    assert "is already Борис's" in _ok(cli, "tasks", "reassign", "1", "102")
    assert "no manager" in _refused(cli, table_counts, "tasks", "reassign", "1", "Nobody")
    # The client stays Анна's: only the task moved.
    assert _json(cli, "contacts", "list")[0]["responsible"] == "Анна Смирнова"
    _ok(cli, "managers", "deactivate", "Head", "--redistribute")
    assert "deactivated" in _refused(cli, table_counts, "tasks", "reassign", "1", "Head")


def test_tasks_reschedule_moves_the_deadline_and_keeps_the_reason_as_a_note(
    deal_with_task, db_url, table_counts
) -> None:
    cli = deal_with_task
    before = _task(cli)["due"]
    out = _ok(
        cli, "tasks", "reschedule", "1", "--due", "15.01.2099", "--reason", "клиент в отпуске"
    )
    assert "task #1 now due 2099-01-15 18:00" in out
    assert _task(cli)["due"] == "2099-01-15 18:00" != before

    notes = _query(db_url, lambda s: s.scalars(select(DealNote).where(DealNote.deal_id == 1)))
    (note,) = list(notes)
    assert note.kind == "reschedule"
    assert note.text.endswith("→ 2099-01-15 18:00: клиент в отпуске")
    assert note.text.startswith(f"#1 {before} → ")

    assert "--reason" in _refused(cli, table_counts, "tasks", "reschedule", "1", "--due", "+2d")
    assert "invalid date" in _refused(
        cli, table_counts, "tasks", "reschedule", "1", "--due", "32.01.2099", "--reason", "x"
    )
    assert "in the past" in _refused(
        cli, table_counts, "tasks", "reschedule", "1", "--due", "01.01.2020", "--reason", "x"
    )


# --- deals ---------------------------------------------------------------------------------


def test_deals_edit_changes_the_title_and_moves_the_client_like_deals_assign(
    deal_with_task, db_url, table_counts
) -> None:
    cli = deal_with_task
    assert "title 'Окна ПВХ'" in _ok(cli, "deals", "edit", "1", "--title", "Окна ПВХ")
    out = _ok(cli, "deals", "edit", "1", "--responsible", "SIP/102")
    assert "responsible Борис" in out and "1 open task(s) moved" in out
    (deal,) = _json(cli, "deals", "list")
    assert (deal["title"], deal["responsible"]) == ("Окна ПВХ", "Борис")
    # One responsible per client: the contact and the task followed; history says so.
    assert _json(cli, "contacts", "list")[0]["responsible"] == "Борис"
    assert _task(cli)["responsible"] == "Борис"
    history = _json(cli, "deals", "show", "1")["history"]
    assert history[-1]["kind"] == "assigned" and history[-1]["to_manager"] == "Борис"

    assert "too long" in _refused(cli, table_counts, "deals", "edit", "1", "--title", "Я" * 201)
    assert "line break" in _refused(cli, table_counts, "deals", "edit", "1", "--title", "a\nb")
    assert "nothing to change" in _refused(cli, table_counts, "deals", "edit", "1")
    assert "no deal" in _refused(cli, table_counts, "deals", "edit", "9", "--title", "x")
    assert "title removed" in _ok(cli, "deals", "edit", "1", "--title", "")
    assert _json(cli, "deals", "list")[0]["title"] is None


# --- contacts ------------------------------------------------------------------------------


def test_contacts_search_finds_by_part_of_a_number_or_a_name(office) -> None:  # noqa: F811
    cli = office
    _ok(cli, "contacts", "add", CLIENT, "--name", "Иван Петров")
    _ok(cli, "contacts", "add", TWIN, "--name", "Мария")
    _ok(cli, "contacts", "add", "+79031112233", "--name", "Пётр Иванов")
    assert [c["phone"] for c in _json(cli, "contacts", "search", "8 916")] == [TWIN, CLIENT]
    assert [c["phone"] for c in _json(cli, "contacts", "search", "45-67")] == [CLIENT]
    assert {c["name"] for c in _json(cli, "contacts", "search", "иван")} == {
        "Иван Петров",
        "Пётр Иванов",
    }
    result = cli("contacts", "search", "иван", "--limit", "1")
    assert result.code == 0 and "showing 1 of 2 (use --limit N or --all)" in result.err
    assert "no contacts found" in _ok(cli, "contacts", "search", "Зоя")


def test_contacts_rename(office, table_counts) -> None:  # noqa: F811
    cli = office
    _ok(cli, "contacts", "add", CLIENT, "--name", "Иван")
    assert "is now 'Иван Петров'" in _ok(
        cli, "contacts", "rename", "8 916 123-45-67", "Иван Петров"
    )
    assert _json(cli, "contacts", "list")[0]["name"] == "Иван Петров"
    assert "line break" in _refused(cli, table_counts, "contacts", "rename", "#1", "a\tb")
    assert "cannot be empty" in _refused(cli, table_counts, "contacts", "rename", "#1", " ")
    assert "no contact" in _refused(cli, table_counts, "contacts", "rename", "+79990000000", "X")


@pytest.fixture
def twins(office, db_url):  # noqa: F811
    """One client entered twice: #1 Анна's (deal #1 with her task), #2 Борис's (deal #2 with
    his task, and a call)."""
    cli = office
    _ok(cli, "contacts", "add", CLIENT, "--name", "Иван", "--responsible", "101")
    _ok(cli, "contacts", "add", TWIN, "--responsible", "102")
    _ok(cli, "deals", "add", CLIENT, "--title", "Окна")
    _ok(cli, "deals", "add", TWIN, "--title", "Двери")
    for deal, who in (("1", "101"), ("2", "102")):
        args = ["--deal", deal, "--responsible", who, "--due", "+1d", "--type", "call"]
        _ok(cli, "tasks", "add", *args, "--comment", f"call about deal {deal}")
    _store_call(db_url, contact_id=2, number=TWIN)
    return cli


def _store_call(db_url: str, *, contact_id: int, number: str) -> None:
    async def go() -> None:
        from datetime import UTC, datetime

        db = Database(db_url)
        try:
            async with db.transaction() as s:
                s.add(
                    Call(
                        system="pbx1",
                        linkedid="1700000000.1",
                        direction="inbound",
                        external_number=number,
                        external_number_raw=number,
                        disposition="ANSWERED",
                        started_at=datetime(2026, 11, 30, 10, 0, tzinfo=UTC),
                        ended_at=datetime(2026, 11, 30, 10, 5, tzinfo=UTC),
                        contact_id=contact_id,
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(go())


def _owners(db_url: str) -> dict[str, Any]:
    async def read(s) -> dict[str, Any]:
        return {
            "contacts": sorted((await s.execute(select(Contact.id, Contact.name))).all()),
            "deals": sorted(
                (
                    await s.execute(select(Deal.id, Deal.contact_id, Deal.responsible_manager_id))
                ).all()
            ),
            "tasks": sorted(
                (
                    await s.execute(select(Task.id, Task.contact_id, Task.responsible_manager_id))
                ).all()
            ),
            "calls": sorted((await s.execute(select(Call.id, Call.contact_id))).all()),
        }

    return _query(db_url, read)


def test_contacts_merge_moves_deals_tasks_and_calls_and_the_kept_responsible_wins(
    twins, db_url
) -> None:
    cli = twins
    out = _ok(cli, "contacts", "merge", CLIENT, TWIN)
    assert f"{TWIN} merged into contact #1: moved 1 deal(s), 1 task(s), 1 call(s)" in out
    assert "responsible: Анна Смирнова" in out
    state = _owners(db_url)
    assert [c for c, _ in state["contacts"]] == [1]
    assert {d[1] for d in state["deals"]} == {1}
    assert {t[1] for t in state["tasks"]} == {1}
    assert [c[1] for c in state["calls"]] == [1]
    # One responsible per client: Борис's deal and his task follow Анна (manager #1).
    assert {d[2] for d in state["deals"]} == {1} and {t[2] for t in state["tasks"]} == {1}
    history = _json(cli, "deals", "show", "2")["history"]
    assert history[-1]["kind"] == "assigned" and history[-1]["to_manager"] == "Анна Смирнова"


def test_contacts_merge_takes_the_responsible_it_is_told_and_the_missing_name(
    twins, db_url
) -> None:
    cli = twins
    out = _ok(cli, "contacts", "merge", TWIN, CLIENT, "--responsible", "102")
    assert "responsible: Борис" in out
    state = _owners(db_url)
    assert state["contacts"] == [(2, "Иван")]  # the kept one had no name: the other's
    assert {d[2] for d in state["deals"]} == {2} and {t[2] for t in state["tasks"]} == {2}


def test_contacts_merge_refuses_bad_input_and_writes_nothing(twins, table_counts) -> None:
    cli = twins
    assert "with itself" in _refused(cli, table_counts, "contacts", "merge", CLIENT, "#1")
    assert "no contact" in _refused(cli, table_counts, "contacts", "merge", CLIENT, "+79990000000")
    assert "no manager" in _refused(
        cli, table_counts, "contacts", "merge", CLIENT, TWIN, "--responsible", "Nobody"
    )


def test_contacts_merge_keeps_one_open_call_back_task(office, db_url) -> None:  # noqa: F811
    """Both contacts had an open call-back (one allowed per contact): the kept one's stands."""
    cli = office
    _ok(cli, "contacts", "add", CLIENT, "--responsible", "101")
    _ok(cli, "contacts", "add", TWIN, "--responsible", "101")
    _ok(cli, "deals", "add", CLIENT)
    _ok(cli, "deals", "add", TWIN)
    for deal in ("1", "2"):
        args = ["--deal", deal, "--responsible", "101", "--due", "+1d", "--type", "call"]
        _ok(cli, "tasks", "add", *args, "--comment", f"call back {deal}")

    async def as_callbacks(s) -> None:
        for task in await s.scalars(select(Task)):
            task.purpose = "callback"

    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.transaction() as s:
                await as_callbacks(s)
        finally:
            await db.dispose()

    asyncio.run(go())
    out = _ok(cli, "contacts", "merge", CLIENT, TWIN)
    assert "1 duplicate call-back task(s) cancelled" in out
    tasks = {t["comment"]: t for t in _json(cli, "tasks", "list", "--status", "all")}
    assert tasks["call back 1"]["status"] == "open"
    assert tasks["call back 2"]["status"] == "cancelled"


def test_contacts_delete_refuses_a_contact_with_history_unless_forced(
    twins, db_url, table_counts
) -> None:
    cli = twins
    refusal = _refused(cli, table_counts, "contacts", "delete", TWIN)
    assert "has 1 deal(s) and 1 call(s)" in refusal and "--force" in refusal
    out = _ok(cli, "contacts", "delete", TWIN, "--force")
    assert "deleted with 1 deal(s); 1 call(s) kept without a contact" in out
    state = _owners(db_url)
    assert [c for c, _ in state["contacts"]] == [1]
    assert [d[0] for d in state["deals"]] == [1] and [t[0] for t in state["tasks"]] == [1]
    assert [c[1] for c in state["calls"]] == [None]  # the call stays, unlinked
    _ok(cli, "contacts", "add", "+79031112233")
    assert "deleted" in _ok(cli, "contacts", "delete", "+79031112233")  # nothing held: no --force
    count = _query(db_url, lambda s: s.scalar(select(func.count()).select_from(Contact)))
    assert count == 1
