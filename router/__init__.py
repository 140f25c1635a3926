"""Pure routing: the directory snapshot types, the escalation policy and the planner."""

from __future__ import annotations

from router.plan import EscalationStep, IncomingCall, LeadStatus, RoutePlan, Target, plan
from router.policy import DEFAULT_POLICY, RoutingPolicy, StepKind, StepRule, policy_from_settings

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
    "policy_from_settings",
]
