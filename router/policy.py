"""The escalation policy: which steps, in which order, for how long (`router/settings.py`
reads it from the `[[routing.steps]]` tables)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class StepKind(enum.StrEnum):
    RESPONSIBLE = "responsible"  # the contact's responsible manager, alone
    DEPARTMENT = "department"  # every manager of the sales department at once
    HEAD_OF_SALES = "head_of_sales"  # the head of sales is added
    OWNER = "owner"  # the owner is added
    FALLBACK = "fallback"  # static targets when nobody from the directory can be rung


@dataclass(frozen=True)
class StepRule:
    kind: StepKind
    timeout: int  # seconds
    # The phones of the steps before keep ringing into this one (one continuous ring each,
    # one Dial). Off: they stop when this step starts (a new Dial begins here). Meaningless
    # for the first step: nothing rings before it.
    keep_ringing: bool = True

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(
                f"step {self.kind.value}: timeout must be positive, not {self.timeout}"
            )


@dataclass(frozen=True)
class RoutingPolicy:
    """The configured escalation; `total_seconds` is how long a caller may ring at most."""

    rules: tuple[StepRule, ...]
    fallback_targets: tuple[str, ...] = ()
    department_id: int | None = None

    def __post_init__(self) -> None:
        if not self.rules:
            raise ValueError("the routing policy needs at least one step")
        kinds = [rule.kind for rule in self.rules]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"a step kind appears twice in the routing steps: {kinds}")
        if StepKind.FALLBACK in kinds:
            raise ValueError("'fallback' is not a configurable step; set fallback_targets")

    @property
    def total_seconds(self) -> int:
        return sum(rule.timeout for rule in self.rules)


DEFAULT_POLICY = RoutingPolicy(
    rules=(
        StepRule(StepKind.RESPONSIBLE, 10),
        StepRule(StepKind.DEPARTMENT, 10),
        StepRule(StepKind.HEAD_OF_SALES, 10),
        StepRule(StepKind.OWNER, 10),
    )
)
