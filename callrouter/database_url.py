"""The database URL as a person reads it, and whether a SQLite one names a missing file."""

from __future__ import annotations

from pathlib import Path

from core.database_url import parse_database_url


def database_label(url: str) -> str:
    """SQLite as its absolute file; any other database with its password masked (`***`)."""
    parsed = parse_database_url(url)
    if parsed.backend == "sqlite":
        name = parsed.database or ":memory:"
        return f"sqlite:///{Path(name).resolve()}" if name != ":memory:" else "sqlite://"
    return parsed.render(hide_password=True)


def sqlite_file_missing(url: str) -> bool:
    """A SQLite URL naming a file that does not exist (connecting would create it, empty)."""
    parsed = parse_database_url(url)
    if parsed.backend != "sqlite":
        return False
    name = parsed.database
    if not name or name == ":memory:" or name.startswith("file:"):
        return False
    return not Path(name).exists()
