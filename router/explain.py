"""Human-readable routing plans for `callrouter route explain`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from router.plan import RoutePlan, Target
from router.schedule import RingSchedule, ring_schedule


def _who(target: Target) -> str:
    return f"{target.name} ({target.endpoint})" if target.name else target.endpoint


def _moment(at: datetime, timezone: str) -> str:
    local = at.astimezone(ZoneInfo(timezone))
    return f"{local:%Y-%m-%d %H:%M %a} ({timezone})"


def format_plan(plan: RoutePlan, timezone: str | None = None, warnings: Sequence[str] = ()) -> str:
    """The plan step by step with the reason for each, then when each phone starts ringing (its
    offset in seconds from the first ring), as plain text lines (no trailing newline).

    Says which department the call was for and why, and the moment the plan was made for in
    `timezone` (default: the department's), and the department's own time when it differs;
    `warnings` come right after, one `Warning:` line each."""
    caller = plan.call.caller or "anonymous"
    head = f"Plan {plan.id} for {caller}"
    if plan.call.did:
        head += f" calling {plan.call.did}"
    lines = [head]
    choice = plan.department
    zone = choice.department.hours.timezone if choice and choice.department else None
    if plan.at is not None:
        shown = timezone or zone or "UTC"
        moment = f"Evaluated at {_moment(plan.at, shown)}"
        if zone is not None and zone != shown:
            moment += f", {_moment(plan.at, zone)} for the department"
        lines.append(moment)
    if choice is not None:
        lines.append(f"Department: {choice.name or 'none'} ({choice.why})")
    lines.extend(f"Warning: {warning}" for warning in warnings)
    lines.append(
        f"Lead: {plan.lead.value}" + (f", contact #{plan.contact_id}" if plan.contact_id else "")
    )
    if plan.after_hours:
        lines.append(f"After hours: {plan.reason}. The dialplan plays the after-hours message;")
        lines.append("the call is recorded as an after-hours missed call.")
        return "\n".join(lines)
    if not plan.steps:
        lines.append(f"No one to ring: {plan.reason}. The dialplan's static fallback runs.")
        return "\n".join(lines)
    lines.append(f"Why: {plan.reason}")
    elapsed = 0
    for step in plan.steps:
        start, elapsed = elapsed, elapsed + step.timeout
        who = ", ".join(_who(t) for t in step.targets)
        lines.append(f"Step {step.number} [{step.kind.value}] {start}-{elapsed} s: {who}")
        lines.append(f"    why: {step.reason}")
    lines.extend(_ring_lines(ring_schedule(plan)))
    lines.append(
        f"Total ring time {plan.total_seconds} s. At run time a phone that is unavailable, busy, "
        "in use or ringing for another call is skipped, checked when its own step starts (a "
        "phone that becomes free later is not added); a first step left empty is skipped at "
        "once and the next starts then."
    )
    return "\n".join(lines)


def _ring_lines(schedule: RingSchedule) -> list[str]:
    """`Who rings when`: each Dial, each phone once with the second it starts ringing."""
    many = len(schedule.dials) > 1
    lines = [
        "Who rings when (each phone rings once"
        + (" per Dial" if many else "")
        + ", without a break, until someone answers, the caller hangs up or the time is up):"
    ]
    for index, dial in enumerate(schedule.dials, 1):
        if many:
            stop = "" if index == 1 else "; the phones before stop (keep_ringing off)"
            lines.append(f"  Dial {index}, {dial.start}-{dial.start + dial.timeout} s{stop}:")
        for ring in sorted(dial.rings, key=lambda ring: ring.offset):
            at = dial.start + ring.offset
            line = f"    from {at} s: {_who(ring.target)}, step {ring.step.number}"
            if ring.early:
                line += (
                    f" (its step starts at {dial.start + ring.due} s, but this endpoint cannot "
                    "wait in a Local leg: it rings from the start)"
                )
            lines.append(line)
    return lines
