"""`callrouter backfill --from Master.csv`: calls completed while the listener was down."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ami_listener.assemble import EndpointClassifier
from ami_listener.backfill import parse_master_csv
from ami_listener.calls import CompletedCall
from core.phonebook import PhoneBook
from crm.call_sink import DbCallSink
from models.db import Database
from models.directory import load_directory
from models.errors import InputError

from .common import AppContext, pass_app, run
from .limits import progress_bar


@click.command("backfill")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Asterisk's cdr_csv file (Master.csv).",
)
@click.option(
    "--system", default=None, help="The Asterisk system it came from (default: settings)."
)
@click.option(
    "--progress", is_flag=True, help="Show a progress bar on stderr (shown anyway on a terminal)."
)
@pass_app
def backfill(app: AppContext, source: Path, system: str | None, progress: bool) -> None:
    """Record every call in Master.csv that is not recorded yet (safe to run again)."""
    try:
        text = source.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputError(f"no such file: {source}") from None
    settings = app.settings

    async def work(db: Database) -> tuple[list[CompletedCall], int]:
        # A phone is what the directory says it is (active or not), as on the listener's side.
        async with db.reader() as session:
            directory = await load_directory(session)
        calls, rejected = parse_master_csv(
            text,
            system=system or settings.asterisk_system,
            region=settings.default_region,
            classifier=EndpointClassifier(
                frozenset(settings.ami.trunk_endpoints),
                settings.ami.internal_max_digits,
                phones=PhoneBook.of_directory(directory),
            ),
        )
        for item in rejected:
            print(f"line {item.line}: skipped: {item.reason}", file=sys.stderr)
        sink = DbCallSink(
            db, settings.leads, sales_department_id=settings.routing.sales_department_id
        )
        added = 0
        with progress_bar(len(calls), progress, "recording calls") as bar:
            for call in calls:
                added += (await sink.store(call)).created
                if bar is not None:
                    bar.update(1)
        return calls, added

    calls, added = run(work, app)
    click.echo(
        f"{len(calls)} call(s) in {source}: {added} added, {len(calls) - added} already recorded"
    )
