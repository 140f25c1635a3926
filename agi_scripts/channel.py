"""The small interface the executor drives; `AgiSession` implements it for both transports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class CallChannel(Protocol):
    """The caller's channel as the executor sees it."""

    @property
    def hung_up(self) -> bool:
        """True once Asterisk said the caller is gone (HANGUP line, SIGHUP, Dial result -1)."""
        ...

    async def get_variable(self, name: str) -> str | None: ...

    async def get_full_variable(self, expression: str) -> str | None: ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def set_variables(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Several variables in order, in as few round trips as the channel allows."""
        ...

    async def exec(self, application: str, data: str, reply_within: float | None = None) -> int: ...
