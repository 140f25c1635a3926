"""One parsed AMI message: headers in wire order, a repeated header as a list of its values.

panoramisk's `Message` does the same on a case-insensitive dict whose every `__setitem__` lowers
the key; at ~200 events per call that was half of the listener's CPU. Asterisk spells each header
one way, so lookups here try the exact name first and only fall back to a case-folded search.
"""

from __future__ import annotations

from typing import Any


class AmiMessage(dict[str, Any]):
    __slots__ = ("_folded",)

    @classmethod
    def parse(cls, text: str) -> AmiMessage | None:
        """Headers of one message (without its blank line); None unless it is an event or a response."""
        message = cls()
        for line in text.split("\r\n"):
            key, sep, value = line.partition(": ")
            if not sep:
                continue
            if key in message:
                previous = message[key]
                if isinstance(previous, list):
                    previous.append(value)
                else:
                    message[key] = [previous, value]
            else:
                message[key] = value
        if "Event" not in message and "Response" not in message:
            return None
        return message

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            pass
        try:
            folded = self._folded
        except AttributeError:
            folded = self._folded = {k.lower(): v for k, v in self.items()}
        return folded.get(key.lower(), default)

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")
