"""The service's decider wrapper (reloads on SIGHUP) stands in for a RouteDecider everywhere."""

from __future__ import annotations

from agi_scripts.decision import RouteDecider
from callrouter.service.decider import SwappableDecider
from core.settings import RoutingSettings
from tests.agi.support import LAB_OFFICE, MemorySource


async def test_the_wrapper_offers_what_the_fastagi_server_asks_of_a_decider():
    # The server is handed the wrapper cast to RouteDecider: a method missing here fails every
    # call at run time (it did once: `phones`, added with the early device-state probe).
    used = {"start", "decide", "phones", "directory", "refresh", "keep_fresh", "settle"}
    public = {name for name in dir(RouteDecider) if not name.startswith("_")}
    assert used <= public
    assert used <= {name for name in dir(SwappableDecider) if not name.startswith("_")}

    first = RouteDecider(MemorySource(), RoutingSettings(fallback_targets=["SIP/100"]))
    wrapper = SwappableDecider(first, 30.0)
    await wrapper.refresh()
    assert wrapper.phones() == [m.endpoint for m in LAB_OFFICE.managers] + ["SIP/100"]
    second = RouteDecider(MemorySource(), RoutingSettings())
    await second.refresh()
    wrapper.swap(second, 30.0)
    assert wrapper.phones() == [m.endpoint for m in LAB_OFFICE.managers]
