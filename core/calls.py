"""The words of a finished call that the listener writes and the database stores."""

from __future__ import annotations

import enum


class Direction(enum.StrEnum):
    """Which way a call went; each member equals its text ("inbound" == Direction.INBOUND)."""

    INBOUND = "inbound"  # from a trunk
    OUTBOUND = "outbound"  # a phone called an external number
    INTERNAL = "internal"  # phone to phone

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)
