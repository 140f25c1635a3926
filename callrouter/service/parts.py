"""What the service runs: parts with one life cycle, composed by `callrouter/service/runner.py`.

A part is started in order and shut down in reverse (routing first, so the calls it finishes
still reach the listener). A web part takes its place beside `AgiPart` and `AmiPart` by
offering the same four methods and the `failed` event.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from core.settings import Settings


class StartupError(Exception):
    """The service cannot start; the message is one line for the administrator."""


class Part(Protocol):
    name: str
    # Set when the part died on its own; the service then stops with exit code 1.
    failed: asyncio.Event

    async def start(self) -> None: ...

    async def reload(self, new: Settings) -> None: ...

    async def shut_down(self) -> None:
        """Finish the work in hand within the part's own budget, then release everything."""
        ...
