"""The ASGI application: `create_app(settings, database)` → a Starlette app.

How to add a page
-----------------
1. Write `callrouter/web/pages/<name>.py` exporting `routes: list[BaseRoute]`, e.g.::

       from starlette.routing import Route
       from callrouter.web.auth import current_user, require_roles, viewer
       from callrouter.web.render import not_found, render

       async def board(request):
           user = current_user(request)          # never None on a page
           rows = ...                            # from the CRM layer, scoped by viewer(request)
           return render(request, "board.html", rows=rows)

       routes = [Route("/board", require_roles("owner", "admin")(board))]

   The module's name must be in `PAGE_MODULES` below (all of issue #16's already are).
2. Templates go to `callrouter/web/templates/`, extending `base.html` and filling
   `{% block content %}` (and `{% block title %}`); a form that changes anything is
   `method="post"` with `{{ csrf_field() }}` inside — the gate refuses it with 403 otherwise.
   No inline `<script>`/`style=`: the CSP forbids them; put CSS in `static/app.css` and
   behaviour in `static/app.js` (`data-*` attributes).
3. Text: `{{ _("…") }}`; then `python -m callrouter.web.i18n extract`, translate in
   `locale/ru/LC_MESSAGES/messages.po`, `python -m callrouter.web.i18n compile` (see i18n.py).
4. Tests: tests/web/, with the fixtures of tests/web/conftest.py (`web_app`, `make_user`,
   `client_for`).

The app's state: `app.state.settings`, `app.state.database` (a `models.db.Database`),
`app.state.clock` (a callable returning an aware UTC datetime: tests move it).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.settings import Settings
from models.base import utcnow
from models.db import Database

from . import auth
from .i18n import gettext
from .render import error_page, not_found
from .security import WebGate
from .sessions import CookieSigner, Lifetime

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE_MODULES = ["my_day", "deals", "contacts", "tasks", "missed", "recordings", "analytics"]
MIN_SECRET_LENGTH = 32


class WebConfigError(Exception):
    """The web application cannot start with these settings (one line for the administrator)."""


def secret_key_of(settings: Settings) -> str:
    try:
        key = settings.web.resolved_secret_key()
    except OSError as exc:
        raise WebConfigError(f"web.secret_key_file cannot be read: {exc.strerror}") from None
    if not key:
        raise WebConfigError(
            "the web application needs a secret key: set web.secret_key_file (or "
            "CALLROUTER_WEB__SECRET_KEY); make one with: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if len(key) < MIN_SECRET_LENGTH:
        raise WebConfigError(
            f"web.secret_key is too short: at least {MIN_SECRET_LENGTH} characters"
        )
    return key


class ServerTiming:
    """ASGI middleware: `Server-Timing: app;dur=<ms>` on every response — the wall time from
    the request's arrival to its response head, session check and handler included (a page is
    rendered whole before its head is sent; a streamed recording's body is not counted). The
    benchmark reads it; a browser's developer tools show it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def page_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in PAGE_MODULES:
        module = importlib.import_module(f"{__package__}.pages.{name}")
        routes.extend(getattr(module, "routes", []))
    return routes


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return not_found(request)
    if status == 405:
        return error_page(request, 405, gettext(request, "Method not allowed."))
    return error_page(request, status, str(getattr(exc, "detail", "")) or "Error.")


def create_app(
    settings: Settings,
    database: Database,
    *,
    secret_key: str | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    """The web application over `database`; `secret_key` overrides the settings' (the demo)."""
    key = secret_key if secret_key is not None else secret_key_of(settings)
    if len(key) < MIN_SECRET_LENGTH:
        raise WebConfigError(
            f"the secret key is too short: at least {MIN_SECRET_LENGTH} characters"
        )
    web = settings.web
    session_signer = CookieSigner(key, "session")
    routes: list[BaseRoute] = [
        *auth.routes(),
        *page_routes(),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    gate: dict[str, Any] = {
        "database": database,
        "session_signer": session_signer,
        "csrf_signer": CookieSigner(key, "csrf"),
        "lifetime": Lifetime.of(web),
        "default_locale": web.default_locale,
        "clock": clock,
    }
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ServerTiming), Middleware(WebGate, **gate)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock
    app.state.session_signer = session_signer
    return app
