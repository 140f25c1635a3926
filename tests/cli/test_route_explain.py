"""`callrouter route explain` shows the plan a caller would get, from the real directory."""

from __future__ import annotations

import json


def _office(cli) -> None:
    cli(
        "departments",
        "add",
        "Продажи",
        "--hours",
        "mon-fri 09:00-18:00",
        "--timezone",
        "Europe/Moscow",
    )
    cli("managers", "add", "Анна", "--phone", "101", "--department", "Продажи")
    cli("managers", "add", "Борис", "--phone", "102", "--department", "Продажи")
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
    )
    cli("managers", "add", "Owner", "--phone", "200", "--role", "owner")
    cli("contacts", "add", "+79161234567", "--name", "Иван", "--responsible", "101")


def test_known_client_starts_with_the_responsible_manager(cli) -> None:
    _office(cli)
    out = cli(
        "route", "explain", "--caller", "8 916 123-45-67", "--at", "2026-11-27 11:00", "--json"
    )
    assert out.code == 0, out.err
    data = json.loads(out.out)
    assert data["lead"] == "existing" and not data["after_hours"]
    kinds = [(s["kind"], s["targets"]) for s in data["steps"]]
    assert kinds[0] == ("responsible", ["PJSIP/101"])
    assert kinds[-1][0] == "owner" and "PJSIP/200" in kinds[-1][1]
    text = cli("route", "explain", "--caller", "+79161234567", "--at", "2026-11-27 11:00").out
    assert "Step 1 [responsible]" in text and "Анна" in text
    # When each phone starts ringing: once, from its own step (issue 18).
    starts = [(r["endpoint"], r["starts_at"], r["step"], r["dial"]) for r in data["rings"]]
    assert starts == [
        ("PJSIP/101", 0, 1, 1),  # the responsible manager, ringing on through the escalation
        ("PJSIP/102", 10, 2, 1),
        ("PJSIP/103", 20, 3, 1),  # the head, at +10 s of the department step
        ("PJSIP/200", 30, 4, 1),
    ]
    assert data["total_seconds"] == 40
    assert [s["keep_ringing"] for s in data["steps"]] == [False, True, True, True]
    assert "    from 20 s: Head (PJSIP/103), step 3" in text


def test_new_caller_starts_with_the_department_and_after_hours_is_said(cli) -> None:
    _office(cli)
    data = json.loads(
        cli(
            "route", "explain", "--caller", "+79250000000", "--at", "2026-11-27 11:00", "--json"
        ).out
    )
    assert data["lead"] == "new"
    assert data["steps"][0]["kind"] == "department"
    assert set(data["steps"][0]["targets"]) == {"PJSIP/101", "PJSIP/102"}
    closed = cli("route", "explain", "--caller", "+79250000000", "--at", "2026-11-28 11:00")
    assert "After hours" in closed.out


def test_the_configured_steps_are_explained_in_their_order(cli, tmp_path) -> None:
    _office(cli)
    config = tmp_path / "callrouter.toml"  # the cli runs in tmp_path: ./callrouter.toml is read
    config.write_text(
        '[[routing.steps]]\nkind = "department"\ntimeout = 15\n\n'
        '[[routing.steps]]\nkind = "owner"\ntimeout = 25\n',
        encoding="utf-8",
    )
    out = cli("route", "explain", "--caller", "+79161234567", "--at", "2026-11-27 11:00", "--json")
    assert out.code == 0, out.err
    data = json.loads(out.out)
    steps = [(s["kind"], s["timeout"]) for s in data["steps"]]
    assert steps == [("department", 15), ("owner", 25)]
    assert [(r["endpoint"], r["starts_at"]) for r in data["rings"]][-1] == ("PJSIP/200", 15)


def test_keep_ringing_off_is_explained_as_a_new_dial(cli, tmp_path) -> None:
    _office(cli)
    (tmp_path / "callrouter.toml").write_text(
        '[[routing.steps]]\nkind = "responsible"\ntimeout = 10\n\n'
        '[[routing.steps]]\nkind = "department"\ntimeout = 10\nkeep_ringing = false\n',
        encoding="utf-8",
    )
    out = cli("route", "explain", "--caller", "+79161234567", "--at", "2026-11-27 11:00", "--json")
    assert out.code == 0, out.err
    data = json.loads(out.out)
    assert [(r["endpoint"], r["starts_at"], r["dial"]) for r in data["rings"]] == [
        ("PJSIP/101", 0, 1),
        ("PJSIP/102", 10, 2),  # Анна rests: the department step is for the others
    ]


def test_an_old_flat_timeout_is_refused_with_the_tables_to_write(cli, tmp_path) -> None:
    (tmp_path / "callrouter.toml").write_text("[routing]\nowner_timeout = 25\n", encoding="utf-8")
    out = cli("route", "explain", "--caller", "+79161234567")
    assert out.code != 0
    assert "routing.owner_timeout" in out.err
    assert '[[routing.steps]]\nkind = "owner"\ntimeout = 25' in out.err
