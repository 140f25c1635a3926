"""Runs a RoutePlan on the caller's channel: device states, one Dial per plan, DIALSTATUS.

One executor for both transports; it only knows the `CallChannel` interface.

The plan rings as its ring schedule (`router/schedule.py`): ONE `EXEC Dial` for the whole
escalation (one per run of `keep_ringing` steps), so no phone already ringing is CANCELled when
the next step adds people. The phones of the Dial's first step are dialled directly, after the
executor's DEVICE_STATE check (the lag rule below); each later phone as a Local leg that waits
for its offset, checks the phone's state itself and then dials it
(`Local/10-PJSIP-102@callrouter-ring-delayed/n`, `core/channels.py`). The phone behind a Local
leg that answers is read back from DIALEDPEERNAME (`Local/10-PJSIP-102@…-00000004;1`).
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from agi_scripts.channel import CallChannel
from agi_scripts.decision import Decision
from agi_scripts.errors import AGIError, AGIHangup
from core import dialplan as var
from core.channels import delayed_ring_target
from core.phonebook import PhoneBook
from router.memo import IdentityMemo
from router.plan import EscalationStep, RoutePlan
from router.schedule import RingDial, ring_schedule

log = logging.getLogger(__name__)

# DEVICE_STATE() values that mean "do not ring this phone now" (the dialplan context of the
# delayed legs applies the same rule: it rings only NOT_INUSE and UNKNOWN).
BUSY_STATES = frozenset(
    {"UNAVAILABLE", "INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD", "INVALID"}
)
# Right after an unanswered Dial the phone it rang may still read RINGING (README lesson 17).
LAGGING_STATE = "RINGING"
# What may go into a Dial string: TECH/resource, nothing that separates targets or options.
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.+@:/-]+")
# Phones asked in one early probe at most: res_agi reads a command into a 2 KiB buffer, and one
# `${DEVICE_STATE(PJSIP/101)},` is ~28 bytes. A bigger office is asked Dial by Dial.
MAX_PROBED_PHONES = 40
# Asked with every batch of device states: Asterisk's clock at the start of a Dial, so the step
# in progress when the caller leaves can be told from `${EPOCH}` read after it.
_CLOCK = "${EPOCH}"


class RouteResult(enum.StrEnum):
    ANSWERED = "ANSWERED"
    CALLER_HANGUP = "CALLER_HANGUP"
    NO_ANSWER = "NO_ANSWER"
    AFTER_HOURS = "AFTER_HOURS"
    FAILED = "FAILED"


_NEXT_STEP = frozenset({"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"})


@dataclass(frozen=True)
class RouteOutcome:
    result: RouteResult
    # The step reached: of the phone that answered, the one that added it; when nobody
    # answered, the Dial's last; when the caller left, the one in progress then.
    step_reached: int = 0
    answered_by: int | None = None
    dial_status: str | None = None
    step_kind: str | None = None  # the kind of `step_reached` (None: nothing dialled)


def _announcement(decision: Decision) -> list[tuple[str, str]]:
    plan = decision.plan
    pairs = [(var.PLAN_ID, plan.id), (var.LEAD, plan.lead.value)]
    if plan.contact_id is not None:
        pairs.append((var.CONTACT_ID, str(plan.contact_id)))
    pairs.append((var.AFTER_HOURS, var.flag(plan.after_hours)))
    pairs.append((var.DECISION, decision.basis.value))
    return pairs


def is_dialable(endpoint: str) -> bool:
    return _ENDPOINT.fullmatch(endpoint) is not None


class PlanExecutor:
    """Rings the plan's Dials in order until someone answers, the caller leaves, or it ends.

    The plan's variables (id, lead, contact, decision) go out with the first Dial's step
    variables, right before it, or with the result when nothing is dialled: one round trip,
    not one per variable.
    """

    def __init__(self, channel: CallChannel, dial_max_seconds: float) -> None:
        self._channel = channel
        self._dial_max = dial_max_seconds
        self._unsent: list[tuple[str, str]] = []
        self._probed: dict[str, str] | None = None  # device states asked before the first Dial
        self._probed_at: int | None = None  # Asterisk's ${EPOCH} when they were asked
        self._step_set: tuple[str, str] | None = None  # CALLROUTER_STEP/_KIND last set

    async def probe(self, endpoints: Sequence[str]) -> None:
        """Ask the device states of `endpoints` now, while the caller is being looked up, so the
        first Dial needs no round trip of its own (it uses these states when they cover its
        immediate phones; a later Dial asks afresh)."""
        phones, expression = _probe_of(endpoints)
        if phones:
            states, self._probed_at = await self._device_states(phones, expression)
            self._probed = dict(zip(phones, states, strict=True))

    async def run(self, decision: Decision) -> RouteOutcome:
        plan = decision.plan
        self._unsent = _announcement(decision)
        if plan.after_hours:
            outcome = RouteOutcome(RouteResult.AFTER_HOURS)
        elif not plan.steps:
            outcome = RouteOutcome(RouteResult.FAILED)
        else:
            outcome = await self._escalate(plan)
        await self._record(outcome)
        return outcome

    async def _set(self, pairs: list[tuple[str, str]]) -> None:
        """`pairs` after whatever is still unsent, in one go."""
        pairs, self._unsent = [*self._unsent, *pairs], []
        await self._channel.set_variables(pairs)

    async def _escalate(self, plan: RoutePlan) -> RouteOutcome:
        rung_last: frozenset[str] = frozenset()
        reached: EscalationStep | None = None
        status = None
        for planned in ring_schedule(plan).dials:
            ready = await self._ready(planned, rung_last)
            if ready is None:
                continue  # nobody of any step can be rung now: skipped at once
            dial, available, started = ready
            reached = dial.steps[0]
            status = await self._dial(dial, available)
            rung_last = frozenset([*available, *_prepared(dial).later_phones])
            if status == "ANSWER":
                step, manager = await self._answerer(plan, dial)
                return _outcome(RouteResult.ANSWERED, step, manager, status)
            if status == "CANCEL" or self._channel.hung_up or status not in _NEXT_STEP:
                step = await self._step_left_at(dial, started)
                return _outcome(RouteResult.CALLER_HANGUP, step, None, status)
            reached = dial.steps[-1]
        return _outcome(RouteResult.NO_ANSWER, reached, None, status)

    async def _ready(
        self, dial: RingDial, rung_last: frozenset[str]
    ) -> tuple[RingDial, list[str], int | None] | None:
        """The Dial as it starts now: its first step must have someone available, else that
        step is skipped at once and the next starts now (checked now, as its own step starts).
        Returns the Dial, its available immediate phones and Asterisk's clock at the check."""
        current: RingDial | None = dial
        while current is not None:
            prepared = _prepared(current)
            immediate, first = prepared.immediate, prepared.first
            if not first:
                current = current.without_first_step()
                continue
            known, started = self._probed, self._probed_at
            if known is not None and all(endpoint in known for endpoint in immediate):
                states = [known[endpoint] for endpoint in immediate]
            else:
                states, started = await self._device_states(immediate)
                # Kept for this Dial: a step skipped now moves the next one to this moment.
                asked = dict(zip(immediate, states, strict=True))
                self._probed, self._probed_at = {**(known or {}), **asked}, started
            available = [
                endpoint
                for endpoint, state in zip(immediate, states, strict=True)
                if state not in BUSY_STATES or (state == LAGGING_STATE and endpoint in rung_last)
            ]
            if not first.isdisjoint(available):
                return current, available, started
            current = current.without_first_step()
        return None

    async def _device_states(
        self, endpoints: Sequence[str], expression: str | None = None
    ) -> tuple[list[str], int | None]:
        """Every phone's DEVICE_STATE and Asterisk's clock in one round trip: Asterisk evaluates
        the whole expression `${DEVICE_STATE(A)},${DEVICE_STATE(B)},${EPOCH}` (`expression`,
        when already built for these endpoints) and states never contain a comma. An answer
        that does not split into one state per phone counts as UNKNOWN (rung, as Dial decides);
        a missing clock as unknown."""
        reply = await self._channel.get_full_variable(expression or _states_expression(endpoints))
        values = [value.strip() for value in (reply or "").upper().split(",")]
        clock = None
        if len(values) == len(endpoints) + 1:
            clock = _seconds(values.pop())
        if len(values) != len(endpoints):
            return ["UNKNOWN"] * len(endpoints), clock
        return [value or "UNKNOWN" for value in values], clock

    async def _dial(self, dial: RingDial, available: list[str]) -> str | None:
        """One Dial: the available immediate phones as they are, each later phone as a Local
        leg waiting for its offset."""
        self._probed, self._probed_at = None, None  # a Dial changes device states
        await self._set_step(dial.steps[0])
        prepared = _prepared(dial)
        targets = "&".join([*available, *prepared.later_targets])
        await self._channel.exec("Dial", targets + prepared.options, self._dial_max)
        status = await self._read(var.ASTERISK_DIALSTATUS)
        return status.upper() if status else None

    async def _set_step(self, step: EscalationStep) -> None:
        pair = (str(step.number), step.kind.value)
        self._step_set = pair
        await self._set([(var.STEP, pair[0]), (var.STEP_KIND, pair[1])])

    async def _answerer(self, plan: RoutePlan, dial: RingDial) -> tuple[EscalationStep, int | None]:
        """The step and manager of the phone that answered: DIALEDPEERNAME
        (`PJSIP/cafe-beef-0000001b`, `Local/101@ctx-0000000a;1`, one of our delayed legs
        `Local/10-PJSIP-102@callrouter-ring-delayed-00000004;1`) read as one of the Dial's
        phones; the step in progress when that phone started ringing (its own step; the Dial's
        first for a phone rung early). An answerer that is none of them: the Dial's first step,
        no manager."""
        peer = await self._read(var.ASTERISK_DIALEDPEERNAME)
        phone = PhoneBook.of(ring.endpoint for ring in dial.rings).phone_of(peer) if peer else None
        ring = dial.ring_of(phone) if phone is not None else None
        if ring is None or phone is None:
            return dial.steps[0], None
        return dial.step_at(ring.offset), plan.manager_for(phone)

    async def _step_left_at(self, dial: RingDial, started: int | None) -> EscalationStep:
        """The step in progress when the caller left: Asterisk's clock now against the one read
        with the device states before the Dial (whole seconds; the Dial's first step if either
        is missing)."""
        if started is None:
            return dial.steps[0]
        try:
            now = _seconds(await self._channel.get_full_variable(_CLOCK))
        except AGIError:
            return dial.steps[0]
        return dial.steps[0] if now is None else dial.step_at(now - started)

    async def _read(self, name: str) -> str | None:
        try:
            return await self._channel.get_variable(name)
        except AGIHangup:
            return None

    async def _record(self, outcome: RouteOutcome) -> None:
        """The outcome for the call record; the caller may be gone, so failures are expected.
        The step reached goes first when it is not the one set before the last Dial."""
        values = []
        if outcome.step_kind is not None:
            pair = (str(outcome.step_reached), outcome.step_kind)
            if pair != self._step_set:
                values += [(var.STEP, pair[0]), (var.STEP_KIND, pair[1])]
        values.append((var.RESULT, outcome.result.value))
        if outcome.answered_by is not None:
            values.append((var.ANSWERED_BY, str(outcome.answered_by)))
        if outcome.dial_status is not None:
            values.append((var.DIALSTATUS, outcome.dial_status))
        try:
            await self._set(values)
        except AGIError as exc:
            log.info("outcome not recorded on the channel: %s", exc.__class__.__name__)


@dataclass(frozen=True, slots=True)
class _PreparedDial:
    """What the executor sends for one `RingDial`, whatever the device states: worked out once
    per Dial of a schedule (a schedule serves every call with the same steps)."""

    immediate: tuple[str, ...]  # the dialable phones at offset 0, in ring order
    first: frozenset[str]  # those of them the Dial's first step brings in
    later_targets: tuple[str, ...]  # each later phone's Local leg, earliest first
    later_phones: tuple[str, ...]  # the phones those legs ring
    options: str  # what follows the targets in the Dial's data: `,<timeout>`


def _prepare(dial: RingDial) -> _PreparedDial:
    immediate = []
    for endpoint in dial.immediate:
        if is_dialable(endpoint):
            immediate.append(endpoint)
        else:
            log.warning("endpoint %r is not dialable, skipped", endpoint)
    targets, phones = [], []
    for ring in dial.later:
        if not is_dialable(ring.endpoint):
            log.warning("endpoint %r is not dialable, skipped", ring.endpoint)
            continue
        target = delayed_ring_target(ring.endpoint, ring.offset)
        if target is None:  # the schedule rings such phones at 0; never here
            log.warning("endpoint %r cannot wait for its step, skipped", ring.endpoint)
            continue
        targets.append(target)
        phones.append(ring.endpoint)
    return _PreparedDial(
        tuple(immediate),
        dial.first_endpoints.intersection(immediate),
        tuple(targets),
        tuple(phones),
        f",{dial.timeout}",
    )


# A schedule serves every call with the same steps, and so does each of its Dials, prepared once.
_prepared = IdentityMemo(_prepare)


def _states_expression(endpoints: Iterable[str]) -> str:
    """`${DEVICE_STATE(A)},${DEVICE_STATE(B)},${EPOCH}`."""
    return ",".join([*(f"${{DEVICE_STATE({endpoint})}}" for endpoint in endpoints), _CLOCK])


# The early probe of a list of phones (the decider's, the same until its directory changes):
# the dialable ones and their expression, by the phones given.
_PROBES: dict[tuple[str, ...], tuple[tuple[str, ...], str]] = {}
_PROBES_KEPT = 16


def _probe_of(endpoints: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """The phones of `endpoints` to probe early (none past MAX_PROBED_PHONES) and the
    expression that asks their states."""
    key = endpoints if isinstance(endpoints, tuple) else tuple(endpoints)
    kept = _PROBES.get(key)
    if kept is None:
        phones = tuple(e for e in dict.fromkeys(key) if is_dialable(e))
        if len(phones) > MAX_PROBED_PHONES:
            phones = ()
        kept = (phones, _states_expression(phones) if phones else "")
        if len(_PROBES) >= _PROBES_KEPT:
            _PROBES.clear()
        _PROBES[key] = kept
    return kept


def _outcome(
    result: RouteResult, step: EscalationStep | None, manager: int | None, status: str | None
) -> RouteOutcome:
    if step is None:
        return RouteOutcome(result, 0, manager, status)
    return RouteOutcome(result, step.number, manager, status, step.kind.value)


def _seconds(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None
