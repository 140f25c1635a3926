"""`callrouter contacts …`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from crm import contacts, staff, views
from models.db import Database
from models.errors import InputError

from .cards import call_json, task_json
from .common import AppContext, emit_object, emit_rows, json_option, local_time, pass_app, run
from .deals_cmd import attempts_text, call_extras_text


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
@click.option(
    "--keep-tasks", is_flag=True, help="Leave the open tasks with whoever holds them now."
)
@pass_app
def contact_assign(app: AppContext, contact: str, manager: str, keep_tasks: bool) -> None:
    """Make MANAGER responsible for CONTACT (phone number or #id): the contact, its open deals
    and their open tasks move together; each deal's history says so."""

    async def work(db: Database) -> tuple[str, str, int, int]:
        async with db.transaction() as s:
            row = await contacts.get_contact(s, contact, app.settings.default_region)
            person = await staff.get_manager(s, manager, app.settings.endpoint_technology)
            moved = await contacts.assign_responsible(
                s,
                row,
                person,
                closed_statuses=app.settings.leads.closed_statuses,
                now=app.now(),
                keep_tasks=keep_tasks,
            )
            return row.phone, person.name, moved.deals.total(), moved.tasks.total()

    phone, name, deal_count, task_count = run(work, app)
    click.echo(
        f"{phone} is now {name}'s client; moved with it: {deal_count} open deal(s), "
        f"{task_count} open task(s)"
    )


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


@contacts_group.command("show")
@click.argument("contact")
@json_option
@pass_app
def contact_show(app: AppContext, contact: str) -> None:
    """The contact card (CONTACT: phone number or #id): phones, responsible manager, every deal,
    every call with its recording."""

    async def work(db: Database) -> views.ContactCard:
        async with db.reader() as s:
            row = await contacts.get_contact(s, contact, app.settings.default_region)
            return await views.contact_card(
                s,
                row.id,
                recordings_dir=app.settings.recordings_dir,
                min_talk=app.settings.leads.recovery_min_talk_seconds,
            )

    card = run(work, app)
    emit_object(app, _contact_json(card), lambda: _contact_text(app, card))


def _contact_json(card: views.ContactCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "name": card.name,
        "phones": list(card.phones),
        "responsible": card.responsible,
        "created_at": card.created_at,
        "deals": [
            {
                "id": d.id,
                "title": d.title,
                "status": d.status,
                "source": d.source,
                "responsible": d.responsible,
                "created_at": d.created_at,
            }
            for d in card.deals
        ],
        "tasks": [task_json(t) for t in card.tasks],
        "calls": [
            {**call_json(k), "missed": k.missed, "recovered_by_call_id": k.recovered_by_call_id}
            for k in card.calls
        ],
    }


def _contact_text(app: AppContext, card: views.ContactCard) -> str:
    lines = [
        f"Contact #{card.id} — {card.name or '(no name)'}",
        f"  phones:      {', '.join(card.phones)}",
        f"  responsible: {card.responsible or '(nobody)'}",
        f"  since:       {local_time(app, card.created_at)}",
        "",
        "Deals:",
    ]
    lines += [
        f"  #{d.id} [{d.status}] {d.source} for {d.responsible or '(nobody)'}, "
        f"since {local_time(app, d.created_at)}" + (f" — {d.title}" if d.title else "")
        for d in card.deals
    ] or ["  none"]
    lines += ["", "Tasks:"]
    lines += [
        f"  #{t.id} [{t.status}] {t.type} due {local_time(app, t.due_at)} "
        f"for {t.responsible}: {t.comment}"
        + (f" (closed: {t.close_reason})" if t.close_reason else "")
        + attempts_text(t.attempts)
        for t in card.tasks
    ] or ["  none"]
    lines += ["", "Calls:"]
    lines += [
        f"  #{k.id} {local_time(app, k.started_at)} {k.direction} {k.disposition} "
        f"{k.manager or ''} talk {k.talk_seconds:.0f}s"
        + (f" recovered by #{k.recovered_by_call_id}" if k.recovered_by_call_id else "")
        + call_extras_text(k)
        for k in card.calls
    ] or ["  none"]
    return "\n".join(lines)
