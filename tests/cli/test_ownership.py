"""Who owns a client (issue #14, points 2, 3 and 9), as the administrator sees it on the CLI.

One responsible per client; deactivation hands the work over; look-ups by extension, #id and
any spelling of a name. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import unicodedata
from typing import Any

import pytest
from sqlalchemy import update

from models.db import Database
from models.tables import Manager
from tests.cli.test_admin_cli import office  # noqa: F401  (the fixture)

CLIENT = "+79161234567"
OTHER = "+79160000002"


def _json(cli, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def _task(cli, deal: str, responsible: str, comment: str) -> None:
    args = ["--deal", deal, "--responsible", responsible, "--due", "+1d", "--type", "call"]
    assert cli("tasks", "add", *args, "--comment", comment).code == 0


def _holders(cli) -> dict[str, str]:
    """Open task comment → who holds it."""
    return {t["comment"]: t["responsible"] for t in _json(cli, "tasks", "list")}


def _proposal_task_holder(cli) -> str:
    """Who holds the default rule's task ("…: confirm the proposal …")."""
    (holder,) = [r for c, r in _holders(cli).items() if "confirm the proposal" in c]
    return holder


def _deal_owners(cli) -> dict[int, str]:
    return {d["id"]: d["responsible"] for d in _json(cli, "deals", "list")}


def _contact_owners(cli) -> dict[str, str]:
    return {c["phone"]: c["responsible"] for c in _json(cli, "contacts", "list")}


@pytest.fixture
def client_of_anna(office):  # noqa: F811
    """Анна's client with an open deal (#1, her task and Head's check task on it) and a won
    deal (#2)."""
    cli = office
    assert cli("contacts", "add", CLIENT, "--name", "Иван", "--responsible", "101").code == 0
    assert cli("deals", "add", CLIENT, "--title", "Окна").code == 0
    _task(cli, "1", "101", "send the price list")
    _task(cli, "1", "Head", "check Анна called")
    assert cli("deals", "add", CLIENT, "--title", "Двери").code == 0
    assert cli("deals", "status", "2", "won").code == 0
    return cli


# --- 2. One responsible per client -------------------------------------------------------


def test_assigning_a_client_moves_its_open_deals_and_their_tasks(client_of_anna) -> None:
    cli = client_of_anna
    moved = cli("contacts", "assign", CLIENT, "SIP/102")
    assert moved.code == 0, moved
    assert "is now Борис's client; moved with it: 1 open deal(s), 1 open task(s)" in moved.out

    assert _contact_owners(cli) == {CLIENT: "Борис"}
    assert _deal_owners(cli) == {1: "Борис", 2: "Анна Смирнова"}  # the won deal keeps its own
    # Анна's task follows the client; the head's check on it stays the head's.
    assert _holders(cli) == {"send the price list": "Борис", "check Анна called": "Head"}
    card = _json(cli, "deals", "show", "1")
    assigned = [h for h in card["history"] if h["kind"] == "assigned"]
    assert [(h["from_manager"], h["to_manager"], h["by"]) for h in assigned] == [
        ("Анна Смирнова", "Борис", "cli")
    ]
    assert "responsible Анна Смирнова → Борис  by cli" in cli("deals", "show", "1").out


def test_keep_tasks_moves_the_client_but_not_the_tasks(client_of_anna) -> None:
    cli = client_of_anna
    moved = cli("contacts", "assign", CLIENT, "Борис", "--keep-tasks")
    assert moved.code == 0 and "1 open deal(s), 0 open task(s)" in moved.out
    assert _deal_owners(cli)[1] == "Борис"
    assert _holders(cli)["send the price list"] == "Анна Смирнова"


def test_a_deal_given_to_someone_else_takes_its_client_along(client_of_anna) -> None:
    cli = client_of_anna
    assert cli("deals", "add", CLIENT, "--title", "Крыша").code == 0  # deal 3, Анна's
    assert cli("deals", "assign", "1", "102").code == 0
    assert _contact_owners(cli) == {CLIENT: "Борис"}
    assert _deal_owners(cli) == {1: "Борис", 2: "Анна Смирнова", 3: "Борис"}
    # A new deal for another manager moves the client too.
    assert cli("deals", "add", CLIENT, "--responsible", "101").code == 0
    assert _contact_owners(cli) == {CLIENT: "Анна Смирнова"}
    assert set(_deal_owners(cli).values()) == {"Анна Смирнова"}
    refused = cli("deals", "assign", "2", "102")
    assert refused.code == 2 and "closed deal keeps its responsible" in refused.err


def test_reassignment_to_an_inactive_or_unknown_manager_writes_nothing(
    client_of_anna, table_counts
) -> None:
    cli = client_of_anna
    assert cli("managers", "deactivate", "Head", "--to", "Owner").code == 0
    before = (table_counts(), _deal_owners(cli), _holders(cli), _contact_owners(cli))
    for args, message in [
        (["contacts", "assign", CLIENT, "103"], "'Head' is deactivated"),
        (["contacts", "assign", CLIENT, "Nobody"], "no manager 'Nobody'"),
        (["deals", "assign", "1", "Head"], "'Head' is deactivated"),
        (["contacts", "add", OTHER, "--responsible", "Head"], "'Head' is deactivated"),
        (["deals", "add", CLIENT, "--responsible", "Head"], "'Head' is deactivated"),
    ]:
        result = cli(*args)
        assert result.code == 2, (args, result)
        assert message in result.err and result.err.count("\n") == 1
    assert (table_counts(), _deal_owners(cli), _holders(cli), _contact_owners(cli)) == before


# --- 3. Deactivation hands work over -----------------------------------------------------


def test_deactivating_with_a_successor_moves_everything_and_says_so(client_of_anna) -> None:
    cli = client_of_anna
    cli("contacts", "add", OTHER, "--responsible", "101")
    done = cli("managers", "deactivate", "Анна Смирнова", "--to", "Борис")
    assert done.code == 0, done
    assert "manager 'Анна Смирнова' deactivated" in done.out
    assert "to 'Борис': 2 client(s), 1 open deal(s), 1 open task(s)" in done.out
    assert _contact_owners(cli) == {CLIENT: "Борис", OTHER: "Борис"}
    assert _deal_owners(cli)[1] == "Борис"
    assert _holders(cli) == {"send the price list": "Борис", "check Анна called": "Head"}
    assert _json(cli, "tasks", "list", "--mine", "101") == []

    # Nothing is given to her afterwards: a task by hand is refused, a rule's goes to Борис.
    refused = cli("tasks", "add", "--deal", "1", "--responsible", "101", "--due", "+1d",
                  "--type", "call", "--comment", "x")  # fmt: skip
    assert refused.code == 2 and "deactivated" in refused.err
    assert cli("deals", "status", "1", "proposal_sent").code == 0
    assert _proposal_task_holder(cli) == "Борис"


def test_redistribute_shares_the_work_among_the_department_managers(office) -> None:  # noqa: F811
    cli = office
    phones = [f"+7916000001{i}" for i in range(3)]
    for phone in phones:
        cli("contacts", "add", phone, "--responsible", "Борис")
        cli("deals", "add", phone)
    _task(cli, "1", "Борис", "call the first")
    done = cli("managers", "deactivate", "Борис", "--redistribute")
    assert done.code == 0, done
    owners = _contact_owners(cli)
    # Анна is the department's only other manager: the head and the owner get no leads.
    assert set(owners.values()) == {"Анна Смирнова"}
    assert set(_deal_owners(cli).values()) == {"Анна Смирнова"}
    assert _holders(cli) == {"call the first": "Анна Смирнова"}
    assert "to 'Анна Смирнова': 3 client(s), 3 open deal(s), 1 open task(s)" in done.out


def test_redistribute_with_nobody_left_is_refused(office, table_counts) -> None:  # noqa: F811
    cli = office
    cli("contacts", "add", CLIENT, "--responsible", "Борис")
    assert cli("managers", "deactivate", "101", "--to", "Борис").code == 0
    before = table_counts(), _contact_owners(cli)
    result = cli("managers", "deactivate", "Борис", "--redistribute")
    assert result.code == 2 and "no active manager on shift" in result.err
    assert (table_counts(), _contact_owners(cli)) == before
    assert {m["name"]: m["active"] for m in _json(cli, "managers", "list")}["Борис"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "needs a successor"),
        (["--to", "Борис", "--redistribute"], "needs a successor"),
        (["--to", "101"], "cannot hand their work over to themselves"),
        (["--to", "Head"], "'Head' is deactivated"),
        (["--to", "Nobody"], "no manager 'Nobody'"),
    ],
)
def test_deactivation_without_a_proper_successor_writes_nothing(
    client_of_anna, table_counts, args: list[str], message: str
) -> None:
    cli = client_of_anna
    assert cli("managers", "deactivate", "Head", "--to", "Owner").code == 0
    before = table_counts(), _contact_owners(cli), _holders(cli)
    result = cli("managers", "deactivate", "Анна Смирнова", *args)
    assert result.code == 2, result
    assert message in result.err and result.err.count("\n") == 1
    assert (table_counts(), _contact_owners(cli), _holders(cli)) == before
    active = {m["name"]: m["active"] for m in _json(cli, "managers", "list")}
    assert active["Анна Смирнова"] is True


def test_closing_a_deal_cancels_its_open_tasks_with_a_reason(client_of_anna) -> None:
    cli = client_of_anna
    assert cli("deals", "status", "1", "lost").code == 0
    assert _holders(cli) == {}
    tasks = _json(cli, "tasks", "list", "--status", "all")
    assert {t["status"] for t in tasks} == {"cancelled"}
    card = _json(cli, "deals", "show", "1")
    assert {t["closed_reason"] for t in card["tasks"]} == {"deal closed: lost"}
    # Overdue means something again: nothing of a lost deal is overdue.
    assert _json(cli, "tasks", "list", "--overdue") == []


def test_a_rule_on_a_deal_of_a_deactivated_manager_gives_the_task_to_the_clients_owner(
    client_of_anna, db_url: str
) -> None:
    """Data from before the model: Анна was switched off in the database, her deal stayed."""
    cli = client_of_anna
    cli("contacts", "assign", CLIENT, "Борис", "--keep-tasks")
    _set_active(db_url, "Борис", False)  # the client's owner is gone too
    _set_active(db_url, "Анна Смирнова", False)
    assert cli("deals", "assign", "1", "Owner").code == 0  # the deal and its client
    _set_active(db_url, "Owner", False)
    changed = cli("deals", "status", "1", "proposal_sent")
    # Nobody of the owner's department (she has none): the fair rule takes every manager
    # on shift — and none is active. The rule refuses, nothing is written.
    assert changed.code == 2 and "no active responsible manager" in changed.err
    _set_active(db_url, "Борис", True)
    changed = cli("deals", "status", "1", "proposal_sent")
    assert changed.code == 0, changed
    assert _proposal_task_holder(cli) == "Борис"
    assert _deal_owners(cli)[1] == "Борис" and _contact_owners(cli) == {CLIENT: "Борис"}
    history = _json(cli, "deals", "show", "1")["history"]
    assert [h["by"] for h in history if h["kind"] == "assigned"][-1] == "automation"


def _set_active(db_url: str, name: str, active: bool) -> None:
    async def write() -> None:
        db = Database(db_url)
        try:
            async with db.transaction() as s:
                await s.execute(update(Manager).where(Manager.name == name).values(active=active))
        finally:
            await db.dispose()

    asyncio.run(write())


# --- 9. Look-ups people can use ----------------------------------------------------------


def test_numbers_are_extensions_on_any_technology_and_ids_need_a_hash(office) -> None:  # noqa: F811
    cli = office
    assert cli("managers", "add", "Вера", "--phone", "SIP/110").code == 0
    assert cli("contacts", "add", CLIENT, "--responsible", "110").code == 0
    assert _contact_owners(cli) == {CLIENT: "Вера"}
    assert cli("contacts", "assign", CLIENT, "102").code == 0  # Борис is on SIP/102
    assert _contact_owners(cli) == {CLIENT: "Борис"}
    assert cli("contacts", "assign", CLIENT, "#1").code == 0  # manager id 1: Анна
    assert _contact_owners(cli) == {CLIENT: "Анна Смирнова"}
    one = cli("contacts", "assign", CLIENT, "1")  # extension 1: nobody has it
    assert one.code == 2 and "no manager '1'" in one.err


@pytest.mark.parametrize(
    "spelling",
    [
        "анна смирнова",
        "  Анна   Смирнова ",
        "АННА СМИРНОВА",
        unicodedata.normalize("NFD", "Анна Смирнова"),
    ],
)
def test_names_match_in_any_case_form_or_spacing(office, spelling: str) -> None:  # noqa: F811
    cli = office
    assert cli("managers", "add", "Пётр", "--phone", "120").code == 0
    assert cli("contacts", "add", CLIENT, "--responsible", spelling).code == 0
    assert _contact_owners(cli) == {CLIENT: "Анна Смирнова"}
    decomposed = unicodedata.normalize("NFD", "пётр")  # е + combining diaeresis
    assert cli("contacts", "assign", CLIENT, decomposed).code == 0
    assert _contact_owners(cli) == {CLIENT: "Пётр"}


def test_duplicate_active_names_are_refused(office, table_counts) -> None:  # noqa: F811
    cli = office
    before = table_counts()
    added = cli("managers", "add", "анна  смирнова", "--phone", "150")
    assert added.code == 2 and "already called 'Анна Смирнова'" in added.err
    renamed = cli("managers", "edit", "SIP/102", "--name", "АННА СМИРНОВА")
    assert renamed.code == 2 and "already called" in renamed.err
    assert table_counts() == before
    assert "Борис" in {m["name"] for m in _json(cli, "managers", "list")}


def test_an_ambiguous_name_lists_the_candidates_and_writes_nothing(office, table_counts) -> None:  # noqa: F811
    cli = office
    # A Борис left; a new Борис was hired (a deactivated namesake is allowed).
    assert cli("managers", "deactivate", "Борис", "--to", "101").code == 0
    assert cli("managers", "add", "Борис", "--phone", "PJSIP/102").code == 0
    # Assigning work means the active one …
    assert cli("contacts", "add", CLIENT, "--responsible", "борис").code == 0
    assert _contact_owners(cli) == {CLIENT: "Борис"}
    # … but editing one person by an ambiguous name lists both and edits neither.
    before = table_counts(), _json(cli, "managers", "list")
    edit = cli("managers", "edit", "Борис", "--email", "b@example.com")
    assert edit.code == 2 and edit.err.count("\n") == 1
    assert "'Борис' matches 2 managers: #2 Борис (SIP/102, inactive); #5 Борис (PJSIP/102)" in (
        edit.err
    )
    assert (table_counts(), _json(cli, "managers", "list")) == before
    # The same extension on two technologies, both in use, is ambiguous too.
    assert cli("managers", "add", "Глеб", "--phone", "SIP/130").code == 0
    assert cli("managers", "add", "Дина", "--phone", "PJSIP/130").code == 0
    mine = cli("tasks", "list", "--mine", "130")
    assert mine.code == 2 and "#6 Глеб (SIP/130); #7 Дина (PJSIP/130)" in mine.err
    assert cli("managers", "edit", "#5", "--email", "b@example.com").code == 0
    # Bringing the old one back would make two active Борис: refused.
    back = cli("managers", "edit", "#2", "--activate")
    assert back.code == 2 and "already called 'Борис'" in back.err
