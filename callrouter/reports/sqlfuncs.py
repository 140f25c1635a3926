"""The few SQL pieces that SQLite and PostgreSQL spell differently, and portable helpers.

- `SecondsBetween(a, b)`: b − a in seconds (julianday on SQLite, EXTRACT(EPOCH) on PostgreSQL).
- `window_index(column, windows)`: which of the UTC windows a timestamp falls in (a CASE; the
  windows are computed in Python from local days and hours, so no SQL needs a time zone).
- `in_windows(column, windows)`: the WHERE clause, contiguous windows merged into one range so
  the index on the column serves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Float, Integer, and_, case, literal_column, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .model import Window


class SecondsBetween(FunctionElement[float]):
    """Seconds from the first timestamp to the second (aware UTC columns)."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(SecondsBetween, "sqlite")
def _seconds_sqlite(element: SecondsBetween, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return (
        f"((julianday({compiler.process(end, **kw)}) - "
        f"julianday({compiler.process(start, **kw)})) * 86400.0)"
    )


@compiles(SecondsBetween, "postgresql")
def _seconds_postgresql(element: SecondsBetween, compiler: Any, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


def window_index(column: Any, windows: Sequence[Window]) -> ColumnElement[int]:
    """0-based index of the window `column` falls in (NULL when none)."""
    if len(windows) == 1:
        return literal_column("0", Integer)
    return case(
        *[(and_(column >= w.start, column < w.end), i) for i, w in enumerate(windows)],
        else_=None,
    )


def in_windows(column: Any, windows: Sequence[Window]) -> ColumnElement[bool]:
    """`column` lies in any of the windows."""
    ranges = merged_ranges(windows)
    return or_(*[and_(column >= start, column < end) for start, end in ranges])


def merged_ranges(windows: Sequence[Window]) -> list[tuple[Any, Any]]:
    ranges: list[tuple[Any, Any]] = []
    for w in sorted(windows, key=lambda w: w.start):
        if ranges and w.start <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], w.end))
        else:
            ranges.append((w.start, w.end))
    return ranges


def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 when the condition holds, else 0 (sums portably; booleans do not on PostgreSQL)."""
    return case((condition, 1), else_=0)
