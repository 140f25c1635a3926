"""The web part of the service over a real socket: uvicorn, proxy headers, start and stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from callrouter.listen import ListenError
from callrouter.service.runner import StartupError
from callrouter.service.web_part import WebPart
from core.settings import Settings
from models.db import Database
from models.tables import User, WebSession

from .conftest import SECRET


def _settings(db_url: str, **web) -> Settings:
    return Settings(
        database_url=db_url, web={"secret_key": SECRET, "port": 0, "host": "127.0.0.1", **web}
    )


async def test_serves_over_http_and_trusts_the_proxys_scheme(db_url):
    part = WebPart(_settings(db_url))
    await part.start()
    port = part.port
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.get("/login")
            assert r.status_code == 200 and "csrf_token" in r.text
            assert r.headers["x-frame-options"] == "DENY"
            assert "server" not in r.headers
            assert "Secure" not in r.headers["set-cookie"]
            r = await client.get("/deals", follow_redirects=False)
            assert r.status_code == 303
        # nginx on this host says the browser came over HTTPS: cookies become Secure
        async with httpx.AsyncClient(base_url=base) as client:
            r = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "Secure" in r.headers["set-cookie"]
            assert "strict-transport-security" in r.headers
    finally:
        await part.shut_down()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"http://127.0.0.1:{port}/login")


async def test_an_untrusted_proxy_cannot_claim_https(db_url):
    part = WebPart(_settings(db_url, trusted_proxies=["192.0.2.1"]))
    await part.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{part.port}") as client:
            r = await client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "Secure" not in r.headers["set-cookie"]
    finally:
        await part.shut_down()


async def test_no_secret_key_is_a_startup_error(db_url):
    part = WebPart(Settings(database_url=db_url, web={"port": 0}))
    with pytest.raises(StartupError, match="secret key"):
        await part.start()
    await part.shut_down()


async def test_a_busy_port_is_one_clear_line(db_url):
    first = WebPart(_settings(db_url))
    await first.start()
    try:
        second = WebPart(_settings(db_url, port=first.port))
        with pytest.raises(ListenError, match=rf"cannot listen on 127.0.0.1:{first.port} \(web\)"):
            await second.start()
        await second.shut_down()
    finally:
        await first.shut_down()


async def test_sessions_that_ended_are_deleted_when_the_part_starts(db_url):
    """A browser that never comes back leaves its session row; the part deletes the ended ones
    at start (and every PURGE_EVERY after) and keeps the live ones."""
    now = datetime.now(UTC)
    db = Database(db_url)
    try:
        async with db.transaction() as s:
            user = User(login="anna", password_hash="x", role="admin")
            s.add(user)
            await s.flush()
            for name, created, seen in (
                ("idle", now - timedelta(hours=3), now - timedelta(hours=2)),  # idle > 60 min
                ("old", now - timedelta(hours=30), now - timedelta(minutes=1)),  # > 12 h in all
                ("live", now - timedelta(hours=1), now - timedelta(minutes=5)),
            ):
                s.add(
                    WebSession(
                        id=name, user_id=user.id, created_at=created, last_seen_at=seen,
                        csrf_secret="c",
                    )
                )  # fmt: skip
        part = WebPart(_settings(db_url, session_idle_minutes=60, session_max_hours=12))
        await part.start()
        await part.shut_down()
        async with db.reader() as s:
            left = set(await s.scalars(select(WebSession.id)))
    finally:
        await db.dispose()
    assert left == {"live"}
