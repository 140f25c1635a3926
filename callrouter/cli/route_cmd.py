"""`callrouter route explain`: the plan a call would get, without making a call."""

from __future__ import annotations

import click

from core.phones import try_normalize_phone
from models.db import Database
from models.directory import find_contact_view, load_directory
from router.departments import department_warnings
from router.directory import ContactView, Directory
from router.explain import format_plan
from router.plan import IncomingCall, plan
from router.schedule import ring_schedule
from router.settings import policy_from_settings

from .common import AppContext, emit_object, json_option, parse_when, pass_app, run


@click.group("route")
def route_group() -> None:
    """Routing: check the escalation set-up."""


@route_group.command("explain")
@click.option("--caller", required=True, help="The caller's number as Asterisk would show it.")
@click.option(
    "--did", default="", help="The number dialled (picks the department whose line it is)."
)
@click.option(
    "--at", "at_text", default=None, help="When: 'YYYY-MM-DD HH:MM' (company time); default now."
)
@json_option
@pass_app
def route_explain(app: AppContext, caller: str, did: str, at_text: str | None) -> None:
    """Print the plan step by step with the reasons: which department, when, who rings, and the
    second each phone starts ringing."""
    settings = app.settings
    at = parse_when(at_text, app.tz, app.now()) if at_text else app.now()
    number = try_normalize_phone(caller, settings.default_region)
    # Matched as the router matches the number Asterisk reports: E.164 when it is a number.
    dialled = (try_normalize_phone(did, settings.default_region) or did.strip())[:32]

    async def work(db: Database) -> tuple[Directory, ContactView | None]:
        async with db.reader() as s:
            directory = await load_directory(s)
            contact = await find_contact_view(s, number) if number else None
            return directory, contact

    directory, contact = run(work, app)
    policy = policy_from_settings(settings.routing)
    call = IncomingCall(uniqueid="explain", caller=number, caller_name="", did=dialled)
    route = plan(call, directory, contact, at, policy)
    warnings = department_warnings(directory, at, policy.department_id)
    schedule = ring_schedule(route)
    choice = route.department
    department = choice.department if choice is not None else None
    data = {
        "caller": number,
        "did": dialled,
        "at": at.astimezone(app.tz).isoformat(),
        "department": {
            "id": department.id if department else None,
            "name": department.name if department else None,
            "basis": choice.basis.value if choice else None,
            "why": choice.why if choice else None,
        },
        "warnings": list(warnings),
        "lead": route.lead.value,
        "contact_id": route.contact_id,
        "after_hours": route.after_hours,
        "reason": route.reason,
        "steps": [
            {
                "number": s.number,
                "kind": s.kind.value,
                "timeout": s.timeout,
                "targets": list(s.endpoints),
                "keep_ringing": s.keep_ringing,
                "reason": s.reason,
            }
            for s in route.steps
        ],
        # Each phone once per Dial: the second it starts ringing, counted from the first ring.
        "rings": [
            {
                "endpoint": ring.endpoint,
                "name": ring.target.name or None,
                "manager_id": ring.target.manager_id,
                "step": ring.step.number,
                "starts_at": second,
                "dial": dial_number,
            }
            for dial_number, dial in enumerate(schedule.dials, 1)
            for second, ring in sorted(
                ((dial.start + r.offset, r) for r in dial.rings), key=lambda pair: pair[0]
            )
        ],
        "total_seconds": route.total_seconds,
    }
    emit_object(app, data, lambda: format_plan(route, settings.timezone, warnings))
