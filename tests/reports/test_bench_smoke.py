"""The benchmark still runs: 2,000 calls through the same loader and report code, both databases."""

from __future__ import annotations

from bench import report_bench


def test_the_benchmark_runs_small(db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    timings = report_bench.main(
        ["--calls", "2000", "--days", "30", "--repeat", "1", "--url", db_url]
    )
    out = capsys.readouterr().out
    assert "2000 calls" in out and "daily report" in out and "30-day per-manager" in out
    assert "30 days: 2000 calls" in out  # every generated call lies in the 30-day window
    assert set(timings) == {"daily report", "30-day per-manager", "load"}
