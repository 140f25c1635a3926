"""`callrouter report daily`, `stats` and `callbacks escalate` as the owner runs them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from models.db import Database
from models.tables import Call

from .conftest import AS_OF, setup
from .office import DAY, Office, at, build_day, build_office


def test_daily_text_report_for_the_owner(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    result = cli_msk("report", "daily", "--date", "2026-11-20", *AS_OF)
    assert result.code == 0, result.err
    out = result.out
    assert "Daily report for Friday 2026-11-20 (Europe/Moscow)" in out
    assert "Calls: 12 (made 4, received 8) · answered 7 · 30.8 min on the line" in out
    assert "Lost Call Rate: 50.0% all · 42.9% without short abandons (<5 s)" in out
    assert (
        "Recovery: 2 of 4 missed calls recovered (50.0%) · median time to recovery 4:00:00" in out
    )
    assert "! Анна: 3 calls today vs 10.0 on an average Friday" in out
    assert "Гена (left)" in out
    assert "+79160000006" in out and "overdue" in out


def test_daily_json_carries_every_figure(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    result = cli_msk("report", "daily", "--date", "2026-11-20", "--format", "json", *AS_OF)
    data = json.loads(result.out)
    assert data["inbound"]["lcr"] == 0.5
    assert data["inbound"]["lcr_without_short"] == pytest.approx(3 / 7)
    assert data["recovery"]["rate"] == 0.5
    assert data["calls"]["talk_minutes"] == 30.75
    assert [u["number"] for u in data["unrecovered"]] == ["+79160000006", "+79160000007"]
    gena = next(m for m in data["managers"] if m["label"] == "Гена")
    assert gena["active"] is False and gena["calls"]["made"] == 1


def test_daily_html_has_three_inline_svg_charts(cli_msk, db_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    target = tmp_path / "report.html"
    result = cli_msk(
        "report", "daily", "--date", "2026-11-20", "--format", "html", "-o", str(target)
    )
    assert result.code == 0, result.err
    html = target.read_text(encoding="utf-8")
    assert (
        html.startswith("<!DOCTYPE html>")
        and "<img" not in html
        and "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    svgs = [html[i : html.index("</svg>", i) + 6] for i in _find_all(html, "<svg ")]
    titles = [ET.fromstring(svg).find("{http://www.w3.org/2000/svg}title").text for svg in svgs]
    assert titles == [
        "Calls per hour",
        "Lost Call Rate, last days",
        "Calls and minutes per manager",
    ]
    assert "Анна" in html and "50.0%" in html


def _find_all(text: str, needle: str) -> list[int]:
    found, at_ = [], text.find(needle)
    while at_ >= 0:
        found.append(at_)
        at_ = text.find(needle, at_ + 1)
    return found


@pytest.mark.parametrize("fmt", ["text", "json", "html"])
def test_a_day_without_calls_renders(cli_msk, db_url: str, fmt: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_office)
    result = cli_msk("report", "daily", "--date", "2026-11-20", "--format", fmt)
    assert result.code == 0, result.err
    if fmt == "text":
        assert "Calls: 0 (made 0, received 0)" in result.out
        assert "Lost Call Rate: — all · — without short abandons" in result.out
        assert "Unrecovered missed calls: 0 numbers" in result.out
    if fmt == "json":
        assert json.loads(result.out)["inbound"]["lcr"] is None


async def _thousands(db: Database) -> Office:
    office = await build_office(db)
    managers = [office.ids[n] for n in ("Анна", "Борис", "Вера")]
    rows = []
    for i in range(3000):
        start = at(DAY, 0) + timedelta(seconds=i * 28)
        missed = i % 7 == 0
        outbound = i % 3 == 0 and not missed
        rows.append(
            {
                "system": "pbx1",
                "linkedid": f"k{i}",
                "direction": "outbound" if outbound else "inbound",
                "external_number": f"+7916{i:07d}",
                "started_at": start,
                "answered_at": None if missed else start + timedelta(seconds=5),
                "ended_at": start + timedelta(seconds=65),
                "ring_seconds": 5.0,
                "talk_seconds": 0.0 if missed else 60.0,
                "disposition": "NO ANSWER" if missed else "ANSWERED",
                "missed": missed,
                "abandoned": missed,
                "abandon_seconds": 3.0 if missed and i % 2 else (9.0 if missed else None),
                "after_hours": False,
                "manager_id": None if missed else managers[i % 3],
                "variables": {},
            }
        )
    async with db.transaction() as s:
        await s.execute(insert(Call), rows)
    return office


def test_a_day_with_thousands_of_calls(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, _thousands)
    result = cli_msk("report", "daily", "--date", "2026-11-20", "--format", "json", *AS_OF)
    data = json.loads(result.out)
    # 3000 calls, 28 s apart from midnight: every 7th missed (429), every 3rd of the rest out.
    missed = len(range(0, 3000, 7))
    made = sum(1 for i in range(3000) if i % 3 == 0 and i % 7 != 0)
    assert data["calls"]["calls"] == 3000
    assert (data["inbound"]["missed"], data["calls"]["made"]) == (missed, made)
    assert data["unrecovered_total"] == missed
    assert len(data["unrecovered"]) == 100  # the list is capped; the total is not
    html = cli_msk("report", "daily", "--date", "2026-11-20", "--format", "html", *AS_OF)
    assert html.code == 0 and html.out.count("<svg ") == 3


def test_stats_by_day_and_its_errors(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    result = cli_msk("stats", "--from", "2026-11-19", "--to", "2026-11-20", "--by", "day", *AS_OF)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert any(line.startswith("2026-11-20") and "50.0%" in line for line in lines)
    data = json.loads(cli_msk("stats", "--from", "2026-11-20", "--json", *AS_OF).out)
    assert data["total"]["inbound"]["offered"] == 8
    assert {r["label"] for r in data["rows"]} >= {"Анна", "Гена", "(no manager)"}
    bad = cli_msk("stats", "--from", "2026-11-20", "--to", "2026-11-19")
    assert bad.code == 2 and "before" in bad.err
    # dd.mm.yyyy is a date too (issue #17), the same day as 2026-11-20
    russian = json.loads(cli_msk("stats", "--from", "20.11.2026", "--json", *AS_OF).out)
    assert russian["total"] == data["total"]
    worse = cli_msk("stats", "--from", "20/11/2026")
    assert worse.code == 2 and "YYYY-MM-DD" in worse.err


def test_the_daily_report_in_the_office_language(cli_msk, db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    english = cli_msk("report", "daily", "--date", "2026-11-20", *AS_OF)
    assert english.out.startswith("Daily report for Friday 2026-11-20")
    russian = cli_msk("report", "daily", "--date", "2026-11-20", "--lang", "ru", *AS_OF)
    assert russian.code == 0, russian.err
    assert "Daily report" not in russian.out and "2026-11-20" in russian.out
    monkeypatch.setenv("CALLROUTER_REPORT__LANGUAGE", "ru")
    assert cli_msk("report", "daily", "--date", "2026-11-20", *AS_OF).out == russian.out
    as_json = cli_msk("report", "daily", "--date", "2026-11-20", "--format", "json", *AS_OF)
    assert json.loads(as_json.out)["inbound"]["lcr"] == 0.5


def test_escalate_reassigns_an_overdue_callback_once_and_the_report_shows_it(
    cli_msk, db_url: str
) -> None:  # type: ignore[no-untyped-def]
    setup(db_url, build_day)
    # The call-back for number 6 was due Thursday 15:15; it is still open now.
    first = cli_msk("callbacks", "escalate", "--json")
    assert first.code == 0, first.err
    [done] = json.loads(first.out)
    assert (done["number"], done["from"], done["to"], done["mode"]) == (
        "+79160000006",
        "Анна",
        "Head",
        "reassign",
    )
    again = cli_msk("callbacks", "escalate")
    assert again.code == 0 and "nothing to escalate" in again.out
    today = cli_msk("report", "daily")  # escalated now: today's report lists it
    assert "Escalated call-backs (1)" in today.out
    assert "moved from Анна to Head" in today.out
    tasks = cli_msk("tasks", "list", "--mine", "Head", "--json")
    assert [t["comment"].startswith("task cb6") for t in json.loads(tasks.out)] == [True]


def test_report_definitions_are_printed(cli_msk, db_url: str) -> None:  # type: ignore[no-untyped-def]
    result = cli_msk("report", "definitions")
    assert "**Lost Call Rate (LCR).**" in result.out
