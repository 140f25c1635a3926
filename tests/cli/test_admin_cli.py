"""The administrator's command line, end to end on a real database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import migrate


@pytest.fixture
def office(cli):
    """A small office: one department, two managers, a head of sales and an owner."""
    assert cli("departments", "add", "Продажи", "--hours", "mon-fri 09:00-18:00").code == 0
    assert (
        cli("managers", "add", "Анна Смирнова", "--phone", "101", "--department", "Продажи").code
        == 0
    )
    assert (
        cli("managers", "add", "Борис", "--phone", "SIP/102", "--department", "Продажи").code == 0
    )
    assert (
        cli(
            "managers",
            "add",
            "Head",
            "--phone",
            "103",
            "--role",
            "head_of_sales",
            "--department",
            "Продажи",
        ).code
        == 0
    )
    assert (
        cli(
            "managers",
            "add",
            "Owner",
            "--phone",
            "200",
            "--role",
            "owner",
            "--email",
            "owner@example.com",
        ).code
        == 0
    )
    return cli


def test_departments_and_managers_happy_path(office) -> None:
    cli = office
    listed = json.loads(cli("--json", "managers", "list").out)
    assert [(m["name"], m["endpoint"], m["role"]) for m in listed] == [
        ("Анна Смирнова", "PJSIP/101", "manager"),
        ("Борис", "SIP/102", "manager"),
        ("Head", "PJSIP/103", "head_of_sales"),
        ("Owner", "PJSIP/200", "owner"),
    ]
    assert cli("managers", "edit", "101", "--email", "anna@example.com").code == 0
    # Deactivation names who takes the work over (issue #14, point 3).
    assert cli("managers", "deactivate", "Борис", "--to", "Анна Смирнова").code == 0
    listed = {m["name"]: m for m in json.loads(cli("managers", "list", "--json").out)}
    assert listed["Анна Смирнова"]["email"] == "anna@example.com"
    assert listed["Борис"]["active"] is False
    active = json.loads(cli("managers", "list", "--active-only", "--json").out)
    assert "Борис" not in {m["name"] for m in active}

    assert cli("departments", "holiday", "Продажи", "2026-12-31").code == 0
    departments = json.loads(cli("departments", "list", "--json").out)
    assert departments[0]["hours"].startswith("Mon 09:00-18:00")
    assert departments[0]["holidays"] == "2026-12-31"
    assert "Продажи" in cli("departments", "list").out


def test_contacts_add_assign_and_spellings_are_one(office) -> None:
    cli = office
    assert cli("contacts", "add", "8 916 123-45-67", "--name", "Иван Петров").code == 0
    duplicate = cli("contacts", "add", "+7 (916) 123-45-67")
    assert duplicate.code == 2 and "already exists" in duplicate.err
    assert cli("contacts", "assign", "9161234567", "101").code == 0
    contacts = json.loads(cli("contacts", "list", "--json").out)
    assert contacts == [
        {
            "id": 1,
            "phone": "+79161234567",
            "name": "Иван Петров",
            "responsible": "Анна Смирнова",
            "since": contacts[0]["since"],
        }
    ]


def test_contacts_import_reports_rejected_rows(office, tmp_path: Path) -> None:
    cli = office
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text(
        "phone,name,responsible\n"
        "8 916 000-00-01,Ольга,101\n"
        "not a number,Bad,\n"
        "+7 916 000-00-01,Same number again,\n"
        "+7 916 000-00-02,Пётр,Nobody\n"
        "+44 20 7946 0958,London,\n",
        encoding="utf-8",
    )
    result = cli("contacts", "import", str(csv_file))
    assert result.code == 0
    assert "2 contact(s) imported, 3 row(s) rejected" in result.out
    assert "line 3: invalid phone number" in result.err
    assert "line 4: contact +79160000001 already exists" in result.err
    assert "line 5: no manager 'Nobody'" in result.err
    phones = {c["phone"]: c for c in json.loads(cli("contacts", "list", "--json").out)}
    assert set(phones) == {"+79160000001", "+442079460958"}
    assert phones["+79160000001"]["responsible"] == "Анна Смирнова"


def test_contacts_import_strict_writes_nothing(office, tmp_path: Path, table_counts) -> None:
    cli = office
    csv_file = tmp_path / "clients.csv"
    csv_file.write_text("phone,name\n89160000001,Ok\nxx,Bad\n", encoding="utf-8")
    before = table_counts()
    result = cli("contacts", "import", "--strict", str(csv_file))
    assert result.code == 2
    assert "nothing imported" in result.err
    assert table_counts() == before


def test_deal_status_fires_the_default_rule_once(office) -> None:
    cli = office
    cli("contacts", "add", "+79161234567", "--name", "Иван", "--responsible", "101")
    assert cli("deals", "add", "+79161234567", "--title", "Окна").code == 0
    changed = cli("deals", "status", "1", "proposal sent")
    assert changed.code == 0 and "automation created task #1" in changed.out
    tasks = json.loads(cli("tasks", "list", "--json").out)
    assert len(tasks) == 1
    assert tasks[0]["type"] == "call" and tasks[0]["responsible"] == "Анна Смирнова"
    assert "confirm the proposal" in tasks[0]["comment"]

    # The same status again is refused; leaving and re-entering fires the rule again, once.
    assert cli("deals", "status", "1", "proposal_sent").code == 2
    assert cli("deals", "status", "1", "in_progress").code == 0
    assert cli("deals", "status", "1", "proposal_sent").code == 0
    assert len(json.loads(cli("tasks", "list", "--json").out)) == 2

    card = json.loads(cli("deals", "show", "1", "--json").out)
    assert [(h["from"], h["to"]) for h in card["history"]] == [
        (None, "new"),
        ("new", "proposal_sent"),
        ("proposal_sent", "in_progress"),
        ("in_progress", "proposal_sent"),
    ]
    assert card["contact"]["name"] == "Иван"
    text = cli("deals", "show", "1").out
    assert "Status history:" in text and "new → proposal_sent" in text


def test_custom_rule_add_list_remove(office) -> None:
    cli = office
    added = cli(
        "rules",
        "add",
        "--on-status",
        "won",
        "--type",
        "meeting",
        "--due-after",
        "2d",
        "--comment",
        "Thank {contact_name} for deal {deal_id}",
    )
    assert added.code == 0
    rules = json.loads(cli("rules", "list", "--json").out)
    assert [(r["on_status"], r["task"]) for r in rules] == [
        ("proposal_sent", "call"),
        ("won", "meeting"),
    ]
    cli("contacts", "add", "+79161234567", "--name", "Иван", "--responsible", "101")
    cli("deals", "add", "+79161234567")
    cli("deals", "status", "1", "won")
    tasks = json.loads(cli("tasks", "list", "--json").out)
    assert [t["comment"] for t in tasks] == ["Thank Иван for deal 1"]
    assert cli("rules", "remove", "2").code == 0
    assert len(json.loads(cli("rules", "list", "--json").out)) == 1
    bad = cli(
        "rules",
        "add",
        "--on-status",
        "won",
        "--type",
        "call",
        "--due-after",
        "1h",
        "--comment",
        "{secret}",
    )
    assert bad.code == 2 and "unknown field" in bad.err


def test_tasks_add_list_done_cancel(office) -> None:
    cli = office
    cli("contacts", "add", "+79161234567", "--responsible", "101")
    cli("deals", "add", "+79161234567")
    ok = cli(
        "tasks",
        "add",
        "--deal",
        "1",
        "--responsible",
        "101",
        "--due",
        "2020-01-01 10:00",
        "--allow-past",  # recording work that is already overdue
        "--type",
        "email",
        "--comment",
        "send the price list",
    )
    assert ok.code == 0
    cli(
        "tasks",
        "add",
        "--deal",
        "1",
        "--responsible",
        "Head",
        "--due",
        "+1d",
        "--type",
        "meeting",
        "--comment",
        "visit",
    )
    mine = json.loads(cli("tasks", "list", "--mine", "101", "--json").out)
    assert [t["comment"] for t in mine] == ["send the price list"]
    overdue = json.loads(cli("tasks", "list", "--overdue", "--json").out)
    assert [t["comment"] for t in overdue] == ["send the price list"]
    assert cli("tasks", "done", "1").code == 0
    assert cli("tasks", "done", "1").code == 2
    assert cli("tasks", "cancel", "2", "--reason", "client moved").code == 0
    assert json.loads(cli("tasks", "list", "--json").out) == []
    closed = json.loads(cli("tasks", "list", "--status", "all", "--json").out)
    assert [t["status"] for t in closed] == ["done", "cancelled"]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("--deal", "a task needs a deal"),
        ("--responsible", "a task needs a responsible manager"),
        ("--due", "a task needs a deadline"),
        ("--type", "a task needs a type"),
        ("--comment", "a task needs a comment"),
    ],
)
def test_task_missing_a_field_is_named_and_nothing_written(
    office, table_counts, missing: str, message: str
) -> None:
    cli = office
    cli("contacts", "add", "+79161234567", "--responsible", "101")
    cli("deals", "add", "+79161234567")
    args = {
        "--deal": "1",
        "--responsible": "101",
        "--due": "+1h",
        "--type": "call",
        "--comment": "x",
    }
    del args[missing]
    before = table_counts()
    result = cli("tasks", "add", *[item for pair in args.items() for item in pair])
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1
    assert table_counts() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["managers", "add", "Z", "--phone", "101"], "already belongs"),
        (["managers", "add", "Z", "--phone", "SIP/"], "invalid Asterisk endpoint"),
        (["managers", "add", "Z", "--phone", "150", "--role", "king"], "unknown role"),
        (["managers", "add", "Z", "--phone", "150", "--department", "Nope"], "no department"),
        (["managers", "add", "Z", "--phone", "150", "--email", "not-mail"], "invalid e-mail"),
        (["managers", "edit", "999", "--name", "Q"], "no manager"),
        (["managers", "deactivate", "Nobody"], "no manager"),
        (["departments", "add", "Продажи"], "already exists"),
        (["departments", "add", "X", "--timezone", "Mars/Base"], "unknown time zone"),
        (["departments", "add", "X", "--hours", "mon-fri 18:00-18:00"], "invalid working hours"),
        (["departments", "holiday", "Продажи", "31.02.2026"], "invalid date"),
        (["contacts", "add", "12345"], "invalid phone number"),
        (["contacts", "add", "+79161234567", "--responsible", "404"], "no manager"),
        (["contacts", "assign", "+79990000000", "101"], "no contact"),
        (["deals", "add", "+79990000000"], "no contact"),
        (["deals", "status", "77", "won"], "no deal"),
        (["deals", "status", "1", "paid"], "unknown deal status"),
        (["deals", "list", "--source", "fax"], "unknown deal source"),
        (
            [
                "tasks",
                "add",
                "--deal",
                "1",
                "--responsible",
                "101",
                "--due",
                "soon",
                "--type",
                "call",
                "--comment",
                "x",
            ],
            "invalid date",
        ),
        (
            [
                "tasks",
                "add",
                "--deal",
                "1",
                "--responsible",
                "101",
                "--due",
                "+1h",
                "--type",
                "fax",
                "--comment",
                "x",
            ],
            "unknown task type",
        ),
        (["tasks", "done", "5"], "no task"),
        (
            [
                "rules",
                "add",
                "--on-status",
                "paid",
                "--type",
                "call",
                "--due-after",
                "1h",
                "--comment",
                "x",
            ],
            "unknown deal status",
        ),
        (
            [
                "rules",
                "add",
                "--on-status",
                "won",
                "--type",
                "call",
                "--due-after",
                "soon",
                "--comment",
                "x",
            ],
            "invalid duration",
        ),
        (["rules", "remove", "42"], "no automation rule"),
        (["deals", "show", "abc"], "is not a valid integer"),
        (["managers", "frobnicate"], "No such command"),
    ],
)
def test_bad_input_gets_one_line_exit_2_and_writes_nothing(
    office, table_counts, args, message
) -> None:
    before = table_counts()
    result = office(*args)
    assert result.code == 2, result
    assert message in result.err
    assert result.err.startswith("callrouter: error: ") and result.err.count("\n") == 1
    assert table_counts() == before


def test_db_current_and_upgrade_report_the_revision(cli) -> None:
    assert "up to date" in cli("db", "current").out
    assert f"revision {migrate.head_revision()}" in cli("db", "upgrade").out
