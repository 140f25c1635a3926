"""`callrouter tasks …`."""

from __future__ import annotations

import click

from crm import deals, staff, tasks
from models.db import Database
from models.errors import MissingField
from models.values import TaskStatus

from .common import AppContext, emit_rows, json_option, local_time, parse_when, pass_app, run


@click.group("tasks")
def tasks_group() -> None:
    """Tasks: a person, a deadline, a type (call | meeting | email) and a comment, always."""


@tasks_group.command("add")
@click.option("--deal", "deal_id", type=int, default=None)
@click.option("--responsible", default=None, help="Manager id, extension, endpoint or name.")
@click.option("--due", default=None, help="YYYY-MM-DD, 'YYYY-MM-DD HH:MM', +30m, +2h, +1d.")
@click.option("--type", "task_type", default=None, help="call | meeting | email")
@click.option("--comment", default=None)
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
@click.option("--status", type=click.Choice(["open", "done", "cancelled", "all"]), default="open")
@click.option(
    "--at",
    "at_text",
    default=None,
    help="Overdue as of this moment: 'YYYY-MM-DD HH:MM' (company time); default now.",
)
@json_option
@pass_app
def task_list(
    app: AppContext,
    mine: str | None,
    manager: str | None,
    overdue: bool,
    status: str,
    at_text: str | None,
) -> None:
    who = mine or manager
    as_of = parse_when(at_text, app.tz, app.now()) if at_text else app.now()

    async def work(db: Database) -> list[dict]:
        async with db.reader() as s:
            person = (
                await staff.get_manager(s, who, app.settings.endpoint_technology) if who else None
            )
            names = {m.id: m.name for m in await staff.list_managers(s)}
            now = as_of
            rows = await tasks.list_tasks(
                s,
                manager=person,
                overdue_at=now if overdue else None,
                status=None if status == "all" else TaskStatus(status),
            )
            return [
                {
                    "id": t.id,
                    "deal": t.deal_id,
                    "type": t.type,
                    "due": local_time(app, t.due_at),
                    "overdue": t.status == "open" and t.due_at < now,
                    "responsible": names.get(t.responsible_manager_id),
                    "status": t.status,
                    "comment": t.comment,
                }
                for t in rows
            ]

    emit_rows(app, run(work, app), "no tasks")


def _close(app: AppContext, task_id: int, status: TaskStatus, reason: str) -> None:
    async def work(db: Database) -> None:
        async with db.transaction() as s:
            task = await tasks.get_task(s, task_id)
            await tasks.close_task(s, task, status=status, reason=reason, now=app.now())

    run(work, app)
    click.echo(f"task #{task_id} {status.value}")


@tasks_group.command("done")
@click.argument("task_id", type=int)
@click.option("--reason", default="done by hand")
@pass_app
def task_done(app: AppContext, task_id: int, reason: str) -> None:
    _close(app, task_id, TaskStatus.DONE, reason)


@tasks_group.command("cancel")
@click.argument("task_id", type=int)
@click.option("--reason", default="cancelled by hand")
@pass_app
def task_cancel(app: AppContext, task_id: int, reason: str) -> None:
    _close(app, task_id, TaskStatus.CANCELLED, reason)
