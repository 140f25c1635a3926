"""A database URL read without SQLAlchemy: `dialect[+driver]://[user[:password]@]host[:port]/db[?query]`.

Loading the settings and a CLI listing need the URL's parts but not SQLAlchemy, whose import
alone costs some 185 ms (issue #17). The grammar is SQLAlchemy's own (`sqlalchemy.engine.url`),
so a URL means here what it means to the engine: tests/models/test_database_url.py holds the two
equal, part for part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, quote_plus, unquote

# SQLAlchemy's URL pattern (sqlalchemy/engine/url.py, `_parse_url`), unchanged.
_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)


class DatabaseUrlError(ValueError):
    """Not a database URL (SQLAlchemy's `ArgumentError`, or a port that is no number)."""


@dataclass(frozen=True)
class DatabaseUrl:
    """The parts of a database URL, decoded as SQLAlchemy's `URL` holds them."""

    drivername: str
    username: str | None = None
    password: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: dict[str, str | tuple[str, ...]] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        """'postgresql' for 'postgresql+asyncpg' (SQLAlchemy's `get_backend_name()`)."""
        return self.drivername.partition("+")[0]

    @property
    def driver(self) -> str:
        """'asyncpg' for 'postgresql+asyncpg'; '' when none is named."""
        return self.drivername.partition("+")[2]

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text, the password as `***` unless asked for (`render_as_string`)."""
        text = self.drivername + "://"
        if self.username is not None:
            text += quote(self.username, safe=" +")
            if self.password is not None:
                text += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            text += "@"
        if self.host is not None:
            text += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            text += f":{self.port}"
        if self.database is not None:
            text += "/" + quote(self.database, safe=" +/")
        if self.query:
            text += "?" + "&".join(
                f"{quote_plus(key)}={quote_plus(value)}"
                for key in sorted(self.query)
                for value in _values(self.query[key])
            )
        return text


def parse_database_url(text: str) -> DatabaseUrl:
    """The URL's parts; DatabaseUrlError when `text` is not one."""
    match = _URL.match(text)
    if match is None:
        raise DatabaseUrlError("not a database URL")
    parts = match.groupdict()
    query: dict[str, str | tuple[str, ...]] = {}
    if parts["query"] is not None:
        for key, value in parse_qsl(parts["query"]):
            query[key] = (*_values(query[key]), value) if key in query else value
    port = parts["port"]
    try:
        number = int(port) if port is not None else None
    except ValueError:
        raise DatabaseUrlError(f"invalid port {port!r}") from None
    return DatabaseUrl(
        drivername=parts["name"],
        username=_unquoted(parts["username"]),
        password=_unquoted(parts["password"]),
        host=parts["ipv4host"] or parts["ipv6host"],
        port=number,
        database=_unquoted(parts["database"]),
        query=query,
    )


def _unquoted(value: str | None) -> str | None:
    return unquote(value) if value is not None else None


def _values(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else value
