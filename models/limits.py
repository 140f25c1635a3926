"""Text that people type, checked before the database: the same answer on SQLite and PostgreSQL.

PostgreSQL refuses a value longer than its `String(n)` column ("value too long for type
character varying(200)", no row named) and SQLite stores it; so the lengths are checked here, read
from the columns themselves (one place: change the column, the limit follows). Names and titles
must also be one line: a line break or a tab breaks every table that lists them.

Every ORM write of the tables people fill in (a constructor argument or an attribute set) goes
through `check_text`, installed on each mapper as it is configured; a bulk import checks each row
with `check_text` itself, to reject that row with its line number and keep the rest.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import String, event
from sqlalchemy.orm import Mapper

from models.errors import InputError

# The tables whose text people type (the call records are the PBX's, stored as they come).
ENTERED_TABLES = frozenset(
    {"departments", "managers", "contacts", "deals", "automation_rules", "users"}
)
# Columns a person reads in lists and tables: one line, no tab. → how a message names them.
SINGLE_LINE = {
    ("contacts", "name"): "contact name",
    ("managers", "name"): "manager name",
    ("managers", "email"): "manager e-mail",
    ("managers", "endpoint"): "manager endpoint",
    ("departments", "name"): "department name",
    ("deals", "title"): "deal title",
    ("automation_rules", "name"): "rule name",
    ("users", "login"): "login",
}
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")

# (table, column) → the column's length, filled as the mappers are configured.
LIMITS: dict[tuple[str, str], int] = {}
_INSTALLED: set[type] = set()
_READ: list[bool] = []  # the columns have been read


def label(table: str, column: str) -> str:
    return SINGLE_LINE.get((table, column)) or f"{table}.{column}"


def check_text(table: str, column: str, value: Any) -> Any:
    """`value` unchanged when it fits `table.column`; InputError saying why when it does not."""
    if not isinstance(value, str):
        return value
    limit = max_length(table, column)
    if limit is not None and len(value) > limit:
        raise InputError(
            f"the {label(table, column)} is too long: {len(value)} characters, at most {limit}"
        )
    if (table, column) in SINGLE_LINE and _BREAKS.search(value):
        raise InputError(
            f"the {label(table, column)} contains a line break or a tab: write it on one line"
        )
    return value


def max_length(table: str, column: str) -> int | None:
    """The length of `table.column` (String(n)), for the tables people fill in."""
    if not _READ:
        _read_columns()
    return LIMITS.get((table, column))


def _read_columns() -> None:
    import models.tables  # noqa: F401  (registers every table on the metadata)
    from models.base import Base

    for table in Base.metadata.sorted_tables:
        if table.name in ENTERED_TABLES:
            for column in table.columns:
                if isinstance(column.type, String) and column.type.length:
                    LIMITS[(table.name, column.name)] = column.type.length
    _READ.append(True)


@event.listens_for(Mapper, "mapper_configured")
def _install(mapper: Mapper[Any], cls: type) -> None:
    table = getattr(mapper.local_table, "name", None)
    if table not in ENTERED_TABLES or cls in _INSTALLED:
        return
    _INSTALLED.add(cls)
    for prop in mapper.column_attrs:
        for column in prop.columns:
            if isinstance(column.type, String) and column.type.length and column.table is not None:
                if getattr(column.table, "name", None) != table:
                    continue
                _listen(getattr(cls, prop.key), table, column.name)


def _listen(attribute: Any, table: str, column: str) -> None:
    def on_set(_target: Any, value: Any, _old: Any, _initiator: Any) -> Any:
        return check_text(table, column, value)

    event.listen(attribute, "set", on_set, retval=True)


def _install_configured() -> None:
    """Mappers configured before this module was imported get their checks now."""
    from models.base import Base

    for mapper in Base.registry.mappers:
        if mapper.configured:
            _install(mapper, mapper.class_)


_install_configured()
