"""Start-up's objects are frozen: a full garbage collection no longer walks them."""

from __future__ import annotations

import subprocess
import sys

# Run in a process of its own: freezing the test runner's heap would keep every test's garbage.
_PROBE = """
import gc
import callrouter.service.runner, phonenumbers, sqlalchemy  # what the service imports
phonenumbers.parse("+79161234567", "RU")  # loads the metadata, as the first call does
before = len(gc.get_objects())
from callrouter.service.heap import freeze_startup_objects
frozen = freeze_startup_objects()
print(before, frozen, len(gc.get_objects()))
"""


def test_a_full_collection_after_start_up_walks_almost_nothing():
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    ).stdout
    before, frozen, walked_after = map(int, out.split())
    assert before > 50_000, "the service's imports make a big heap"
    assert frozen >= before * 0.9
    assert walked_after < 1_000, "what a full collection still walks"
