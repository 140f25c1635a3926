"""The timers in deploy/systemd run in the company's time zone, the daily e-mail covers the closed
business day (yesterday), and call-back escalation runs every few minutes — read from the unit
files, checked with `systemd-analyze calendar` where it is installed, and through the CLI."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = DEPLOY / "systemd"
TIMERS = sorted(UNITS.glob("*.timer"))


def unit_values(path: Path, key: str) -> list[str]:
    """Every value of `key` (systemd allows a key more than once)."""
    prefix = f"{key}="
    return [
        line[len(prefix) :].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.startswith(prefix)
    ]


def commands(service: Path) -> list[list[str]]:
    return [shlex.split(value)[3:] for value in unit_values(service, "ExecStart")]


def company_zone() -> str:
    example = (DEPLOY / "callrouter.toml.example").read_text(encoding="utf-8")
    return tomllib.loads(example)["timezone"]


def calendar(spec: str, iterations: int) -> list[datetime]:
    """The next elapses of `spec` as systemd computes them, in UTC."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(
        [tool, "calendar", f"--iterations={iterations}", spec],
        capture_output=True,
        text=True,
        timeout=30,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    stamps = re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", done.stdout)
    assert len(stamps) == iterations, done.stdout
    return [datetime.fromisoformat(s).replace(tzinfo=UTC) for s in stamps]


def test_every_timer_starts_a_service_that_is_shipped() -> None:
    assert {t.name for t in TIMERS} == {"callrouter-report.timer", "callrouter-callbacks.timer"}
    for timer in TIMERS:
        (target,) = unit_values(timer, "Unit")
        assert (UNITS / target).is_file()


def test_the_daily_report_timer_runs_in_the_company_time_zone() -> None:
    (spec,) = unit_values(UNITS / "callrouter-report.timer", "OnCalendar")
    zone = spec.split()[-1]
    assert zone == company_zone(), "the timer's zone must be the settings' timezone"
    ZoneInfo(zone)  # a real IANA zone
    # In the host's zone (UTC here) the next runs fall at 07:00 in the company's zone.
    for elapse in calendar(spec, 3):
        assert elapse.astimezone(ZoneInfo(zone)).time().isoformat() == "07:00:00", elapse


def test_the_daily_report_is_the_closed_day_even_after_a_catch_up() -> None:
    """Persistent=true may start the service at any hour after a missed run: it always sends
    yesterday (a closed day), never "today" (which after midnight is a new, empty day)."""
    timer = UNITS / "callrouter-report.timer"
    assert unit_values(timer, "Persistent") == ["true"]
    sends = [
        c for c in commands(UNITS / "callrouter-report.service") if c[:2] == ["report", "send"]
    ]
    assert sends == [["report", "send", "--date", "yesterday"]]
    every_report = [
        c for unit in UNITS.glob("*.service") for c in commands(unit) if c[:1] == ["report"]
    ]
    assert every_report == sends


def test_call_back_escalation_runs_every_five_minutes() -> None:
    timer = UNITS / "callrouter-callbacks.timer"
    (spec,) = unit_values(timer, "OnCalendar")
    assert commands(UNITS / "callrouter-callbacks.service") == [["callbacks", "escalate"]]
    elapses = calendar(spec, 4)
    gaps = {later - earlier for earlier, later in zip(elapses, elapses[1:], strict=False)}
    assert gaps == {timedelta(minutes=5)}
    # Not part of the daily report any more (it ran once a day at 19:00).
    assert ["callbacks", "escalate"] not in commands(UNITS / "callrouter-report.service")


def _company_today() -> datetime:
    return datetime.now(ZoneInfo("Europe/Moscow"))


@pytest.mark.parametrize(("word", "days"), [("yesterday", -1), ("today", 0)])
def test_report_takes_today_and_yesterday_in_the_company_zone(cli, word: str, days: int) -> None:
    before = _company_today().date()
    out = cli("report", "daily", "--date", word, "--format", "json")
    after = _company_today().date()
    assert out.code == 0, out.err
    day = json.loads(out.out)["day"]
    assert day in {
        (before + timedelta(days=days)).isoformat(),
        (after + timedelta(days=days)).isoformat(),
    }


def test_stats_take_yesterday_and_today(cli) -> None:
    before = _company_today().date()
    out = cli("stats", "--from", "yesterday", "--to", "today", "--by", "day", "--json")
    after = _company_today().date()
    assert out.code == 0, out.err
    data = json.loads(out.out)
    assert (data["first_day"], data["last_day"]) in {
        ((d - timedelta(days=1)).isoformat(), d.isoformat()) for d in (before, after)
    }
    assert len(data["rows"]) == 2


def test_a_misspelt_day_names_the_words_accepted(cli) -> None:
    out = cli("report", "daily", "--date", "yesterdy")
    assert out.code == 2
    assert out.err == (
        "callrouter: error: invalid date 'yesterdy': use YYYY-MM-DD, DD.MM.YYYY, today, yesterday or "
        "tomorrow\n"
    )
