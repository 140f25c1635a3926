"""`callrouter` answers fast (issue #17): the command group is lazy. Importing `callrouter.cli`
and `callrouter --help` load no database, settings or CRM code; the help lists every command,
with the short help each command has itself; every command module's commands are reachable. A
listing loads what it lists and nothing of the cards, the import, the search, the migrations or
the web application, and reads without SQLAlchemy or the ORM's tables (models/direct.py).
(The timings themselves: bench/cli_timing.py, a benchmark, not a timed test.)
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import callrouter.cli as package
from callrouter.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "pydantic", "pydantic_settings", "asyncpg", "aiosqlite", "crm", "models")
# What no listing needs (module names or their packages).
NOT_FOR_LISTINGS = (
    "crm.views",  # the cards of `show`
    "crm.contact_import",
    "crm.contact_merge",
    "crm.listing",  # the web's and `contacts search`'s search
    "phonenumbers",  # nothing is parsed
    "alembic",
    "migrations",
    "callrouter.web",
    "starlette",
    "jinja2",
    "babel",
    "argon2",
    "uvicorn",
    "prometheus_client",
)
LISTINGS = ("deals list", "contacts list", "calls list", "tasks list")
# A listing reads straight through the driver (models/direct.py): no SQLAlchemy, no ORM tables.
NO_ORM = ("sqlalchemy", "aiosqlite", "models.tables", "models.db", "models.limits", "alembic")


def _python(code: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _loaded_after(
    code: str, names: tuple[str, ...], env: dict[str, str] | None = None
) -> list[str]:
    """The modules among `names` (or inside those packages) that running `code` imported."""
    probe = (
        f"{code}\nimport json, sys\nnames = {names!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if any(m == n or m.startswith(n + '.') for n in names))))"
    )
    loaded: list[str] = json.loads(_python(probe, env).strip().splitlines()[-1])
    return loaded


def _heavy_after(code: str) -> list[str]:
    return _loaded_after(code, HEAVY)


def test_importing_the_cli_loads_no_database_settings_or_crm_code() -> None:
    assert _heavy_after("import callrouter.cli") == []


def test_help_lists_every_command_without_loading_them() -> None:
    heavy = _heavy_after(
        "import contextlib, io\nfrom callrouter.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0"
    )
    assert heavy == []
    out = _python("from callrouter.cli import main\nmain(['--help'])")
    listed = out.split("Commands:", 1)[1].split()
    for name, (_, short) in COMMANDS.items():
        assert name in listed, name
        assert " ".join(short.split()[:3]) in " ".join(out.split()), name


@pytest.mark.parametrize("listing", LISTINGS)
def test_a_listing_loads_nothing_it_does_not_list(listing: str, db_url: str) -> None:
    env = dict(os.environ, CALLROUTER_DATABASE_URL=db_url, CALLROUTER_ENDPOINT_TECHNOLOGY="PJSIP")
    env.pop("CALLROUTER_CONFIG", None)
    code = (
        "import contextlib, io\nfrom callrouter.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({listing.split()!r}) == 0"
    )
    assert _loaded_after(code, NOT_FOR_LISTINGS, env) == []


@pytest.mark.parametrize("listing", LISTINGS)
def test_a_listing_loads_no_orm_and_on_sqlite_no_asyncpg(
    listing: str, db_url: str, db_backend: str
) -> None:
    env = dict(os.environ, CALLROUTER_DATABASE_URL=db_url, CALLROUTER_ENDPOINT_TECHNOLOGY="PJSIP")
    env.pop("CALLROUTER_CONFIG", None)
    code = (
        "import contextlib, io\nfrom callrouter.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n    assert main({listing.split()!r}) == 0"
    )
    loaded = _loaded_after(code, (*NO_ORM, "asyncpg"), env)
    assert [m for m in loaded if not m.startswith("asyncpg")] == []
    # SQLite through the stdlib's sqlite3; PostgreSQL through asyncpg alone.
    assert any(m == "asyncpg" for m in loaded) == (db_backend == "postgresql")


def test_the_table_agrees_with_the_commands() -> None:
    """Each entry loads a command of that name whose own short help is the table's."""
    for name, (target, short) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert isinstance(command, click.Command), target
        assert command.name == name, (name, target)
        assert command.get_short_help_str(limit=80) == short, name


def test_every_command_defined_in_the_package_is_reachable() -> None:
    """A module's top-level command or group (not a subcommand of another) is in the table."""
    reachable: set[int] = set()

    def walk(command: click.Command) -> None:
        reachable.add(id(command))
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    for name in COMMANDS:
        found = cli.get_command(click.Context(cli), name)
        assert found is not None
        walk(found)
    orphans = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"callrouter.cli.{info.name}")
        for attribute, value in vars(module).items():
            if isinstance(value, click.Command) and value is not cli and id(value) not in reachable:
                orphans.append(f"{info.name}:{attribute}")
    assert orphans == [], "commands defined but not in callrouter.cli.COMMANDS"


def test_an_unknown_command_is_one_line_and_exit_2(capsys) -> None:
    assert package.main(["no-such-command"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("callrouter: error: No such command")


def test_the_timing_benchmark_runs_in_its_smoke_size() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.cli_timing", "--runs", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in ("callrouter --help", "callrouter deals list", "python -c pass (floor)"):
        assert line in done.stdout
