"""The company's phones as the directory names them: is this channel a manager's phone, and which.

A channel is a phone because the directory lists its endpoint, never because of how its name
looks: `PJSIP/anna`, `PJSIP/cafe-beef` and `SIP/101` are phones when managers have them (active
or not: an inactive manager's phone is still the company's), `PJSIP/office-fax` is not when no
manager has it. A Local channel is the phone its extension names (`Local/101@ctx-0000000a;1` is
`PJSIP/101`'s) unless the directory lists that Local target itself; one of callrouter's delayed
legs is the phone its extension encodes (`Local/10-SIP-101@callrouter-ring-delayed-00000004;1`
is `SIP/101`'s, `core/channels.py`).

Pure and immutable: the listener is handed a fresh snapshot when the directory changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from router.directory import Directory

from .channels import parse_channel, parse_delayed_ring


@dataclass(frozen=True)
class PhoneBook:
    """Directory endpoints, looked up by any channel or endpoint name of theirs."""

    endpoints: frozenset[str] = frozenset()
    _exact: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    _extension: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, endpoints: Iterable[str]) -> PhoneBook:
        """The phones `endpoints` name (dial strings: `PJSIP/101`, `Local/101@ctx/n`), in
        priority order: when two phones share an extension (`SIP/101`, `PJSIP/101`), a Local
        channel to it is the first one's."""
        exact: dict[str, str] = {}
        extension: dict[str, str] = {}
        for endpoint in endpoints:
            key = _key(endpoint)
            if not key:
                continue
            exact.setdefault(key, endpoint)
            name = parse_channel(key)
            if name.technology and not name.is_local:
                extension.setdefault(name.extension, endpoint)
        return cls(frozenset(exact.values()), exact, extension)

    @classmethod
    def of_directory(cls, directory: Directory) -> PhoneBook:
        """Every manager's phone, active or not, in the directory's order (by manager id)."""
        return cls.of(manager.endpoint for manager in directory.managers)

    def phone_of(self, channel: str) -> str | None:
        """The directory's spelling of the phone behind `channel` (a channel name or an
        endpoint); None when it is no phone of the directory."""
        key = _key(channel)
        found = self._exact.get(key)
        if found is not None:
            return found
        name = parse_channel(key)
        if name.is_local:
            delayed = parse_delayed_ring(key)
            if delayed is not None:
                return self._exact.get(delayed.endpoint)
            return self._extension.get(name.extension)
        return None

    def is_phone(self, channel: str) -> bool:
        return self.phone_of(channel) is not None

    def __len__(self) -> int:
        return len(self.endpoints)


def _key(text: str) -> str:
    """The endpoint a channel name or dial string stands for: suffix and half cut, and a dial
    string's options after the resource (`Local/101@ctx/n`, `PJSIP/101/sip:…`) dropped."""
    name = parse_channel(text.strip())
    if not name.technology:
        return name.resource
    return f"{name.technology}/{name.resource.partition('/')[0]}"
