"""Shared fixtures of the web tests (issue #16): an app over the real `db`, users, logged-in clients.

- `web_settings`: Settings for the app (time zone Europe/Moscow, a recordings folder in tmp).
- `clock`: the app's clock, a `FakeClock` — `clock.advance(minutes=31)` moves it (no sleep).
- `web_app`: `create_app(web_settings, db, secret_key=SECRET, clock=clock)` over the test's
  database (SQLite and PostgreSQL).
- `make_user(role="manager", manager_id=None, *, login=None, password=PASSWORD, locale=None,
  department_id=None, name=None)` (async): a user; a manager / head of sales without
  `manager_id` gets a new manager row (extension 1xx) in `department_id` if given.
  Returns a `MadeUser(id, login, password, role, manager_id)`.
- `client_for(login_or_user, password=None)` (async context manager): an `httpx.AsyncClient`
  on the app, logged in through the real /login form; `client.csrf` is its session's CSRF token
  and `await client.post_form(url, {...})` posts a form with it added.
- `anon_client` (async context manager factory, no argument): a client that is not logged in.

    async def test_x(make_user, client_for):
        user = await make_user(role="owner")
        async with client_for(user) as client:
            r = await client.get("/analytics")
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.applications import Starlette

from callrouter.web.app import create_app
from callrouter.web.security import SESSION_COOKIE
from callrouter.web.sessions import token_id
from core.settings import Settings
from crm import users
from crm.staff import add_manager
from models.db import Database
from models.tables import Department, Manager, WebSession
from router.directory import Role

SECRET = "test-secret-key-for-the-web-tests-0123456789"
PASSWORD = "correct horse battery"
BASE_URL = "http://testserver"


class FakeClock:
    """The app's clock: starts at a fixed moment, moves only when told."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class MadeUser:
    id: int
    login: str
    password: str
    role: str
    manager_id: int | None


class WebClient(httpx.AsyncClient):
    """An httpx client on the app; `csrf` is the token its forms must carry."""

    csrf: str = ""

    async def post_form(
        self, url: str, data: dict[str, Any] | None = None, **kw: Any
    ) -> httpx.Response:
        return await self.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, at the smallest cost: the web tests log in hundreds of times on 2 cores.
    (tests/cli/test_users_cli.py keeps the production cost.)"""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(users, "_hasher", cheap)
    dummy = cheap.hash("callrouter: no such user")
    monkeypatch.setattr(users, "_dummy_hash", lambda: dummy)


@pytest.fixture
def web_settings(tmp_path: Path, db_url: str) -> Settings:
    recordings = tmp_path / "recordings"
    recordings.mkdir(exist_ok=True)
    return Settings(
        database_url=db_url,
        timezone="Europe/Moscow",
        recordings_dir=recordings,
        web={"secret_key": SECRET, "default_locale": "ru"},
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def web_app(web_settings: Settings, db: Database, clock: FakeClock) -> Starlette:
    return create_app(web_settings, db, secret_key=SECRET, clock=clock)


def new_client(app: Starlette) -> WebClient:
    return WebClient(
        transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=False
    )


@pytest.fixture
def make_user(db: Database) -> Callable[..., Awaitable[MadeUser]]:
    numbers = itertools.count(101)

    async def make(
        role: str = "manager",
        manager_id: int | None = None,
        *,
        login: str | None = None,
        password: str = PASSWORD,
        locale: str | None = None,
        department_id: int | None = None,
        name: str | None = None,
    ) -> MadeUser:
        async with db.transaction() as s:
            manager = await s.get(Manager, manager_id) if manager_id is not None else None
            if manager is None and role in users.ROLES_WITH_MANAGER:
                n = next(numbers)
                while await s.scalar(select(Manager.id).where(Manager.endpoint == f"PJSIP/{n}")):
                    n = next(numbers)
                department = await s.get(Department, department_id) if department_id else None
                manager = await add_manager(
                    s,
                    name=name or f"Менеджер {n}",
                    endpoint=f"PJSIP/{n}",
                    role=Role(role),
                    department=department,
                )
            user = await users.add_user(
                s,
                login or (f"user{manager.id}" if manager else f"{role}{next(numbers)}"),
                role=role,
                password=password,
                manager=manager,
                locale=locale,
            )
            return MadeUser(user.id, user.login, password, user.role, user.manager_id)

    return make


async def log_in(client: WebClient, login: str, password: str) -> httpx.Response:
    """The real log-in form: GET it (pre-session CSRF cookie), POST it with the token."""
    page = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the log-in form carries a CSRF token"
    return await client.post(
        "/login", data={"login": login, "password": password, "csrf_token": match.group(1)}
    )


async def session_csrf(app: Starlette, db: Database, client: WebClient) -> str:
    """The CSRF secret of the client's session, read from the session table."""
    token = app.state.session_signer.unsign(client.cookies.get(SESSION_COOKIE))
    assert token, "the client is logged in"
    async with db.reader() as s:
        row = await s.get(WebSession, token_id(token))
    assert row is not None
    return row.csrf_secret


@pytest.fixture
def client_for(web_app: Starlette, db: Database) -> Callable[..., Any]:
    @asynccontextmanager
    async def open_client(
        who: MadeUser | str, password: str | None = None
    ) -> AsyncIterator[WebClient]:
        login = who.login if isinstance(who, MadeUser) else who
        secret = password or (who.password if isinstance(who, MadeUser) else PASSWORD)
        async with new_client(web_app) as client:
            response = await log_in(client, login, secret)
            assert response.status_code == 303, f"log-in as {login} failed: {response.status_code}"
            client.csrf = await session_csrf(web_app, db, client)
            yield client

    return open_client


@pytest.fixture
def anon_client(web_app: Starlette) -> Callable[[], Any]:
    @asynccontextmanager
    async def open_client() -> AsyncIterator[WebClient]:
        async with new_client(web_app) as client:
            yield client

    return open_client
