"""The decider's time budget and lookups, against a source that answers when the test says so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from agi_scripts.decision import DecisionBasis, RouteDecider
from agi_scripts.env import AgiEnv
from router.directory import ContactView, Directory
from router.settings import RoutingSettings
from tests.agi.support import IVAN_PETROV, LAB_OFFICE, WEDNESDAY_NOON


@dataclass
class HandOverSource:
    """Like the SQLite lookup source: `find_contact` hands over a future, answered later."""

    asked: list[tuple[str, asyncio.Future[ContactView | None]]] = field(default_factory=list)

    async def load_directory(self) -> Directory:
        return LAB_OFFICE

    def find_contact(self, phone_e164: str) -> asyncio.Future[ContactView | None]:
        answer: asyncio.Future[ContactView | None] = asyncio.get_running_loop().create_future()
        self.asked.append((phone_e164, answer))
        return answer


def call_from(caller: str) -> AgiEnv:
    return AgiEnv({"agi_uniqueid": "1795746830.1", "agi_callerid": caller, "agi_dnid": "100"})


async def loaded_decider(source: HandOverSource, budget_ms: int = 300) -> RouteDecider:
    decider = RouteDecider(
        source, RoutingSettings(decision_budget_ms=budget_ms), clock=lambda: WEDNESDAY_NOON
    )
    await decider.refresh()
    return decider


async def test_an_answer_within_the_budget_routes_to_the_responsible_manager():
    source = HandOverSource()
    decider = await loaded_decider(source)
    pending = decider.start(call_from("+79161234567"))
    [(phone, answer)] = source.asked
    assert phone == "+79161234567", "the lookup starts with the call, before anyone waits on it"
    answer.set_result(IVAN_PETROV)
    decision = await pending.result()
    assert decision.basis is DecisionBasis.DIRECTORY
    assert decision.plan.steps[0].endpoints == ("SIP/101",)


async def test_a_late_answer_gets_the_default_plan_and_is_then_dropped():
    source = HandOverSource()
    decider = await loaded_decider(source, budget_ms=20)
    decision = await decider.decide(call_from("+79161234567"))
    assert decision.basis is DecisionBasis.LAST_DIRECTORY
    assert decision.plan.steps[0].endpoints == ("SIP/101", "SIP/102", "SIP/103")
    [(_, answer)] = source.asked
    assert answer.cancelled(), "abandoned: the source's late answer goes to nobody"
    await decider.settle(1.0)


async def test_a_failed_lookup_gets_the_default_plan():
    source = HandOverSource()
    decider = await loaded_decider(source)
    pending = decider.start(call_from("+79161234567"))
    source.asked[0][1].set_exception(ConnectionError("database is gone"))
    decision = await pending.result()
    assert decision.basis is DecisionBasis.LAST_DIRECTORY


async def test_an_anonymous_caller_is_planned_without_asking_the_database():
    source = HandOverSource()
    decider = await loaded_decider(source)
    decision = await decider.decide(call_from("anonymous"))
    assert source.asked == []
    assert decision.basis is DecisionBasis.DIRECTORY
    assert decision.plan.contact_id is None


async def test_a_decision_nobody_collects_lets_its_lookup_go():
    source = HandOverSource()
    decider = await loaded_decider(source)
    pending = decider.start(call_from("+79161234567"))
    pending.cancel()  # the caller left while their phones were being asked
    assert source.asked[0][1].cancelled()
