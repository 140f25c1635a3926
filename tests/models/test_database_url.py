"""The database URL read without SQLAlchemy means what SQLAlchemy reads (issue #17).

`core/database_url.py` parses the settings' URL for the settings check, the CLI's database label
and the listings' direct reader; the engine parses it with `sqlalchemy.engine.make_url`. Both
must agree on every part, on what is no URL at all, on the label that masks the password, and so
on which URLs the settings accept, with the same message.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from callrouter.database_url import database_label, sqlite_file_missing
from core.database_url import DatabaseUrlError, parse_database_url
from core.settings import SUPPORTED_DATABASES, database_url_problem

ENUMERATED = [
    "sqlite:///callrouter.sqlite3",
    "sqlite:////var/lib/callrouter/callrouter.sqlite3",
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite+aiosqlite:///relative/dir/db.sqlite3",
    "sqlite:///file:office.db?mode=ro&uri=true",
    "sqlite:///with%20space.sqlite3",
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://boss:pa55word@127.0.0.1:1/crm",
    "postgresql+asyncpg://u:p@db.example.com/crm?ssl=require",
    "postgres://u@h/crm",
    "postgresql://u:p%40ss%3Aword@h/crm",  # '@' and ':' in the password, percent-encoded
    "postgresql://u:p@ss@h/crm",  # an unencoded '@': the last one ends the password
    "postgresql://us%2Fer:p@h/crm",
    "postgresql://u:@h/crm",
    "postgresql://@h/crm",
    "postgresql://u@[::1]:5433/crm",
    "postgresql://u@[fe80::1%25eth0]/crm",
    "postgresql://u@/crm?host=/run/postgresql",
    "postgresql://u@h/crm?a=1&a=2&b=&c=3",
    "postgresql://u@h/crm?z=1&a=%2F",
    "postgresql://u@h:0/crm",
    "postgresql://u@h:/crm",  # an empty port: refused
    "postgresql://u@h:notaport/crm",
    "postgresql://u@h:١٢/crm",  # Arabic-Indic digits: int() reads them
    "postgresql://u@h:1_000/crm",
    "postgresql://h",
    "postgresql:/h/crm",
    "postgresql//h/crm",
    "://h/crm",
    "mysql://u@h/crm",
    "postgresql+psycopg://u@h/crm",
    "",
    " postgresql://u@h/crm",
    "pg-sql://u@h/crm",
    "pg_sql://u@h/crm",
    "sqlite:///é/ü.sqlite3",
]


def _sqlalchemy_parts(text: str) -> tuple[object, ...] | None:
    """The parts as SQLAlchemy reads them; None when it refuses the text."""
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        return None
    query = {k: tuple(v) if not isinstance(v, str) else v for k, v in url.query.items()}
    return (
        url.drivername,
        url.username,
        url.password,
        url.host,
        url.port,
        url.database,
        query,
        url.get_backend_name(),
        url.render_as_string(hide_password=True),
        url.render_as_string(hide_password=False),
    )


def _our_parts(text: str) -> tuple[object, ...] | None:
    try:
        url = parse_database_url(text)
    except DatabaseUrlError:
        return None
    return (
        url.drivername,
        url.username,
        url.password,
        url.host,
        url.port,
        url.database,
        url.query,
        url.backend,
        url.render(hide_password=True),
        url.render(hide_password=False),
    )


def _problem_with_sqlalchemy(value: str) -> str | None:
    """`core.settings.database_url_problem` as it was, on SQLAlchemy's parser."""
    drivers = {"sqlite": ("", "aiosqlite"), "postgresql": ("", "asyncpg"), "postgres": ("",)}
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        return f"not a database URL: use {SUPPORTED_DATABASES}"
    backend, _, driver = url.drivername.partition("+")
    if backend not in drivers:
        return f"{backend!r} databases are not supported: use {SUPPORTED_DATABASES}"
    if driver not in drivers[backend]:
        plain = "postgresql" if backend.startswith("postgres") else backend
        return (
            f"the driver {driver!r} is not supported: write {plain}://… "
            f"(callrouter picks its own driver)"
        )
    return None


@pytest.mark.parametrize("text", ENUMERATED)
def test_each_part_is_what_sqlalchemy_reads(text: str) -> None:
    assert _our_parts(text) == _sqlalchemy_parts(text)


@pytest.mark.parametrize("text", ENUMERATED)
def test_the_settings_accept_and_refuse_the_same_urls_with_the_same_words(text: str) -> None:
    assert database_url_problem(text) == _problem_with_sqlalchemy(text)


def test_refusals_and_the_masked_label() -> None:
    with pytest.raises(DatabaseUrlError):
        parse_database_url("postgresql://u@h:/crm")
    with pytest.raises(DatabaseUrlError):
        parse_database_url("callrouter.sqlite3")
    assert (
        database_label("postgresql://boss:pa55word@127.0.0.1:1/crm")
        == "postgresql://boss:***@127.0.0.1:1/crm"
    )
    assert database_label("sqlite://") == "sqlite://"
    assert (
        database_label("sqlite:///office.sqlite3") == f"sqlite:///{Path.cwd() / 'office.sqlite3'}"
    )


def test_a_missing_sqlite_file_is_told_apart(tmp_path: Path) -> None:
    present = tmp_path / "here.sqlite3"
    present.touch()
    assert not sqlite_file_missing(f"sqlite:///{present}")
    assert sqlite_file_missing(f"sqlite+aiosqlite:///{tmp_path / 'gone.sqlite3'}")
    assert not sqlite_file_missing("sqlite://")
    assert not sqlite_file_missing("postgresql://u@h/crm")


# Text with every character that means something in a URL, and percent-escapes (some broken).
_PIECE = st.lists(
    st.sampled_from(list("aZ09_-.+~ :/@?#&=[]%é") + ["%40", "%3A", "%2F", "%2", "%zz"]),
    max_size=12,
).map("".join)
_SCHEME = st.sampled_from(
    [
        "sqlite",
        "sqlite+aiosqlite",
        "postgresql",
        "postgresql+asyncpg",
        "postgres",
        "my_sql",
        "a+b+c",
    ]
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    text = draw(_SCHEME) + "://"
    if draw(st.booleans()):
        text += draw(_PIECE)
        if draw(st.booleans()):
            text += ":" + draw(_PIECE)
        text += "@"
    text += draw(st.sampled_from(["", "h", "127.0.0.1", "[::1]", "db.example.com"]))
    if draw(st.booleans()):
        text += ":" + draw(st.sampled_from(["", "5432", "0", "x", "１２", "-1", "+5"]))
    if draw(st.booleans()):
        text += "/" + draw(_PIECE)
    if draw(st.booleans()):
        text += "?" + draw(_PIECE)
    return text


@given(_urls())
@example("postgresql://u:p@h/crm?b=2&a=1&a=0")
def test_any_url_is_read_as_sqlalchemy_reads_it(text: str) -> None:
    assert _our_parts(text) == _sqlalchemy_parts(text)
    assert database_url_problem(text) == _problem_with_sqlalchemy(text)


@given(st.text(max_size=40))
def test_any_text_is_refused_or_read_as_sqlalchemy_does(text: str) -> None:
    assert _our_parts(text) == _sqlalchemy_parts(text)
