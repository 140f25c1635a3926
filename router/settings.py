"""The `[routing]` settings section: the escalation as a list of steps, and the decision's limits.

Each `[[routing.steps]]` table is one `StepRule`, in ringing order:

    [[routing.steps]]
    kind = "responsible"
    timeout = 10
    keep_ringing = true   # optional; default on for every step after the first

The environment cannot spell a list of tables key by key; the whole list is one JSON value:
`CALLROUTER_ROUTING__STEPS='[{"kind": "responsible", "timeout": 15}, ...]'`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.policy import DEFAULT_POLICY, RoutingPolicy, StepKind, StepRule

# The flat keys of the old shape, each the timeout of one step kind.
_FLAT_TIMEOUTS = {
    "responsible_timeout": StepKind.RESPONSIBLE,
    "department_timeout": StepKind.DEPARTMENT,
    "head_timeout": StepKind.HEAD_OF_SALES,
    "owner_timeout": StepKind.OWNER,
}


class StepSettings(BaseModel):
    """One `[[routing.steps]]` table: the settings spelling of one `StepRule`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: StepKind
    timeout: int  # seconds
    # Do the phones of the steps before keep ringing into this one (true, the default for every
    # step after the first), or stop when it starts (false: a new Dial begins here)? The first
    # step has nothing before it: the value is ignored there.
    keep_ringing: bool | None = None


def _default_steps() -> list[StepSettings]:
    return [StepSettings(kind=rule.kind, timeout=rule.timeout) for rule in DEFAULT_POLICY.rules]


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The escalation, in ringing order; a kind appears at most once.
    steps: list[StepSettings] = Field(default_factory=_default_steps)
    decision_budget_ms: int = 300
    directory_refresh_seconds: float = 30.0
    # Dial targets when even the last directory is unknown (the dialplan's own fallback mirrors it).
    fallback_targets: list[str] = Field(default_factory=list)
    # Whose managers make up "the department" and whose hours decide after-hours; None = the
    # first department in the directory (and every manager when there are no departments).
    sales_department_id: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_the_flat_shape(cls, data: Any) -> Any:
        if isinstance(data, dict):
            message = _flat_shape_message(data)
            if message is not None:
                raise ValueError(message)
        return data

    @model_validator(mode="after")
    def _usable_as_a_policy(self) -> RoutingSettings:
        policy_from_settings(self)  # ValueError with the reason: a kind twice, no step, …
        return self


def policy_from_settings(routing: RoutingSettings) -> RoutingPolicy:
    """The policy that `routing` describes, step for step (ValueError when it is unusable)."""
    return RoutingPolicy(
        rules=tuple(
            StepRule(step.kind, step.timeout, step.keep_ringing is not False)
            for step in routing.steps
        ),
        fallback_targets=tuple(dict.fromkeys(routing.fallback_targets)),
        department_id=routing.sales_department_id,
    )


def _flat_shape_message(data: dict[str, Any]) -> str | None:
    """What to write instead, when `data` uses the old shape (`*_timeout` keys, `steps` as a
    list of names); None when it does not."""
    flat = [key for key in _FLAT_TIMEOUTS if key in data]
    steps = data.get("steps")
    named = isinstance(steps, list) and any(isinstance(step, str) for step in steps)
    if not flat and not named:
        return None
    kinds = [str(step) for step in steps] if named and isinstance(steps, list) else None
    timeouts = {kind.value: _seconds(data.get(key, 10)) for key, kind in _FLAT_TIMEOUTS.items()}
    translated = [
        {"kind": kind, "timeout": timeouts.get(kind, 10)}
        for kind in (kinds or [rule.kind.value for rule in DEFAULT_POLICY.rules])
    ]
    old = " and ".join(
        f"routing.{key}" for key in [*flat, *(["steps as a list of names"] if named else [])]
    )
    tables = "\n\n".join(
        f'[[routing.steps]]\nkind = "{step["kind"]}"\ntimeout = {step["timeout"]}'
        for step in translated
    )
    return (
        f"{old}: the old shape, no longer read. The escalation is a list of steps in ringing "
        f"order, one table each; write instead:\n\n{tables}\n\n"
        f"(in the environment: CALLROUTER_ROUTING__STEPS='{json.dumps(translated)}')"
    )


def _seconds(value: Any) -> Any:
    """An old timeout as a number when it reads as one (environment values are text)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value
