"""`callrouter demo`: see the whole mission work in a minute, without an Asterisk."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import click

from callrouter.demo import quiet_logs, run_demo

from .common import check_output_path, database_label


@click.command("demo")
@click.option(
    "--db",
    "database",
    default="demo.sqlite3",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SQLite file to create (replaced).",
)
@click.option(
    "--html",
    "html",
    default="demo-report.html",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the HTML report (replaced).",
)
@click.option(
    "--calls", default=120, show_default=True, help="Inbound calls during business hours."
)
@click.option("--seed", default=1, show_default=True, help="The same seed plays the same day.")
def demo(database: Path, html: Path, calls: int, seed: int) -> None:
    """Play a compressed working day through the Asterisk simulator, then print the owner's report."""
    check_output_path(database, "demo database")
    check_output_path(html, "HTML report")
    click.echo(f"database: {database_label(f'sqlite:///{database}')} (created afresh)")
    quiet_logs()
    started = time.monotonic()
    result = asyncio.run(run_demo(database.resolve(), html, calls=calls, seed=seed, out=click.echo))
    click.echo("")
    click.echo(result.report_text)
    click.echo("")
    click.echo(
        f"Played {result.calls} calls ({result.missed} missed) in {time.monotonic() - started:.1f} s."
    )
    click.echo(f"HTML report: {result.html_path}")
    program = sys.argv[0] if "/" in sys.argv[0] else "callrouter"
    click.echo("")
    click.echo("Open the web application (deal cards with the recordings, My day, analytics):")
    click.echo(f"  {program} --config {result.config_path} web")
    click.echo("  then http://127.0.0.1:8080 and log in as (demo passwords, printed only here):")
    for login in result.logins:
        click.echo(f"    {login.login:<6} {login.password:<12} {login.name} ({login.role})")
    click.echo("")
    click.echo("Explore the database:")
    url = f"sqlite:///{result.database}"
    for command in (
        "deals list",
        "deals show 1",
        f"tasks list --overdue --at '{result.day} 20:00'   # the report's moment",
        "calls list --missed",
        f"stats --from {result.day} --to {result.day} --by manager",
    ):
        click.echo(f"  CALLROUTER_DATABASE_URL={url} {program} {command}")
