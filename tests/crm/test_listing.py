"""Deals and contacts lists: phone spellings, names, filters, pages, scopes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm import contacts, deals, staff
from crm.listing import PhoneQuery, _next_prefix, phone_query, search_contacts, search_deals
from models.db import Database
from models.values import DealSource
from tests.crm.test_access import PHONES, T0, build_world


@pytest.mark.parametrize(
    ("typed", "query"),
    [
        ("8 916 111-00-01", PhoneQuery(exact="+79161110001")),
        ("+7 (916) 111-00-01", PhoneQuery(exact="+79161110001")),
        ("9161110001", PhoneQuery(exact="+79161110001")),
        ("+7 916 11", PhoneQuery(prefix="+791611")),
        ("8 916 11", PhoneQuery(prefix="+791611")),
        ("00-01", PhoneQuery(digits="0001")),
        ("916 111", PhoneQuery(digits="916111")),
        ("12", None),
        ("Иван", None),
        ("Окна 2", None),
    ],
)
def test_how_a_typed_number_is_looked_up(typed: str, query: PhoneQuery | None) -> None:
    assert phone_query(typed) == query


def test_the_prefix_range_ends_after_every_number_it_starts() -> None:
    assert _next_prefix("+7916") == "+7917"
    assert _next_prefix("+7919") == "+792"
    assert _next_prefix("+7999") == "+8"


@pytest.mark.parametrize(
    "typed",
    ["8 916 111-00-01", "+7 916 111 00 01", "79161110001", "+7 916 11", "8 (916) 111", "00-01"],
)
async def test_every_spelling_finds_the_client_and_the_deal(db: Database, typed: str) -> None:
    w = await build_world(db)
    owner = w.viewer("owner")
    async with db.reader() as s:
        found = await search_contacts(s, owner, q=typed)
        found_deals = await search_deals(s, owner, q=typed)
    assert [c.id for c in found.items] == [w.contacts["anna"]]
    assert [d.id for d in found_deals.items] == [w.deals["anna"]]
    assert found.total == found_deals.total == 1


async def test_names_and_titles_in_any_case(db: Database) -> None:
    w = await build_world(db)
    owner = w.viewer("owner")
    async with db.reader() as s:
        for typed in ("анна", "Анна", "АННА", "клиент анна"):
            found = await search_contacts(s, owner, q=typed)
            assert [c.id for c in found.items] == [w.contacts["anna"]], typed
        by_title = await search_deals(s, owner, q="сделка вера")
        assert [d.id for d in by_title.items] == [w.deals["vera"]]
        # LIKE's wildcards typed are plain characters.
        assert (await search_contacts(s, owner, q="%")).total == 0
        assert (await search_deals(s, owner, q="_")).total == 0


async def test_the_scope_applies_to_searches_and_filters(db: Database) -> None:
    w = await build_world(db)
    async with db.reader() as s:
        anna = await search_deals(s, w.viewer("anna"))
        assert [d.id for d in anna.items] == [w.deals["anna"]]
        # Анна filtering by Борис gets nothing, and a search for his client's number neither.
        assert (await search_deals(s, w.viewer("anna"), manager_id=w.managers["boris"])).total == 0
        assert (await search_contacts(s, w.viewer("anna"), q=PHONES["boris"])).total == 0
        head = await search_deals(s, w.viewer("head"))
        assert {d.id for d in head.items} == {w.deals["anna"], w.deals["boris"]}
        owner = await search_deals(s, w.viewer("owner"), manager_id=w.managers["vera"])
        assert [d.id for d in owner.items] == [w.deals["vera"]]


async def test_status_filter_and_pages(db: Database) -> None:
    w = await build_world(db)
    async with db.transaction() as s:
        anna = await staff.get_manager(s, "101", "PJSIP")
        for i in range(7):
            contact = await contacts.add_contact(
                s, f"+7916555{i:04d}", region="RU", name=f"Extra {i}", responsible=anna
            )
            await deals.create_deal(s, contact, source=DealSource.MANUAL, now=T0, title=f"x{i}")
        deal = await deals.get_deal(s, w.deals["anna"])
        await deals.set_status(
            s,
            deal,
            "in_progress",
            statuses=["new", "in_progress", "won", "lost"],
            closed_statuses=["won", "lost"],
            now=T0 + timedelta(minutes=5),
        )
    viewer = w.viewer("anna")
    async with db.reader() as s:
        first = await search_deals(s, viewer, status="new", per_page=3)
        second = await search_deals(s, viewer, status="new", page=2, per_page=3)
        last = await search_deals(s, viewer, status="new", page=3, per_page=3)
        beyond = await search_deals(s, viewer, status="new", page=9, per_page=3)
        progress = await search_deals(s, viewer, status="in_progress")
    assert first.total == 7 and first.pages == 3 and first.has_next and not first.has_prev
    ids = [d.id for p in (first, second, last) for d in p.items]
    assert len(ids) == len(set(ids)) == 7 and ids == sorted(ids, reverse=True)
    assert not last.has_next and beyond.items == ()
    assert [d.id for d in progress.items] == [w.deals["anna"]]
