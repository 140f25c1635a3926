"""`contacts import` for a real office (issue #17): a corrected file updates what is stored
(`--update`), a Russian Excel export (Windows-1251, `;`) is read, dates are accepted as
DD.MM.YYYY, a progress bar goes to stderr on request, and the import is batched — a constant
number of statements per chunk however many rows — while a bad row is still rejected with its
line number. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text

from crm import contact_import
from models.db import Database
from models.tables import Contact
from tests.cli.test_admin_cli import office  # noqa: F401  (the fixture)
from tests.ops.test_backfill import SCENARIOS


def _json(cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def _write(tmp_path: Path, text: str, name: str = "clients.csv", encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def _contacts(cli) -> dict[str, tuple[str | None, str | None]]:
    return {c["phone"]: (c["name"], c["responsible"]) for c in _json(cli, "contacts", "list")}


def test_update_mode_corrects_stored_contacts_and_counts_each_kind(
    office,  # noqa: F811
    tmp_path: Path,
) -> None:
    cli = office
    first = (
        "phone,name,responsible\n89160000001,Ольга,101\n89160000002,Пётр,101\n89160000003,Зоя,\n"
    )
    assert cli("contacts", "import", _write(tmp_path, first)).code == 0
    assert cli("deals", "add", "89160000002", "--title", "Окна").code == 0
    corrected = (
        "phone,name,responsible\n"
        "89160000001,Ольга Ивановна,101\n"  # line 2: renamed
        "89160000002,,SIP/102\n"  # line 3: Борис's now; the empty name keeps "Пётр"
        "89160000003,Зоя,\n"  # line 4: unchanged
        "89160000004,Новый,102\n"  # line 5: added
        "89160000005,Кто-то,Nobody\n"  # line 6: rejected
    )
    path = _write(tmp_path, corrected, "fixed.csv")

    plain = cli("contacts", "import", path)  # without --update the stored ones are refused
    assert plain.code == 0
    assert "1 contact(s) imported, 4 row(s) rejected" in plain.out
    assert "line 2: contact +79160000001 already exists" in plain.err

    result = cli("contacts", "import", "--update", path)
    assert result.code == 0, result
    # Line 5 was added by the plain run: the same values now, so unchanged.
    assert "0 contact(s) imported, 2 updated, 2 unchanged, 1 row(s) rejected" in result.out
    assert "line 6: no manager 'Nobody'" in result.err
    assert _contacts(cli) == {
        "+79160000001": ("Ольга Ивановна", "Анна Смирнова"),
        "+79160000002": ("Пётр", "Борис"),
        "+79160000003": ("Зоя", None),
        "+79160000004": ("Новый", "Борис"),
    }
    # The responsible changed through the ownership model: the open deal followed the client.
    (deal,) = _json(cli, "deals", "list")
    assert deal["responsible"] == "Борис"
    assert _json(cli, "deals", "show", "1")["history"][-1]["kind"] == "assigned"


def test_a_russian_excel_export_is_read(office, tmp_path: Path) -> None:  # noqa: F811
    cli = office
    text = (
        "Телефон;ФИО;Ответственный\r\n"
        "8 (916) 000-00-01;Ольга Петрова;101\r\n"
        "8 (916) 000-00-02;Пётр Ёлкин;\r\n"
        ";;\r\n"
    )
    result = cli("contacts", "import", _write(tmp_path, text, encoding="cp1251"))
    assert result.code == 0, result
    assert "2 contact(s) imported, 0 row(s) rejected" in result.out
    assert "not UTF-8; read as Windows-1251" in result.err
    assert _contacts(cli) == {
        "+79160000001": ("Ольга Петрова", "Анна Смирнова"),
        "+79160000002": ("Пётр Ёлкин", None),
    }
    bom = cli("contacts", "import", _write(tmp_path, "\ufeffphone\tname\n89160000003\tЗоя\n"))
    assert bom.code == 0 and "1 contact(s) imported" in bom.out and "Windows" not in bom.err


def test_a_file_that_is_not_a_client_list_is_explained(cli, tmp_path: Path, table_counts) -> None:
    before = table_counts()
    for content, said in [
        (b"PK\x03\x04 an xlsx", "is an Excel workbook, not CSV: save it as"),
        (b"name;email\nx;y\n", "needs a header row with a 'phone' column"),
    ]:
        path = tmp_path / "clients.xlsx"
        path.write_bytes(content)
        result = cli("contacts", "import", str(path))
        assert result.code == 2 and said in result.err, result
        assert len(result.err.strip().splitlines()) == 1
    assert table_counts() == before


def test_progress_goes_to_stderr_only_when_asked(cli, tmp_path: Path) -> None:
    rows = "".join(f"+7926{n:07d},Client {n}\n" for n in range(30))
    path = _write(tmp_path, "phone,name\n" + rows)
    quiet = cli("contacts", "import", path)
    assert quiet.code == 0 and "importing" not in quiet.err
    shown = cli("contacts", "import", "--progress", "--update", path)
    assert shown.code == 0 and "importing: 30 of 30 (100%)" in shown.err
    assert "importing" not in shown.out


def test_dd_mm_yyyy_dates_are_accepted(office) -> None:  # noqa: F811
    cli = office
    added = cli("departments", "holiday", "add", "Продажи", "31.12.2099")
    assert added.code == 0, added
    assert "2099-12-31 is a holiday" in added.out
    bad = cli("departments", "holiday", "add", "Продажи", "31.02.2099")
    assert bad.code == 2 and "DD.MM.YYYY" in bad.err


async def test_batched_import_keeps_line_numbers_and_runs_few_statements(db: Database) -> None:
    """1,000 rows in chunks of 100: a bad row in any chunk is named by its line; the number of
    statements grows with the chunks, not the rows (the row-by-row import ran ~2 per row)."""
    lines = ["phone,name"]
    bad: dict[int, str] = {}
    for n in range(1000):
        line = n + 2
        if n % 137 == 5:
            lines.append(f"not-a-number-{n},Bad")
            bad[line] = "invalid phone number"
        elif n % 211 == 7:
            lines.append(f"+7926{n - 1:07d},Twin")  # the previous row's number
            bad[line] = "already exists in this file"
        else:
            lines.append(f"+7926{n:07d},Client {n}")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.transaction() as s:
            report = await contact_import.import_csv(
                s, "\n".join(lines) + "\n", region="RU", chunk=100
            )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert {line for line, _ in report.rejected} == set(bad)
    for line, reason in report.rejected:
        assert bad[line] in reason
    assert report.added == 1000 - len(bad)
    data = [s for s in statements if "contacts" in s.lower()]
    assert len(data) <= 2 * 10 + 2, len(data)  # a look-up and an insert per chunk
    async with db.reader() as s:
        stored = set(await s.scalars(select(Contact.phone)))
    assert len(stored) == report.added and "+79260000000" in stored


async def test_imported_contacts_are_stamped_as_an_added_one(db: Database) -> None:
    """The import writes created_at/updated_at itself (converted once per chunk, not per row):
    stored exactly as the column's own default stores them, so they read back — and sort —
    as those of a contact added one by one."""
    async with db.transaction() as s:
        before = datetime.now(UTC)
        await contact_import.import_csv(s, "phone\n89161234567\n89161234568\n", region="RU")
        after = datetime.now(UTC)
        s.add(Contact(phone="+79161234569"))  # the column's default
    async with db.reader() as s:
        rows = (
            await s.execute(select(Contact.created_at, Contact.updated_at).order_by(Contact.phone))
        ).all()
        stored = set(await s.scalars(text("SELECT created_at FROM contacts")))
    *imported, added = rows
    for created, updated in imported:
        assert created.utcoffset() == timedelta(0)
        assert before <= created == updated <= after
    assert after <= added.created_at
    assert len({type(value) for value in stored}) == 1  # stored alike (text on SQLite)


def test_import_of_many_rows_through_the_cli(cli, tmp_path: Path) -> None:
    rows = "".join(f"+7926{n:07d};Клиент {n}\n" for n in range(5000))
    path = _write(tmp_path, "phone;name\n" + rows + "8 916;Bad\n", encoding="cp1251")
    result = cli("contacts", "import", path)
    assert result.code == 0, result
    assert "5000 contact(s) imported, 1 row(s) rejected" in result.out
    assert "line 5002: invalid phone number" in result.err
    listed = cli("contacts", "list", "--all", "--json")
    assert len(json.loads(listed.out)) == 5000


def test_backfill_shows_progress_on_request(cli, tmp_path: Path) -> None:
    cli("managers", "add", "Анна", "--phone", "SIP/101")
    cli("managers", "add", "Борис", "--phone", "SIP/102")
    master = tmp_path / "Master.csv"
    master.write_text(
        "".join(
            (SCENARIOS / name / "cdr.csv").read_text(encoding="utf-8")
            for name in ("02-escalation-answered-step2", "06-outbound-callback")
        ),
        encoding="utf-8",
    )
    quiet = cli("backfill", "--from", str(master))
    assert quiet.code == 0 and "recording calls" not in quiet.err
    shown = cli("backfill", "--from", str(master), "--progress")
    assert shown.code == 0, shown
    assert "recording calls: 2 of 2 (100%)" in shown.err
    assert "recording calls" not in shown.out


def test_the_import_benchmark_runs_in_its_smoke_size(db_backend: str) -> None:
    """bench/import_contacts.py cannot rot: it imports every good row and prints each figure."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.import_contacts", "--contacts", "300", "--repeat", "1"]
        + ["--db", db_backend],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{db_backend}: 300 rows (297 good, 3 bad); 297 contact(s) imported" in done.stdout
    for line in ("floor: driver executemany", "import_csv", "`callrouter contacts import`"):
        assert line in done.stdout
