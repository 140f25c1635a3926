"""Log-in, log-out, sessions (fixation, idle and absolute lifetime), throttling, roles."""

from __future__ import annotations

import asyncio
import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from callrouter.web.app import create_app
from callrouter.web.auth import require_roles
from callrouter.web.security import SESSION_COOKIE
from callrouter.web.sessions import token_id
from crm import users as users_module
from models.tables import LoginAttempt, Manager, User, WebSession

from .conftest import PASSWORD, SECRET, log_in, new_client


async def _count(db, table, *where) -> int:
    async with db.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(table).where(*where)))


async def test_log_in_as_a_manager_lands_on_my_day(make_user, anon_client, db):
    user = await make_user(role="manager")
    async with anon_client() as client:
        r = await log_in(client, user.login, PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/my-day"
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        r = await client.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/my-day"
    assert await _count(db, WebSession, WebSession.user_id == user.id) == 1
    async with db.reader() as s:
        assert (await s.get(User, user.id)).last_login_at is not None


@pytest.mark.parametrize("role", ["head_of_sales", "owner", "admin"])
async def test_the_others_land_on_analytics(make_user, anon_client, role):
    user = await make_user(role=role)
    async with anon_client() as client:
        r = await log_in(client, user.login, PASSWORD)
        assert r.status_code == 303 and r.headers["location"] == "/analytics"


async def test_the_session_is_stored_as_a_hash_only(make_user, client_for, db, web_app):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        token = web_app.state.session_signer.unsign(client.cookies.get(SESSION_COOKIE))
        async with db.reader() as s:
            ids = list(await s.scalars(select(WebSession.id)))
        assert ids == [token_id(token)] and token not in ids


async def test_a_forged_cookie_is_not_a_session(make_user, client_for, anon_client, db, web_app):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        signed = client.cookies.get(SESSION_COOKIE)
    token = web_app.state.session_signer.unsign(signed)
    async with anon_client() as other:
        other.cookies.set(SESSION_COOKIE, token)  # the token without its signature
        assert (await other.get("/deals")).status_code == 303
        other.cookies.set(
            SESSION_COOKIE, signed[:-2] + ("AA" if not signed.endswith("AA") else "BB")
        )
        assert (await other.get("/deals")).status_code == 303
        other.cookies.set(SESSION_COOKIE, signed)
        assert (await other.get("/")).headers["location"] == "/analytics"


@pytest.mark.parametrize("case", ["wrong password", "unknown log-in", "empty password"])
async def test_a_failed_log_in_says_so_and_opens_nothing(make_user, anon_client, db, case):
    user = await make_user(role="manager")
    login, password = {
        "wrong password": (user.login, "not the password"),
        "unknown log-in": ("nobody", PASSWORD),
        "empty password": (user.login, ""),
    }[case]
    async with anon_client() as client:
        r = await log_in(client, login, password)
        assert r.status_code == 400
        assert re.search(r'<p class="error"[^>]*>[^<]+</p>', r.text)
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
        assert (await client.get("/deals")).status_code == 303
    assert await _count(db, WebSession) == 0
    if case != "empty password":
        assert await _count(db, LoginAttempt) == 2  # by log-in and by address


async def test_unknown_log_in_and_wrong_password_read_the_same(make_user, anon_client):
    user = await make_user(role="manager")
    async with anon_client() as client:
        wrong = await log_in(client, user.login, "not the password")
        unknown = await log_in(client, "nobody", "not the password")
    message = re.compile(r'<p class="error"[^>]*>([^<]+)</p>')
    assert message.search(wrong.text).group(1) == message.search(unknown.text).group(1)


async def test_a_deactivated_account_cannot_log_in_and_its_session_ends(
    make_user, client_for, anon_client, db
):
    user = await make_user(role="manager")
    async with client_for(user) as client:
        async with db.transaction() as s:
            (await s.get(Manager, user.manager_id)).active = False
        r = await client.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    async with anon_client() as client:
        assert (await log_in(client, user.login, PASSWORD)).status_code == 400
    assert await _count(db, WebSession) == 0


async def test_log_out_ends_the_session(make_user, client_for, db):
    user = await make_user(role="manager")
    async with client_for(user) as client:
        signed = client.cookies.get(SESSION_COOKIE)
        r = await client.post_form("/logout")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (
            'callrouter_session=""' in r.headers["set-cookie"]
            or "Max-Age=0" in r.headers["set-cookie"]
        )
        assert await _count(db, WebSession) == 0
        client.cookies.set(SESSION_COOKIE, signed)  # replaying the old cookie opens nothing
        assert (await client.get("/")).status_code == 303
        assert (await client.get("/")).headers["location"].startswith("/login")


async def test_log_in_gives_a_new_session_id(make_user, client_for, anon_client, web_app, db):
    """Fixation: whatever session the browser held, log-in replaces it, and the old id dies."""
    user = await make_user(role="manager")
    async with client_for(user) as client:
        before = client.cookies.get(SESSION_COOKIE)
        # log in again on the same browser (the form of another tab, the session's token)
        r = await client.post_form("/login", {"login": user.login, "password": PASSWORD})
        assert r.status_code == 303
        after = r.cookies.get(SESSION_COOKIE) or client.cookies.get(SESSION_COOKIE)
        assert after and after != before
        old = web_app.state.session_signer.unsign(before)
        async with db.reader() as s:
            assert await s.get(WebSession, token_id(old)) is None
        assert await _count(db, WebSession) == 1
    async with anon_client() as attacker:
        attacker.cookies.set(SESSION_COOKIE, before)
        assert (await attacker.get("/")).headers["location"].startswith("/login")


async def test_an_unauthenticated_page_goes_to_log_in_and_back(make_user, anon_client):
    user = await make_user(role="owner")
    async with anon_client() as client:
        r = await client.get("/deals?status=new&page=2")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fdeals%3Fstatus%3Dnew%26page%3D2"
        page = await client.get(r.headers["location"])
        assert 'name="next" value="/deals?status=new&amp;page=2"' in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = await client.post(
            "/login",
            data={
                "login": user.login,
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/deals?status=new&page=2",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/deals?status=new&page=2"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
async def test_next_never_leaves_the_site(make_user, anon_client, target):
    user = await make_user(role="owner")
    async with anon_client() as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = await client.post(
            "/login",
            data={"login": user.login, "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert r.status_code == 303 and r.headers["location"] == "/analytics"


async def test_idle_timeout_logs_out(make_user, client_for, clock, db):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        for _ in range(3):  # used every 20 minutes: an hour later still logged in
            clock.advance(minutes=20)
            r = await client.get("/")
            assert r.headers["location"] == "/analytics"
        clock.advance(minutes=31)
        r = await client.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert await _count(db, WebSession) == 0


async def test_absolute_lifetime_logs_out_however_busy(make_user, client_for, clock):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        for _ in range(12 * 3 - 1):  # 11 h 40 min of a request every 20 minutes
            clock.advance(minutes=20)
            assert (await client.get("/")).headers["location"] == "/analytics"
        clock.advance(minutes=21)
        assert (await client.get("/")).headers["location"].startswith("/login")


async def test_five_failures_lock_the_log_in_even_for_the_right_password(
    make_user, anon_client, clock, db
):
    user = await make_user(role="manager")
    async with anon_client() as client:
        for _ in range(5):
            assert (await log_in(client, user.login, "wrong password!")).status_code == 400
        r = await log_in(client, user.login, PASSWORD)
        assert r.status_code == 429
        assert re.search(r'<p class="error"[^>]*>[^<]*15[^<]*</p>', r.text)  # minutes to wait
        assert await _count(db, WebSession) == 0
        clock.advance(minutes=10)
        assert (await log_in(client, user.login, PASSWORD)).status_code == 429
        clock.advance(minutes=5, seconds=1)
        r = await log_in(client, user.login, PASSWORD)
        assert r.status_code == 303


async def test_throttling_holds_across_nodes(make_user, web_settings, db, clock):
    """Two application processes over one database: failures on one lock the other."""
    user = await make_user(role="manager")
    node_a = create_app(web_settings, db, secret_key=SECRET, clock=clock)
    node_b = create_app(web_settings, db, secret_key=SECRET, clock=clock)
    async with new_client(node_a) as a, new_client(node_b) as b:
        for i in range(5):
            assert (
                await log_in(a if i % 2 else b, user.login, "wrong password!")
            ).status_code == 400
        assert (await log_in(b, user.login, PASSWORD)).status_code == 429
        assert (await log_in(a, user.login, PASSWORD)).status_code == 429


async def test_too_many_failures_from_one_address_lock_it(make_user, anon_client, db):
    victim = await make_user(role="owner")
    async with anon_client() as client:
        for i in range(20):
            assert (await log_in(client, f"guess{i}", "wrong password!")).status_code == 400
        assert (await log_in(client, victim.login, PASSWORD)).status_code == 429
    assert await _count(db, WebSession) == 0


async def test_a_success_clears_the_log_ins_failures(make_user, anon_client, db):
    user = await make_user(role="manager")
    async with anon_client() as client:
        for _ in range(4):
            await log_in(client, user.login, "wrong password!")
        assert (await log_in(client, user.login, PASSWORD)).status_code == 303
    assert await _count(db, LoginAttempt, LoginAttempt.key == f"login:{user.login}") == 0


async def test_require_roles_hides_a_section_from_other_roles(make_user, client_for, web_app):
    async def secret_page(request):
        return PlainTextResponse("owner only")

    web_app.router.routes.insert(0, Route("/owner-only", require_roles("owner")(secret_page)))
    for role, status in [("manager", 404), ("head_of_sales", 404), ("admin", 404), ("owner", 200)]:
        user = await make_user(role=role)
        async with client_for(user) as client:
            r = await client.get("/owner-only")
            assert r.status_code == status, role
            assert ("owner only" in r.text) is (status == 200)


async def test_language_is_per_user(make_user, client_for, db):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        page = await client.get("/no-such-page")
        assert page.status_code == 404 and 'lang="ru"' in page.text and "Выйти" in page.text
        r = await client.post_form("/lang", {"lang": "en", "next": "/no-such-page"})
        assert r.status_code == 303 and r.headers["location"] == "/no-such-page"
        page = await client.get("/no-such-page")
        assert 'lang="en"' in page.text and "Log out" in page.text
        assert (await client.post_form("/lang", {"lang": "de"})).status_code == 400
    async with db.reader() as s:
        assert (await s.get(User, user.id)).locale == "en"
    other = await make_user(role="owner")
    async with client_for(other) as client:
        assert 'lang="ru"' in (await client.get("/no-such-page")).text


async def test_names_are_escaped(make_user, client_for):
    user = await make_user(role="manager", name="<script>alert(1)</script>")
    async with client_for(user) as client:
        page = await client.get("/no-such-page")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_twenty_people_logging_in_at_once_all_get_in(make_user, web_app, db, monkeypatch):
    """Nine o'clock: the whole department logs in together, at the production argon2 cost. The
    password check runs outside the database transaction, so no log-in waits on another's
    hashing while holding SQLite's write lock ("database is locked" before)."""
    people = [await make_user(role="manager") for _ in range(20)]
    monkeypatch.setattr(users_module, "_hasher", PasswordHasher())  # production cost
    async with db.transaction() as s:
        for person in people:
            await users_module.set_password(s, await s.get(User, person.id), PASSWORD)

    async def one(login: str) -> int:
        async with new_client(web_app) as client:
            return (await log_in(client, login, PASSWORD)).status_code

    statuses = await asyncio.gather(*(one(p.login) for p in people))
    assert statuses == [303] * 20
    assert await _count(db, WebSession) == 20
