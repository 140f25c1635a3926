"""Every benchmark, one command: `python -m bench [--smoke] [--out bench/LATEST.md]`.

Runs, each on SQLite and on PostgreSQL (127.0.0.1:5432) and each beside its floor measured in
the same run: routing under load with 1 M contacts (0, 50, 200 calls held in Dial) and its
saturation rate, the classic AGI script's cold start (`bench.routing_bench`); AMI → database
events per second and the listener's memory over 1 M events (`bench.ami_bench`); the daily
report and a 30-day per-manager query over 1 M calls (`bench.report_bench`); the web
application's pages under 20 users and a 100 MB recording's memory (`bench.web`); `contacts
import` of 100,000 contacts beside a raw `executemany` (`bench.import_contacts`); the `callrouter`
command's start-up, `--help` and a listing (`bench.cli_timing`). Prints every table
and writes them, with the machine and the date, to `--out`.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def commands(smoke: bool) -> list[tuple[str, list[str]]]:
    if smoke:
        return [
            ("Routing under load", ["bench.routing_bench", "--smoke"]),
            ("AMI → database", ["bench.ami_bench", "--smoke"]),
            (
                "Reports, SQLite",
                ["bench.report_bench", "--calls", "2000", "--db", "sqlite", "--repeat", "1"],
            ),
            (
                "Reports, PostgreSQL",
                ["bench.report_bench", "--calls", "2000", "--db", "postgresql", "--repeat", "1"],
            ),
            ("Web application", ["bench.web", "--smoke"]),
            ("Contacts import", ["bench.import_contacts", "--contacts", "2000", "--repeat", "1"]),
            ("CLI start-up", ["bench.cli_timing", "--runs", "3"]),
        ]
    return [
        ("Routing under load", ["bench.routing_bench", "--contacts", "1000000", "--held", "0,50,200",
                                "--rate", "100", "--duration", "10", "--db", "sqlite,postgresql"]),
        ("AMI → database", ["bench.ami_bench", "--calls", "3000", "--db", "sqlite,postgresql",
                            "--memory-events", "1000000"]),
        ("Reports, SQLite", ["bench.report_bench", "--calls", "1000000", "--db", "sqlite"]),
        ("Reports, PostgreSQL", ["bench.report_bench", "--calls", "1000000", "--db", "postgresql"]),
        ("Web application", ["bench.web", "--calls", "1000000", "--contacts", "200000",
                             "--deals", "100000", "--users", "20", "--db", "sqlite,postgresql"]),
        ("Contacts import", ["bench.import_contacts", "--contacts", "100000",
                             "--db", "sqlite,postgresql"]),
        ("CLI start-up", ["bench.cli_timing", "--runs", "20"]),
    ]  # fmt: skip


def machine() -> str:
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown CPU",
    )  # fmt: skip
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; {os.cpu_count()} cores, {model}; "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to prove they all run")
    parser.add_argument("--out", type=Path, default=None, help="write the tables here (Markdown)")
    args = parser.parse_args()
    sections = [f"# Benchmarks\n\n{machine()}\n"]
    failed = 0
    for title, argv in commands(args.smoke):
        print(f"\n## {title}\n$ python -m {' '.join(argv)}", flush=True)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", *argv], cwd=REPO, capture_output=True, text=True
        )
        output = done.stdout.strip()
        print(output, flush=True)
        if done.returncode:
            failed += 1
            print(done.stderr[-2000:], file=sys.stderr)
        took = time.monotonic() - started
        sections.append(
            f"## {title}\n\n`python -m {' '.join(argv)}` ({took:.0f} s)\n\n```\n{output}\n```\n"
        )
    if args.out is not None:
        args.out.write_text("\n".join(sections), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
