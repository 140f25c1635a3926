"""Role isolation on the CRM pages, and every name escaped.

A manager asking for a colleague's deal, contact or task gets 404 with a body naming nothing of
it, and nothing is written; a head of sales sees their department; the owner everything."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from crm import notes
from crm.call_sink import DbCallSink
from models.base import Base
from models.db import Database
from tests.crm.test_access import PHONES, build_world
from tests.sink.test_call_sink import inbound

SCRIPT = "<script>alert(1)</script>"


async def _counts(db: Database) -> dict[str, int]:
    async with db.reader() as s:
        return {
            t.name: int(await s.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
            if t.name not in ("web_sessions", "login_attempts")
        }


def _bare(body: str) -> str:
    return re.sub(r'name="next" value="[^"]*"', "", body)


def _names_nothing(body: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in body, secret


async def test_a_manager_cannot_open_or_touch_a_colleagues_records(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    anna = await make_user("manager", w.managers["anna"])
    deal, contact, task = w.deals["boris"], w.contacts["boris"], w.tasks["boris"]
    secrets = ["Клиент Борис", "Сделка Борис", "+7 916 222-00-02", PHONES["boris"], "позвонить 1"]
    before = await _counts(db)
    form = {"responsible": str(w.managers["anna"]), "due": "2026-12-03T10:00", "type": "call"}
    asks: list[tuple[str, str, dict[str, str]]] = [
        ("GET", "/deals/{}", {}),
        ("GET", "/contacts/{}", {}),
        ("POST", "/deals/{}/status", {"status": "won"}),
        ("POST", "/deals/{}/tasks", {**form, "comment": "x"}),
        ("POST", "/deals/{}/notes", {"text": "x"}),
        ("POST", "/tasks/{}/done", {}),
        ("POST", "/tasks/{}/cancel", {}),
        ("POST", "/tasks/{}/reschedule", {"due": "2026-12-03T10:00", "reason": "x"}),
    ]
    theirs = {"/deals": deal, "/contacts": contact, "/tasks": task}
    async with client_for(anna) as client:

        async def ask(method: str, url: str, data: dict[str, str]) -> Any:
            if method == "GET":
                return await client.get(url)
            return await client.post_form(url, data)

        for method, pattern, data in asks:
            record = theirs["/" + pattern.split("/")[1]]
            answer = await ask(method, pattern.format(record), data)
            nowhere = await ask(method, pattern.format(999999), data)
            assert answer.status_code == nowhere.status_code == 404, pattern
            # The same page as for a record that does not exist, but for the address typed.
            assert _bare(answer.text) == _bare(nowhere.text).replace("999999", str(record))
            _names_nothing(answer.text, secrets)
        listed = [await client.get(u) for u in ("/deals", "/contacts", "/my-day", "/missed")]
        searched = await client.get("/contacts", params={"q": "8 916 222 00 02"})
    for page in [*listed, searched]:
        assert page.status_code == 200
        _names_nothing(page.text, secrets)
    assert await _counts(db) == before


async def test_a_head_sees_the_department_and_the_owner_everything(
    db: Database, make_user, client_for
) -> None:
    w = await build_world(db)
    head = await make_user("head_of_sales", w.managers["head"])
    owner = await make_user("owner", w.managers["owner"])
    async with client_for(head) as client:
        sales = [await client.get(f"/deals/{w.deals[k]}") for k in ("anna", "boris")]
        sales += [await client.get(f"/contacts/{w.contacts[k]}") for k in ("anna", "boris")]
        other = [
            await client.get(f"/deals/{w.deals['vera']}"),
            await client.get(f"/contacts/{w.contacts['vera']}"),
            await client.post_form(f"/tasks/{w.tasks['vera']}/done"),
        ]
        done = await client.post_form(f"/tasks/{w.tasks['boris']}/done")
        listing = await client.get("/deals")
    assert [r.status_code for r in sales] == [200] * 4
    assert [r.status_code for r in other] == [404] * 3
    assert done.status_code == 303
    assert "Сделка Анна" in listing.text and "Сделка Борис" in listing.text
    assert "Сделка Вера" not in listing.text
    async with client_for(owner) as client:
        everything = [await client.get(f"/deals/{d}") for d in w.deals.values()]
        everything += [await client.get(f"/contacts/{c}") for c in w.contacts.values()]
        listing = await client.get("/deals")
    assert [r.status_code for r in everything] == [200] * 6
    assert all(f"Сделка {n}" in listing.text for n in ("Анна", "Борис", "Вера"))


async def test_names_are_escaped_everywhere(db: Database, make_user, client_for) -> None:
    w = await build_world(db, names={"anna": SCRIPT})
    await DbCallSink(db).store(
        inbound("x.1", number=PHONES["anna"], answered_by=None, rung=("PJSIP/101",))
    )
    async with db.transaction() as s:
        await notes.add_note(s, w.deals["anna"], SCRIPT, now=datetime.now(UTC))
    anna = await make_user("manager", w.managers["anna"])
    owner = await make_user("owner", w.managers["owner"])
    pages = [
        "/my-day",
        "/deals",
        "/contacts",
        "/missed",
        f"/deals/{w.deals['anna']}",
        f"/contacts/{w.contacts['anna']}",
        "/contacts?q=" + SCRIPT,
        "/deals?q=" + SCRIPT,
    ]
    for user in (anna, owner):
        async with client_for(user) as client:
            for url in pages:
                page = await client.get(url)
                assert page.status_code == 200, url
                assert "<script>alert" not in page.text, url
            card = await client.get(f"/deals/{w.deals['anna']}")
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card.text
            missed = await client.get("/missed")
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in missed.text
