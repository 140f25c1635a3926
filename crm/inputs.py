"""What a person types to name a manager, a contact, a deal status or source: the rules, without
the database.

One set of rules for the ORM look-ups (`crm/staff.py` `get_manager`, `crm/contacts.py`
`get_contact`) and the CLI's listings, which read through `models/direct.py` and load no
SQLAlchemy (issue #17, fast listings). Nothing here imports SQLAlchemy.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol, TypeVar

from core.phones import PhoneNumberError, normalize_phone
from models.errors import InputError, NotFound
from models.values import DealSource

TECHNOLOGIES = ("PJSIP", "SIP", "IAX2", "DAHDI", "Local")
EXTENSION = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class Ambiguous(InputError):
    """A reference matched several managers; the message lists them."""


class ManagerLike(Protocol):
    """What matching needs of a manager: an ORM `Manager` or a row read directly."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def endpoint(self) -> str: ...
    @property
    def active(self) -> bool: ...


M = TypeVar("M", bound=ManagerLike)


def name_key(name: str) -> str:
    """What two spellings of one name share: Unicode NFC, case folded, whitespace collapsed
    ('анна  смирнова', a decomposed 'ё' and 'Анна Смирнова' are one key)."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())
    return " ".join(folded.split())


def match_manager(ref: str | int, managers: Sequence[M], *, prefer_active: bool = True) -> M:
    """The manager `ref` names among `managers` (every one, in id order): '#id', endpoint
    ('PJSIP/101'), extension ('101': on any technology, so it finds SIP/101 too) or name (any
    case, Unicode form or spacing).

    Several matches: the one active manager among them when `prefer_active`, else Ambiguous
    listing the candidates; none: NotFound."""
    text = str(ref).strip()
    found: list[M]
    if isinstance(ref, int) or text.startswith("#"):
        number = text.lstrip("#")
        found = [m for m in managers if number.isdigit() and m.id == int(number)]
        if not found:
            raise NotFound(f"no manager {text!r}")
        return found[0]
    if "/" in text:
        tech, _, rest = text.partition("/")
        tech = next((t for t in TECHNOLOGIES if t.lower() == tech.lower()), tech)
        found = [m for m in managers if m.endpoint == f"{tech}/{rest}"]
    elif text.isdigit():
        found = _by_extension(text, managers)
    else:
        key = name_key(text)
        found = [m for m in managers if name_key(m.name) == key]
        if not found and EXTENSION.match(text):
            found = _by_extension(text, managers)
    if not found:
        raise NotFound(f"no manager {text!r}")
    if len(found) > 1 and prefer_active:
        active = [m for m in found if m.active]
        found = active if len(active) == 1 else found
    if len(found) > 1:
        listed = "; ".join(
            f"#{m.id} {m.name} ({m.endpoint}{'' if m.active else ', inactive'})" for m in found
        )
        raise Ambiguous(f"{text!r} matches {len(found)} managers: {listed}; name one by #id")
    return found[0]


def _by_extension(extension: str, managers: Sequence[M]) -> list[M]:
    endpoints = {f"{tech}/{extension}" for tech in TECHNOLOGIES}
    return [m for m in managers if m.endpoint in endpoints]


def phone_or_error(raw: str, region: str) -> str:
    """The number in E.164; InputError saying why it is none."""
    try:
        return normalize_phone(raw, region)
    except PhoneNumberError as exc:
        raise InputError(str(exc)) from None


def contact_id_in(ref: str) -> int | None:
    """The contact id a reference may be: '#12', or '12' when short (a longer number is a
    phone). Tried first; when no contact has it, the reference is read as a phone number
    (`phone_or_error`), and `no_contact` says neither matched."""
    text = ref.strip().lstrip("#")
    return int(text) if text.isdigit() and len(text) <= 6 else None


def no_contact(ref: str) -> NotFound:
    return NotFound(f"no contact {ref!r}")


def check_status(status: str, statuses: Sequence[str]) -> str:
    """A deal status as configured (`leads.deal_statuses`), in any case, spaces or dashes."""
    value = status.strip().lower().replace(" ", "_").replace("-", "_")
    if value not in statuses:
        raise InputError(f"unknown deal status {status!r}: choose one of {', '.join(statuses)}")
    return value


def parse_source(text: str) -> DealSource:
    """A deal source ('inbound_call', …), in any case or with spaces."""
    try:
        return DealSource(text.strip().lower().replace(" ", "_"))
    except ValueError:
        choices = ", ".join(DealSource.values())
        raise InputError(f"unknown deal source {text!r}: choose one of {choices}") from None
