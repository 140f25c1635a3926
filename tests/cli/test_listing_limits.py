"""Listings never stop silently (issue #17): `contacts list` at 200 of 348 says so on stderr,
and every listing takes `--limit N` and `--all`. stdout keeps its shape (the JSON list) for
scripts. `deals list` shows the title. Every command and option has a help text.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import click
import pytest

from ami_listener.refused import RefusedCalls
from callrouter.cli import cli as root
from models.db import Database
from models.tables import Call
from tests.sink.test_call_sink import T0, inbound

NOTE = "showing {} of {} (use --limit N or --all)"


def _contacts_csv(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "clients.csv"
    rows = [f"+7926{n:07d},Client {n}" for n in range(count)]
    path.write_text("phone,name\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _rows(result) -> list:
    assert result.code == 0, result
    return json.loads(result.out)


def test_contacts_list_says_how_many_it_left_out(cli, tmp_path: Path) -> None:
    assert cli("contacts", "import", str(_contacts_csv(tmp_path, 348))).code == 0
    default = cli("contacts", "list", "--json")
    assert len(_rows(default)) == 200
    assert NOTE.format(200, 348) in default.err

    text = cli("contacts", "list")
    assert text.code == 0 and NOTE.format(200, 348) in text.err
    assert NOTE.format(200, 348) not in text.out  # stdout stays the data

    limited = cli("contacts", "list", "--limit", "10", "--json")
    assert [c["phone"] for c in _rows(limited)] == [f"+7926{n:07d}" for n in range(10)]
    assert NOTE.format(10, 348) in limited.err

    everything = cli("contacts", "list", "--all", "--json")
    assert len(_rows(everything)) == 348 and "showing" not in everything.err
    exact = cli("contacts", "list", "--limit", "348")
    assert exact.code == 0 and "showing" not in exact.err

    bad = cli("contacts", "list", "--limit", "0")
    assert bad.code == 2 and bad.err.startswith("callrouter: error: ")


def test_deals_list_shows_the_title_and_its_limits(cli, tmp_path: Path) -> None:
    assert cli("contacts", "import", str(_contacts_csv(tmp_path, 5))).code == 0
    for n in range(5):
        assert cli("deals", "add", f"+7926{n:07d}", "--title", f"Окна {n}").code == 0
    text = cli("deals", "list", "--limit", "3")
    assert text.code == 0, text
    assert text.out.splitlines()[0].split()[:2] == ["id", "title"]
    assert "Окна 4" in text.out and "Окна 1" not in text.out
    assert NOTE.format(3, 5) in text.err
    rows = _rows(cli("deals", "list", "--all", "--json"))
    assert [d["title"] for d in rows] == [f"Окна {n}" for n in reversed(range(5))]
    filtered = cli("deals", "list", "--contact", "+79260000001", "--limit", "1")
    assert filtered.code == 0 and "showing" not in filtered.err  # 1 of 1


def test_tasks_list_limits(cli, tmp_path: Path) -> None:
    assert cli("departments", "add", "Продажи", "--hours", "mon-fri 09:00-18:00").code == 0
    assert cli("managers", "add", "Анна", "--phone", "101", "--department", "Продажи").code == 0
    assert cli("contacts", "import", str(_contacts_csv(tmp_path, 1))).code == 0
    assert cli("deals", "add", "+79260000000").code == 0
    for n in range(4):
        args = ["--deal", "1", "--responsible", "101", "--due", f"+{n + 1}d", "--type", "call"]
        assert cli("tasks", "add", *args, "--comment", f"task {n}").code == 0
    limited = cli("tasks", "list", "--limit", "2", "--json")
    assert [t["comment"] for t in _rows(limited)] == ["task 0", "task 1"]
    assert NOTE.format(2, 4) in limited.err
    assert len(_rows(cli("tasks", "list", "--all", "--json"))) == 4


async def _add_calls(db_url: str, count: int) -> None:
    db = Database(db_url)
    try:
        async with db.transaction() as s:
            for n in range(count):
                call = inbound(f"1700000000.{n}", at=T0 + timedelta(minutes=n))
                s.add(
                    Call(
                        system=call.system,
                        linkedid=call.linkedid,
                        direction=call.direction,
                        external_number=call.external_number,
                        started_at=call.started_at,
                        ended_at=call.ended_at,
                        disposition=call.disposition,
                    )
                )
    finally:
        await db.dispose()


def test_calls_list_says_how_many_it_left_out(cli, db_url: str) -> None:
    asyncio.run(_add_calls(db_url, 60))
    default = cli("calls", "list", "--json")
    assert len(_rows(default)) == 50 and NOTE.format(50, 60) in default.err
    assert len(_rows(cli("calls", "list", "--all", "--json"))) == 60
    newest = _rows(cli("calls", "list", "--limit", "1", "--json"))
    assert [c["id"] for c in newest] == [60]


def test_refused_list_limits(cli, db_url: str, tmp_path: Path, monkeypatch) -> None:
    spool = tmp_path / "spool"
    monkeypatch.setenv("CALLROUTER_SPOOL_DIR", str(spool))
    area = RefusedCalls(spool / "calls" / "refused")
    calls = [inbound(f"1700000000.{n}", at=T0 + timedelta(minutes=n)) for n in range(3)]
    area.put_many([(c, "IntegrityError", "refused for the test") for c in calls])
    limited = cli("refused", "list", "--limit", "2", "--json")
    assert [r["linkedid"] for r in _rows(limited)] == ["1700000000.0", "1700000000.1"]
    assert NOTE.format(2, 3) in limited.err
    assert len(_rows(cli("refused", "list", "--all", "--json"))) == 3


LISTINGS = ["contacts list", "deals list", "tasks list", "calls list", "refused list"]


def _walk(command: click.Command, path: str) -> list[tuple[str, click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{path} {name} is listed but cannot be loaded"
            found += _walk(sub, f"{path} {name}")
    return found


@pytest.mark.parametrize("listing", LISTINGS)
def test_every_listing_takes_limit_and_all(listing: str) -> None:
    group, name = listing.split()
    command = _walk(root, "callrouter")
    (found,) = [c for p, c in command if p == f"callrouter {group} {name}"]
    options = {o for p in found.params for o in getattr(p, "opts", [])}
    assert {"--limit", "--all"} <= options


def test_every_command_and_option_has_a_help_text() -> None:
    missing = []
    for path, command in _walk(root, "callrouter"):
        if not (command.help or command.short_help):
            missing.append(path)
        missing += [
            f"{path} {param.opts[0]}"
            for param in command.params
            if isinstance(param, click.Option) and not param.hidden and not param.help
        ]
    assert missing == []
