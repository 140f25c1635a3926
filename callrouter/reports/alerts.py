"""Activity drop: today against the same weekday of recent weeks on shift. Pure: figures in,
alerts out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from core.settings import AlertSettings

from .model import Alert, CallFigures, WorkingDays


def shift_history(
    days: Sequence[date],
    figures: Sequence[CallFigures],
    calendar: WorkingDays,
    worked: Sequence[bool] | None = None,
) -> list[CallFigures]:
    """The baseline days the subject was on shift, with their figures.

    A day counts when the department's calendar has it open (a working weekday, not a holiday)
    and, for a manager (`worked` given), when they worked that day — the schema has no absence
    days, so a manager with no call at all on an open day is taken to have been off. Holidays and
    days off would otherwise count as zeros and pull the baseline down, hiding a real drop.
    """
    return [
        f
        for i, (day, f) in enumerate(zip(days, figures, strict=True))
        if calendar.open_on(day) and (worked is None or worked[i])
    ]


def activity_drops(
    subject: str,
    today: CallFigures,
    history: Sequence[CallFigures],
    settings: AlertSettings,
    weekday: str,
    weeks: int | None = None,
) -> list[Alert]:
    """Alerts for `subject` whose calls or minutes today fell below threshold × baseline.

    `history` holds one entry per baseline day (`shift_history`: the days on shift only; a day
    on shift without calls is an empty CallFigures and counts as zero). `weeks` is how many
    weeks were looked at (default: one per day of history), for the message.
    """
    looked = len(history) if weeks is None else weeks
    days = max(len(history), 1)
    span = (
        f"of the last {looked} weeks"
        if len(history) == looked
        else f"on shift ({len(history)} of the last {looked} weeks)"
    )
    measures = (
        ("calls", float(today.calls), sum(h.calls for h in history) / days, "{:.0f} calls"),
        (
            "minutes",
            today.talk_minutes,
            sum(h.talk_minutes for h in history) / days,
            "{:.1f} minutes on the line",
        ),
    )
    minimum = {"calls": settings.min_baseline_calls, "minutes": settings.min_baseline_minutes}
    alerts = []
    for measure, now, baseline, words in measures:
        if baseline < minimum[measure] or baseline <= 0:
            continue
        if now < settings.drop_threshold * baseline:
            drop = 1 - now / baseline
            alerts.append(
                Alert(
                    kind="activity_drop",
                    subject=subject,
                    measure=measure,
                    today=round(now, 1),
                    baseline=round(baseline, 1),
                    message=(
                        f"{subject}: {words.format(now)} today vs {baseline:.1f} on an average "
                        f"{weekday} {span} (−{drop:.0%})"
                    ),
                    baseline_days=len(history),
                )
            )
    return alerts
