"""`callrouter report daily|send|definitions`, `callrouter stats`, `callrouter callbacks escalate`."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import click

from callrouter.reports import definitions, render_html, render_json, render_text
from callrouter.reports.daily import build_daily
from callrouter.reports.mail import MailError, send_report
from callrouter.reports.model import DailyReport
from callrouter.reports.stats import build_stats
from crm import callbacks
from models.db import Database
from models.errors import InputError

from .common import (
    AppContext,
    check_output_path,
    emit_rows,
    json_option,
    parse_day,
    pass_app,
    run,
)


def _as_of(app: AppContext, text: str | None) -> datetime:
    if text is None:
        return app.now()
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"invalid moment {text!r}: use 'YYYY-MM-DD HH:MM'") from None
    parsed = parsed.replace(tzinfo=app.tz) if parsed.tzinfo is None else parsed
    return parsed.astimezone(UTC)


def _day(app: AppContext, text: str | None, now: datetime) -> date:
    # today / yesterday: the company's calendar days now (the timer sends `--date yesterday`).
    today = app.now().astimezone(app.tz).date()
    return parse_day(text, today) if text else now.astimezone(app.tz).date()


def _daily(app: AppContext, day_text: str | None, as_of_text: str | None) -> DailyReport:
    now = _as_of(app, as_of_text)
    day = _day(app, day_text, now)

    async def work(db: Database) -> DailyReport:
        return await build_daily(db, day, now, app.settings)

    return run(work, app)


_DATE = click.option(
    "--date",
    "day",
    default=None,
    help="Local day: YYYY-MM-DD, today or yesterday (default: today).",
)
_AS_OF = click.option(
    "--as-of",
    default=None,
    help="Recoveries and open tasks as of this local moment (default: now).",
)


@click.group("report")
def report_group() -> None:
    """The owner's daily report."""


_LANG = click.option(
    "--lang",
    type=click.Choice(["ru", "en"]),
    default=None,
    help="Language of the text, HTML and e-mail (default: report.language in the settings).",
)


@report_group.command("daily")
@_DATE
@_AS_OF
@_LANG
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default=None,
    help="text (default), json or html (with charts).",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to a file."
)
@pass_app
def report_daily(
    app: AppContext,
    day: str | None,
    as_of: str | None,
    lang: str | None,
    fmt: str | None,
    output: str | None,
) -> None:
    """Print the day: headline figures, departments, managers, alerts, unrecovered numbers."""
    if output:
        check_output_path(output, "report")
    report = _daily(app, day, as_of)
    chosen = fmt or ("json" if app.json_output else "text")
    language = lang or app.settings.report.language
    if chosen == "json":
        text = render_json.render(report)  # keys and values are for scripts: one language
    elif chosen == "html":
        text = render_html.render_daily(report, language)
    else:
        text = render_text.render_daily(report, language)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"report written to {output}")
    else:
        click.echo(text, nl=False)


@report_group.command("send")
@_DATE
@_AS_OF
@_LANG
@click.option(
    "--to", "recipients", multiple=True, help="Recipient (repeat); default: smtp.recipients."
)
@pass_app
def report_send(
    app: AppContext,
    day: str | None,
    as_of: str | None,
    lang: str | None,
    recipients: tuple[str, ...],
) -> None:
    """E-mail the daily report (text + HTML with charts) over SMTP."""
    report = _daily(app, day, as_of)
    try:
        sent_to = asyncio.run(
            send_report(
                report,
                app.settings.smtp,
                list(recipients) or None,
                lang or app.settings.report.language,
            )
        )
    except MailError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"report for {report.day} sent to {', '.join(sent_to)}")


@report_group.command("definitions")
def report_definitions() -> None:
    """What every figure means."""
    click.echo(definitions.as_markdown())


@click.command("stats")
@click.option(
    "--from", "first", required=True, help="First local day: YYYY-MM-DD, today or yesterday."
)
@click.option("--to", "last", default=None, help="Last local day, inclusive (default: --from).")
@click.option(
    "--by",
    type=click.Choice(["manager", "department", "day"]),
    default="manager",
    show_default=True,
    help="One row per manager, department or day.",
)
@_AS_OF
@json_option
@pass_app
def stats_command(
    app: AppContext, first: str, last: str | None, by: str, as_of: str | None
) -> None:
    """The report's figures for any period, per manager, department or day."""
    today = app.now().astimezone(app.tz).date()
    start = parse_day(first, today)
    end = parse_day(last, today) if last else start
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    if (end - start).days > 366 and by == "day":
        raise InputError("--by day covers at most 367 days; split the period")
    now = _as_of(app, as_of)

    async def work(db: Database):  # type: ignore[no-untyped-def]
        return await build_stats(db, start, end, by, now, app.settings)  # type: ignore[arg-type]

    table = run(work, app)
    click.echo(
        render_json.render(table) if app.json_output else render_text.render_stats(table), nl=False
    )


@click.group("callbacks")
def callbacks_group() -> None:
    """Call-back tasks for missed calls."""


@callbacks_group.command("escalate")
@click.option("--dry-run", is_flag=True, help="Show what would be escalated; change nothing.")
@json_option
@pass_app
def callbacks_escalate(app: AppContext, dry_run: bool) -> None:
    """Escalate call-backs still open past their deadline, once each (safe to repeat)."""

    async def work(db: Database) -> list[callbacks.EscalationResult]:
        return await callbacks.escalate_callbacks(
            db, app.settings.callbacks, app.now(), app.tz, dry_run=dry_run
        )

    results = run(work, app)
    rows = [
        {
            "task": r.task_id,
            "number": r.number,
            "from": r.from_manager,
            "to": r.to_manager or "",
            "mode": r.mode,
            "check task": r.copy_task_id,
        }
        for r in results
    ]
    emit_rows(app, rows, "nothing to escalate")
    if dry_run and rows and not app.json_output:
        click.echo("(dry run: nothing changed)")
