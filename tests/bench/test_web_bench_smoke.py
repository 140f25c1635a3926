"""The web benchmark in its smoke size, so it cannot rot: it builds its database, serves the app
and the floor under uvicorn, loads every page it times and downloads the recording."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_web_bench_smoke_prints_every_line(db_backend: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.web", "--smoke", "--db", db_backend],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    for line in (
        "floor: bare ASGI hello",
        "deal card",
        "my day",
        "analytics, 1 day",
        "analytics, 30 days",
        "recording download 1 MB",
    ):
        assert line in out, out
    assert "(12 requests;" in out  # 4 users × 3 requests, every one answered 200
