"""The AMI benchmark still runs end to end and loses nothing (its figures are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ami_bench_smoke_prints_its_table_with_nothing_lost() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.ami_bench", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line.split()}
    for db in ("sqlite", "postgresql"):
        events, rate, floor, ratio, lost, corrupt = rows[db][1:]
        assert int(events) > 5000 and float(rate) > 0 and float(floor) > 0
        assert (lost, corrupt) == ("0", "0")
    assert "listener memory over" in done.stdout
