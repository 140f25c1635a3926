"""A server that cannot bind its port says which port, for what, and why, in one line."""

from __future__ import annotations

import os


class ListenError(Exception):
    """A port could not be listened on; the message names the address, the server and the cause."""


def cannot_listen(host: str, port: int, what: str, exc: OSError) -> ListenError:
    """'cannot listen on 127.0.0.1:4573 (AGI): address already in use'."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ListenError(f"cannot listen on {address} ({what}): {reason[:1].lower()}{reason[1:]}")
