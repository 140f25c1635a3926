"""The pure parts: local days and hours, nearest-rank percentiles, charts, alerts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from callrouter.reports import charts
from callrouter.reports.alerts import activity_drops, shift_history
from callrouter.reports.definitions import DEFINITIONS, as_markdown, nearest_rank
from callrouter.reports.model import CallFigures, GroupRow, HourPoint, TrendPoint, WorkingDays
from callrouter.reports.periods import day_window, hour_windows
from core.settings import AlertSettings

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_day_is_local_midnight_to_midnight_even_across_dst() -> None:
    autumn = day_window(date(2026, 10, 25), BERLIN)  # clocks go back: 25 hours
    assert autumn.start == datetime(2026, 10, 24, 22, tzinfo=UTC)
    assert (autumn.end - autumn.start).total_seconds() == 25 * 3600
    hours = hour_windows(date(2026, 10, 25), BERLIN)
    assert len(hours) == 25 and [h.label for h in hours].count("02:00") == 2
    assert len(hour_windows(date(2026, 3, 29), BERLIN)) == 23  # spring: no 02:00
    assert "02:00" not in [h.label for h in hour_windows(date(2026, 3, 29), BERLIN)]


@pytest.mark.parametrize(
    "percent, count, rank",
    [(50, 1, 1), (50, 2, 1), (50, 4, 2), (50, 5, 3), (90, 4, 4), (90, 10, 9), (90, 11, 10)],
)
def test_nearest_rank(percent: int, count: int, rank: int) -> None:
    assert nearest_rank(percent, count) == rank


def test_definitions_name_every_headline_figure() -> None:
    names = {d.name for d in DEFINITIONS}
    assert {"Lost Call Rate (LCR)", "Recovered", "Minutes on the line", "Short abandon"} <= names
    assert as_markdown().count("\n- ") == len(DEFINITIONS) - 1


def test_charts_are_valid_svg_even_when_empty() -> None:
    for svg in (
        charts.hourly_calls([HourPoint(f"{h:02d}:00", 0, 0, 0) for h in range(24)]),
        charts.lcr_trend(
            [TrendPoint(date(2026, 11, d), 0, 0, None, None) for d in range(1, 31)], 5
        ),
        charts.manager_activity([]),
        charts.manager_activity([GroupRow(1, "<Анна & co>", CallFigures(made=3), active=False)]),
    ):
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "&lt;Анна &amp; co&gt; (left)" in charts.manager_activity(
        [GroupRow(1, "<Анна & co>", CallFigures(made=3), active=False)]
    )


def test_nice_ceiling() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 11, 42, 230)] == [1, 1, 5, 10, 20, 50, 250]


def test_activity_drop_thresholds() -> None:
    s = AlertSettings(drop_threshold=0.5, min_baseline_calls=5, min_baseline_minutes=10)
    week = [CallFigures(made=10, made_answered=10, talk_seconds=1200)] * 3 + [CallFigures()]
    # Baseline (silent day counted as zero): 7.5 calls, 15 minutes.
    assert activity_drops("x", CallFigures(made=4, talk_seconds=600), week, s, "Friday") == []
    low = activity_drops("x", CallFigures(made=3, talk_seconds=420), week, s, "Friday")
    assert {(a.measure, a.today, a.baseline) for a in low} == {
        ("calls", 3, 7.5),
        ("minutes", 7, 15),
    }
    thin = [CallFigures(made=4)] * 4  # 4 calls a day is too thin to judge
    assert activity_drops("x", CallFigures(), thin, s, "Friday") == []


def test_the_baseline_keeps_only_days_on_shift() -> None:
    fridays = [date(2026, 11, 13), date(2026, 11, 6), date(2026, 10, 30), date(2026, 10, 23)]
    figures = [CallFigures(made=n) for n in (0, 0, 10, 0)]
    calendar = WorkingDays(frozenset(range(5)), frozenset({date(2026, 11, 13)}))
    # The holiday goes; the other silent days stay for a department (it was open).
    assert [f.made for f in shift_history(fridays, figures, calendar)] == [0, 10, 0]
    # A manager's silent open days are days off: only the day they worked stays.
    worked = [f.calls > 0 for f in figures]
    assert [f.made for f in shift_history(fridays, figures, calendar, worked)] == [10]
    # No working hours set: open every day, holidays still closed.
    assert WorkingDays(None, frozenset()).open_on(date(2026, 11, 22))  # a Sunday
    assert not WorkingDays(frozenset(range(5))).open_on(date(2026, 11, 22))
    assert not WorkingDays(None, frozenset({date(2026, 11, 13)})).open_on(date(2026, 11, 13))


def test_the_alert_says_how_many_days_the_baseline_averages() -> None:
    s = AlertSettings(drop_threshold=0.5, min_baseline_calls=5, min_baseline_minutes=10)
    two = [CallFigures(made=10, made_answered=10, talk_seconds=1200)] * 2
    alerts = activity_drops("Анна", CallFigures(made=3), two, s, "Friday", weeks=4)
    assert alerts[0].baseline_days == 2
    assert "on an average Friday on shift (2 of the last 4 weeks)" in alerts[0].message
    assert activity_drops("x", CallFigures(), [], s, "Friday", weeks=4) == []
