"""Activity drop: today against the same weekday of recent weeks. Pure: figures in, alerts out."""

from __future__ import annotations

from collections.abc import Sequence

from core.settings import AlertSettings

from .model import Alert, CallFigures


def activity_drops(
    subject: str,
    today: CallFigures,
    history: Sequence[CallFigures],
    settings: AlertSettings,
    weekday: str,
) -> list[Alert]:
    """Alerts for `subject` whose calls or minutes today fell below threshold × baseline.

    `history` holds one entry per baseline day (a day without calls is an empty CallFigures),
    so the average counts silent days as zero.
    """
    weeks = max(len(history), 1)
    measures = (
        ("calls", float(today.calls), sum(h.calls for h in history) / weeks, "{:.0f} calls"),
        (
            "minutes",
            today.talk_minutes,
            sum(h.talk_minutes for h in history) / weeks,
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
                        f"{weekday} of the last {len(history)} weeks (−{drop:.0%})"
                    ),
                )
            )
    return alerts
