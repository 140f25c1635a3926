"""`departments`: 24/7 and night-shift hours stored and routed on both databases; a holiday
removed; a department renamed and deleted (refused while managers or lines depend on it)."""

from __future__ import annotations

import json

import pytest


def _department(cli, name: str, hours: str) -> None:
    out = cli("departments", "add", name, "--hours", hours, "--timezone", "Europe/Moscow")
    assert out.code == 0, out.err


def _listed(cli) -> dict[str, dict]:
    out = cli("departments", "list", "--json")
    assert out.code == 0, out.err
    return {row["name"]: row for row in json.loads(out.out)}


def _after_hours(cli, at: str) -> bool:
    out = cli("route", "explain", "--caller", "+79250000000", "--at", at, "--json")
    assert out.code == 0, out.err
    return json.loads(out.out)["after_hours"]


def test_a_24_7_department_is_stored_listed_and_open_at_23_59(cli) -> None:
    _department(cli, "Дежурные", "mon-sun 00:00-24:00")
    cli("managers", "add", "Анна", "--phone", "101", "--department", "Дежурные")
    hours = _listed(cli)["Дежурные"]["hours"]
    assert hours.split("; ") == [
        f"{d} 00:00-24:00" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    ]
    assert not _after_hours(cli, "2026-11-28 23:59")
    assert not _after_hours(cli, "2026-11-29 00:00")


def test_a_night_shift_is_stored_listed_and_routed_until_the_morning(cli) -> None:
    _department(cli, "Ночь", "mon-fri 22:00-06:00")
    cli("managers", "add", "Борис", "--phone", "102", "--department", "Ночь")
    assert _listed(cli)["Ночь"]["hours"].startswith("Mon 22:00-06:00; Tue 22:00-06:00")
    assert not _after_hours(cli, "2026-12-01 03:00")  # Tuesday 03:00: Monday's night
    assert _after_hours(cli, "2026-12-01 07:00")
    assert _after_hours(cli, "2026-11-30 03:00")  # Monday 03:00: no Sunday night shift
    assert not _after_hours(cli, "2026-12-05 05:00")  # Saturday 05:00: Friday's night
    out = cli("departments", "hours", "Ночь", "mon-sun 20:00-08:00")
    assert out.code == 0, out.err
    assert _listed(cli)["Ночь"]["hours"].endswith("Sun 20:00-08:00")
    assert not _after_hours(cli, "2026-11-30 03:00")


def test_a_holiday_is_added_listed_and_removed(cli) -> None:
    _department(cli, "Продажи", "mon-fri 09:00-18:00")
    cli("managers", "add", "Анна", "--phone", "101", "--department", "Продажи")
    assert cli("departments", "holiday", "Продажи", "2026-12-01").code == 0  # the old form
    assert cli("departments", "holiday", "add", "Продажи", "2026-12-02").code == 0
    assert _listed(cli)["Продажи"]["holidays"] == "2026-12-01, 2026-12-02"
    assert _after_hours(cli, "2026-12-01 11:00")
    out = cli("departments", "holiday", "remove", "Продажи", "2026-12-01")
    assert out.code == 0, out.err
    assert "no longer a holiday" in out.out
    assert _listed(cli)["Продажи"]["holidays"] == "2026-12-02"
    assert not _after_hours(cli, "2026-12-01 11:00")


def test_removing_a_day_that_is_no_holiday_is_one_line_and_changes_nothing(
    cli, table_counts
) -> None:
    _department(cli, "Продажи", "mon-fri 09:00-18:00")
    cli("departments", "holiday", "add", "Продажи", "2026-12-02")
    before = table_counts()
    out = cli("departments", "holiday", "remove", "Продажи", "2026-12-03")
    assert out.code == 2
    assert out.err == "callrouter: error: 2026-12-03 is not a holiday of 'Продажи'\n"
    bad = cli("departments", "holiday", "remove", "Продажи", "03/12/2026")
    assert bad.code == 2 and bad.err.startswith("callrouter: error: invalid date")
    assert table_counts() == before


def test_holiday_accepts_today_and_tomorrow(cli) -> None:
    _department(cli, "Продажи", "mon-fri 09:00-18:00")
    assert cli("departments", "holiday", "add", "Продажи", "tomorrow").code == 0
    assert cli("departments", "holiday", "remove", "Продажи", "tomorrow").code == 0
    assert _listed(cli)["Продажи"]["holidays"] == ""


def test_a_department_is_renamed_and_keeps_its_managers_and_lines(cli) -> None:
    out = cli(
        "departments", "add", "Продажи", "--hours", "mon-fri 09:00-18:00", "--did", "84951110000"
    )
    assert out.code == 0, out.err
    cli("managers", "add", "Анна", "--phone", "101", "--department", "Продажи")
    out = cli("departments", "rename", "Продажи", "  Отдел   продаж ")
    assert out.code == 0, out.err
    assert out.out == "department 'Продажи' renamed to 'Отдел продаж'\n"
    row = _listed(cli)["Отдел продаж"]
    assert row["lines"] == "+74951110000"
    managers = json.loads(cli("managers", "list", "--json").out)
    assert managers[0]["department"] == "Отдел продаж"


@pytest.mark.parametrize(
    ("new_name", "message"),
    [
        ("сервис", "department 'Сервис' already exists"),
        ("   ", "a department needs a name"),
        ("x" * 121, "at most 120 characters"),
    ],
)
def test_a_rename_onto_another_name_or_nothing_is_refused(
    cli, table_counts, new_name: str, message: str
) -> None:
    _department(cli, "Продажи", "mon-fri 09:00-18:00")
    _department(cli, "Сервис", "mon-fri 09:00-18:00")
    before = table_counts()
    out = cli("departments", "rename", "Продажи", new_name)
    assert out.code == 2
    assert out.err.startswith("callrouter: error: ") and message in out.err
    assert out.err.count("\n") == 1
    assert table_counts() == before
    assert set(_listed(cli)) == {"Продажи", "Сервис"}


def test_delete_is_refused_while_active_managers_or_lines_depend_on_it(cli, table_counts) -> None:
    out = cli(
        "departments", "add", "Продажи", "--hours", "mon-fri 09:00-18:00", "--did", "84951110000"
    )
    assert out.code == 0, out.err
    _department(cli, "Сервис", "mon-fri 09:00-18:00")
    cli("managers", "add", "Анна", "--phone", "101", "--department", "Продажи")
    before = table_counts()
    out = cli("departments", "delete", "Продажи")
    assert out.code == 2
    assert "1 active manager(s): Анна (#1)" in out.err and out.err.count("\n") == 1
    assert table_counts() == before
    assert cli("managers", "edit", "101", "--department", "Сервис").code == 0
    out = cli("departments", "delete", "Продажи")
    assert out.code == 2 and "line(s) +74951110000" in out.err
    assert cli("departments", "did", "remove", "Продажи", "84951110000").code == 0
    assert cli("departments", "delete", "Продажи").code == 0
    assert set(_listed(cli)) == {"Сервис"}
    counts = table_counts()
    assert counts["working_hours"] == 5 and counts["managers"] == 1


def test_deleting_a_department_keeps_its_former_managers_history(cli, table_counts) -> None:
    _department(cli, "Старый", "mon-fri 09:00-18:00")
    cli("departments", "holiday", "Старый", "2026-12-31")
    cli("managers", "add", "Анна", "--phone", "101", "--department", "Старый")
    assert cli("managers", "deactivate", "Анна", "--redistribute").code == 0
    out = cli("departments", "delete", "Старый")
    assert out.code == 0, out.err
    assert "1 inactive manager(s) no longer belong to a department" in out.out
    counts = table_counts()
    assert counts["departments"] == counts["working_hours"] == counts["holidays"] == 0
    (anna,) = json.loads(cli("managers", "list", "--json").out)
    assert anna["department"] is None and not anna["active"]


def test_the_default_department_is_deleted_last(cli) -> None:
    _department(cli, "Продажи", "mon-fri 09:00-18:00")
    _department(cli, "Сервис", "mon-fri 09:00-18:00")
    assert cli("departments", "default", "Продажи").code == 0
    out = cli("departments", "delete", "Продажи")
    assert out.code == 2 and "is the default one" in out.err
    assert cli("departments", "delete", "Сервис").code == 0
    assert cli("departments", "delete", "Продажи").code == 0
    assert _listed(cli) == {}


def test_an_unknown_department_is_named(cli) -> None:
    for args in (("delete", "Нет"), ("rename", "Нет", "Да"), ("holiday", "remove", "Нет", "today")):
        out = cli("departments", *args)
        assert out.code == 2 and out.err == "callrouter: error: no department 'Нет'\n", args
