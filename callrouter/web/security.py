"""The gate every request passes: session → user, log-in required, CSRF, security headers.

One pure ASGI middleware (responses, recordings included, stream through it untouched):
1. every response gets the security headers (CSP without inline code, frame-ancestors 'none',
   X-Frame-Options, nosniff, Referrer-Policy; `Cache-Control: no-store` unless the response set
   its own, static files excepted; HSTS over HTTPS);
2. the session cookie is checked (signature, then the stored session: idle and absolute
   lifetime) and `request.state.user` set to the `WebUser` or None, `request.state.lang` to the
   user's language, `request.state.csrf_token` to the session's CSRF secret — or, before
   log-in, to a random token held in its own signed cookie (the log-in form is protected too);
3. a page other than /login and /static/… without a user: 303 to /login?next=…;
4. POST/PUT/PATCH/DELETE must carry the token (form field `csrf_token`, or the header
   `X-CSRF-Token`), else 403 and the handler never runs. The body is read here (at most
   `MAX_BODY` bytes, 413 beyond) and handed on unchanged.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.db import Database

from .i18n import choose_locale, translate
from .sessions import (
    CookieSigner,
    Lifetime,
    delete_session_id,
    find_session_account,
    is_expired,
    needs_touch,
    touch_session,
)

log = logging.getLogger(__name__)

SESSION_COOKIE = "callrouter_session"
PRE_SESSION_COOKIE = "callrouter_csrf"  # the CSRF token of a browser not logged in yet
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login"})
STATIC_PREFIX = "/static/"
MAX_BODY = 1024 * 1024

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}


def is_https(scope: Scope) -> bool:
    """The browser's connection is HTTPS (uvicorn applies X-Forwarded-Proto of trusted proxies
    to the scheme)."""
    return scope.get("scheme") == "https"


def cookie_secure(request: Request) -> bool:
    settings = request.app.state.settings
    return bool(settings.web.secure_cookies == "always" or is_https(request.scope))


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=cookie_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=cookie_secure(request), httponly=True, samesite="lax"
    )


def safe_next(target: str | None) -> str:
    """Where to go after log-in: a path on this site only (never `//evil`, never a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ch in target for ch in "\r\n\t"):
        return "/"
    return target


class WebGate:
    """The ASGI middleware described in the module's docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        database: Database,
        session_signer: CookieSigner,
        csrf_signer: CookieSigner,
        lifetime: Lifetime,
        default_locale: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.database = database
        self.session_signer = session_signer
        self.csrf_signer = csrf_signer
        self.lifetime = lifetime
        self.default_locale = default_locale
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        static = path.startswith(STATIC_PREFIX)
        https = is_https(scope)
        cookies: list[tuple[str, str]] = []

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if https:
                    headers.setdefault("strict-transport-security", "max-age=31536000")
                if not static:
                    headers.setdefault("cache-control", "no-store")
                for name, value in cookies:
                    headers.append(name, value)
            await send(message)

        if static:
            await self.app(scope, receive, send_secured)
            return

        request = Request(scope)
        state = scope.setdefault("state", {})
        user, csrf_token = await self._identify(request, cookies)
        state["user"] = user
        state["csrf_token"] = csrf_token
        state["lang"] = choose_locale(user.locale if user else None, self.default_locale)

        if user is None and path not in PUBLIC_PATHS:
            target = path + (
                f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else ""
            )
            where = (
                "/login"
                if request.method not in SAFE_METHODS
                else f"/login?next={quote(target, safe='')}"
            )
            await RedirectResponse(where, status_code=303)(scope, receive, send_secured)
            return

        if request.method not in SAFE_METHODS:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("Request body too large", 413)(scope, receive, send_secured)
                return
            replay = _replayer(body)
            sent = Headers(scope=scope).get(CSRF_HEADER) or await _form_token(scope, replay())
            if not sent or not hmac.compare_digest(sent.encode(), csrf_token.encode()):
                log.warning(
                    "CSRF token missing or wrong: %s %s refused",
                    request.method,
                    path,
                    extra={"event": "csrf_refused", "user_id": user.id if user else None},
                )
                await _forbidden(scope, send_secured, state["lang"])
                return
            receive = replay()
        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_secured(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            log.exception("web request failed", extra={"event": "web_error", "path": path})
            if started:
                raise
            await _server_error(scope, send_secured, state["lang"])

    async def _identify(self, request: Request, cookies: list[tuple[str, str]]) -> tuple[Any, str]:
        """The logged-in user (or None) and the CSRF token this browser must send back."""
        now = self.clock()
        token = self.session_signer.unsign(request.cookies.get(SESSION_COOKIE))
        if token is not None:
            stored = await find_session_account(self.database.fast, token)
            found, user = stored if stored is not None else (None, None)
            if found is not None and (user is None or is_expired(found, now, self.lifetime)):
                async with self.database.transaction() as s:
                    await delete_session_id(s, found.id)
                found = user = None
            if found is not None and user is not None:
                if needs_touch(found, now):
                    async with self.database.transaction() as s:
                        await touch_session(s, found.id, now)
                return user, found.csrf_secret
            cookies.append(_expired_cookie(request, SESSION_COOKIE))
        pre = self.csrf_signer.unsign(request.cookies.get(PRE_SESSION_COOKIE))
        if pre is None:
            pre = secrets.token_urlsafe(32)
            response = Response()
            set_cookie(response, request, PRE_SESSION_COOKIE, self.csrf_signer.sign(pre), None)
            cookies.append(("set-cookie", response.headers["set-cookie"]))
        return None, pre


def _expired_cookie(request: Request, name: str) -> tuple[str, str]:
    response = Response()
    clear_cookie(response, request, name)
    return "set-cookie", response.headers["set-cookie"]


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayer(body: bytes) -> Callable[[], Receive]:
    def make() -> Receive:
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        return receive

    return make


async def _form_token(scope: Scope, receive: Receive) -> str | None:
    content_type = Headers(scope=scope).get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    request = Request(scope, receive)
    try:
        form = await request.form()
    except Exception:  # a malformed body carries no token
        return None
    try:
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    finally:
        await form.close()


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _error(scope: Scope, send: Send, status: int, message: str) -> None:
    from .render import render  # the templates need the app's state, set by now

    response = render(Request(scope, _no_receive), "error.html", status, message=message)
    await response(scope, _no_receive, send)


async def _forbidden(scope: Scope, send: Send, lang: str) -> None:
    message = translate(lang, "The form has expired. Reload the page and try again.")
    await _error(scope, send, 403, message)


async def _server_error(scope: Scope, send: Send, lang: str) -> None:
    await _error(scope, send, 500, translate(lang, "Something went wrong. Try again later."))
