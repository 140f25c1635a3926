"""`callrouter contacts …`.

`contacts list` reads through crm/lists.py and loads no SQLAlchemy, card, import or search code
(issue #17, fast listings): the other commands import what they use themselves."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm import lists
from crm.inputs import phone_or_error
from models.errors import InputError

from .cards import call_json, task_json
from .common import (
    AppContext,
    emit_object,
    emit_rows,
    json_option,
    local_time,
    pass_app,
    read,
    run,
)
from .deals_cmd import attempts_text, call_extras_text
from .limits import limit_options, note_shown, progress_bar

if TYPE_CHECKING:
    from crm import contact_import, contact_merge, views
    from models.db import Database
    from models.direct import Reader


@click.group("contacts")
def contacts_group() -> None:
    """Clients by phone number, each with a responsible manager."""


@contacts_group.command("add")
@click.argument("phone")
@click.option("--name", default=None, help="The client's name, as managers will see it.")
@click.option("--responsible", default=None, help="Manager id, extension, endpoint or name.")
@pass_app
def contact_add(app: AppContext, phone: str, name: str | None, responsible: str | None) -> None:
    """Add a client by PHONE (any spelling: 8 916 …, +7 916 …)."""
    from crm import contacts, staff

    region = app.settings.default_region
    e164 = phone_or_error(phone, region)

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
@click.option(
    "--update",
    is_flag=True,
    help="Correct contacts already stored (a fixed file): they take the row's name and "
    "responsible; an empty cell keeps what is stored.",
)
@click.option(
    "--progress", is_flag=True, help="Show a progress bar on stderr (shown anyway on a terminal)."
)
@pass_app
def contact_import_cmd(
    app: AppContext, csv_file: Path, strict: bool, update: bool, progress: bool
) -> None:
    """Import a CSV with a header: phone[,name][,responsible]. Rejected rows are listed.

    UTF-8 or Windows-1251 (a Russian Excel export), separated by commas, semicolons or tabs;
    Russian headers (Телефон; Имя; Ответственный) are understood."""
    from crm import contact_import

    text = read_csv_text(csv_file)
    total = contact_import.count_rows(text)
    contact_import.sniff_delimiter(text)  # a file without a phone column: refused before the DB

    async def work(db: Database) -> contact_import.ImportReport:
        async with db.transaction() as s:
            with progress_bar(total, progress, "importing") as bar:
                report = await contact_import.import_csv(
                    s,
                    text,
                    region=app.settings.default_region,
                    technology=app.settings.endpoint_technology,
                    update_existing=update,
                    closed_statuses=app.settings.leads.closed_statuses,
                    now=app.now(),
                    progress=bar.update if bar is not None else None,
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
    if update:
        click.echo(
            f"{report.added} contact(s) imported, {report.updated} updated, "
            f"{report.unchanged} unchanged, {len(report.rejected)} row(s) rejected"
        )
    else:
        click.echo(f"{report.added} contact(s) imported, {len(report.rejected)} row(s) rejected")


def read_csv_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without a BOM), else Windows-1251 (said on stderr)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a CSV file") from None
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(
            f'{path} is an Excel workbook, not CSV: save it as "CSV (разделители — запятые)" '
            'or "CSV UTF-8" and import that file'
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1251")
    except UnicodeDecodeError:
        raise InputError(f"{path} is neither UTF-8 nor Windows-1251 text") from None
    click.echo(f"callrouter: {path} is not UTF-8; read as Windows-1251 (Excel)", err=True)
    return text


class _Rejected(Exception):
    def __init__(self, report: contact_import.ImportReport) -> None:
        self.report = report


def _print_rejected(report: contact_import.ImportReport) -> None:
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
    from crm import contacts, staff

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
@click.option("--responsible", default=None, help="Only this manager's clients.")
@limit_options(200)
@json_option
@pass_app
def contact_list(app: AppContext, responsible: str | None, limit: int | None) -> None:
    """Clients in the order they were added."""

    def work(reader: Reader) -> lists.Page:
        return lists.list_contacts(
            reader,
            manager_id=lists.manager_id(reader, responsible) if responsible else None,
            limit=limit,
        )

    page = read(work, app)
    rows = [
        {
            "id": c["id"],
            "phone": c["phone"],
            "name": c["name"],
            "responsible": c["responsible"],
            "since": local_time(app, c["created_at"]),
        }
        for c in page.rows
    ]
    emit_rows(app, rows, "no contacts")
    note_shown(len(rows), page.total)


@contacts_group.command("search")
@click.argument("text")
@limit_options(50)
@json_option
@pass_app
def contact_search(app: AppContext, text: str, limit: int | None) -> None:
    """Find clients by any part of a phone number (8 916 12…, 45-67) or of a name."""
    if not text.strip():
        raise InputError("give a number or a name to search for")
    from crm.access import Viewer
    from crm.listing import search_contacts

    async def work(db: Database) -> tuple[list[dict], int]:
        async with db.reader() as s:
            page = await search_contacts(
                s,
                Viewer("admin"),
                q=text,
                per_page=limit or 2**31 - 1,
                region=app.settings.default_region,
            )
            rows = [
                {
                    "id": c.id,
                    "phone": c.phone,
                    "name": c.name,
                    "responsible": c.responsible,
                    "since": local_time(app, c.created_at),
                }
                for c in page.items
            ]
            return rows, page.total

    rows, total = run(work, app)
    emit_rows(app, rows, "no contacts found")
    note_shown(len(rows), total)


@contacts_group.command("rename")
@click.argument("contact")
@click.argument("name")
@pass_app
def contact_rename(app: AppContext, contact: str, name: str) -> None:
    """Give CONTACT (phone number or #id) a new NAME."""
    from crm import contacts

    async def work(db: Database) -> tuple[int, str | None]:
        async with db.transaction() as s:
            row = await contacts.get_contact(s, contact, app.settings.default_region)
            await contacts.rename_contact(s, row, name)
            return row.id, row.name

    contact_id, new_name = run(work, app)
    click.echo(f"contact #{contact_id} is now {new_name!r}")


@contacts_group.command("merge")
@click.argument("keep")
@click.argument("other")
@click.option(
    "--responsible",
    default=None,
    help="Who owns the merged client (default: KEEP's responsible, else OTHER's).",
)
@pass_app
def contact_merge_cmd(app: AppContext, keep: str, other: str, responsible: str | None) -> None:
    """Fold OTHER into KEEP (phone numbers or #ids), one client entered twice: OTHER's deals,
    tasks and calls move to KEEP, then OTHER is deleted — all or nothing. KEEP keeps its phone
    and name (OTHER's name when it has none); the open deals and their tasks follow the
    merged client's responsible."""
    from crm import contact_merge, contacts, staff
    from models.tables import Manager

    region = app.settings.default_region

    async def work(db: Database) -> tuple[int, str, contact_merge.Merged, str | None]:
        async with db.transaction() as s:
            kept = await contacts.get_contact(s, keep, region)
            gone = await contacts.get_contact(s, other, region)
            person = (
                await staff.get_manager(s, responsible, app.settings.endpoint_technology)
                if responsible
                else None
            )
            gone_phone = gone.phone
            merged = await contact_merge.merge_contacts(
                s,
                kept,
                gone,
                responsible=person,
                closed_statuses=app.settings.leads.closed_statuses,
                now=app.now(),
            )
            owner = await s.get(Manager, merged.responsible_id) if merged.responsible_id else None
            return kept.id, gone_phone, merged, owner.name if owner else None

    kept_id, gone_phone, merged, owner = run(work, app)
    click.echo(
        f"{gone_phone} merged into contact #{kept_id}: moved {merged.deals} deal(s), "
        f"{merged.tasks} task(s), {merged.calls} call(s); responsible: {owner or '(nobody)'}"
        + (
            f"; {merged.cancelled_callbacks} duplicate call-back task(s) cancelled"
            if merged.cancelled_callbacks
            else ""
        )
    )


@contacts_group.command("delete")
@click.argument("contact")
@click.option(
    "--force",
    is_flag=True,
    help="Delete it even with deals (they go with it) and calls (kept, no longer linked).",
)
@pass_app
def contact_delete(app: AppContext, contact: str, force: bool) -> None:
    """Delete CONTACT (phone number or #id). One with deals or calls is refused without
    --force: merge a duplicate into the real contact instead (`contacts merge`)."""
    from crm import contact_merge, contacts

    async def work(db: Database) -> tuple[int, str, contact_merge.Held]:
        async with db.transaction() as s:
            row = await contacts.get_contact(s, contact, app.settings.default_region)
            contact_id, phone = row.id, row.phone
            held = await contact_merge.delete_contact(s, row, force=force)
            return contact_id, phone, held

    contact_id, phone, held = run(work, app)
    extra = (
        f" with {held.deals} deal(s); {held.calls} call(s) kept without a contact"
        if held.anything
        else ""
    )
    click.echo(f"contact #{contact_id} {phone} deleted{extra}")


@contacts_group.command("show")
@click.argument("contact")
@json_option
@pass_app
def contact_show(app: AppContext, contact: str) -> None:
    """The contact card (CONTACT: phone number or #id): phones, responsible manager, every deal,
    every call with its recording."""
    from crm import contacts, views

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
