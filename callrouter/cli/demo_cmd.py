"""`callrouter demo`: see the whole mission work in a minute, without an Asterisk."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import click

from callrouter.demo import quiet_logs, run_demo


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
)
@click.option(
    "--calls", default=120, show_default=True, help="Inbound calls during business hours."
)
@click.option("--seed", default=1, show_default=True)
def demo(database: Path, html: Path, calls: int, seed: int) -> None:
    """Play a compressed working day through the Asterisk simulator, then print the owner's report."""
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
    click.echo("Explore the database:")
    url = f"sqlite:///{result.database}"
    program = sys.argv[0] if "/" in sys.argv[0] else "callrouter"
    for command in (
        "deals list",
        "deals show 1",
        f"tasks list --overdue --at '{result.day} 20:00'   # the report's moment",
        "calls list --missed",
        f"stats --from {result.day} --to {result.day} --by manager",
    ):
        click.echo(f"  CALLROUTER_DATABASE_URL={url} {program} {command}")
