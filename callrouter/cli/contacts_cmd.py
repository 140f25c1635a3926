"""`callrouter contacts …`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from crm import contacts, staff
from models.db import Database
from models.errors import InputError

from .common import AppContext, emit_rows, json_option, local_time, pass_app, run


@click.group("contacts")
def contacts_group() -> None:
    """Clients by phone number, each with a responsible manager."""


@contacts_group.command("add")
@click.argument("phone")
@click.option("--name", default=None)
@click.option("--responsible", default=None, help="Manager id, extension, endpoint or name.")
@pass_app
def contact_add(app: AppContext, phone: str, name: str | None, responsible: str | None) -> None:
    region = app.settings.default_region
    e164 = contacts.phone_or_error(phone, region)

    async def work(db: Database) -> int:
        async with db.transaction() as s:
            manager = (
                await staff.get_manager(s, responsible, app.settings.endpoint_technology)
                if responsible
                else None
            )
            if manager is not None and not manager.active:
                raise InputError(f"manager {manager.name!r} is deactivated")
            return (
                await contacts.add_contact(s, e164, region=region, name=name, responsible=manager)
            ).id

    click.echo(f"contact #{run(work, app)} {e164} added")


@contacts_group.command("import")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Write nothing if any row is rejected.")
@pass_app
def contact_import(app: AppContext, csv_file: Path, strict: bool) -> None:
    """Import a CSV with a header: phone[,name][,responsible]. Rejected rows are listed."""
    try:
        text = csv_file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"no such file: {csv_file}") from None
    except UnicodeDecodeError:
        raise InputError(f"{csv_file} is not UTF-8 text") from None

    async def work(db: Database) -> contacts.ImportReport:
        async with db.transaction() as s:
            report = await contacts.import_csv(
                s,
                text,
                region=app.settings.default_region,
                technology=app.settings.endpoint_technology,
            )
            if strict and report.rejected:
                raise _Rejected(report)
            return report

    try:
        report = run(work, app)
    except _Rejected as rejected:
        _print_rejected(rejected.report)
        raise InputError(
            f"{len(rejected.report.rejected)} row(s) rejected; nothing imported (--strict)"
        ) from None
    _print_rejected(report)
    click.echo(f"{report.added} contact(s) imported, {len(report.rejected)} row(s) rejected")


class _Rejected(Exception):
    def __init__(self, report: contacts.ImportReport) -> None:
        self.report = report


def _print_rejected(report: contacts.ImportReport) -> None:
    for line, reason in report.rejected:
        print(f"line {line}: {reason}", file=sys.stderr)


@contacts_group.command("assign")
@click.argument("contact")
@click.argument("manager")
@pass_app
def contact_assign(app: AppContext, contact: str, manager: str) -> None:
    """Make MANAGER responsible for CONTACT (phone number or #id)."""

    async def work(db: Database) -> tuple[str, str]:
        async with db.transaction() as s:
            row = await contacts.get_contact(s, contact, app.settings.default_region)
            person = await staff.get_manager(s, manager, app.settings.endpoint_technology)
            await contacts.assign_responsible(s, row, person)
            return row.phone, person.name

    phone, name = run(work, app)
    click.echo(f"{phone} is now {name}'s client")


@contacts_group.command("list")
@click.option("--responsible", default=None)
@click.option("--limit", default=200, show_default=True)
@json_option
@pass_app
def contact_list(app: AppContext, responsible: str | None, limit: int) -> None:
    async def work(db: Database) -> list[dict]:
        async with db.reader() as s:
            manager = (
                await staff.get_manager(s, responsible, app.settings.endpoint_technology)
                if responsible
                else None
            )
            names = {m.id: m.name for m in await staff.list_managers(s)}
            return [
                {
                    "id": c.id,
                    "phone": c.phone,
                    "name": c.name,
                    "responsible": names.get(c.responsible_manager_id),
                    "since": local_time(app, c.created_at),
                }
                for c in await contacts.list_contacts(s, manager=manager, limit=limit)
            ]

    emit_rows(app, run(work, app), "no contacts")
