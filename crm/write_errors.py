"""Why a write failed: the database is away (wait and retry) or it refuses the call (set it aside).

Away: it cannot be reached, is starting or shutting down, is locked or busy, is out of space,
lost the connection, chose us as a deadlock victim, or its schema is behind the code (every
call would fail the same way until an operator acts). Retrying the same write later succeeds.

Refused: the database answered and said no to this data — a constraint (other than the
duplicate-call race, which the writer does not see as an error), a value a column rejects — or
the code raised on it (a bug in a lead rule for one call). The same call fails the same way
until a person fixes the cause; the calls behind it must not wait.

SQLAlchemy's `str()` of an error holds the statement and its parameters (caller numbers, names,
recording paths). `describe` returns the exception classes and the driver's own message, never
the statement; log lines carry `describe(exc)[0]` alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlalchemy import exc as sa

# PostgreSQL SQLSTATE classes that mean "not now" rather than "not this":
# 08 connection, 25 invalid transaction state (a read-only standby), 28 authorization, 3D no
# such database, 40 serialization failure / deadlock, 42 undefined table or column and missing
# privileges (the schema is behind), 53 insufficient resources (disk full, too many
# connections), 55 lock not available, 57 operator intervention (shutdown, starting up,
# statement timeout), 58 system errors (I/O), F0 configuration, XX internal errors.
_PG_AWAY_CLASSES = frozenset(
    {"08", "25", "28", "3D", "40", "42", "53", "55", "57", "58", "F0", "XX"}
)
_DETAIL_MAX = 300


def database_away(exc: BaseException) -> bool:
    """True when `exc` says the database cannot take any write now; False when it refuses this."""
    for error in _chain(exc):
        if isinstance(error, OSError | TimeoutError | MemoryError):
            return True
        if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, sa.DisconnectionError | sa.TimeoutError):
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate:
            return sqlstate[:2] in _PG_AWAY_CLASSES
        verdict = _driver_verdict(error)
        if verdict is not None:
            return verdict
    return isinstance(exc, sa.OperationalError | sa.InterfaceError)


def _driver_verdict(error: BaseException) -> bool | None:
    """What the driver's own error class says, when it says anything."""
    if isinstance(error, sqlite3.OperationalError):
        return True  # locked, busy, I/O, read-only, no such table
    if isinstance(error, sqlite3.Error):
        return False  # constraint, datatype, a value it cannot bind
    module = type(error).__module__
    if module.startswith("asyncpg"):
        # Client-side: a value that cannot be encoded is refused; anything else about the
        # connection ("connection is closed", "another operation in progress") is away.
        return type(error).__name__ not in {"DataError", "InternalClientError"}
    return None


def describe(exc: BaseException) -> tuple[str, str]:
    """(error, detail): the exception's classes ("IntegrityError (CheckViolationError)") and the
    driver's first line of message — without the statement or its parameters."""
    driver = _driver_error(exc)
    error = type(exc).__name__
    if driver is not None and type(driver).__name__ != error:
        error = f"{error} ({type(driver).__name__})"
    source = driver if driver is not None else exc
    lines = str(source).strip().splitlines()
    detail = lines[0] if lines else ""
    if len(detail) > _DETAIL_MAX:
        detail = detail[: _DETAIL_MAX - 1] + "…"
    return error, detail


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's exception under SQLAlchemy's wrapper (asyncpg's own under its adapter)."""
    if isinstance(exc, sa.DBAPIError):
        return exc.driver_exception
    if isinstance(exc, sa.StatementError):
        return exc.orig
    return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it wraps: SQLAlchemy's `orig`, and explicit causes (`raise … from`).

    Not `__context__`: an unrelated error handled earlier on the way must not decide."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop(0)
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        pending.extend([getattr(error, "orig", None), error.__cause__])
