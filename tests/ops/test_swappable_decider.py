"""The service's decider wrapper (reloads on SIGHUP) is a `Decider`, as a RouteDecider is."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import agi_scripts
from agi_scripts.decision import Decider, RouteDecider
from callrouter.service.decider import SwappableDecider
from router.settings import RoutingSettings
from tests.agi.support import LAB_OFFICE, MemorySource

# The modules that hold a decider and ask things of it.
HOLDERS = ("fastagi.py", "handler.py", "classic.py")


def protocol_members() -> set[str]:
    return {name for name in vars(Decider) if not name.startswith("_")}


def asked_of_a_decider(source: str) -> set[str]:
    """Attributes read on anything named `decider` (`decider.x`, `self.decider.x`)."""
    asked = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        holder = node.value
        name = holder.id if isinstance(holder, ast.Name) else getattr(holder, "attr", None)
        if name == "decider":
            asked.add(node.attr)
    return asked


def test_the_server_asks_a_decider_only_what_the_protocol_offers():
    package = Path(agi_scripts.__file__).parent
    asked = set().union(
        *(asked_of_a_decider((package / name).read_text(encoding="utf-8")) for name in HOLDERS)
    )
    assert {"start", "phones", "keep_fresh", "settle"} <= asked  # the walk sees the calls
    assert asked <= protocol_members()


@pytest.mark.parametrize("implementation", [RouteDecider, SwappableDecider])
def test_every_decider_offers_the_protocol_with_its_signatures(implementation: type) -> None:
    # The server holds the wrapper as a Decider: a method missing or shaped differently here
    # fails every call at run time (it did once: `phones`, added with the early probe).
    for name in protocol_members():
        wanted, offered = getattr(Decider, name), getattr(implementation, name, None)
        assert offered is not None, f"{implementation.__name__} lacks {name}"
        if isinstance(wanted, property):
            assert isinstance(offered, property), name
            continue
        assert inspect.iscoroutinefunction(offered) == inspect.iscoroutinefunction(wanted), name
        given = inspect.signature(offered).parameters
        for parameter in inspect.signature(wanted).parameters.values():
            assert parameter.name in given, f"{implementation.__name__}.{name}: {parameter}"
            assert given[parameter.name].kind == parameter.kind, name
        extra = [p for p in given.values() if p.name not in inspect.signature(wanted).parameters]
        assert all(p.default is not inspect.Parameter.empty for p in extra), name


async def test_the_wrapper_forwards_to_the_current_decider():
    first = RouteDecider(MemorySource(), RoutingSettings(fallback_targets=["SIP/100"]))
    wrapper: Decider = SwappableDecider(first, 30.0)
    await wrapper.refresh()
    assert wrapper.phones() == [m.endpoint for m in LAB_OFFICE.managers] + ["SIP/100"]
    second = RouteDecider(MemorySource(), RoutingSettings())
    await second.refresh()
    assert isinstance(wrapper, SwappableDecider)
    wrapper.swap(second, 30.0)
    assert wrapper.phones() == [m.endpoint for m in LAB_OFFICE.managers]
    assert wrapper.directory is second.directory
