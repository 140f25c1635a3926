"""The people who log in to the web application: accounts, argon2 passwords, roles.

A user has a log-in (case-insensitive, kept in lower case), a role — manager, head_of_sales,
owner, or admin (the CLI's people: sees everything, rings nobody) — and, for a manager or a head
of sales, the `managers` row they are (at most one account per manager). An account whose
manager row is deactivated cannot log in. Passwords are argon2id hashes (argon2-cffi); the
password itself is never stored, printed or logged.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, func, outerjoin, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import Duplicate, InputError, NotFound
from models.tables import WEB_ROLES, Department, Manager, User

ROLES = WEB_ROLES
# These roles see records by the manager they are: an account of theirs names a manager row.
ROLES_WITH_MANAGER = ("manager", "head_of_sales")
LOCALES = ("ru", "en")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,79}$")

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the log-in does not exist, so an unknown log-in takes as long as
    a wrong password (no timing oracle for which log-ins exist). Made on first use: hashing
    costs tens of milliseconds, which every CLI command importing this module would pay."""
    return _hasher.hash("callrouter: no such user")


@dataclass(frozen=True)
class Account:
    """What the web application knows of a logged-in person (no password hash)."""

    id: int
    login: str
    name: str
    role: str
    manager_id: int | None
    department_id: int | None
    locale: str | None
    # The time zone of the manager's department (None: no department; the company's applies).
    timezone: str | None = None


def normalize_login(text: str) -> str:
    login = unicodedata.normalize("NFKC", text).strip().lower()
    if not _LOGIN.match(login):
        raise InputError(
            f"log-in {text.strip()!r} is not valid: 1–80 characters a-z 0-9 . _ @ -, "
            "starting with a letter or digit"
        )
    return login


def check_role(role: str) -> str:
    value = role.strip().lower().replace("-", "_").replace(" ", "_")
    if value not in ROLES:
        raise InputError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    return value


def check_locale(locale: str | None) -> str | None:
    if locale is None:
        return None
    value = locale.strip().lower()
    if value not in LOCALES:
        raise InputError(f"unknown language {locale!r}; one of: {', '.join(LOCALES)}")
    return value


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters")
    if password != password.strip() and not password.strip():
        raise InputError("the password is blank")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def login_for_manager(manager: Manager) -> str:
    """The default log-in of a manager's account: the extension (`PJSIP/101` → `101`), else a
    slug of the name."""
    extension = manager.endpoint.partition("/")[2] or manager.endpoint
    candidate = extension.strip().lower()
    if _LOGIN.match(candidate):
        return candidate
    ascii_name = unicodedata.normalize("NFKD", manager.name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", ".", ascii_name.lower()).strip(".")
    return slug[:80] if slug and _LOGIN.match(slug[:80]) else f"manager{manager.id}"


async def _check_manager_link(
    session: AsyncSession, role: str, manager: Manager | None, user_id: int | None = None
) -> None:
    if role in ROLES_WITH_MANAGER and manager is None:
        raise InputError(f"a {role} account names their manager: give --manager")
    if manager is None:
        return
    taken = await session.scalar(select(User).where(User.manager_id == manager.id))
    if taken is not None and taken.id != user_id:
        raise Duplicate(f"manager #{manager.id} already has the account {taken.login!r}")


async def add_user(
    session: AsyncSession,
    login: str,
    *,
    role: str | None = None,
    password: str | None = None,
    manager: Manager | None = None,
    locale: str | None = None,
) -> User:
    """A new account; the role defaults to the manager's own role, else is required."""
    name = normalize_login(login)
    if role is None:
        if manager is None:
            raise InputError("give the account a --role: " + ", ".join(ROLES))
        role = manager.role
    role = check_role(role)
    if await session.scalar(select(User.id).where(User.login == name)) is not None:
        raise Duplicate(f"log-in {name!r} is taken")
    await _check_manager_link(session, role, manager)
    user = User(
        login=name,
        role=role,
        manager_id=manager.id if manager is not None else None,
        password_hash=hash_password(password) if password is not None else None,
        locale=check_locale(locale),
        active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def get_user(session: AsyncSession, ref: str | int) -> User:
    """A user by log-in (any case) or '#id'."""
    text = str(ref).strip()
    if isinstance(ref, int) or (text.startswith("#") and text[1:].isdigit()):
        user = await session.get(User, int(text.lstrip("#")))
    else:
        user = await session.scalar(
            select(User).where(User.login == unicodedata.normalize("NFKC", text).lower())
        )
    if user is None:
        raise NotFound(f"no user {text!r}")
    return user


async def user_of_manager(session: AsyncSession, manager: Manager) -> User | None:
    return await session.scalar(select(User).where(User.manager_id == manager.id))


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    await session.flush()


async def set_locale(session: AsyncSession, user_id: int, locale: str) -> None:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user #{user_id}")
    user.locale = check_locale(locale)
    await session.flush()


async def deactivate_user(session: AsyncSession, user: User) -> None:
    """The account can no longer log in; the caller ends its sessions in the same transaction."""
    user.active = False
    await session.flush()


async def set_manager_password(
    session: AsyncSession, manager: Manager, password: str, login: str | None = None
) -> tuple[User, bool]:
    """The manager's account with a new password: created (log-in: `login`, else the extension
    or a slug of the name) or updated. Returns the account and whether it was created."""
    user = await user_of_manager(session, manager)
    if user is not None:
        if login is not None and normalize_login(login) != user.login:
            raise InputError(
                f"manager #{manager.id} already has the account {user.login!r}; "
                "leave out --login to change its password"
            )
        await set_password(session, user, password)
        user.active = True
        await session.flush()
        return user, False
    user = await add_user(
        session,
        login if login is not None else login_for_manager(manager),
        role=manager.role,
        password=password,
        manager=manager,
    )
    return user, True


async def list_users(session: AsyncSession) -> Sequence[tuple[User, Manager | None]]:
    rows = await session.execute(
        select(User, Manager).outerjoin(Manager, Manager.id == User.manager_id).order_by(User.id)
    )
    return [(user, manager) for user, manager in rows]


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def password_hash_for(session: AsyncSession, login: str) -> tuple[int | None, str | None]:
    """The account id and password hash for a log-in, (None, None) when there is none. Read
    this in a short read-only transaction: checking the password is slow on purpose (argon2)
    and must not hold the database's write lock (`password_matches` in a thread)."""
    try:
        name = normalize_login(login)
    except InputError:
        return None, None
    found = (
        await session.execute(select(User.id, User.password_hash).where(User.login == name))
    ).first()
    return (found[0], found[1]) if found is not None else (None, None)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the account's; as slow for an unknown log-in as for a known one."""
    return len(password) <= MAX_PASSWORD_LENGTH and _verify(password_hash, password)


async def accept_login(
    session: AsyncSession, user_id: int, password_hash: str | None, password: str
) -> User | None:
    """After `password_matches`: the account, if it may still log in (active, its manager
    active, its hash unchanged since it was read); records the log-in."""
    found = (
        await session.execute(
            select(User, Manager)
            .outerjoin(Manager, Manager.id == User.manager_id)
            .where(User.id == user_id)
        )
    ).first()
    if found is None:
        return None
    user, manager = found[0], found[1]
    if user.password_hash != password_hash:
        return None  # the password changed in between
    if not user.active or (manager is not None and not manager.active):
        return None
    if user.role in ROLES_WITH_MANAGER and manager is None:
        return None  # its manager row is gone: nothing it could see
    if user.password_hash is not None and _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = datetime.now(UTC)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, login: str, password: str) -> User | None:
    """The active account with this log-in and password, else None (the same for every reason:
    unknown log-in, wrong password, no password set, deactivated account or manager). In one
    session, for the CLI and tests; the web splits it so argon2 runs outside the transaction."""
    user_id, password_hash = await password_hash_for(session, login)
    if not password_matches(password_hash, password) or user_id is None:
        return None
    return await accept_login(session, user_id, password_hash, password)


# What `account_of` reads: the user, their manager row and its department's time zone, in one
# statement (the web's session check joins it to the session's row).
ACCOUNT_COLUMNS = (
    User.id,
    User.login,
    User.role,
    User.manager_id,
    User.locale,
    User.active,
    Manager.id.label("manager_row"),
    Manager.name.label("manager_name"),
    Manager.active.label("manager_active"),
    Manager.department_id,
    Department.timezone.label("department_timezone"),
)


def account_query(source: Any = User) -> Select[Any]:
    """SELECT of ACCOUNT_COLUMNS from `source` (users, or a join holding users) with the
    user's manager and its department (outer joins)."""
    joined = outerjoin(source, Manager, Manager.id == User.manager_id).outerjoin(
        Department, Department.id == Manager.department_id
    )
    return select(*ACCOUNT_COLUMNS).select_from(joined)


def account_of(row: Any) -> Account | None:
    """A row of `account_query()` → the account, or None if it may no longer log in."""
    if row.id is None:  # an outer join found no user
        return None
    has_manager = row.manager_row is not None
    if not row.active or (has_manager and not row.manager_active):
        return None
    if row.role in ROLES_WITH_MANAGER and not has_manager:
        return None
    return Account(
        id=row.id,
        login=row.login,
        name=row.manager_name if has_manager else row.login,
        role=row.role,
        manager_id=row.manager_id,
        department_id=row.department_id if has_manager else None,
        locale=row.locale,
        timezone=row.department_timezone if has_manager else None,
    )


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)
