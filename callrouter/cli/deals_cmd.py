"""`callrouter deals …`: list, the deal card, and status changes that fire automation rules.

`deals list` reads through crm/lists.py and loads no SQLAlchemy (issue #17, fast listings): the
other commands import the ORM's modules themselves."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from crm import lists
from crm.inputs import check_status, parse_source
from models.errors import InputError
from models.values import DealSource

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
from .limits import limit_options, note_shown

if TYPE_CHECKING:
    from crm import views
    from models.db import Database
    from models.direct import Reader


@click.group("deals")
def deals_group() -> None:
    """Deals with statuses and their history."""


@deals_group.command("add")
@click.argument("contact")
@click.option("--title", default=None, help="What the deal is about (shown in lists).")
@click.option("--responsible", default=None, help="Default: the contact's responsible manager.")
@pass_app
def deal_add(app: AppContext, contact: str, title: str | None, responsible: str | None) -> None:
    """Open a deal for CONTACT (phone number or #id)."""
    from crm import contacts, deals, staff

    closed = app.settings.leads.closed_statuses

    async def work(db: Database) -> int:
        async with db.transaction() as s:
            row = await contacts.get_contact(s, contact, app.settings.default_region)
            manager = (
                await staff.get_manager(s, responsible, app.settings.endpoint_technology)
                if responsible
                else None
            )
            deal = await deals.create_deal(
                s, row, source=DealSource.MANUAL, now=app.now(), responsible=manager, title=title
            )
            if manager is not None and row.responsible_manager_id != manager.id:
                # One responsible per client: the contact and its other open deals follow.
                await deals.assign_deal(s, deal, manager, closed_statuses=closed, now=app.now())
            return deal.id

    click.echo(f"deal #{run(work, app)} added")


@deals_group.command("assign")
@click.argument("deal_id", type=int)
@click.argument("manager")
@click.option(
    "--keep-tasks", is_flag=True, help="Leave the open tasks with whoever holds them now."
)
@pass_app
def deal_assign(app: AppContext, deal_id: int, manager: str, keep_tasks: bool) -> None:
    """Make MANAGER responsible for the deal and so for its client: the contact, its open deals
    and their open tasks move together (as `contacts assign`)."""
    from crm import deals, staff

    async def work(db: Database) -> tuple[str, int, int]:
        async with db.transaction() as s:
            deal = await deals.get_deal(s, deal_id)
            person = await staff.get_manager(s, manager, app.settings.endpoint_technology)
            moved = await deals.assign_deal(
                s,
                deal,
                person,
                closed_statuses=app.settings.leads.closed_statuses,
                now=app.now(),
                keep_tasks=keep_tasks,
            )
            return person.name, moved.deals.total(), moved.tasks.total()

    name, deal_count, task_count = run(work, app)
    click.echo(
        f"deal #{deal_id} and its client are now {name}'s; moved: {deal_count} open deal(s), "
        f"{task_count} open task(s)"
    )


@deals_group.command("edit")
@click.argument("deal_id", type=int)
@click.option("--title", default=None, help="The new title ('' removes it).")
@click.option(
    "--responsible",
    default=None,
    help="The new responsible manager: the client moves with its open deals and their tasks "
    "(as `deals assign`).",
)
@click.option(
    "--keep-tasks", is_flag=True, help="With --responsible: leave the open tasks where they are."
)
@pass_app
def deal_edit(
    app: AppContext,
    deal_id: int,
    title: str | None,
    responsible: str | None,
    keep_tasks: bool,
) -> None:
    """Change a deal's title and/or its responsible manager."""
    if title is None and responsible is None:
        raise InputError("nothing to change: give --title and/or --responsible")
    from crm import deals, staff

    async def work(db: Database) -> list[str]:
        said: list[str] = []
        async with db.transaction() as s:
            deal = await deals.get_deal(s, deal_id)
            if title is not None:
                new_title = title.strip() or None
                if new_title != deal.title:
                    deal.title = new_title  # checked by models.limits (length, one line)
                    deal.updated_at = app.now()
                    said.append(f"title {new_title!r}" if new_title else "title removed")
            if responsible is not None:
                person = await staff.get_manager(s, responsible, app.settings.endpoint_technology)
                moved = await deals.assign_deal(
                    s,
                    deal,
                    person,
                    closed_statuses=app.settings.leads.closed_statuses,
                    now=app.now(),
                    keep_tasks=keep_tasks,
                )
                said.append(
                    f"responsible {person.name} (with the client: {moved.deals.total()} open "
                    f"deal(s), {moved.tasks.total()} open task(s) moved)"
                )
            await s.flush()
        return said

    said = run(work, app)
    click.echo(f"deal #{deal_id}: " + ("; ".join(said) if said else "nothing changed"))


@deals_group.command("list")
@click.option("--status", default=None, help="Only deals in this status.")
@click.option("--responsible", default=None, help="Only this manager's deals.")
@click.option("--source", default=None, help="inbound_call | missed_call | manual")
@click.option("--contact", default=None, help="Only this client's deals (phone number or #id).")
@limit_options(200)
@json_option
@pass_app
def deal_list(
    app: AppContext,
    status: str | None,
    responsible: str | None,
    source: str | None,
    contact: str | None,
    limit: int | None,
) -> None:
    """Deals, newest first, with their title and client."""
    leads = app.settings.leads
    status_value = check_status(status, leads.deal_statuses) if status else None
    source_value = parse_source(source) if source else None

    def work(reader: Reader) -> lists.Page:
        region = app.settings.default_region
        return lists.list_deals(
            reader,
            status=status_value,
            manager_id=lists.manager_id(reader, responsible) if responsible else None,
            source=source_value.value if source_value else None,
            contact_id=lists.contact_id(reader, contact, region) if contact else None,
            limit=limit,
        )

    page = read(work, app)
    rows = [
        {
            "id": d["id"],
            "title": d["title"],
            "contact": d["phone"],
            "name": d["name"],
            "status": d["status"],
            "source": d["source"],
            "responsible": d["responsible"],
            "updated": local_time(app, d["updated_at"]),
        }
        for d in page.rows
    ]
    emit_rows(app, rows, "no deals")
    note_shown(len(rows), page.total)


@deals_group.command("show")
@click.argument("deal_id", type=int)
@json_option
@pass_app
def deal_show(app: AppContext, deal_id: int) -> None:
    """The deal card: contact, status history, tasks, calls with their recordings."""
    from crm import views

    async def work(db: Database) -> views.DealCard:
        async with db.reader() as s:
            return await views.deal_card(
                s,
                deal_id,
                recordings_dir=app.settings.recordings_dir,
                min_talk=app.settings.leads.recovery_min_talk_seconds,
            )

    card = run(work, app)
    emit_object(app, _deal_json(card), lambda: _deal_text(app, card))


def _deal_json(card: views.DealCard) -> dict[str, Any]:
    return {
        "id": card.id,
        "title": card.title,
        "status": card.status,
        "source": card.source,
        "responsible": card.responsible,
        "created_at": card.created_at,
        "contact": {"id": card.contact.id, "phone": card.contact.phone, "name": card.contact.name},
        "history": [
            {
                "at": h.at,
                "kind": h.kind,
                "from": h.from_status,
                "to": h.to_status,
                "by": h.by,
                **(
                    {"from_manager": h.from_manager, "to_manager": h.to_manager}
                    if h.kind == "assigned"
                    else {}
                ),
            }
            for h in card.history
        ],
        "tasks": [task_json(t) for t in card.tasks],
        "calls": [call_json(k) for k in card.calls],
    }


def _deal_text(app: AppContext, card: views.DealCard) -> str:
    c = card.contact
    lines = [
        f"Deal #{card.id}{' — ' + card.title if card.title else ''}",
        f"  contact:     {c.name or '(no name)'} {c.phone}",
        f"  status:      {card.status}   source: {card.source}",
        f"  responsible: {card.responsible or '(nobody)'}",
        f"  created:     {local_time(app, card.created_at)}",
        "",
        "Status history:",
    ]
    lines += [
        f"  {local_time(app, h.at)}  "
        + (
            f"responsible {h.from_manager or '(nobody)'} → {h.to_manager or '(nobody)'}"
            if h.kind == "assigned"
            else f"{h.from_status or '—'} → {h.to_status}"
        )
        + f"  by {h.by}"
        for h in card.history
    ]
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
        f"{k.manager or ''} talk {k.talk_seconds:.0f}s" + call_extras_text(k)
        for k in card.calls
    ] or ["  none"]
    return "\n".join(lines)


@deals_group.command("status")
@click.argument("deal_id", type=int)
@click.argument("status")
@click.option("--by", "actor", default=None, help="Who changed it (a manager); default: the CLI.")
@pass_app
def deal_status(app: AppContext, deal_id: int, status: str, actor: str | None) -> None:
    """Move a deal to STATUS; automation rules for that status create their tasks."""
    from crm import deals, staff

    leads = app.settings.leads
    new_status = check_status(status, leads.deal_statuses)

    async def work(db: Database) -> tuple[str, list[int]]:
        async with db.transaction() as s:
            deal = await deals.get_deal(s, deal_id)
            by = (
                await staff.get_manager(s, actor, app.settings.endpoint_technology)
                if actor
                else None
            )
            change, tasks = await deals.set_status(
                s,
                deal,
                new_status,
                statuses=leads.deal_statuses,
                closed_statuses=leads.closed_statuses,
                now=app.now(),
                actor=f"manager:{by.name}" if by else "cli",
                actor_manager=by,
                min_lead=timedelta(minutes=leads.min_lead_minutes),
            )
            return change.from_status or "", [t.id for t in tasks]

    old, task_ids = run(work, app)
    click.echo(f"deal #{deal_id}: {old} → {new_status}")
    for task_id in task_ids:
        click.echo(f"  automation created task #{task_id}")


def call_extras_text(call: views.CallLine) -> str:
    """' recording <path>', ' recording missing: <path>' or ''; then the miss's attempts."""
    text = ""
    if call.recording:
        text = (
            f" recording missing: {call.recording}"
            if call.recording_missing
            else f" recording {call.recording}"
        )
    return text + attempts_text(call.attempts)


def attempts_text(attempts: tuple[int, ...]) -> str:
    """' — 2 short call-back attempts: #5, #7' (nothing when there were none)."""
    if not attempts:
        return ""
    what = (
        "1 short call-back attempt"
        if len(attempts) == 1
        else f"{len(attempts)} short call-back attempts"
    )
    return f" — {what}: " + ", ".join(f"#{a}" for a in attempts)
