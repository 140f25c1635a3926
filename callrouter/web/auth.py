"""Who is logged in, what their role lets them open, and the log-in / log-out / language pages.

`request.state.user` is a `WebUser` (id, login, name, role, manager_id, department_id, locale)
or None, set by the gate (`security.py`) before any page runs; pages other than /login never
see None. `require_roles("head_of_sales", "owner", "admin")` on an endpoint answers 404 to
everyone else (a section that is not theirs does not exist for them). `viewer(request)` is the
`crm.access.Viewer` the CRM's scope filters take.

Log-in: throttled per log-in and per address (settings `web.login_max_failures`,
`web.ip_max_failures` within `web.login_window_minutes`, counted in `login_attempts` so every
node sees them) — over the limit the form answers 429 even to the right password; a success
gives a new session id (the old session, if any, is deleted: no fixation).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from crm.access import Viewer
from crm.users import (
    LOCALES,
    Account,
    accept_login,
    password_hash_for,
    password_matches,
    set_locale,
)

from .i18n import gettext
from .render import not_found, render
from .security import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    clear_cookie,
    safe_next,
    set_cookie,
)
from .sessions import (
    clear_failures,
    create_session,
    delete_session,
    failures,
    ip_key,
    login_key,
    oldest_failure,
    record_failure,
)

log = logging.getLogger(__name__)

WebUser = Account
ROLES = ("manager", "head_of_sales", "owner", "admin")
ANALYSTS = ("head_of_sales", "owner", "admin")

Endpoint = Callable[[Request], Awaitable[Response]]


def current_user(request: Request) -> WebUser:
    user: WebUser | None = getattr(request.state, "user", None)
    if user is None:  # the gate lets no anonymous request reach a page
        raise RuntimeError("no user on a page that requires log-in")
    return user


def viewer(request: Request) -> Viewer:
    user = current_user(request)
    return Viewer(role=user.role, manager_id=user.manager_id, department_id=user.department_id)


def require_roles(*roles: str) -> Callable[[Endpoint], Endpoint]:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = getattr(request.state, "user", None)
            if user is None or user.role not in roles:
                return not_found(request)
            return await endpoint(request)

        return guarded

    return decorate


def home_for(user: WebUser) -> str:
    return "/my-day" if user.role == "manager" else "/analytics"


async def home(request: Request) -> Response:
    return RedirectResponse(home_for(current_user(request)), status_code=303)


async def login_page(request: Request) -> Response:
    target = safe_next(request.query_params.get("next"))
    if getattr(request.state, "user", None) is not None:
        return RedirectResponse(target if target != "/" else home_for(request.state.user), 303)
    return render(request, "login.html", next=target, login="", error=None)


async def login_submit(request: Request) -> Response:
    form = await request.form()
    login = str(form.get("login") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    app = request.app
    web = app.state.settings.web
    now = app.state.clock()
    window = timedelta(minutes=web.login_window_minutes)
    keys = [login_key(login), ip_key(request.client.host if request.client else None)]
    limits = [web.login_max_failures, web.ip_max_failures]

    def again(error: str, status: int) -> Response:
        return render(request, "login.html", status, next=target, login=login, error=error)

    if not login or not password:
        return again(gettext(request, "Enter your log-in and password."), 400)
    database = app.state.database
    async with database.reader() as s:
        for key, limit in zip(keys, limits, strict=True):
            if await failures(s, key, now - window) >= limit:
                oldest = await oldest_failure(s, key, now - window) or now
                minutes = max(1, math.ceil((oldest + window - now).total_seconds() / 60))
                log.warning(
                    "log-in throttled", extra={"event": "login_throttled", "by": key.split(":")[0]}
                )
                return again(
                    gettext(
                        request,
                        "Too many failed log-ins. Try again in %(minutes)s min.",
                        minutes=minutes,
                    ),
                    429,
                )
        account_id, password_hash = await password_hash_for(s, login)
    # argon2 takes tens of milliseconds of CPU on purpose: in a thread, holding no lock, so
    # twenty people logging in at nine o'clock neither stall the pages nor queue on SQLite.
    matches = await asyncio.to_thread(password_matches, password_hash, password)
    async with database.transaction() as s:
        user = None
        if matches and account_id is not None:
            user = await accept_login(s, account_id, password_hash, password)
        if user is None:
            await record_failure(s, keys, now, window)
            log.info("log-in refused", extra={"event": "login_failed"})
            failed = True
        else:
            failed = False
            await clear_failures(s, keys[0])
            old = app.state.session_signer.unsign(request.cookies.get(SESSION_COOKIE))
            if old is not None:
                await delete_session(s, old)
            token, _csrf = await create_session(s, user.id, now)
            user_id, role = user.id, user.role
    if failed:
        return again(gettext(request, "Wrong log-in or password."), 400)
    log.info("logged in", extra={"event": "login", "user_id": user_id})
    where = target if target != "/" else ("/my-day" if role == "manager" else "/analytics")
    response = RedirectResponse(where, status_code=303)
    set_cookie(
        response,
        request,
        SESSION_COOKIE,
        app.state.session_signer.sign(token),
        max_age=web.session_max_hours * 3600,
    )
    clear_cookie(response, request, PRE_SESSION_COOKIE)
    return response


async def logout(request: Request) -> Response:
    token = request.app.state.session_signer.unsign(request.cookies.get(SESSION_COOKIE))
    if token is not None:
        async with request.app.state.database.transaction() as s:
            await delete_session(s, token)
    user = getattr(request.state, "user", None)
    log.info("logged out", extra={"event": "logout", "user_id": user.id if user else None})
    response = RedirectResponse("/login", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


async def change_language(request: Request) -> Response:
    form = await request.form()
    lang = str(form.get("lang") or "")
    back = safe_next(str(form.get("next") or "")) if form.get("next") else None
    if lang not in LOCALES:
        return render(
            request,
            "error.html",
            status_code=400,
            message=gettext(request, "Unknown language."),
        )
    async with request.app.state.database.transaction() as s:
        await set_locale(s, current_user(request).id, lang)
    return RedirectResponse(back or _same_site_referer(request) or "/", status_code=303)


def _same_site_referer(request: Request) -> str | None:
    referer = request.headers.get("referer")
    if not referer:
        return None
    base = str(request.base_url)
    if not referer.startswith(base):
        return None
    return safe_next("/" + referer[len(base) :])


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang", change_language, methods=["POST"]),
    ]
