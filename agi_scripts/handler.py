"""One routed call, whichever transport carries it: decide, run the plan, fail cleanly."""

from __future__ import annotations

import logging

from agi_scripts.decision import Decider, NoRouteAvailable
from agi_scripts.errors import AGIError
from agi_scripts.executor import PlanExecutor, RouteOutcome, RouteResult
from agi_scripts.session import AgiSession
from core import dialplan as var

log = logging.getLogger(__name__)


async def route_call(
    session: AgiSession, decider: Decider, dial_max_seconds: float
) -> RouteOutcome:
    """Route the call on `session`; never raises. Any failure leaves CALLROUTER_RESULT=FAILED
    (or unset when the channel is unreachable), so the dialplan's static fallback runs."""
    uniqueid = session.env.uniqueid[:64]
    executor = PlanExecutor(session, dial_max_seconds)
    try:
        # The phones' states are asked while the database answers: one round trip off the
        # caller's wait for the first Dial.
        deciding = decider.start(session.env)
        try:
            await executor.probe(_phones(decider))
        except BaseException:
            deciding.cancel()
            raise
        decision = await deciding.result()
        outcome = await executor.run(decision)
    except NoRouteAvailable:
        log.warning("call %s: no route available, handing back to the dialplan", uniqueid)
        return await _failed(session)
    except AGIError as exc:
        log.info("call %s: AGI session ended: %s", uniqueid, exc.__class__.__name__)
        return RouteOutcome(RouteResult.FAILED)
    except Exception:
        log.exception("call %s: routing failed, handing back to the dialplan", uniqueid)
        return await _failed(session)
    if log.isEnabledFor(logging.INFO):  # its fields are not gathered for nobody
        log.info(
            "call %s routed: %s at step %s",
            uniqueid,
            outcome.result.value,
            outcome.step_reached,
            extra={
                "event": "call_routed",
                "caller": decision.plan.call.caller or "anonymous",
                "lead": decision.plan.lead.value,
                "basis": decision.basis.value,
                "steps": len(decision.plan.steps),
                "outcome": outcome.result.value,
                "step": outcome.step_reached,
            },
        )
    return outcome


def _phones(decider: Decider) -> list[str]:
    """The phones to probe early; none (each step asks its own) if that fails: it only saves time."""
    try:
        return decider.phones()
    except Exception:
        log.exception("phones to probe could not be listed; each step will ask its own")
        return []


async def _failed(session: AgiSession) -> RouteOutcome:
    try:
        await session.set_variable(var.RESULT, RouteResult.FAILED.value)
    except AGIError:
        pass
    return RouteOutcome(RouteResult.FAILED)
