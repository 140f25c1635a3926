"""GET /deals and /contacts: search by any spelling of a number, by name, filters, pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from crm import contacts, deals, staff
from models.db import Database
from models.values import DealSource
from tests.crm.test_access import build_world


def ids(html: str, kind: str) -> list[int]:
    return [int(i) for i in re.findall(rf'<tr data-{kind}-id="(\d+)"', html)]


@pytest.mark.parametrize(
    "typed",
    ["8 916 111-00-01", "+7 (916) 111-00-01", "89161110001", "+7 916 11", "8 916 11", "00-01"],
)
async def test_search_by_phone_in_any_spelling(
    db: Database, make_user, client_for, typed: str
) -> None:
    w = await build_world(db)
    owner = await make_user("owner", w.managers["owner"])
    async with client_for(owner) as client:
        found_deals = await client.get("/deals", params={"q": typed})
        found_contacts = await client.get("/contacts", params={"q": typed})
    assert ids(found_deals.text, "deal") == [w.deals["anna"]]
    assert ids(found_contacts.text, "contact") == [w.contacts["anna"]]
    assert f'href="/deals/{w.deals["anna"]}"' in found_deals.text
    assert f'href="/contacts/{w.contacts["anna"]}"' in found_contacts.text


async def test_search_by_name_and_title_and_filters(db: Database, make_user, client_for) -> None:
    w = await build_world(db)
    owner = await make_user("owner", w.managers["owner"])
    async with client_for(owner) as client:
        by_name = await client.get("/contacts", params={"q": "клиент вера"})
        by_title = await client.get("/deals", params={"q": "СДЕЛКА БОРИС"})
        by_manager = await client.get("/deals", params={"manager": w.managers["vera"]})
        by_status = await client.get("/deals", params={"status": "won"})
        everything = await client.get("/deals", params={"status": "bogus", "page": "x"})
    assert ids(by_name.text, "contact") == [w.contacts["vera"]]
    assert ids(by_title.text, "deal") == [w.deals["boris"]]
    assert ids(by_manager.text, "deal") == [w.deals["vera"]]
    assert ids(by_status.text, "deal") == []
    assert sorted(ids(everything.text, "deal")) == sorted(w.deals.values())


async def test_pages_of_fifty(db: Database, make_user, client_for) -> None:
    w = await build_world(db)
    async with db.transaction() as s:
        anna = await staff.get_manager(s, "101", "PJSIP")
        for i in range(57):
            contact = await contacts.add_contact(
                s, f"+7916777{i:04d}", region="RU", name=f"Покупатель {i}", responsible=anna
            )
            await deals.create_deal(
                s,
                contact,
                source=DealSource.MANUAL,
                now=datetime(2026, 12, 1, tzinfo=UTC),
                title=f"Заказ {i}",
            )
    user = await make_user("manager", w.managers["anna"], locale="en")
    async with client_for(user) as client:
        first = await client.get("/deals")
        second = await client.get("/deals", params={"page": 2})
        contacts_2 = await client.get("/contacts", params={"page": 2})
        searched = await client.get("/contacts", params={"q": "+7 916 777", "page": 2})
    assert len(ids(first.text, "deal")) == 50 and len(ids(second.text, "deal")) == 8
    assert not set(ids(first.text, "deal")) & set(ids(second.text, "deal"))
    assert 'rel="next" href="/deals?page=2"' in first.text and 'rel="next"' not in second.text
    assert "Page 2 of 2" in second.text
    assert len(ids(contacts_2.text, "contact")) == 8
    assert len(ids(searched.text, "contact")) == 7
    assert 'href="/contacts?q=%2B7+916+777&amp;page=1"' in searched.text
    assert "Клиент Борис" not in first.text + second.text  # not Анна's client
