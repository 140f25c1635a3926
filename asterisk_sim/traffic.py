"""Seeded random days of traffic for demos and benchmarks."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from .scenario import Caller, CallResult
from .simulator import AsteriskSimulator

NAMES = ["Иван Петров", "Анна Смирнова", "Olga Ivanova", "Сергей Кузнецов", "", "Мария Попова"]


@dataclass
class DayPlan:
    start_offset: float
    kind: str  # "inbound" | "outbound"
    number: str
    name: str = ""
    abandon_after: float | None = None
    phone: str = "101"


def plan_day(
    seed: int,
    calls: int = 200,
    known: int = 30,
    hours: float = 9.0,
    abandon_rate: float = 0.15,
    outbound_rate: float = 0.2,
    phones: tuple[str, ...] = ("101", "102", "103"),
) -> list[DayPlan]:
    rng = random.Random(seed)
    pool = [f"+7916{rng.randrange(10**7):07d}" for _ in range(known)]
    names = {n: rng.choice(NAMES) for n in pool}
    out = []
    for _ in range(calls):
        t = rng.uniform(0, hours * 3600)
        number = rng.choice(pool) if rng.random() < 0.6 else f"+7903{rng.randrange(10**7):07d}"
        if rng.random() < outbound_rate:
            out.append(DayPlan(t, "outbound", number, phone=rng.choice(phones)))
            continue
        abandon = rng.uniform(3, 25) if rng.random() < abandon_rate else None
        out.append(DayPlan(t, "inbound", number, names.get(number, ""), abandon))
    return sorted(out, key=lambda p: p.start_offset)


async def play_day(sim: AsteriskSimulator, plan: list[DayPlan], seed: int = 0) -> list[CallResult]:
    """Starts every planned call at its offset on the simulator's clock, concurrently."""
    rng = random.Random(seed)
    t0 = sim.clock.now()

    async def one(p: DayPlan) -> CallResult:
        await sim.clock.sleep_until(t0 + p.start_offset)
        if p.kind == "outbound":
            answer = rng.choice([None, 2.0, 5.0, 8.0])
            return await sim.outbound_call(
                p.phone, p.number, answer_after=answer, talk=rng.uniform(10, 300)
            )
        return await sim.inbound_call(Caller(p.number, p.name, p.abandon_after))

    return list(await asyncio.gather(*(one(p) for p in plan)))
