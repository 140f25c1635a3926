"""`callrouter status`: is routing listening, is AMI connected, is the database usable, is any
call waiting in the spool or set aside as refused?"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ami_listener.refused import RefusedCalls
from core.settings import Settings
from models import migrate
from models.db import Database
from models.directory import load_directory
from router.departments import department_warnings
from router.settings import policy_from_settings

from .ami_part import refused_calls_dir, spool_calls_dir
from .statusfile import process_alive, read_status, status_path

CONNECT_TIMEOUT = 2.0
DB_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    checks: tuple[Check, ...]
    spool_depth: int
    refused: int = 0
    # Things to fix that do not make the service unhealthy (e.g. an ambiguous default department).
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in self.checks},
            "spool_depth": self.spool_depth,
            "refused": self.refused,
            "warnings": list(self.warnings),
        }


def check_agi(settings: Settings) -> Check:
    host, port = settings.agi.host, settings.agi.port
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.create_connection((target, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        return Check("agi", False, f"nothing listening on {host}:{port} ({exc.strerror or exc})")
    return Check("agi", True, f"listening on {host}:{port}")


def check_ami(settings: Settings) -> Check:
    status = read_status(status_path(settings.spool_dir))
    if status is None:
        return Check("ami", False, "no listener status (is callrouter ami running?)")
    if not status.get("running") or not process_alive(int(status.get("pid", 0))):
        return Check("ami", False, "the AMI listener is not running")
    address = status.get("ami_address", "?")
    since = status.get("changed_at", "?")
    if status.get("ami_connected"):
        return Check("ami", True, f"connected to {address} since {since}")
    return Check("ami", False, f"not connected to {address} since {since}")


async def check_database(settings: Settings) -> Check:
    db = Database(settings.database_url)
    try:
        async with asyncio.timeout(DB_TIMEOUT):
            current = await migrate.current_revision(db.engine)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc or type(exc).__name__).splitlines()[0]
        return Check("database", False, f"unavailable: {reason}")
    finally:
        await db.dispose()
    head = migrate.head_revision()
    if current != head:
        return Check(
            "database",
            False,
            f"schema at {current or 'none'}, needs {head}: run `callrouter db upgrade`",
        )
    return Check("database", True, f"reachable, schema current ({head})")


def spool_depth(settings: Settings) -> int:
    directory = spool_calls_dir(settings)
    if not directory.is_dir():
        return 0
    return sum(1 for p in directory.glob("*.json") if not p.name.startswith("."))


def refused_count(settings: Settings) -> int:
    return RefusedCalls(refused_calls_dir(settings)).count()


def check_refused(count: int) -> Check:
    """Refused calls are not in the CRM until a person replays them: not healthy."""
    if not count:
        return Check("refused", True, "no call refused by the database")
    return Check(
        "refused",
        False,
        f"{count} call(s) refused by the database, set aside: `callrouter refused list`",
    )


async def gather_health(settings: Settings) -> Health:
    """Every check, each bounded by its own timeout; never raises for a failed check."""
    agi, ami = await asyncio.gather(
        asyncio.to_thread(check_agi, settings), asyncio.to_thread(check_ami, settings)
    )
    database = await check_database(settings)
    depth = spool_depth(settings)
    spool = Check("spool", True, f"{depth} call(s) waiting for the database")
    refused = refused_count(settings)
    warnings = await directory_warnings(settings) if database.ok else ()
    checks = (agi, ami, database, spool, check_refused(refused))
    return Health(checks, depth, refused, warnings)


async def directory_warnings(settings: Settings) -> tuple[str, ...]:
    """What `route explain` warns about the departments, as of now; () when unreadable."""
    db = Database(settings.database_url)
    try:
        async with asyncio.timeout(DB_TIMEOUT), db.reader() as session:
            directory = await load_directory(session)
    except Exception:
        return ()  # the database check already says whether the database is usable
    finally:
        await db.dispose()
    configured = policy_from_settings(settings.routing).department_id
    return department_warnings(directory, datetime.now(UTC), configured)


def health_text(health: Health) -> str:
    lines = [f"{c.name:<9} {'ok  ' if c.ok else 'FAIL'}  {c.detail}" for c in health.checks]
    lines.extend(f"warning   {warning}" for warning in health.warnings)
    lines.append("all good" if health.ok else "NOT healthy")
    return "\n".join(lines)
