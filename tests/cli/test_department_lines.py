"""An office of two departments, each with its own line and hours, set up from the CLI."""

from __future__ import annotations

import json

import pytest

from callrouter.cli import main

SALES_LINE = "+74951110000"
SERVICE_LINE = "+74952220000"


def _two_departments(cli) -> None:
    added = cli(
        "departments",
        "add",
        "Продажи",
        "--hours",
        "mon-fri 09:00-18:00",
        "--did",
        "8 (495) 111-00-00",
    )
    assert added.code == 0, added.err
    added = cli(
        "departments",
        "add",
        "Сервис",
        "--hours",
        "mon-sat 09:00-21:00",
        "--did",
        "+7 495 222-00-00",
        "--did",
        "74952220001",
    )
    assert added.code == 0, added.err
    for name, phone, department, role in [
        ("Анна", "101", "Продажи", "manager"),
        ("Борис", "102", "Продажи", "manager"),
        ("Вера", "201", "Сервис", "manager"),
        ("Глеб", "202", "Сервис", "manager"),
        ("Head Sales", "109", "Продажи", "head_of_sales"),
        ("Head Service", "209", "Сервис", "head_of_sales"),
    ]:
        out = cli(
            "managers", "add", name, "--phone", phone, "--department", department, "--role", role
        )
        assert out.code == 0, out.err
    assert cli("managers", "add", "Owner", "--phone", "300", "--role", "owner").code == 0


def explain(cli, did: str, at: str) -> dict:
    out = cli("route", "explain", "--caller", "+79250000000", "--did", did, "--at", at, "--json")
    assert out.code == 0, out.err
    return json.loads(out.out)


def test_a_call_to_the_service_line_rings_the_service_desk_on_its_hours(cli) -> None:
    _two_departments(cli)
    friday = explain(cli, "84952220000", "2026-11-27 11:00")
    assert friday["department"]["name"] == "Сервис"
    assert friday["department"]["basis"] == "did"
    assert friday["did"] == SERVICE_LINE
    assert friday["at"].startswith("2026-11-27T11:00:00+03:00")
    steps = [(s["kind"], s["targets"]) for s in friday["steps"]]
    assert steps[0] == ("department", ["PJSIP/201", "PJSIP/202"])
    assert steps[1] == ("head_of_sales", ["PJSIP/201", "PJSIP/202", "PJSIP/209"])
    # Saturday: the service desk works, sales does not.
    saturday = explain(cli, SERVICE_LINE, "2026-11-28 12:00")
    assert not saturday["after_hours"]
    assert saturday["steps"][0]["targets"] == ["PJSIP/201", "PJSIP/202"]
    closed = explain(cli, SALES_LINE, "2026-11-28 12:00")
    assert closed["after_hours"] and closed["department"]["name"] == "Продажи"
    # The second line of the service desk rings it too.
    assert explain(cli, "+74952220001", "2026-11-27 11:00")["department"]["name"] == "Сервис"


def test_explain_says_the_department_why_and_when_in_words(cli) -> None:
    _two_departments(cli)
    assert cli("departments", "default", "Продажи").code == 0
    out = cli(
        "route", "explain", "--caller", "+79250000000", "--did", SERVICE_LINE,
        "--at", "2026-11-27 19:30",
    )  # fmt: skip
    assert out.code == 0, out.err
    assert f"Department: Сервис (the number dialled, {SERVICE_LINE}, is its line)" in out.out
    assert "Evaluated at 2026-11-27 19:30 Fri (Europe/Moscow)" in out.out
    assert "Step 1 [department]" in out.out and "Вера (PJSIP/201)" in out.out
    other = cli("route", "explain", "--caller", "+79250000000", "--at", "2026-11-27 11:00")
    assert "Department: Продажи (no number dialled; the default department)" in other.out
    assert "Warning" not in other.out


def status_text(capsys) -> str:
    """`callrouter status` as a person reads it (it exits 1 here: no service is running)."""
    capsys.readouterr()
    try:
        main(["status"])
    except SystemExit:
        pass
    return capsys.readouterr().out


def test_the_default_is_explicit_and_ambiguity_is_warned_about(cli, capsys) -> None:
    _two_departments(cli)
    ambiguous = explain(cli, "+74959990000", "2026-11-27 11:00")
    assert ambiguous["department"]["basis"] == "first"
    assert ambiguous["department"]["name"] == "Продажи"
    [warning] = ambiguous["warnings"]
    assert "default department is ambiguous" in warning
    assert "warning   the default department is ambiguous" in status_text(capsys)

    out = cli("departments", "default", "Сервис")
    assert out.code == 0, out.err
    chosen = explain(cli, "+74959990000", "2026-11-27 11:00")
    assert chosen["department"]["name"] == "Сервис"
    assert chosen["department"]["basis"] == "default"
    assert chosen["warnings"] == []
    assert "warning" not in status_text(capsys)
    # Moving the default leaves one default.
    assert cli("departments", "default", "Продажи").code == 0
    listed = json.loads(cli("departments", "list", "--json").out)
    assert {d["name"]: (d["lines"], d["default"]) for d in listed} == {
        "Продажи": (SALES_LINE, True),
        "Сервис": (f"{SERVICE_LINE}, +74952220001", False),
    }


def test_lines_are_added_and_removed(cli) -> None:
    _two_departments(cli)
    out = cli("departments", "did", "add", "Продажи", "8 495 111-00-05")
    assert out.code == 0, out.err
    assert explain(cli, "+74951110005", "2026-11-27 11:00")["department"]["name"] == "Продажи"
    out = cli("departments", "did", "remove", "Сервис", "74952220001")
    assert out.code == 0, out.err
    listed = json.loads(cli("departments", "list", "--json").out)
    assert {d["name"]: d["lines"] for d in listed} == {
        "Продажи": f"{SALES_LINE}, +74951110005",
        "Сервис": SERVICE_LINE,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("departments", "did", "add", "Сервис", "84951110000"), "already belongs to department"),
        (("departments", "did", "add", "Продажи", SALES_LINE), "already belongs to this"),
        (("departments", "add", "Склад", "--did", SALES_LINE), "already belongs to department"),
        (("departments", "add", "Склад", "--did", "7000"), "must be a phone number"),
        (("departments", "add", "Склад", "--did", "+74953330000", "--did", "84953330000"), "twice"),
        (("departments", "did", "add", "Нет такого", "+74953330000"), "no department"),
        (("departments", "did", "remove", "Продажи", SERVICE_LINE), "is not a line of"),
        (("departments", "default", "Нет такого"), "no department"),
    ],
)
def test_bad_input_gets_one_line_exit_2_and_writes_nothing(
    cli, table_counts, args, message
) -> None:
    _two_departments(cli)
    before = table_counts()
    out = cli(*args)
    assert out.code == 2
    assert message in out.err and len(out.err.strip().splitlines()) == 1
    assert table_counts() == before


def test_a_department_nobody_answers_for_is_warned_about_and_still_routed(cli) -> None:
    _two_departments(cli)
    assert cli("departments", "default", "Продажи").code == 0
    for phone in ("201", "202"):
        assert cli("managers", "edit", phone, "--department", "Продажи").code == 0
    data = explain(cli, SERVICE_LINE, "2026-11-27 11:00")
    assert data["warnings"] == [
        "department 'Сервис' has no active manager: its department step rings nobody"
    ]
    assert [s["kind"] for s in data["steps"]][0] == "head_of_sales"
