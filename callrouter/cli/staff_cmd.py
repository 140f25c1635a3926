"""`callrouter departments …` and `callrouter managers …`."""

from __future__ import annotations

import click

from crm import department_lines, ownership, staff
from models.db import Database
from models.errors import InputError

from .common import AppContext, emit_rows, json_option, local_time, parse_day, pass_app, run
from .users_cmd import manager_set_password


@click.group("departments")
def departments() -> None:
    """Sales departments, their working hours, holidays and lines (DIDs); the default one."""


@departments.command("add")
@click.argument("name")
@click.option("--timezone", default=None, help="IANA time zone (default: the company's).")
@click.option(
    "--hours",
    default=None,
    help="Week schedule, e.g. 'mon-fri 09:00-18:00; sat 10:00-14:00'; 24/7: 'mon-sun "
    "00:00-24:00'; a night shift: 'mon-fri 22:00-06:00' (ends the next morning).",
)
@click.option(
    "--did", "dids", multiple=True, help="A number callers dial to reach it (repeatable)."
)
@pass_app
def department_add(
    app: AppContext, name: str, timezone: str | None, hours: str | None, dids: tuple[str, ...]
) -> None:
    """Add a department; without --hours it is always open."""
    numbers = department_lines.parse_dids(dids, app.settings.default_region)

    async def work(db: Database) -> int:
        async with db.transaction() as s:
            department = await staff.add_department(s, name, timezone or app.settings.timezone)
            if hours:
                await staff.set_hours(s, department, hours)
            for number in numbers:
                await department_lines.add_did(s, department, number)
            return department.id

    click.echo(f"department #{run(work, app)} {name!r} added")


@departments.command("hours")
@click.argument("department")
@click.argument("schedule")
@pass_app
def department_hours(app: AppContext, department: str, schedule: str) -> None:
    """Replace the week schedule: 'mon-fri 09:00-18:00', 'mon-sun 00:00-24:00' (24/7) or
    'mon-fri 22:00-06:00' (a night shift, ending the next morning)."""

    async def work(db: Database) -> None:
        async with db.transaction() as s:
            await staff.set_hours(s, await staff.get_department(s, department), schedule)

    run(work, app)
    click.echo(f"working hours of {department!r} set")


class _HolidayGroup(click.Group):
    """`departments holiday DEPT DAY` (the form of earlier versions) is `holiday add`."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            return "add", self.commands["add"], args
        return super().resolve_command(ctx, args)


@departments.group("holiday", cls=_HolidayGroup)
def department_holiday() -> None:
    """A department's holidays: days it is closed (calls are after-hours all day).

    `departments holiday DEPT DAY` adds one, as `holiday add` does."""


@department_holiday.command("add")
@click.argument("department")
@click.argument("day")
@pass_app
def department_holiday_add(app: AppContext, department: str, day: str) -> None:
    """Mark DAY (YYYY-MM-DD, today, tomorrow) as a holiday: calls that day are after-hours."""
    parsed = parse_day(day, app.now().astimezone(app.tz).date())

    async def work(db: Database) -> None:
        async with db.transaction() as s:
            await staff.add_holiday(s, await staff.get_department(s, department), parsed)

    run(work, app)
    click.echo(f"{parsed.isoformat()} is a holiday of {department!r}")


@department_holiday.command("remove")
@click.argument("department")
@click.argument("day")
@pass_app
def department_holiday_remove(app: AppContext, department: str, day: str) -> None:
    """Make DAY a working day again (its weekday's hours apply)."""
    parsed = parse_day(day, app.now().astimezone(app.tz).date())

    async def work(db: Database) -> None:
        async with db.transaction() as s:
            await staff.remove_holiday(s, await staff.get_department(s, department), parsed)

    run(work, app)
    click.echo(f"{parsed.isoformat()} is no longer a holiday of {department!r}")


@departments.command("rename")
@click.argument("department")
@click.argument("new_name")
@pass_app
def department_rename(app: AppContext, department: str, new_name: str) -> None:
    """Rename a department (name or id); its managers, hours and lines stay."""

    async def work(db: Database) -> tuple[str, str]:
        async with db.transaction() as s:
            row = await staff.get_department(s, department)
            old = await staff.rename_department(s, row, new_name)
            return old, row.name

    old, new = run(work, app)
    click.echo(f"department {old!r} renamed to {new!r}")


@departments.command("delete")
@click.argument("department")
@pass_app
def department_delete(app: AppContext, department: str) -> None:
    """Delete a department with its hours and holidays. Refused while it has active managers
    (move them: managers edit … --department) or lines (departments did remove), and for the
    default department while there are others. Inactive managers keep their history."""

    async def work(db: Database) -> tuple[str, int]:
        async with db.transaction() as s:
            row = await staff.get_department(s, department)
            name = row.name
            return name, await staff.delete_department(s, row)

    name, detached = run(work, app)
    click.echo(f"department {name!r} deleted")
    if detached:
        click.echo(f"  {detached} inactive manager(s) no longer belong to a department")


@departments.command("list")
@json_option
@pass_app
def department_list(app: AppContext) -> None:
    """Every department: hours (24:00 and night shifts as typed), holidays, lines, default."""

    async def work(db: Database) -> list[dict]:
        async with db.reader() as s:
            rows = []
            lines = await department_lines.lines_by_department(s)
            for d in await staff.list_departments(s):
                await s.refresh(d, ["hours", "holidays"])
                week: dict[int, list] = {}
                for h in d.hours:
                    week.setdefault(h.weekday, []).append((h.starts_at, h.ends_at))
                rows.append(
                    {
                        "id": d.id,
                        "name": d.name,
                        "timezone": d.timezone,
                        "hours": staff.format_hours(week) or "always open",
                        "holidays": ", ".join(sorted(h.day.isoformat() for h in d.holidays)),
                        "lines": ", ".join(lines.get(d.id, ())),
                        "default": d.is_default,
                    }
                )
            return rows

    emit_rows(app, run(work, app), "no departments yet")


@departments.command("default")
@click.argument("department")
@pass_app
def department_default(app: AppContext, department: str) -> None:
    """Make DEPARTMENT the one a call to no department's line goes to."""

    async def work(db: Database) -> str:
        async with db.transaction() as s:
            row = await staff.get_department(s, department)
            await department_lines.set_default(s, row)
            return row.name

    click.echo(f"{run(work, app)!r} is the default department")


@departments.group("did")
def department_did() -> None:
    """A department's lines: the numbers callers dial to reach it (DIDs)."""


@department_did.command("add")
@click.argument("department")
@click.argument("number")
@pass_app
def department_did_add(app: AppContext, department: str, number: str) -> None:
    """Make NUMBER (any spelling) ring DEPARTMENT; a number rings one department."""
    did = department_lines.parse_did(number, app.settings.default_region)

    async def work(db: Database) -> str:
        async with db.transaction() as s:
            row = await staff.get_department(s, department)
            await department_lines.add_did(s, row, did)
            return row.name

    click.echo(f"{did} now rings {run(work, app)!r}")


@department_did.command("remove")
@click.argument("department")
@click.argument("number")
@pass_app
def department_did_remove(app: AppContext, department: str, number: str) -> None:
    """Stop NUMBER ringing DEPARTMENT (its calls go to the default department)."""
    did = department_lines.parse_did(number, app.settings.default_region)

    async def work(db: Database) -> str:
        async with db.transaction() as s:
            row = await staff.get_department(s, department)
            await department_lines.remove_did(s, row, did)
            return row.name

    click.echo(f"{did} is no longer a line of {run(work, app)!r}")


@click.group("managers")
def managers() -> None:
    """The people whose phones ring: managers, the head of sales, the owner."""


@managers.command("add")
@click.argument("name")
@click.option(
    "--phone", "endpoint", required=True, help="Extension (101) or endpoint (PJSIP/101, SIP/101)."
)
@click.option("--department", default=None, help="Department name or id.")
@click.option("--role", default="manager", help="manager | head_of_sales | owner")
@click.option("--email", default=None, help="Where the daily report goes (owner, head).")
@pass_app
def manager_add(
    app: AppContext, name: str, endpoint: str, department: str | None, role: str, email: str | None
) -> None:
    """Add a manager NAME with their phone."""
    parsed_endpoint = staff.parse_endpoint(endpoint, app.settings.endpoint_technology)
    parsed_role = staff.parse_role(role)

    async def work(db: Database) -> int:
        async with db.transaction() as s:
            dept = await staff.get_department(s, department) if department else None
            manager = await staff.add_manager(
                s,
                name=name,
                endpoint=parsed_endpoint,
                role=parsed_role,
                department=dept,
                email=email,
            )
            return manager.id

    click.echo(f"manager #{run(work, app)} {name!r} on {parsed_endpoint} added")


@managers.command("list")
@click.option("--active-only", is_flag=True, help="Leave out deactivated managers.")
@json_option
@pass_app
def manager_list(app: AppContext, active_only: bool) -> None:
    """Managers with their phone, role and department."""

    async def work(db: Database) -> list[dict]:
        async with db.reader() as s:
            names = {d.id: d.name for d in await staff.list_departments(s)}
            return [
                {
                    "id": m.id,
                    "name": m.name,
                    "endpoint": m.endpoint,
                    "role": m.role,
                    "department": names.get(m.department_id),
                    "active": m.active,
                    "email": m.email,
                    "since": local_time(app, m.created_at),
                }
                for m in await staff.list_managers(s, include_inactive=not active_only)
            ]

    emit_rows(app, run(work, app), "no managers yet")


@managers.command("edit")
@click.argument("manager")
@click.option("--name", default=None, help="The new name.")
@click.option("--phone", "endpoint", default=None, help="The new extension or endpoint.")
@click.option("--department", default=None, help="The new department (name or id).")
@click.option("--role", default=None, help="manager | head_of_sales | owner")
@click.option("--email", default=None, help="The new e-mail address.")
@click.option("--activate", is_flag=True, help="Bring a deactivated manager back.")
@pass_app
def manager_edit(
    app: AppContext,
    manager: str,
    name: str | None,
    endpoint: str | None,
    department: str | None,
    role: str | None,
    email: str | None,
    activate: bool,
) -> None:
    """Change a manager's name, phone, department, role or e-mail (MANAGER: extension, #id
    or name)."""
    if not any([name, endpoint, department, role, email, activate]):
        raise InputError(
            "nothing to change: give --name, --phone, --department, --role, --email or --activate"
        )
    tech = app.settings.endpoint_technology
    new_endpoint = staff.parse_endpoint(endpoint, tech) if endpoint else None
    new_role = staff.parse_role(role) if role else None

    async def work(db: Database) -> str:
        async with db.transaction() as s:
            # Editing changes one person: a name two managers bear lists both, whatever
            # their state, instead of picking one.
            row = await staff.get_manager(s, manager, tech, prefer_active=False)
            if name is not None:
                row.name = await staff.check_manager_name(s, name, exclude_id=row.id)
            if new_endpoint and new_endpoint != row.endpoint:
                try:
                    other = await staff.get_manager(s, new_endpoint, tech)
                except InputError:
                    other = None
                if other is not None and other.id != row.id:
                    raise InputError(f"endpoint {new_endpoint} already belongs to {other.name!r}")
                row.endpoint = new_endpoint
            if department is not None:
                row.department_id = (await staff.get_department(s, department)).id
            if new_role is not None:
                row.role = new_role.value
            if email is not None:
                row.email = staff.check_email(email)
            if activate and not row.active:
                await staff.check_manager_name(s, row.name, exclude_id=row.id)
                row.active = True
            return row.name

    click.echo(f"manager {run(work, app)!r} updated")


@managers.command("deactivate")
@click.argument("manager")
@click.option("--to", "successor", default=None, metavar="MANAGER", help="Who takes their work.")
@click.option(
    "--redistribute", is_flag=True, help="Share their clients out by the fair rule instead."
)
@pass_app
def manager_deactivate(
    app: AppContext, manager: str, successor: str | None, redistribute: bool
) -> None:
    """Stop ringing a manager (they left or are on leave); their clients, open deals and open
    tasks go to a successor (--to) or by the fair rule (--redistribute), in one transaction.
    Their history stays. Run it again on a deactivated manager who still holds work."""
    tech, leads = app.settings.endpoint_technology, app.settings.leads

    async def work(db: Database) -> ownership.Handover:
        async with db.transaction() as s:
            leaving = await staff.get_manager(s, manager, tech)
            heir = await staff.get_manager(s, successor, tech) if successor else None
            return await ownership.hand_over(
                s,
                leaving,
                successor=heir,
                redistribute=redistribute,
                closed_statuses=leads.closed_statuses,
                now=app.now(),
                actor="cli:deactivate",
            )

    done = run(work, app)
    click.echo(f"manager {done.leaving.name!r} deactivated")
    moved = done.moved
    for target in moved.targets():
        click.echo(
            f"  to {done.names.get(target, f'#{target}')!r}: {moved.contacts[target]} client(s), "
            f"{moved.deals[target]} open deal(s), {moved.tasks[target]} open task(s)"
        )
    if not done.anything:
        click.echo("  they held no clients, open deals or open tasks")


managers.add_command(manager_set_password)
