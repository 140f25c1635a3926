"""`callrouter tasks …`.

`tasks list` reads through crm/lists.py and loads no SQLAlchemy (issue #17, fast listings): the
other commands import the ORM's modules themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from crm import lists
from models.errors import InputError, MissingField
from models.values import TaskStatus

from .common import (
    AppContext,
    emit_rows,
    json_option,
    local_time,
    parse_when,
    pass_app,
    read,
    run,
)
from .limits import limit_options, note_shown

if TYPE_CHECKING:
    from models.db import Database
    from models.direct import Reader


@click.group("tasks")
def tasks_group() -> None:
    """Tasks: a person, a deadline, a type (call | meeting | email) and a comment, always."""


@tasks_group.command("add")
@click.option("--deal", "deal_id", type=int, default=None, help="The deal the task is for (#id).")
@click.option("--responsible", default=None, help="Manager id, extension, endpoint or name.")
@click.option("--due", default=None, help="YYYY-MM-DD, 'YYYY-MM-DD HH:MM', +30m, +2h, +1d.")
@click.option("--type", "task_type", default=None, help="call | meeting | email")
@click.option("--comment", default=None, help="What to do, in words.")
@click.option("--by", "author", default=None, help="Who sets the task (a manager).")
@click.option(
    "--allow-past", is_flag=True, help="Accept a deadline already gone (record overdue work)."
)
@pass_app
def task_add(
    app: AppContext,
    deal_id: int | None,
    responsible: str | None,
    due: str | None,
    task_type: str | None,
    comment: str | None,
    author: str | None,
    allow_past: bool,
) -> None:
    """Give a manager a task on a deal: every option is required but --by."""
    from crm import deals, staff, tasks

    # Name every missing field up front, before touching the database.
    for value, name in [
        (deal_id, "deal (--deal)"),
        (responsible, "responsible manager (--responsible)"),
        (due, "deadline (--due)"),
        (task_type, "type (--type)"),
        (comment, "comment (--comment)"),
    ]:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise MissingField(name)
    now = app.now()
    due_at = parse_when(due or "", app.tz, now)
    kind = tasks.parse_task_type(task_type)

    async def work(db: Database) -> int:
        tech = app.settings.endpoint_technology
        async with db.transaction() as s:
            task = await tasks.add_task(
                s,
                deal=await deals.get_deal(s, deal_id or 0),
                responsible=await staff.get_manager(s, responsible or "", tech),
                due_at=due_at,
                task_type=kind,
                comment=comment,
                created_by_manager=await staff.get_manager(s, author, tech) if author else None,
                now=now,
                allow_past=allow_past,
            )
            return task.id

    click.echo(f"task #{run(work, app)} added, due {local_time(app, due_at)}")


@tasks_group.command("list")
@click.option("--mine", "mine", default=None, metavar="MANAGER", help="Tasks of this manager.")
@click.option("--manager", default=None, help="Same as --mine.")
@click.option("--overdue", is_flag=True, help="Open tasks past their deadline.")
@click.option(
    "--status",
    type=click.Choice(["open", "done", "cancelled", "all"]),
    default="open",
    show_default=True,
    help="Which tasks.",
)
@click.option(
    "--at",
    "at_text",
    default=None,
    help="Overdue as of this moment: 'YYYY-MM-DD HH:MM' (company time); default now.",
)
@limit_options(500)
@json_option
@pass_app
def task_list(
    app: AppContext,
    mine: str | None,
    manager: str | None,
    overdue: bool,
    status: str,
    at_text: str | None,
    limit: int | None,
) -> None:
    """Tasks, soonest deadline first."""
    who = mine or manager
    as_of = parse_when(at_text, app.tz, app.now()) if at_text else app.now()

    def work(reader: Reader) -> lists.Page:
        return lists.list_tasks(
            reader,
            manager_id=lists.manager_id(reader, who) if who else None,
            overdue_at=as_of if overdue else None,
            status=None if status == "all" else TaskStatus(status),
            limit=limit,
        )

    page = read(work, app)
    shown = [
        {
            "id": t["id"],
            "deal": t["deal_id"],
            "type": t["type"],
            "due": local_time(app, t["due_at"]),
            "overdue": t["status"] == "open" and t["due_at"] < as_of,
            "responsible": t["responsible"],
            "status": t["status"],
            "comment": t["comment"],
        }
        for t in page.rows
    ]
    emit_rows(app, shown, "no tasks")
    note_shown(len(shown), page.total)


def _close(app: AppContext, task_id: int, status: TaskStatus, reason: str) -> None:
    from crm import tasks

    async def work(db: Database) -> None:
        async with db.transaction() as s:
            task = await tasks.get_task(s, task_id)
            await tasks.close_task(s, task, status=status, reason=reason, now=app.now())

    run(work, app)
    click.echo(f"task #{task_id} {status.value}")


@tasks_group.command("done")
@click.argument("task_id", type=int)
@click.option("--reason", default="done by hand", show_default=True, help="Why it is closed.")
@pass_app
def task_done(app: AppContext, task_id: int, reason: str) -> None:
    """Close task TASK_ID as done."""
    _close(app, task_id, TaskStatus.DONE, reason)


@tasks_group.command("cancel")
@click.argument("task_id", type=int)
@click.option(
    "--reason", default="cancelled by hand", show_default=True, help="Why it is cancelled."
)
@pass_app
def task_cancel(app: AppContext, task_id: int, reason: str) -> None:
    """Cancel task TASK_ID."""
    _close(app, task_id, TaskStatus.CANCELLED, reason)


@tasks_group.command("edit")
@click.argument("task_id", type=int)
@click.option("--comment", default=None, help="The new comment.")
@click.option("--type", "task_type", default=None, help="The new type: call | meeting | email.")
@pass_app
def task_edit(app: AppContext, task_id: int, comment: str | None, task_type: str | None) -> None:
    """Change an open task's comment or type (its deadline: `tasks reschedule`; its person:
    `tasks reassign`)."""
    if comment is None and task_type is None:
        raise InputError("nothing to change: give --comment and/or --type")
    from crm import tasks

    kind = tasks.parse_task_type(task_type) if task_type is not None else None

    async def work(db: Database) -> list[str]:
        async with db.transaction() as s:
            task = await tasks.get_task(s, task_id)
            return await tasks.edit_task(s, task, comment=comment, task_type=kind)

    changed = run(work, app)
    click.echo(
        f"task #{task_id}: {' and '.join(changed)} changed"
        if changed
        else f"task #{task_id}: nothing changed"
    )


@tasks_group.command("reassign")
@click.argument("task_id", type=int)
@click.argument("manager")
@pass_app
def task_reassign(app: AppContext, task_id: int, manager: str) -> None:
    """Give open task TASK_ID to MANAGER (id, extension, endpoint or name). The client's
    responsible stays who it is: to move the client with its work, `deals assign`."""
    from crm import staff, tasks

    async def work(db: Database) -> tuple[str, bool]:
        async with db.transaction() as s:
            task = await tasks.get_task(s, task_id)
            person = await staff.get_manager(s, manager, app.settings.endpoint_technology)
            return person.name, await tasks.reassign_task(s, task, person)

    name, moved = run(work, app)
    click.echo(
        f"task #{task_id} is now {name}'s" if moved else f"task #{task_id} is already {name}'s"
    )


@tasks_group.command("reschedule")
@click.argument("task_id", type=int)
@click.option(
    "--due",
    required=True,
    help="The new deadline: YYYY-MM-DD, DD.MM.YYYY, "
    "'YYYY-MM-DD HH:MM', +30m, +2h, +1d, today, tomorrow.",
)
@click.option("--reason", required=True, help="Why it moves (kept as a note on the deal).")
@click.option("--by", "author", default=None, help="Who moves it (a manager).")
@pass_app
def task_reschedule(
    app: AppContext, task_id: int, due: str, reason: str, author: str | None
) -> None:
    """Move open task TASK_ID to a new deadline; the reason is kept on the deal as a
    'reschedule' note ("#12 01.12 10:00 → 02.12 15:00: <reason>")."""
    if not reason.strip():
        raise MissingField("reason (--reason)", "rescheduled task")
    from crm import staff, tasks

    now = app.now()
    due_at = parse_when(due, app.tz, now)

    async def work(db: Database) -> None:
        async with db.transaction() as s:
            task = await tasks.get_task(s, task_id)
            by = (
                await staff.get_manager(s, author, app.settings.endpoint_technology)
                if author
                else None
            )
            await tasks.reschedule_task(
                s,
                task,
                due_at=due_at,
                reason=reason,
                now=now,
                tz=app.tz,
                author_manager_id=by.id if by else None,
            )

    run(work, app)
    click.echo(f"task #{task_id} now due {local_time(app, due_at)}")
