"""`callrouter rules …`: automation rules."""

from __future__ import annotations

import click

from crm import automation
from crm.tasks import parse_task_type
from models.db import Database
from models.errors import InputError

from .common import AppContext, emit_rows, json_option, parse_duration, pass_app, run


@click.group("rules")
def rules_group() -> None:
    """When a deal enters a status, give its responsible manager a task."""


@rules_group.command("add")
@click.option("--on-status", required=True, help="The deal status that fires the rule.")
@click.option("--type", "task_type", required=True, help="call | meeting | email")
@click.option("--due-after", required=True, help="Deadline after the change: 30m, 2h, 1d.")
@click.option(
    "--comment",
    required=True,
    help="Fields: " + ", ".join("{" + f + "}" for f in automation.TEMPLATE_FIELDS),
)
@click.option("--name", default="", help="A name for the rule (shown in lists).")
@pass_app
def rule_add(
    app: AppContext, on_status: str, task_type: str, due_after: str, comment: str, name: str
) -> None:
    """Add a rule: a deal entering --on-status gets a task for its responsible manager."""
    kind = parse_task_type(task_type)
    delay = parse_duration(due_after)

    async def work(db: Database) -> int:
        async with db.transaction() as s:
            rule = await automation.add_rule(
                s,
                name=name,
                on_status=on_status.strip().lower().replace(" ", "_"),
                task_type=kind,
                due_after=delay,
                comment=comment,
                statuses=app.settings.leads.deal_statuses,
            )
            return rule.id

    click.echo(f"rule #{run(work, app)} added")


@rules_group.command("list")
@json_option
@pass_app
def rule_list(app: AppContext) -> None:
    """The automation rules."""

    async def work(db: Database) -> list[dict]:
        async with db.reader() as s:
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "on_status": r.on_status,
                    "task": r.task_type,
                    "due_after_min": r.due_after_minutes,
                    "comment": r.comment_template,
                    "active": r.active,
                }
                for r in await automation.list_rules(s)
            ]

    emit_rows(app, run(work, app), "no rules")


@rules_group.command("remove")
@click.argument("rule_id", type=int)
@pass_app
def rule_remove(app: AppContext, rule_id: int) -> None:
    """Remove automation rule RULE_ID."""
    if rule_id <= 0:
        raise InputError(f"no automation rule #{rule_id}")

    async def work(db: Database) -> None:
        async with db.transaction() as s:
            await automation.remove_rule(s, rule_id)

    run(work, app)
    click.echo(f"rule #{rule_id} removed")
