"""The ring schedule of a plan: when each phone starts ringing, in which Dial, until when.

Pure. A plan's steps become Dials: a step whose `keep_ringing` is on belongs to the Dial of the
step before, so the phones already ringing are never CANCELled and re-INVITEd; a step with
`keep_ringing` off starts a new Dial (the phones before it stop at its start). In one Dial each
phone appears once, from the offset of the step that added it, and rings until someone answers,
the caller leaves or the Dial's timeout (the sum of its steps' timeouts) runs out.

The executor (`agi_scripts/executor.py`) dials the phones at offset 0 directly and each later
one through a Local leg that waits for its offset (`core/channels.py`, the dialplan context
`[callrouter-ring-delayed]`). A phone is checked for availability when its own step starts: the
immediate ones by the executor, a later one by that context at the end of its wait; a phone
that becomes free later is not added mid-step. An endpoint that cannot travel in a Local
extension (`can_wait` is false: a trunk number `PJSIP/+7916…@carrier`, a `Local/…` target)
rings from the start of its Dial instead: rung early rather than not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from router.memo import IdentityMemo
from router.plan import EscalationStep, RoutePlan, Target

# What a Local extension can carry as `<delay>-<TECH>-<resource>`: no `@`, `/`, `&`, `,`.
_WAITABLE = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.+-]+")


def can_wait(endpoint: str) -> bool:
    """Whether `endpoint` can be added later through a waiting Local leg."""
    return _WAITABLE.fullmatch(endpoint) is not None


@dataclass(frozen=True)
class Ring:
    """One phone in one Dial: from `offset` seconds after the Dial started to its end."""

    target: Target
    step: EscalationStep  # the step that added the phone
    offset: int  # seconds from the start of its Dial
    due: int  # when its step starts in the Dial; later than `offset` only for an `early` ring

    @property
    def endpoint(self) -> str:
        return self.target.endpoint

    @property
    def early(self) -> bool:
        """Rung from the Dial's start, before its step, because its endpoint cannot wait."""
        return self.offset < self.due


@dataclass(frozen=True)
class RingDial:
    """One `Dial`: its steps in order and its phones, each once, with their start offsets.

    What a Dial is asked for call after call (its timeout, its immediate and later phones, the
    Dial without its first step) is worked out on first use and kept: one schedule serves every
    call with the same steps (`ring_schedule`)."""

    start: int  # seconds from the start of the plan's first Dial
    steps: tuple[EscalationStep, ...]
    rings: tuple[Ring, ...]

    @cached_property
    def timeout(self) -> int:
        return sum(step.timeout for step in self.steps)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """Each step's start, in seconds from the start of this Dial."""
        starts, at = [], 0
        for step in self.steps:
            starts.append(at)
            at += step.timeout
        return tuple(starts)

    @cached_property
    def immediate(self) -> tuple[str, ...]:
        """The endpoints rung from the Dial's start (offset 0), in ring order."""
        return tuple(ring.endpoint for ring in self.rings if ring.offset == 0)

    @cached_property
    def later(self) -> tuple[Ring, ...]:
        """The rings that wait for their offset, earliest first."""
        return tuple(sorted((r for r in self.rings if r.offset > 0), key=lambda r: r.offset))

    @cached_property
    def first_endpoints(self) -> frozenset[str]:
        """The endpoints of `first_step_rings()`."""
        return frozenset(ring.endpoint for ring in self.first_step_rings())

    def step_at(self, seconds: float) -> EscalationStep:
        """The step in progress `seconds` after the Dial started (the last one past its end)."""
        current = self.steps[0]
        for step, start in zip(self.steps, self.offsets, strict=True):
            if start <= seconds:
                current = step
        return current

    def ring_of(self, endpoint: str) -> Ring | None:
        return next((ring for ring in self.rings if ring.endpoint == endpoint), None)

    def first_step_rings(self) -> tuple[Ring, ...]:
        """The phones the Dial's first step brings in (all at offset 0)."""
        first = self.steps[0]
        return tuple(ring for ring in self.rings if ring.step is first)

    def without_first_step(self) -> RingDial | None:
        """The Dial as it runs when nobody of its first step can be rung: the later steps move
        up by the first one's time (lost, as a step skipped at run time always was), the first
        step's phones stay out; None when it had one step only."""
        return self._without_first_step

    @cached_property
    def _without_first_step(self) -> RingDial | None:
        if len(self.steps) == 1:
            return None
        first = self.steps[0]
        rings = tuple(
            Ring(
                ring.target,
                ring.step,
                max(0, ring.offset - first.timeout),
                ring.due - first.timeout,
            )
            for ring in self.rings
            if ring.step is not first
        )
        return RingDial(self.start + first.timeout, self.steps[1:], rings)


@dataclass(frozen=True)
class RingSchedule:
    dials: tuple[RingDial, ...]

    @property
    def total_seconds(self) -> int:
        return sum(dial.timeout for dial in self.dials)

    @property
    def rings(self) -> tuple[tuple[int, Ring], ...]:
        """Every (start second from the first Dial's start, ring), in ringing order."""
        return tuple(
            (dial.start + ring.offset, ring)
            for dial in self.dials
            for ring in sorted(dial.rings, key=lambda ring: ring.offset)
        )


def ring_schedule(plan: RoutePlan) -> RingSchedule:
    """The plan's Dials, phones and offsets (no Dials for a plan without steps)."""
    return _schedule_of_steps(plan.steps)


def _schedule(steps: tuple[EscalationStep, ...]) -> RingSchedule:
    runs: list[list[EscalationStep]] = []
    for step in steps:
        if runs and step.keep_ringing:
            runs[-1].append(step)
        else:
            runs.append([step])
    dials, start = [], 0
    for run in runs:
        dial = _dial(start, tuple(run))
        dials.append(dial)
        start += dial.timeout
    return RingSchedule(tuple(dials))


def _dial(start: int, steps: tuple[EscalationStep, ...]) -> RingDial:
    rings: dict[str, Ring] = {}
    offset = 0
    for step in steps:
        for target in step.targets:
            if target.endpoint not in rings:
                at = offset if can_wait(target.endpoint) else 0
                rings[target.endpoint] = Ring(target, step, at, offset)
        offset += step.timeout
    return RingDial(start, steps, tuple(rings.values()))


# A `Planner` hands the same steps tuple to every call it fits: one schedule serves them all.
_schedule_of_steps = IdentityMemo(_schedule)
