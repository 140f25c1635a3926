"""CSRF on every state-changing request, the security headers, cookies over HTTPS."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import func, select
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from callrouter.web.app import WebConfigError, create_app
from callrouter.web.security import CSP, PRE_SESSION_COOKIE, SESSION_COOKIE
from core.settings import Settings
from models.tables import LoginAttempt, User, WebSession

from .conftest import PASSWORD, SECRET, log_in

HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _secured(response: httpx.Response, *, page: bool = True) -> None:
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.request.url)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    if page:
        assert response.headers.get("cache-control") == "no-store"


async def _locale(db, user_id: int) -> str | None:
    async with db.reader() as s:
        return (await s.get(User, user_id)).locale


@pytest.mark.parametrize("token", ["missing", "wrong", "another session's"])
async def test_a_post_without_the_sessions_token_is_refused_and_writes_nothing(
    make_user, client_for, db, token
):
    user = await make_user(role="owner")
    other = await make_user(role="owner")
    async with client_for(other) as other_client, client_for(user) as client:
        data = {"lang": "en"}
        if token == "wrong":
            data["csrf_token"] = client.csrf[:-1] + ("A" if client.csrf[-1] != "A" else "B")
        elif token == "another session's":
            data["csrf_token"] = other_client.csrf
        r = await client.post("/lang", data=data)
        assert r.status_code == 403
        _secured(r)
        assert await _locale(db, user.id) is None
        r = await client.post("/logout", data=data)
        assert r.status_code == 403
        async with db.reader() as s:
            assert (
                await s.scalar(
                    select(func.count())
                    .select_from(WebSession)
                    .where(WebSession.user_id == user.id)
                )
                == 1
            )
        # the same requests with the token go through
        assert (await client.post_form("/lang", {"lang": "en"})).status_code == 303
        assert await _locale(db, user.id) == "en"


async def test_the_token_may_come_in_a_header_for_scripts(make_user, client_for, db):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        r = await client.post("/lang", data={"lang": "en"}, headers={"X-CSRF-Token": client.csrf})
        assert r.status_code == 303
    assert await _locale(db, user.id) == "en"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_every_unsafe_method_needs_the_token(make_user, client_for, web_app, method):
    calls = []

    async def change(request):
        calls.append(request.method)
        return PlainTextResponse("changed")

    web_app.router.routes.insert(0, Route("/thing", change, methods=[method]))
    user = await make_user(role="owner")
    async with client_for(user) as client:
        r = await client.request(method, "/thing")
        assert r.status_code == 403 and calls == []
        r = await client.request(method, "/thing", headers={"X-CSRF-Token": client.csrf})
        assert r.status_code == 200 and calls == [method]


async def test_the_handler_reads_the_form_after_the_gate(make_user, client_for, web_app):
    """The gate reads the body for the token and hands it on whole (urlencoded and multipart)."""
    seen = []

    async def echo(request):
        form = await request.form()
        seen.append(dict(form))
        return PlainTextResponse("ok")

    web_app.router.routes.insert(0, Route("/echo", echo, methods=["POST"]))
    user = await make_user(role="owner")
    async with client_for(user) as client:
        r = await client.post_form("/echo", {"text": "привет & <b>"})
        assert r.status_code == 200
        r = await client.post(
            "/echo", data={"csrf_token": client.csrf, "text": "файл"}, files={"f": ("a.txt", b"x")}
        )
        assert r.status_code == 200
    assert seen[0]["text"] == "привет & <b>" and seen[1]["text"] == "файл"


async def test_the_log_in_form_is_protected_too(make_user, anon_client, db):
    user = await make_user(role="owner")
    async with anon_client() as client:
        r = await client.post("/login", data={"login": user.login, "password": PASSWORD})
        assert r.status_code == 403
        await client.get("/login")  # a pre-session token now, but not sent
        r = await client.post(
            "/login", data={"login": user.login, "password": PASSWORD, "csrf_token": "guess"}
        )
        assert r.status_code == 403
    async with db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(WebSession)) == 0
        assert await s.scalar(select(func.count()).select_from(LoginAttempt)) == 0


async def test_an_anonymous_post_elsewhere_goes_to_log_in(anon_client):
    async with anon_client() as client:
        r = await client.post("/lang", data={"lang": "en"})
        assert r.status_code == 303 and r.headers["location"] == "/login"


async def test_a_huge_body_is_refused(make_user, client_for):
    user = await make_user(role="owner")
    async with client_for(user) as client:
        r = await client.post_form("/lang", {"lang": "en", "pad": "x" * (2 * 1024 * 1024)})
        assert r.status_code == 413


async def test_security_headers_on_every_kind_of_response(make_user, client_for, anon_client):
    async with anon_client() as client:
        _secured(await client.get("/login"))
        _secured(await client.get("/deals"))  # the redirect to log in
    user = await make_user(role="owner")
    async with client_for(user) as client:
        _secured(await client.get("/"))
        _secured(await client.get("/no-such-page"))
        static = await client.get("/static/app.css")
        assert static.status_code == 200 and "text/css" in static.headers["content-type"]
        _secured(static, page=False)
        js = await client.get("/static/app.js")
        assert js.status_code == 200 and "javascript" in js.headers["content-type"]


async def test_static_files_need_no_log_in_and_do_not_leave_the_folder(anon_client):
    async with anon_client() as client:
        assert (await client.get("/static/app.css")).status_code == 200
        for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
            r = await client.get(path)
            assert r.status_code in (303, 404), path
            assert "create_app" not in r.text


async def test_templates_have_no_inline_code():
    from callrouter.web.i18n import TEMPLATE_DIR

    for path in TEMPLATE_DIR.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert "<style" not in text, path.name
        assert "http://" not in text and "https://" not in text, path.name  # no CDN


async def test_an_error_in_a_page_is_a_plain_500_with_the_headers(make_user, client_for, web_app):
    async def broken(request):
        raise RuntimeError("boom: +79161234567")

    web_app.router.routes.insert(0, Route("/broken", broken))
    user = await make_user(role="owner")
    async with client_for(user) as client:
        r = await client.get("/broken")
    assert r.status_code == 500
    _secured(r)
    assert "boom" not in r.text and "79161234567" not in r.text


@pytest.mark.parametrize("setting", ["auto", "always"])
async def test_cookies_are_secure_over_https(make_user, web_settings, db, clock, setting):
    settings = web_settings.model_copy(
        update={"web": web_settings.web.model_copy(update={"secure_cookies": setting})}
    )
    app = create_app(settings, db, secret_key=SECRET, clock=clock)
    user = await make_user(role="owner")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        assert page.headers["strict-transport-security"].startswith("max-age=")
        r = await log_in(client, user.login, PASSWORD)
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/login")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith(PRE_SESSION_COOKIE)
        assert ("Secure" in cookie) is (setting == "always")


def test_no_secret_key_no_app(tmp_path, db_url):
    from models.db import Database

    db = Database(db_url)
    with pytest.raises(WebConfigError, match="secret key"):
        create_app(Settings(database_url=db_url), db)
    with pytest.raises(WebConfigError, match="too short"):
        create_app(Settings(database_url=db_url, web={"secret_key": "short"}), db)
    key_file = tmp_path / "web.key"
    key_file.write_text("k" * 48 + "\n")
    assert create_app(Settings(database_url=db_url, web={"secret_key_file": key_file}), db)
    with pytest.raises(WebConfigError, match="cannot be read"):
        create_app(Settings(database_url=db_url, web={"secret_key_file": tmp_path / "nope"}), db)
