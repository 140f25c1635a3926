"""`callrouter status`: is routing listening, is AMI connected, is the database usable, is any
call waiting in the spool or set aside as refused?"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ami_listener.refused import RefusedCalls
from callrouter.database_url import sqlite_file_missing
from core.settings import Settings
from models import migrate
from models.db import Database
from models.directory import load_directory
from router.departments import department_warnings
from router.settings import policy_from_settings

from .ami_part import refused_calls_dir, spool_calls_dir
from .degraded import degraded_reports
from .statusfile import process_alive, read_status, status_path

CONNECT_TIMEOUT = 2.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
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
    """Whether the FastAGI port listens: read from the kernel's socket table where there is one
    (a probe connection would be an aborted session in the service's log), else by connecting."""
    host, port = settings.agi.host, settings.agi.port
    listening = listening_sockets()
    if listening is not None:
        if _listens(listening, host, port):
            return Check("agi", True, f"listening on {host}:{port}")
        return Check("agi", False, f"nothing listening on {host}:{port}")
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    try:
        with socket.create_connection((target, port), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        return Check("agi", False, f"nothing listening on {host}:{port} ({exc.strerror or exc})")
    return Check("agi", True, f"listening on {host}:{port}")


_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp
_WILDCARDS = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))


def listening_sockets(root: Path = Path("/proc/net")) -> set[tuple[IPAddress, int]] | None:
    """The (address, port) of every listening TCP socket of this network namespace; None
    where the kernel does not publish them (not Linux)."""
    found: set[tuple[IPAddress, int]] = set()
    read = False
    for name in ("tcp", "tcp6"):
        try:
            lines = (root / name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        read = True
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _LISTEN:
                address, _, port = fields[1].partition(":")
                found.add((_proc_address(address), int(port, 16)))
    return found if read else None


def _proc_address(text: str) -> IPAddress:
    """/proc/net's hex address: 32-bit words in the host's byte order."""
    raw = bytes.fromhex(text)
    words = b"".join(
        int.from_bytes(raw[i : i + 4], "big").to_bytes(4, sys.byteorder)
        for i in range(0, len(raw), 4)
    )
    return ipaddress.ip_address(words)


def _listens(listening: set[tuple[IPAddress, int]], host: str, port: int) -> bool:
    on_port = {address for address, bound in listening if bound == port}
    if not on_port:
        return False
    if host in ("", "0.0.0.0", "::") or on_port & set(_WILDCARDS):
        return True
    try:
        wanted = {ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, port)}
    except (OSError, ValueError):
        return False
    mapped = {a.ipv4_mapped for a in on_port if isinstance(a, ipaddress.IPv6Address)}
    return bool(wanted & (on_port | mapped))


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
    reason = status.get("ami_error")
    because = f": {reason}" if reason else ""
    return Check("ami", False, f"not connected to {address} since {since}{because}")


async def check_database(settings: Settings) -> Check:
    if sqlite_file_missing(settings.database_url):  # connecting would create it, empty
        return Check("database", False, "not initialised: run `callrouter db upgrade`")
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


def degraded_check(settings: Settings) -> Check | None:
    """A running service that finds its database unreachable says so (degraded.py), even when
    this probe already gets through: until the service sees it back, it is still degraded."""
    reports = degraded_reports(settings.spool_dir)
    if not reports:
        return None
    first = min(reports, key=lambda report: str(report["unreachable_since"]))
    return Check(
        "database",
        False,
        f"degraded: database unreachable since {first['unreachable_since']} "
        f"({first.get('reason') or 'no answer'}); routing from the directory snapshot, "
        "calls kept in the spool",
    )


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
    database = degraded_check(settings) or await check_database(settings)
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
