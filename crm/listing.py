"""The deals and contacts lists: search, filters and pages, within the viewer's scope.

The search text `q` is a phone number in any spelling or a name/title:
- a whole number (`8 916 123-45-67`, `+7 (916) 123-45-67`, `9161234567`) is one contact, found
  by the unique index on the E.164 phone;
- the start of a number (`+7 916 12`, `8 916 12`: the trunk prefix 8 read as +7 in Russia) is a
  range of that index;
- other digits (`45-67`, `916 123`) are found anywhere in the number;
- anything else is part of a name (or a deal's title), in the case typed, lower case, upper
  case or capitalised — SQLite folds only ASCII letters, so "иван" finds "Иван" this way on both
  databases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.phones import try_normalize_phone
from crm.access import Viewer, contact_filter, deal_filter
from models.tables import Contact, Deal, Manager

PER_PAGE = 50
_PHONE_TEXT = re.compile(r"^[\d\s()+\-./]+$")
MIN_DIGITS = 3

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    page: int  # 1-based
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class DealRow:
    id: int
    title: str | None
    status: str
    responsible: str | None
    updated_at: datetime
    contact_id: int
    contact_name: str | None
    contact_phone: str


@dataclass(frozen=True)
class ContactRow:
    id: int
    name: str | None
    phone: str
    responsible: str | None
    created_at: datetime


@dataclass(frozen=True)
class PhoneQuery:
    exact: str | None = None  # E.164
    prefix: str | None = None  # "+7916…"
    digits: str | None = None  # anywhere in the number


def phone_query(q: str, region: str = "RU") -> PhoneQuery | None:
    """How to look a typed number up; None when `q` is not (part of) a phone number."""
    text = q.strip()
    if not _PHONE_TEXT.match(text):
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < MIN_DIGITS:
        return None
    exact = try_normalize_phone(text, region)
    if exact is not None:
        return PhoneQuery(exact=exact)
    if text.startswith("+"):
        return PhoneQuery(prefix="+" + digits)
    trunk = _trunk_prefix(region)
    if trunk and digits.startswith(trunk) and len(digits) > len(trunk):
        import phonenumbers  # on first use, as core.phones does: not with the listing

        code = phonenumbers.country_code_for_region(region)
        return PhoneQuery(prefix=f"+{code}{digits[len(trunk) :]}")
    return PhoneQuery(digits=digits)


def _trunk_prefix(region: str) -> str | None:
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    return metadata.national_prefix if metadata is not None else None


def _next_prefix(prefix: str) -> str:
    """The smallest string of digits after every string starting with `prefix` ("+7919" →
    "+792"): a range on the index, in any collation, since every number is "+" and digits."""
    head = prefix.rstrip("9")
    if head in ("", "+"):
        return prefix + ":"
    return head[:-1] + chr(ord(head[-1]) + 1)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _spellings(text: str) -> list[str]:
    return list(dict.fromkeys([text, text.lower(), text.upper(), text.capitalize(), text.title()]))


def _phone_match(column: Any, pq: PhoneQuery) -> ColumnElement[bool]:
    if pq.exact is not None:
        return column == pq.exact  # type: ignore[no-any-return]
    if pq.prefix is not None:
        return and_(column >= pq.prefix, column < _next_prefix(pq.prefix))
    return column.like(f"%{_like_escape(pq.digits or '')}%", escape="\\")  # type: ignore[no-any-return]


def _text_match(columns: Sequence[Any], text: str) -> ColumnElement[bool]:
    patterns = [f"%{_like_escape(s)}%" for s in _spellings(text)]
    return or_(*(c.like(p, escape="\\") for c in columns for p in patterns))


def _page(page: int) -> int:
    return max(1, page)


async def search_deals(
    session: AsyncSession,
    viewer: Viewer,
    *,
    q: str = "",
    status: str | None = None,
    manager_id: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    region: str = "RU",
) -> Page[DealRow]:
    """The viewer's deals, newest first, matching the search and the filters."""
    conditions: list[ColumnElement[bool]] = []
    scope = deal_filter(viewer)
    if scope is not None:
        conditions.append(scope)
    if status:
        conditions.append(Deal.status == status)
    if manager_id is not None:
        conditions.append(Deal.responsible_manager_id == manager_id)
    text = q.strip()
    if text:
        # The clients matched first (an index for a number), then their deals.
        pq = phone_query(text, region)
        if pq is not None:
            clients = select(Contact.id).where(_phone_match(Contact.phone, pq))
            conditions.append(Deal.contact_id.in_(clients))
        else:
            clients = select(Contact.id).where(_text_match([Contact.name], text))
            conditions.append(or_(_text_match([Deal.title], text), Deal.contact_id.in_(clients)))
    total = int(
        await session.scalar(select(func.count()).select_from(Deal).where(*conditions)) or 0
    )
    page = _page(page)
    rows = await session.execute(
        select(
            Deal.id,
            Deal.title,
            Deal.status,
            Manager.name,
            Deal.updated_at,
            Contact.id,
            Contact.name,
            Contact.phone,
        )
        .join(Contact, Contact.id == Deal.contact_id)
        .outerjoin(Manager, Manager.id == Deal.responsible_manager_id)
        .where(*conditions)
        .order_by(Deal.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(tuple(DealRow(*r) for r in rows.all()), total, page, per_page)


async def search_contacts(
    session: AsyncSession,
    viewer: Viewer,
    *,
    q: str = "",
    manager_id: int | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
    region: str = "RU",
) -> Page[ContactRow]:
    """The viewer's clients, newest first, matching the search."""
    conditions: list[ColumnElement[bool]] = []
    scope = contact_filter(viewer)
    if scope is not None:
        conditions.append(scope)
    if manager_id is not None:
        conditions.append(Contact.responsible_manager_id == manager_id)
    text = q.strip()
    if text:
        pq = phone_query(text, region)
        if pq is not None:
            conditions.append(_phone_match(Contact.phone, pq))
        else:
            conditions.append(_text_match([Contact.name], text))
    total = int(
        await session.scalar(select(func.count()).select_from(Contact).where(*conditions)) or 0
    )
    page = _page(page)
    rows = await session.execute(
        select(Contact.id, Contact.name, Contact.phone, Manager.name, Contact.created_at)
        .outerjoin(Manager, Manager.id == Contact.responsible_manager_id)
        .where(*conditions)
        .order_by(Contact.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return Page(tuple(ContactRow(*r) for r in rows.all()), total, page, per_page)
