"""Start-up's objects kept out of the garbage collector's way.

A FastAGI service holds ~100,000 objects once it has started (modules, SQLAlchemy, the
phone-number metadata, the directory). CPython's full collection walks all of them: 26 ms on a
quiet machine, 47 ms under load, every few tens of seconds at 100 calls/s, and every call in
flight waits that long for its Dial (bench/ROUTING.md). None of them is ever garbage, so once
start-up is over they go to the permanent generation, which collections do not walk.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect start-up's garbage, then freeze everything alive; returns how many objects."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("%d start-up objects frozen out of garbage collection", frozen)
    return frozen
