"""The routing benchmark in its smoke size, so it cannot rot: it runs, prints its table, and the
numbers are sane. No timing thresholds here (a timed assertion in a unit test is not a
benchmark); the figures that matter are in bench/ROUTING.md."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMOKE_POSTGRES_DB = "callrouter_bench_smoke"


def _run_smoke(db: str) -> str:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.routing_bench",
            "--smoke",
            "--db",
            db,
            "--postgres-db",
            SMOKE_POSTGRES_DB,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    return completed.stdout


def _rows(output: str) -> list[list[str]]:
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def test_routing_bench_smoke_prints_a_sane_table(db_backend: str) -> None:
    output = _run_smoke(db_backend)
    assert "| scenario" in output and "saturation calls/s" in output
    rows = _rows(output)
    fastagi = [r for r in rows if r[0] == "fastagi"]
    classic = [r for r in rows if r[0].startswith("classic")]
    assert [r[2] for r in fastagi] == ["0", "5"]
    assert all(r[1] == db_backend for r in rows)
    assert [r[0].split(",")[1].split("(")[0].strip() for r in classic] == [
        "service up",
        "service down",
    ]
    for row in fastagi:
        p50, p99, cpu, floor_cpu = (float(v) for v in row[3:7])
        saturation, floor_saturation = float(row[8]), float(row[9])
        assert 0 < p50 <= p99
        assert cpu > 0 and floor_cpu > 0
        assert saturation > 0 and floor_saturation > 0
        assert re.fullmatch(r"\d+(\.\d+)?x", row[7])
        failed, degraded, _ = row[12].split("/")
        assert failed == "0" and degraded == "0"  # every call reached its Dial on a fresh lookup
    for row in classic:
        p50, p90 = float(row[3]), float(row[4])
        assert 0 < p50 <= p90
        assert row[12].startswith("0/")  # every cold start reached its Dial
    assert re.search(r"held=5: 100 routed", output)
