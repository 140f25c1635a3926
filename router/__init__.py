"""Pure routing: the directory snapshot types, the escalation policy and the planner.

`router.settings` (the `[routing]` section, on pydantic) is imported by name, not from here.
"""

from __future__ import annotations

from router.plan import EscalationStep, IncomingCall, LeadStatus, RoutePlan, Target, plan
from router.policy import DEFAULT_POLICY, RoutingPolicy, StepKind, StepRule

__all__ = [
    "DEFAULT_POLICY",
    "EscalationStep",
    "IncomingCall",
    "LeadStatus",
    "RoutePlan",
    "RoutingPolicy",
    "StepKind",
    "StepRule",
    "Target",
    "plan",
]
