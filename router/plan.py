"""Pure routing: from an incoming call, the directory and the caller's contact, a `RoutePlan`.

No I/O and no clock: the moment of the call is an argument. Device states are not known here;
the executor drops busy phones at run time, the plan only leaves out who cannot work now
(inactive, off shift) and who must rest (once the responsible manager has had his own step the
department step is for the others; a step whose `keep_ringing` is off does not ring the
responsible manager again right after his step).

Each step lists every phone that rings during it: with `keep_ringing` (the default for every
step after the first) those of the step before plus its own. `router/schedule.py` turns the
steps into the ring schedule: one Dial per run of `keep_ringing` steps, each phone in it once,
from the offset of the step that added it.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from router.departments import DepartmentChoice, choose_department
from router.directory import ContactView, Department, Directory, Manager, Role
from router.policy import DEFAULT_POLICY, RoutingPolicy, StepKind, StepRule


class LeadStatus(enum.StrEnum):
    NEW = "new"  # a number the CRM has never seen: whoever answers takes the lead
    EXISTING = "existing"  # a known contact
    NONE = "none"  # no usable number (anonymous, garbage): no lead can be made


@dataclass(frozen=True)
class IncomingCall:
    uniqueid: str  # the caller channel's Asterisk uniqueid; becomes the plan id
    caller: str | None  # E.164, or None when anonymous or not a phone number
    caller_name: str = ""
    # The number the caller dialled: E.164 when it is a phone number (departments' lines are
    # matched on it), else as Asterisk sent it.
    did: str = ""


@dataclass(frozen=True)
class Target:
    endpoint: str  # the Asterisk dial string of one phone, "PJSIP/101"
    manager_id: int | None = None  # None for fallback targets
    name: str = ""


@dataclass(frozen=True)
class EscalationStep:
    number: int  # 1-based position in the plan
    kind: StepKind
    targets: tuple[Target, ...]
    timeout: int  # seconds
    reason: str
    # The phones of the step before keep ringing into this one (same Dial); off: a new Dial
    # starts here and only `targets` ring. The first step has nothing to keep.
    keep_ringing: bool = True

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(target.endpoint for target in self.targets)


@dataclass(frozen=True)
class RoutePlan:
    """What to ring, in which order, and why. `steps` is empty only after hours or with nobody."""

    id: str
    call: IncomingCall
    lead: LeadStatus
    contact_id: int | None
    steps: tuple[EscalationStep, ...]
    after_hours: bool = False
    reason: str = ""
    # Which department the call is for and why: its managers, its head, its hours.
    department: DepartmentChoice | None = None
    at: datetime | None = None  # the moment the plan was made for

    @property
    def total_seconds(self) -> int:
        return sum(step.timeout for step in self.steps)

    def manager_for(self, endpoint: str) -> int | None:
        """The manager behind `endpoint` in this plan (None for fallback targets and strangers)."""
        for step in self.steps:
            for target in step.targets:
                if target.endpoint == endpoint:
                    return target.manager_id
        return None


def plan(
    call: IncomingCall,
    directory: Directory,
    contact: ContactView | None,
    now: datetime,
    policy: RoutingPolicy = DEFAULT_POLICY,
    plan_id: str | None = None,
) -> RoutePlan:
    """Build the escalation for `call` at `now` (timezone-aware).

    Guarantees: no step is empty; the responsible manager is never in two steps in a row; the
    last step includes an available owner (when the policy ends with the owner step) or else the
    fallback targets (when there are any); a non-empty plan's timeouts add up to `policy.total_seconds` (the time of a
    skipped step goes to the last step, so the caller rings as long as configured).

    For many calls on one directory, `Planner(directory, policy).plan(...)` gives the same plans
    and works each set of steps out once.
    """
    return Planner(directory, policy).plan(call, contact, now, plan_id)


# Distinct department choices and step sets a Planner keeps; past that it starts again (a
# directory has a few departments and managers; only dialled numbers vary without bound).
_MEMO_LIMIT = 1024


class Planner:
    """`plan()` for one directory snapshot and policy, for call after call.

    A plan's steps follow from the department, the responsible manager and who is available
    now: the same for most calls until the directory changes. They are worked out once per such
    combination and the same `steps` tuple is handed out again, so what is derived from the
    steps (the ring schedule, the Dial strings) can be kept per tuple too. Who is available is
    still asked per call (`Manager.on_shift(now)` for managers with a shift of their own).
    """

    def __init__(self, directory: Directory, policy: RoutingPolicy = DEFAULT_POLICY) -> None:
        self.directory = directory
        self.policy = policy
        self._managers: dict[int, Manager] = {}
        for manager in directory.managers:
            self._managers.setdefault(manager.id, manager)  # the first, as Directory.manager
        # Active managers whose availability depends on the moment (their own shift).
        self._shifted = tuple(m for m in directory.managers if m.active and m.shift is not None)
        self._choices: dict[str, DepartmentChoice] = {}
        self._steps: dict[tuple[object, ...], tuple[EscalationStep, ...]] = {}

    def plan(
        self,
        call: IncomingCall,
        contact: ContactView | None,
        now: datetime,
        plan_id: str | None = None,
    ) -> RoutePlan:
        """As `plan(call, self.directory, contact, now, self.policy, plan_id)`."""
        lead = _lead_status(call, contact)
        contact_id = contact.id if contact is not None else None
        pid = plan_id or call.uniqueid or _derived_id(call, now)
        choice = self._choice(call.did)
        department = choice.department
        if department is not None and not department.hours.is_open(now):
            reason = f"{department.name} is closed"
            return RoutePlan(
                pid, call, lead, contact_id, (), True, reason, department=choice, at=now
            )
        responsible = self._responsible(contact, now)
        steps = self._steps_for(department, responsible, now)
        reason = (
            _why(lead, contact, responsible)
            if steps
            else "nobody can be rung: no available manager and no fallback targets"
        )
        return RoutePlan(pid, call, lead, contact_id, steps, False, reason, choice, now)

    def _choice(self, did: str) -> DepartmentChoice:
        choice = self._choices.get(did)
        if choice is None:
            choice = choose_department(self.directory, did, self.policy.department_id)
            if len(self._choices) >= _MEMO_LIMIT:
                self._choices.clear()
            self._choices[did] = choice
        return choice

    def _responsible(self, contact: ContactView | None, now: datetime) -> Manager | None:
        if contact is None or contact.responsible_manager_id is None:
            return None
        manager = self._managers.get(contact.responsible_manager_id)
        return manager if _available(manager, now) else None

    def _steps_for(
        self, department: Department | None, responsible: Manager | None, now: datetime
    ) -> tuple[EscalationStep, ...]:
        # Identities are safe keys: the department and the manager belong to self.directory.
        key: tuple[object, ...] = (id(department), id(responsible))
        if self._shifted:
            key += tuple(m.on_shift(now) for m in self._shifted)
        steps = self._steps.get(key)
        if steps is None:
            steps = _build_steps(self.directory, self.policy, department, responsible, now)
            if len(self._steps) >= _MEMO_LIMIT:
                self._steps.clear()
            self._steps[key] = steps
        return steps


def _lead_status(call: IncomingCall, contact: ContactView | None) -> LeadStatus:
    if contact is not None:
        return LeadStatus.EXISTING
    return LeadStatus.NEW if call.caller else LeadStatus.NONE


def _derived_id(call: IncomingCall, now: datetime) -> str:
    seed = f"{call.caller}|{call.did}|{now.isoformat()}".encode()
    return "plan-" + hashlib.sha256(seed).hexdigest()[:16]


def _available(manager: Manager | None, now: datetime) -> bool:
    return manager is not None and manager.active and manager.on_shift(now)


def _target(manager: Manager) -> Target:
    return Target(manager.endpoint, manager.id, manager.name)


@dataclass(frozen=True)
class _Staff:
    """Who can be rung at `now`, by role, each list in id order: worked out once per plan."""

    department: tuple[Target, ...]  # the department's managers (all managers with no department)
    heads: tuple[Target, ...]  # its heads and those of no department; else every head
    owners: tuple[Target, ...]

    @classmethod
    def at(cls, directory: Directory, department: Department | None, now: datetime) -> _Staff:
        members: list[Target] = []
        heads: list[Target] = []
        other_heads: list[Target] = []  # heads of other departments: when it has none
        owners: list[Target] = []
        for manager in sorted(directory.managers, key=lambda m: m.id):
            if not _available(manager, now):
                continue
            ours = department is None or manager.department_id == department.id
            if manager.role is Role.MANAGER:
                if ours:
                    members.append(_target(manager))
            elif manager.role is Role.HEAD_OF_SALES:
                if ours or manager.department_id is None:
                    heads.append(_target(manager))
                else:
                    other_heads.append(_target(manager))
            elif manager.role is Role.OWNER:
                owners.append(_target(manager))
        return cls(tuple(members), tuple(heads or other_heads), tuple(owners))


def _rule_targets(
    rule: StepRule, staff: _Staff, responsible: Manager | None, had_turn: bool
) -> list[Target]:
    """Who a rule brings in on its own (before accumulation and rest)."""
    if rule.kind is StepKind.RESPONSIBLE:
        return [_target(responsible)] if responsible is not None else []
    if rule.kind is StepKind.DEPARTMENT:
        if responsible is not None and had_turn:
            # The responsible manager had a turn alone; the department step is for the others.
            return [t for t in staff.department if t.manager_id != responsible.id]
        return list(staff.department)
    return list(staff.heads if rule.kind is StepKind.HEAD_OF_SALES else staff.owners)


def _dedupe(targets: list[Target]) -> tuple[Target, ...]:
    seen: dict[str, Target] = {}
    for target in targets:
        seen.setdefault(target.endpoint, target)
    return tuple(seen.values())


_REASONS = {
    StepKind.RESPONSIBLE: "the client's responsible manager alone",
    StepKind.DEPARTMENT: "the department rings at once; the first to answer takes the call",
    StepKind.HEAD_OF_SALES: "the head of sales is added",
    StepKind.OWNER: "the owner is added for the last timeout",
}


def _reason(kind: StepKind, keep: bool) -> str:
    if keep:
        return _REASONS[kind] + "; the phones already ringing keep ringing"
    return _REASONS[kind]


def _build_steps(
    directory: Directory,
    policy: RoutingPolicy,
    department: Department | None,
    responsible: Manager | None,
    now: datetime,
) -> tuple[EscalationStep, ...]:
    kept: list[EscalationStep] = []
    skipped_seconds = 0
    had_turn = False  # the responsible manager has had a step of his own
    staff = _Staff.at(directory, department, now)
    resting = responsible.endpoint if responsible is not None else None
    ringing: list[Target] = []  # what rings once the rules so far have started
    for rule in policy.rules:
        own = _rule_targets(rule, staff, responsible, had_turn)
        # A skipped step without keep_ringing still stops what was ringing: `ringing` is empty.
        keep = rule.keep_ringing and bool(ringing)
        if keep:
            # Those already ringing go on ringing; this step's own phones are added.
            targets = [*ringing, *own]
        else:
            targets = own
            # A new Dial: the responsible manager does not ring again right after his turn.
            if resting is not None and resting in (t.endpoint for t in ringing):
                targets = [t for t in targets if t.endpoint != resting]
        ringing = targets
        if not targets:
            skipped_seconds += rule.timeout
            continue
        kept.append(
            EscalationStep(
                len(kept) + 1,
                rule.kind,
                _dedupe(targets),
                rule.timeout,
                _reason(rule.kind, keep),
                keep,
            )
        )
        had_turn = had_turn or rule.kind is StepKind.RESPONSIBLE
    kept = _end_with_owner_or_fallback(kept, staff, policy, resting)
    if not kept:
        if not policy.fallback_targets:
            return ()
        kept = [_fallback_step(1, policy, 0, "nobody from the directory can be rung")]
        skipped_seconds = policy.total_seconds
    last = kept[-1]
    kept[-1] = replace(last, timeout=last.timeout + skipped_seconds)
    return tuple(kept)


def _fallback_step(number: int, policy: RoutingPolicy, timeout: int, why: str) -> EscalationStep:
    targets = tuple(Target(endpoint) for endpoint in policy.fallback_targets)
    reason = f"fallback targets: {why}"
    return EscalationStep(number, StepKind.FALLBACK, targets, timeout, reason, keep_ringing=False)


def _end_with_owner_or_fallback(
    kept: list[EscalationStep],
    staff: _Staff,
    policy: RoutingPolicy,
    resting: str | None,
) -> list[EscalationStep]:
    """The last step rings the owner; with no owner available, the fallback targets join it.

    A fallback target that is the resting responsible manager's phone stays out when the step
    before rang it (a fallback list may well name a manager's phone).
    """
    if not kept or not policy.fallback_targets:
        return kept
    owners = {target.endpoint for target in staff.owners}
    last = kept[-1]
    if owners & set(last.endpoints):
        return kept
    rang_before = kept[-2].endpoints if len(kept) > 1 else ()
    extra = tuple(
        Target(endpoint)
        for endpoint in policy.fallback_targets
        if not (endpoint == resting and endpoint in rang_before)
    )
    merged = replace(
        last,
        targets=_dedupe(list(last.targets) + list(extra)),
        reason=last.reason + "; no owner available, the fallback targets are added",
    )
    return [*kept[:-1], merged]


def _why(lead: LeadStatus, contact: ContactView | None, responsible: Manager | None) -> str:
    if responsible is not None:
        return f"known client, responsible manager {responsible.name}"
    if contact is not None:
        if contact.responsible_manager_id is None:
            return "known client without a responsible manager: the department first"
        return "known client whose responsible manager is not working now: the department first"
    if lead is LeadStatus.NEW:
        return "new caller: the department first"
    return "anonymous or unusable caller ID: the department first"
