"""Degraded mode: the service runs while its database is unreachable (issue #17).

After a power cut the PBX may be back before PostgreSQL. The service then starts anyway:
the AMI listener keeps every finished call in its spool (and writes it, once, when the database
is back), and routing decides from the last directory snapshot on disk (`<spool_dir>/
directory.json`, rewritten after every directory load that found something new, its time
touched on every load), or, with none, from `routing.fallback_targets`. `DatabaseState` says so
everywhere while it lasts — the log ("degraded: database unreachable since …", repeated every
`REMINDER_SECONDS`), the gauge `callrouter_database_unreachable_since_seconds`, and the file
`<spool_dir>/database-<mode>.json` that `callrouter status` reads — and probes the database every
`PROBE_SECONDS` until it answers at the code's schema revision; then the parts are told (the
directory reloads, the listener's spool drains at once rather than at the end of its retry
backoff). It goes degraded at start (the schema check), on a directory load that fails, or
when a part says something failed on the database (`suspect()`: the listener's writes and
phone loads) and one probe confirms it does not answer — so an `ami`-only process says it too.
While it lasts the listener takes the managers' phones from the same snapshot (phones.py).

A schema that is *behind* is no outage: the service refuses to start with the command to run.
Nor is a database that answers "no": a wrong password or a database that does not exist.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from agi_scripts.file_source import parse_snapshot
from agi_scripts.source import DirectorySource
from callrouter import metrics
from models import migrate
from models.db import Database
from models.tables import Contact
from router.directory import ContactView, Directory

from .statusfile import process_alive

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 15.0
PROBE_SECONDS = 2.0
REMINDER_SECONDS = 60.0
SNAPSHOT_FILE = "directory.json"
STATE_PREFIX = "database-"

# The database said no: configuration to fix, not an outage to ride out (asyncpg's names).
_REFUSALS = (
    "InvalidPasswordError",
    "InvalidAuthorizationSpecificationError",
    "InvalidCatalogNameError",
)


class SchemaBehind(Exception):
    """The database answers, at an older schema revision than this code's."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc`, the driver's error under it and their causes (SQLAlchemy wraps asyncpg's error
    in an adapter's `Error` whose cause is the real one), outermost first."""
    found: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(found) < 8:
        current = todo.pop(0)
        if current is None or current in found:
            continue
        found.append(current)
        orig = getattr(current, "orig", None)
        todo.extend([orig if isinstance(orig, BaseException) else None, current.__cause__])
    return found


def reason_of(exc: BaseException) -> str:
    """One line naming why the database could not be used (never a statement's data): the
    innermost error's class and first line."""
    inner = _chain(exc)[-1]
    text = str(inner).splitlines()[0] if str(inner) else ""
    return f"{type(inner).__name__}: {text}"[:200] if text else type(inner).__name__


def is_refusal(exc: BaseException) -> bool:
    """A wrong password or a missing database: no outage, a setting to fix."""
    return any(type(e).__name__ in _REFUSALS for e in _chain(exc))


async def schema_revision(url: str) -> str | None:
    """The database's revision; raises when it cannot be reached (or said no)."""
    db = Database(url)
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            return await migrate.current_revision(db.engine)
    finally:
        await db.dispose()


def behind_message(current: str | None) -> str:
    return (
        f"database schema is at revision {current or 'none'}, this callrouter needs "
        f"{migrate.head_revision()}: run `callrouter db upgrade`"
    )


class DatabaseState:
    """Whether this process finds its database reachable; says it in the log, the metrics and
    `<spool_dir>/database-<mode>.json`, and probes while it does not."""

    def __init__(self, url: str, spool_dir: Path, mode: str) -> None:
        self.url = url
        self.path = Path(spool_dir) / f"{STATE_PREFIX}{mode}.json"
        self.since: datetime | None = None
        self.reason = ""
        self._on_back: list[Callable[[], Awaitable[None]]] = []
        self._probe: asyncio.Task[None] | None = None
        self._check: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        metrics.LIVE.set_probe("callrouter_database_unreachable_since_seconds", self._gauge)

    @property
    def degraded(self) -> bool:
        return self.since is not None

    def describe(self) -> str:
        assert self.since is not None
        return (
            f"degraded: database unreachable since {self.since.isoformat(timespec='seconds')}"
            f" ({self.reason})"
        )

    def on_back(self, callback: Callable[[], Awaitable[None]]) -> None:
        """`callback()` runs (as a task) each time the database comes back."""
        self._on_back.append(callback)

    def went_away(self, exc_or_reason: BaseException | str) -> None:
        reason = exc_or_reason if isinstance(exc_or_reason, str) else reason_of(exc_or_reason)
        if self.since is not None:
            self.reason = reason
            return
        self.since, self.reason = datetime.now(UTC), reason
        log.warning(
            "%s: routing from the directory snapshot (or routing.fallback_targets), finished "
            "calls kept in the spool until it returns",
            self.describe(),
            extra={"event": "degraded"},
        )
        self._write()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_back(), name="database-probe")

    def suspect(self, exc: BaseException | None = None) -> None:
        """Something failed on the database (a listener's write, a directory load): probe it
        once in the background and go degraded when it does not answer. A failure of another
        kind (the database answers) changes nothing."""
        if self.since is not None or (self._check is not None and not self._check.done()):
            return
        self._check = asyncio.create_task(self._verify(), name="database-check")

    async def _verify(self) -> None:
        try:
            await schema_revision(self.url)
        except Exception as exc:
            self.went_away(exc)

    def came_back(self) -> None:
        if self.since is None:
            return
        lasted = datetime.now(UTC) - self.since
        self.since, self.reason = None, ""
        log.info(
            "database reachable again after %d s: leaving degraded mode; the spool drains and "
            "the directory reloads",
            lasted.total_seconds(),
            extra={"event": "database_back"},
        )
        self._write()
        for callback in self._on_back:
            task = asyncio.create_task(_quietly(callback))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _probe_until_back(self) -> None:
        said_behind = False
        reminded = asyncio.get_running_loop().time()
        while self.since is not None:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                current = await schema_revision(self.url)
            except Exception as exc:
                self.reason = reason_of(exc)
                if asyncio.get_running_loop().time() - reminded >= REMINDER_SECONDS:
                    reminded = asyncio.get_running_loop().time()
                    log.warning("still %s", self.describe(), extra={"event": "degraded"})
                continue
            if current == migrate.head_revision():
                self.came_back()
                return
            if not said_behind:
                said_behind = True
                self.reason = behind_message(current)
                log.error("the database is back but %s", self.reason)
                self._write()

    def _gauge(self) -> float:
        return self.since.timestamp() if self.since is not None else 0.0

    def _write(self) -> None:
        data = {
            "pid": os.getpid(),
            "unreachable_since": self.since.isoformat(timespec="seconds") if self.since else None,
            "reason": self.reason,
            "updated_at": now_iso(),
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("degraded-mode state not written: %s", exc)

    async def close(self) -> None:
        for task in (self._check, self._probe):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        metrics.LIVE.set_probe("callrouter_database_unreachable_since_seconds", None)
        self.path.unlink(missing_ok=True)


async def _quietly(callback: Callable[[], Awaitable[None]]) -> None:
    try:
        await callback()
    except Exception as exc:
        log.warning("after the database came back: %s", reason_of(exc))


def degraded_reports(spool_dir: Path) -> list[dict[str, Any]]:
    """What running service processes say about their database (`callrouter status`): the
    `database-<mode>.json` files of live processes that find it unreachable."""
    found = []
    for path in sorted(Path(spool_dir).glob(f"{STATE_PREFIX}*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or not data.get("unreachable_since"):
            continue
        if process_alive(int(data.get("pid", 0))):
            found.append(data)
    return found


# ---- the directory snapshot on disk -----------------------------------------------------------


def snapshot_path(spool_dir: Path) -> Path:
    return Path(spool_dir) / SNAPSHOT_FILE


def snapshot_data(directory: Directory, contacts: list[tuple[int, str, int]]) -> dict[str, Any]:
    """The JSON snapshot `agi_scripts/file_source.py` reads (`agi.directory_file` takes it as
    is), plus each department's holidays. Contacts: those with a responsible manager, without
    names (routing needs the phone and the manager only)."""
    departments = []
    for d in directory.departments:
        week = {
            str(day): [[a.isoformat(), b.isoformat()] for a, b in spans]
            for day, spans in d.hours.week.items()
        }
        departments.append(
            {
                "id": d.id,
                "name": d.name,
                "timezone": d.hours.timezone,
                "week": week,
                "holidays": sorted(day.isoformat() for day in d.hours.holidays),
                "dids": sorted(d.dids),
            }
        )
    return {
        "saved_at": now_iso(),
        "departments": departments,
        "default_department_id": directory.default_department_id,
        "managers": [
            {
                "id": m.id,
                "name": m.name,
                "endpoint": m.endpoint,
                "role": m.role.value,
                "department_id": m.department_id,
                "active": m.active,
            }
            for m in directory.managers
        ],
        "contacts": [
            {"id": cid, "phone": phone, "responsible_manager_id": manager}
            for cid, phone, manager in contacts
        ],
    }


def read_snapshot(path: Path) -> tuple[Directory, dict[str, ContactView]] | None:
    """The snapshot at `path` (blocking: run it in a thread), or None when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        directory, contacts = parse_snapshot(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("directory snapshot %s unreadable (%s)", path, type(exc).__name__)
        return None
    holidays = {d["id"]: d.get("holidays", ()) for d in data.get("departments", ())}
    departments = tuple(
        replace(
            d,
            hours=replace(
                d.hours,
                holidays=frozenset(
                    datetime.fromisoformat(day).date() for day in holidays.get(d.id, ())
                ),
            ),
        )
        for d in directory.departments
    )
    return replace(directory, departments=departments), contacts


def write_durably(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)  # client numbers inside
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


async def _contacts_if_changed(
    url: str, known: Any
) -> tuple[Any, list[tuple[int, str, int]] | None]:
    """(fingerprint, rows) of the contacts that have a responsible manager; rows None when the
    fingerprint (how many, the last id, the last change) is still `known`."""
    db = Database(url)
    try:
        async with db.reader() as session:
            has_manager = Contact.responsible_manager_id.is_not(None)
            summary = select(func.count(), func.max(Contact.id), func.max(Contact.updated_at))
            fingerprint = tuple((await session.execute(summary.where(has_manager))).one())
            if fingerprint == known:
                return fingerprint, None
            rows = await session.execute(
                select(Contact.id, Contact.phone, Contact.responsible_manager_id)
                .where(has_manager)
                .order_by(Contact.id)
            )
            return fingerprint, [(r[0], r[1], r[2]) for r in rows]
    finally:
        await db.dispose()


class SnapshotSource:
    """A `DirectorySource` over the database that keeps the snapshot on disk and falls back to
    it: every directory load that succeeds refreshes the file (in a thread of its own, with its
    own connection, so routing never waits for it); while the database is unreachable, the
    directory and the callers' managers come from the file."""

    def __init__(self, inner: DirectorySource, url: str, path: Path, state: DatabaseState):
        self.inner = inner
        self.url = url
        self.path = path
        self.state = state
        self.serving_snapshot = False
        self._snapshot: tuple[Directory, dict[str, ContactView]] | None = None
        self._snapshot_read = False
        self._writing: asyncio.Task[None] | None = None
        self._written: tuple[Any, Any] | None = None  # (directory, contacts' fingerprint)

    async def load_directory(self) -> Directory:
        if not self.state.degraded:
            try:
                directory = await self.inner.load_directory()
            except Exception as exc:
                self.state.went_away(exc)
            else:
                self.serving_snapshot = False
                self._snapshot = None  # back to the database: free the snapshot's memory
                self._snapshot_read = False
                self._save(directory)
                return directory
        snapshot = await self._read_snapshot()
        if snapshot is None:
            raise ConnectionError(f"database unreachable and no snapshot at {self.path}")
        self.serving_snapshot = True
        return snapshot[0]

    def find_contact(self, phone_e164: str) -> Any:
        snapshot = self._snapshot
        if self.state.degraded and not self._snapshot_read:
            # Gone degraded on another part's word (the listener's write failed): the snapshot
            # answers from now on, not only from the next directory load.
            return asyncio.ensure_future(self._find_in_snapshot(phone_e164))
        if self.state.degraded and snapshot is not None:
            answer: asyncio.Future[ContactView | None] = asyncio.get_running_loop().create_future()
            answer.set_result(snapshot[1].get(phone_e164))
            return answer
        if self.state.degraded:
            failed: asyncio.Future[ContactView | None] = asyncio.get_running_loop().create_future()
            failed.set_exception(ConnectionError("database unreachable, no snapshot"))
            return failed
        return self.inner.find_contact(phone_e164)

    async def _find_in_snapshot(self, phone_e164: str) -> ContactView | None:
        snapshot = await self._read_snapshot()
        if snapshot is None:
            raise ConnectionError(f"database unreachable and no snapshot at {self.path}")
        self.serving_snapshot = True
        return snapshot[1].get(phone_e164)

    async def _read_snapshot(self) -> tuple[Directory, dict[str, ContactView]] | None:
        if not self._snapshot_read:
            self._snapshot_read = True
            self._snapshot = await asyncio.to_thread(read_snapshot, self.path)
            if self._snapshot is not None:
                stamp = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
                log.warning(
                    "routing from the directory snapshot of %s: %d managers, %d clients "
                    "with a manager",
                    stamp.isoformat(timespec="seconds"),
                    len(self._snapshot[0].managers),
                    len(self._snapshot[1]),
                    extra={"event": "snapshot_routing"},
                )
            else:
                log.warning(
                    "no directory snapshot at %s: routing to routing.fallback_targets", self.path
                )
        return self._snapshot

    def _save(self, directory: Directory) -> None:
        if self._writing is not None and not self._writing.done():
            return  # one at a time; the next load writes what is new
        self._writing = asyncio.create_task(self._write(directory), name="directory-snapshot")

    async def _write(self, directory: Directory) -> None:
        try:
            await asyncio.to_thread(self._write_in_thread, directory)
        except Exception as exc:
            log.warning("directory snapshot not written (%s)", reason_of(exc))

    def _write_in_thread(self, directory: Directory) -> None:
        """Off the event loop: the contacts (their own connection, their own loop), the file."""
        written = self._written if self.path.exists() else None
        known = written[1] if written is not None and written[0] == directory else None
        fingerprint, rows = asyncio.run(_contacts_if_changed(self.url, known))
        if rows is None:
            os.utime(self.path)  # still current as of this load
            return
        write_durably(self.path, json.dumps(snapshot_data(directory, rows)))
        self._written = (directory, fingerprint)
        log.debug("directory snapshot written: %d clients with a manager", len(rows))

    async def close(self) -> None:
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
