"""Server-side sessions and log-in throttling, kept in the database (so they hold across nodes).

A session is a random 256-bit token held by the browser in a cookie signed with the settings'
secret key (itsdangerous); the table keeps only the token's SHA-256, the user, when it was made
and last used, and the session's CSRF secret. A session ends at log-out, after
`web.session_idle_minutes` unused, and `web.session_max_hours` after log-in in any case.
Every function takes `now` (the application's clock) so tests move time without sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import bindparam, delete, func, outerjoin, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import WebSettings
from crm.users import Account, account_of, account_query
from models.fast_reads import FastReader
from models.tables import LoginAttempt, User, WebSession

# Touching `last_seen_at` at most this often: most requests then write nothing.
TOUCH_EVERY = timedelta(seconds=60)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class CookieSigner:
    """Signs and checks cookie values with the secret key (a salt per purpose)."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._signer = Signer(secret_key, salt=f"callrouter.web.{purpose}")

    def sign(self, value: str) -> str:
        return self._signer.sign(value).decode()

    def unsign(self, signed: str | None) -> str | None:
        if not signed:
            return None
        try:
            return self._signer.unsign(signed).decode()
        except (BadSignature, UnicodeDecodeError):
            return None


@dataclass(frozen=True)
class Lifetime:
    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, web: WebSettings) -> Lifetime:
        return cls(
            idle=timedelta(minutes=web.session_idle_minutes),
            absolute=timedelta(hours=web.session_max_hours),
        )


@dataclass(frozen=True)
class ActiveSession:
    id: str  # sha256 of the token
    user_id: int
    csrf_secret: str
    created_at: datetime
    last_seen_at: datetime


async def create_session(session: AsyncSession, user_id: int, now: datetime) -> tuple[str, str]:
    """A new session for the user; returns (token for the cookie, csrf secret)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            id=token_id(token), user_id=user_id, created_at=now, last_seen_at=now, csrf_secret=csrf
        )
    )
    await session.flush()
    return token, csrf


# The check every request makes, built once (its construction and cache key cost more CPU
# than SQLite takes to answer it).
_SESSION_WITH_ACCOUNT = (
    account_query(outerjoin(WebSession, User, User.id == WebSession.user_id))
    .add_columns(
        WebSession.id.label("session_id"),
        WebSession.user_id.label("session_user_id"),
        WebSession.csrf_secret.label("csrf_secret"),
        WebSession.created_at.label("session_created_at"),
        WebSession.last_seen_at.label("last_seen_at"),
    )
    .where(WebSession.id == bindparam("session_id"))
)


async def find_session_account(
    reads: FastReader, token: str
) -> tuple[ActiveSession, Account | None] | None:
    """The stored session of this token (live or not) and its account (None if it may no longer
    log in), in one statement on the driver itself: every request asks it."""
    row = await reads.first(_SESSION_WITH_ACCOUNT, {"session_id": token_id(token)})
    if row is None:
        return None
    stored = ActiveSession(
        row.session_id,
        row.session_user_id,
        row.csrf_secret,
        row.session_created_at,
        row.last_seen_at,
    )
    return stored, account_of(row)


def is_expired(found: ActiveSession, now: datetime, lifetime: Lifetime) -> bool:
    return now - found.last_seen_at > lifetime.idle or now - found.created_at > lifetime.absolute


def needs_touch(found: ActiveSession, now: datetime) -> bool:
    return now - found.last_seen_at >= TOUCH_EVERY


async def touch_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now)
    )


async def delete_session_id(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id == session_id))


async def delete_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id == token_id(token)))


async def delete_user_sessions(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_expired(session: AsyncSession, now: datetime, lifetime: Lifetime) -> None:
    """Forget the sessions that have ended (a browser that never came back leaves its row)."""
    await session.execute(
        delete(WebSession).where(
            (WebSession.last_seen_at < now - lifetime.idle)
            | (WebSession.created_at < now - lifetime.absolute)
        )
    )


# --- log-in throttling ----------------------------------------------------------------------


def login_key(login: str) -> str:
    return "login:" + login.strip().lower()[:150]


def ip_key(address: str | None) -> str:
    return "ip:" + (address or "unknown")[:150]


async def failures(session: AsyncSession, key: str, since: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.key == key, LoginAttempt.at >= since)
        )
        or 0
    )


async def oldest_failure(session: AsyncSession, key: str, since: datetime) -> datetime | None:
    return await session.scalar(
        select(func.min(LoginAttempt.at)).where(LoginAttempt.key == key, LoginAttempt.at >= since)
    )


async def record_failure(
    session: AsyncSession, keys: list[str], now: datetime, window: timedelta
) -> None:
    await session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - window))
    session.add_all(LoginAttempt(key=key, at=now) for key in keys)
    await session.flush()


async def clear_failures(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
