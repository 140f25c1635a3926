"""Runs a RoutePlan on the caller's channel: device states, Dial per step, DIALSTATUS.

One executor for both transports; it only knows the `CallChannel` interface.
"""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from agi_scripts.channel import CallChannel
from agi_scripts.decision import Decision
from agi_scripts.errors import AGIError, AGIHangup
from core import dialplan as var
from core.phonebook import PhoneBook
from router.plan import EscalationStep, RoutePlan

log = logging.getLogger(__name__)

# DEVICE_STATE() values that mean "do not ring this phone now".
BUSY_STATES = frozenset(
    {"UNAVAILABLE", "INUSE", "BUSY", "RINGING", "RINGINUSE", "ONHOLD", "INVALID"}
)
# Right after an unanswered step the phone it rang may still read RINGING (README lesson 17).
LAGGING_STATE = "RINGING"
# What may go into a Dial string: TECH/resource, nothing that separates targets or options.
_ENDPOINT = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.+@:/-]+")
# Phones asked in one early probe at most: res_agi reads a command into a 2 KiB buffer, and one
# `${DEVICE_STATE(PJSIP/101)},` is ~28 bytes. A bigger office is asked step by step.
MAX_PROBED_PHONES = 40


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
    step_reached: int = 0  # the number of the last step that was dialled
    answered_by: int | None = None
    dial_status: str | None = None


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
    """Rings the plan's steps in order until someone answers, the caller leaves, or it ends.

    The plan's variables (id, lead, contact, decision) go out with the first step's, right before
    its Dial, or with the result when nothing is dialled: one round trip, not one per variable.
    """

    def __init__(self, channel: CallChannel, dial_max_seconds: float) -> None:
        self._channel = channel
        self._dial_max = dial_max_seconds
        self._unsent: list[tuple[str, str]] = []
        self._probed: dict[str, str] | None = None  # device states asked before the first Dial

    async def probe(self, endpoints: Sequence[str]) -> None:
        """Ask the device states of `endpoints` now, while the caller is being looked up, so the
        steps before the first Dial need no round trip of their own (they use these states when
        they cover all their phones; after a Dial states are asked afresh)."""
        phones = [e for e in dict.fromkeys(endpoints) if is_dialable(e)]
        if phones and len(phones) <= MAX_PROBED_PHONES:
            self._probed = dict(zip(phones, await self._device_states(phones), strict=True))

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
        reached, status = 0, None
        for step in plan.steps:
            endpoints = await self._available(step, rung_last)
            if not endpoints:
                continue  # nobody left to ring in this step: skipped at once
            reached = step.number
            status = await self._dial(step, endpoints)
            rung_last = frozenset(endpoints)
            if status == "ANSWER":
                return RouteOutcome(
                    RouteResult.ANSWERED, reached, await self._answerer(plan), status
                )
            if status == "CANCEL" or self._channel.hung_up or status not in _NEXT_STEP:
                return RouteOutcome(RouteResult.CALLER_HANGUP, reached, None, status)
        return RouteOutcome(RouteResult.NO_ANSWER, reached, None, status)

    async def _available(self, step: EscalationStep, rung_last: frozenset[str]) -> list[str]:
        endpoints = []
        for endpoint in step.endpoints:
            if is_dialable(endpoint):
                endpoints.append(endpoint)
            else:
                log.warning("plan %s: endpoint %r is not dialable, skipped", step.number, endpoint)
        if not endpoints:
            return []
        known = self._probed
        if known is not None and all(endpoint in known for endpoint in endpoints):
            states = [known[endpoint] for endpoint in endpoints]
        else:
            states = await self._device_states(endpoints)
        return [
            endpoint
            for endpoint, state in zip(endpoints, states, strict=True)
            if state not in BUSY_STATES or (state == LAGGING_STATE and endpoint in rung_last)
        ]

    async def _device_states(self, endpoints: list[str]) -> list[str]:
        """Every phone's DEVICE_STATE in one round trip: Asterisk evaluates the whole expression
        `${DEVICE_STATE(A)},${DEVICE_STATE(B)}` and states never contain a comma. An answer
        that does not split into one state per phone counts as UNKNOWN (rung, as Dial decides)."""
        expression = ",".join(f"${{DEVICE_STATE({endpoint})}}" for endpoint in endpoints)
        reply = await self._channel.get_full_variable(expression)
        states = (reply or "").upper().split(",")
        if len(states) != len(endpoints):
            return ["UNKNOWN"] * len(endpoints)
        return [state.strip() or "UNKNOWN" for state in states]

    async def _dial(self, step: EscalationStep, endpoints: list[str]) -> str | None:
        self._probed = None  # a Dial changes device states
        await self._set([(var.STEP, str(step.number)), (var.STEP_KIND, step.kind.value)])
        await self._channel.exec("Dial", f"{'&'.join(endpoints)},{step.timeout}", self._dial_max)
        status = await self._read(var.ASTERISK_DIALSTATUS)
        return status.upper() if status else None

    async def _answerer(self, plan: RoutePlan) -> int | None:
        """The manager whose phone answered: DIALEDPEERNAME (`PJSIP/cafe-beef-0000001b`,
        `Local/101@ctx-0000000a;1`) read as one of the plan's managers' phones."""
        peer = await self._read(var.ASTERISK_DIALEDPEERNAME)
        if not peer:
            return None
        phones = PhoneBook.of(
            target.endpoint
            for step in plan.steps
            for target in step.targets
            if target.manager_id is not None
        )
        phone = phones.phone_of(peer)
        return plan.manager_for(phone) if phone is not None else None

    async def _read(self, name: str) -> str | None:
        try:
            return await self._channel.get_variable(name)
        except AGIHangup:
            return None

    async def _record(self, outcome: RouteOutcome) -> None:
        """The outcome for the call record; the caller may be gone, so failures are expected."""
        values = [(var.RESULT, outcome.result.value)]
        if outcome.answered_by is not None:
            values.append((var.ANSWERED_BY, str(outcome.answered_by)))
        if outcome.dial_status is not None:
            values.append((var.DIALSTATUS, outcome.dial_status))
        try:
            await self._set(values)
        except AGIError as exc:
            log.info("outcome not recorded on the channel: %s", exc.__class__.__name__)
