"""The web application under 20 users: deal card, My day, analytics; a 100 MB recording's RSS.

    .venv/bin/python -m bench.web                       # 1 M calls, 200 k contacts, 100 k deals
    .venv/bin/python -m bench.web --smoke               # tiny, to prove it runs
    .venv/bin/python -m bench.web --db sqlite --calls 100000

For each database (SQLite, PostgreSQL) a database is filled by bulk loading — the calls of
`bench.report_bench.generate` (a seeded year ending on its REPORT_DAY), extended to the contacts
and deals asked for, with a web account for every manager and the owner and each manager's
open tasks and unreturned missed calls around today. SQLite files are cached under
bench/.cache/ (keyed on the sizes, the schema's head revision and DATA_VERSION) and read once
before the pages are timed, so the page cache is as warm as a working server's; PostgreSQL gets
a fresh database, dropped afterwards.

The application runs under uvicorn in its own process (`create_app` unchanged, wrapped in a
timing middleware that notes each request's time from its arrival to its last body byte); a
bare ASGI "hello" app under the same uvicorn and middleware is the floor.

The load model. "20 concurrent users" are 20 people with the page open, each clicking about
once a second: 20 users (httpx, one async client each, logged in through /login like a browser)
each ask, wait a think time (uniform 0.5–1.5 × `--think`, 1 s by default), and ask again — each
manager their own deal cards and My day, the owner the analytics of REPORT_DAY and of the 30 days
to it. "Server time" is what the app says it spent on a request: its `Server-Timing: app;dur=`
header (callrouter/web/app.py: arrival → response head, session check, queries and rendering
included — and any wait for the one event loop while another request holds it, which is real
for the user). Printed per page: p50 / p95 of that server time, the p95 from arrival to last
byte, the client's p50 / p95 (adds the network stack and the client's own loop), and the same
for the floor. Then, separately, the same 20 users with no think time at all (a closed loop
hammering one process): that measures queueing — requests waiting for each other on one
process — and is printed as throughput and client latency, not as server time.
Last, the owner downloads a 100 MB recording while the server's RSS is sampled every 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench import report_bench as rb
from models import migrate
from models.db import is_sqlite

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(__file__).resolve().parent / ".cache"
PASSWORD = "bench-password-1"
OWNER_ID = rb.MANAGERS + 2
MISSES_PER_MANAGER = 6  # unreturned, from the manager's clients, within the last two days
# The cached SQLite file's name carries this: a change to what `generate` makes bumps it.
DATA_VERSION = 2
RECORDING_MB = 100
TIMINGS_PATH = "/__bench/timings"
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
TARGETS = {
    "deal card": 0.030,
    "my day": 0.030,
    "analytics, 1 day": 0.300,
    "analytics, 30 days": 1.0,
}


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    calls: int
    contacts: int
    deals: int


DEAL_COLUMNS = [
    "id", "contact_id", "responsible_manager_id", "title", "status", "source", "created_at",
    "updated_at",
]  # fmt: skip
USER_COLUMNS = ["id", "login", "password_hash", "role", "manager_id", "active", "created_at"]


def generate(sizes: Sizes) -> tuple[rb.Data, list[tuple], list[tuple]]:
    """report_bench's year of calls, with contacts and deals up to `sizes`, open tasks around
    now for My day, and the web accounts (one per manager, log-in m<id>; the owner: owner)."""
    from crm.users import hash_password

    data = rb.generate(sizes.calls, 365)
    rnd = random.Random(16)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    contacts = list(data.contacts)
    for c in range(len(contacts) + 1, sizes.contacts + 1):
        contacts.append((c, f"+79{c:09d}", rnd.randint(1, rb.MANAGERS), t0, t0))
    responsible = {c[0]: c[2] for c in contacts}
    deals: list[tuple] = [
        (d[0], d[1], responsible.get(d[1]), None, d[2], d[3], d[4], d[5]) for d in data.deals
    ]
    statuses = ["new", "in_progress", "proposal_sent", "won", "lost"]
    for n in range(len(deals) + 1, sizes.deals + 1):
        contact = (n * 7919) % len(contacts) + 1
        owner = responsible.get(contact) or rnd.randint(1, rb.MANAGERS)
        made = t0 + timedelta(minutes=rnd.randint(0, 480 * 24 * 60 // 2))
        deals.append((n, contact, owner, f"Deal {n}", rnd.choice(statuses), "manual", made, made))
    # Each manager's open work around now: ~40 tasks from three days ago to two days ahead.
    now = datetime.now(UTC)
    tasks = list(data.tasks)
    by_manager: dict[int, list[tuple]] = {}
    for deal in deals[len(data.deals) :]:
        if deal[4] in ("won", "lost") or deal[2] is None:
            continue
        by_manager.setdefault(deal[2], []).append(deal)
    for manager, owned in sorted(by_manager.items()):
        for deal in owned[:40]:
            due = now + timedelta(minutes=rnd.randint(-3 * 24 * 60, 2 * 24 * 60))
            tasks.append(
                (len(tasks) + 1, deal[0], deal[1], manager, due, "call", "Call about the offer",
                 "open", "general", "person", 0, due - timedelta(days=1), None)
            )  # fmt: skip
    calls, legs = list(data.calls), list(data.legs)
    # One open call-back per client (a unique index): clients that have one are left out.
    called_back = {t[2] for t in tasks if t[8] == "callback" and t[7] == "open"}
    for manager, owned in sorted(by_manager.items()):
        # And their missed calls of the last two days that nobody has returned: My day's last
        # section, each client with an open call-back task on one of their deals.
        fresh = [d for d in owned[40:] if d[1] not in called_back]
        for deal in fresh[:MISSES_PER_MANAGER]:
            called_back.add(deal[1])
            first = now - timedelta(minutes=rnd.randint(30, 2 * 24 * 60))
            for again in range(rnd.choice((1, 1, 2))):
                at = first + timedelta(minutes=20 * again)
                calls.append(
                    rb._call(len(calls) + 1, "inbound", deal[1], at, 25, 0, False, None, False,
                             None, None, deal[1])
                )  # fmt: skip
                legs.append(
                    (len(legs) + 1, len(calls), f"PJSIP/{100 + manager}", manager, 25, False)
                )
            tasks.append(
                (len(tasks) + 1, deal[0], deal[1], manager, first + timedelta(hours=2), "call",
                 "Call back", "open", "callback", "listener", 1, first, None)
            )  # fmt: skip
    password_hash = hash_password(PASSWORD)
    users = [(m, f"m{m}", password_hash, "manager", m, True, t0) for m in active_managers()]
    users.append((OWNER_ID, "owner", password_hash, "owner", OWNER_ID, True, t0))
    data = replace(data, contacts=contacts, tasks=tasks, calls=calls, legs=legs)
    return data, deals, users


def active_managers() -> list[int]:
    """report_bench's managers that are active (its manager 7 has left)."""
    return [m[0] for m in rb.generate(0, 1).managers if m[5] and m[4] == "manager"]


def _tables() -> dict[str, list[str]]:
    return {**rb.TABLES, "deals": DEAL_COLUMNS, "users": USER_COLUMNS}


def _rows(data: rb.Data, deals: list[tuple], users: list[tuple], table: str) -> list[tuple]:
    if table == "deals":
        return deals
    if table == "users":
        return users
    return rb._rows(data, table)


def load_sqlite(path: str, data: rb.Data, deals: list[tuple], users: list[tuple]) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        for table, columns in _tables().items():
            marks = ", ".join("?" for _ in columns)
            conn.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                (
                    tuple(rb._sqlite_value(v) for v in row)
                    for row in _rows(data, deals, users, table)
                ),
            )
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()


async def load_postgresql(url: str, data: rb.Data, deals: list[tuple], users: list[tuple]) -> None:
    conn = await asyncpg.connect(rb._plain(url))
    try:
        for table, columns in _tables().items():
            await conn.copy_records_to_table(
                table, records=_rows(data, deals, users, table), columns=columns
            )
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 1))"
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def set_recording(url: str, name: str) -> None:
    """Call #1 (the owner sees every call) names the big recording."""
    if is_sqlite(url):
        conn = sqlite3.connect(make_url(url).database or "")
        try:
            conn.execute("UPDATE calls SET recording_file = ? WHERE id = 1", (name,))
            conn.commit()
        finally:
            conn.close()
        return

    async def update() -> None:
        conn = await asyncpg.connect(rb._plain(url))
        try:
            await conn.execute("UPDATE calls SET recording_file = $1 WHERE id = 1", name)
        finally:
            await conn.close()

    asyncio.run(update())


def fill(url: str, sizes: Sizes) -> str:
    """Migrate and load; returns a line saying how long it took."""
    asyncio.run(migrate.upgrade_url(url))
    started = time.perf_counter()
    data, deals, users = generate(sizes)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    if is_sqlite(url):
        load_sqlite(make_url(url).database or "", data, deals, users)
    else:
        asyncio.run(load_postgresql(url, data, deals, users))
    loaded = time.perf_counter() - started
    return (
        f"{len(data.calls)} calls, {len(data.contacts)} contacts, {len(deals)} deals, "
        f"{len(data.tasks)} tasks: generated in {generated:.0f} s, loaded in {loaded:.0f} s"
    )


@contextmanager
def database(kind: str, sizes: Sizes, smoke: bool) -> Iterator[tuple[str, str]]:
    """(url, how it was built) of a filled database of `kind`."""
    if kind == "sqlite":
        if smoke:
            with tempfile.TemporaryDirectory(prefix="callrouter-web-bench-") as folder:
                url = f"sqlite+aiosqlite:///{Path(folder) / 'web.sqlite3'}"
                yield url, fill(url, sizes)
            return
        CACHE_DIR.mkdir(exist_ok=True)
        path = CACHE_DIR / (
            f"web-{sizes.calls}-{sizes.contacts}-{sizes.deals}-r{migrate.head_revision()}"
            f"-d{DATA_VERSION}.sqlite3"
        )
        url = f"sqlite+aiosqlite:///{path}"
        if path.exists():
            yield url, f"cached {path.name}"
            return
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        how = fill(f"sqlite+aiosqlite:///{partial}", sizes)
        partial.rename(path)
        yield url, how
        return
    with rb.fresh_database("postgresql") as url:
        yield url, fill(url, sizes)


# --- the server process ----------------------------------------------------------------------


class Timing:
    """ASGI middleware: each request's server time (arrival → last body byte), by path; the
    bench reads and clears them at GET /__bench/timings."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[tuple[str, float]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] == TIMINGS_PATH:
            body = json.dumps(self.times).encode()
            self.times = []
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter()

        async def timed_send(message: Any) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.times.append((scope["path"], time.perf_counter() - started))

        await self.app(scope, receive, timed_send)


async def hello(scope: Any, receive: Any, send: Any) -> None:
    """The floor: a bare ASGI page."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"<!DOCTYPE html><p>hello</p>"})


def serve(url: str, recordings: str, port: int, floor: bool) -> None:
    import uvicorn

    if floor:
        app: Any = Timing(hello)
    else:
        from callrouter.web.app import create_app
        from core.settings import Settings, WebSettings
        from models.db import Database

        settings = Settings(
            database_url=url,
            recordings_dir=Path(recordings),
            timezone=str(rb.TZ),
            web=WebSettings(secret_key="bench-" + "k" * 40, login_max_failures=1000,
                            ip_max_failures=1000),
        )  # fmt: skip
        app = Timing(create_app(settings, Database(url)))
    # As `callrouter web` does once started (callrouter/service/runner.py): start-up's objects
    # out of the garbage collector's walks.
    from callrouter.service.heap import freeze_startup_objects

    freeze_startup_objects()
    # Idle connections are kept longer than uvicorn's 5 s: the users log in one after another
    # (argon2 at its production cost), and a client idle that long would race the server
    # closing its connection ("Server disconnected without sending a response").
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=120,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, recordings: Path, floor: bool = False) -> Iterator[tuple[str, int]]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.web", "serve", "--url", url, "--recordings",
            str(recordings), "--port", str(port)] + (["--floor"] if floor else [])  # fmt: skip
    process = subprocess.Popen(argv, cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + TIMINGS_PATH, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the web server did not start") from None
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the users -------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def log_in(client: httpx.AsyncClient, login: str) -> None:
    page = await client.get("/login")
    token = CSRF.search(page.text)
    form = {"login": login, "password": PASSWORD, "csrf_token": token.group(1) if token else ""}
    answer = await client.post("/login", data=form)
    if answer.status_code != 303:
        raise RuntimeError(f"log-in of {login} failed: {answer.status_code}")


def warm_page_cache(path: str) -> str:
    """Read the SQLite file once, as a server that has been answering for a while has it in the
    page cache. On this VM the cache is sometimes dropped (a cold 640 MB file reads at ~30 MB/s)
    and a deal card of a client never seen before then waits on the disk for 0.2–1 s."""
    started, size = time.perf_counter(), 0
    for name in (path, path + "-wal"):
        if Path(name).exists():
            with open(name, "rb") as file:
                while chunk := file.read(2**20):
                    size += len(chunk)
    took = time.perf_counter() - started
    return f"page cache: {size / 2**20:.0f} MB of the database file read in {took:.1f} s first"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(round(share * len(ordered) + 0.5)) - 1))]


async def deal_ids(url: str, sizes: Sizes) -> dict[int, list[int]]:
    """Some open deals of each manager, for their deal cards."""
    query = "SELECT responsible_manager_id, id FROM deals WHERE responsible_manager_id IS NOT NULL"
    if is_sqlite(url):
        conn = sqlite3.connect(make_url(url).database or "")
        try:
            rows = conn.execute(query).fetchall()
        finally:
            conn.close()
    else:
        pg = await asyncpg.connect(rb._plain(url))
        try:
            rows = [tuple(r) for r in await pg.fetch(query)]
        finally:
            await pg.close()
    found: dict[int, list[int]] = {}
    for manager, deal in rows:
        found.setdefault(manager, []).append(deal)
    return found


@dataclass
class Measured:
    client: dict[str, list[float]]  # seconds, per kind: request sent → whole answer read
    server: dict[str, list[float]]  # seconds, per kind: the app's Server-Timing header
    warm_ups: dict[str, list[float]]  # the first, cold answers' arrival → last byte
    elapsed: float = 0.0  # wall time of the timed part


async def load(
    base: str,
    users: int,
    requests: int,
    kinds: list[str],
    url: str,
    sizes: Sizes,
    think: float = 1.0,
) -> Measured:
    """`users` clients, each `requests` requests per kind of page with a think time of
    uniform(0.5, 1.5) × `think` seconds between them (0: a closed loop with no pause)."""
    deals = await deal_ids(url, sizes) if "deal card" in kinds else {}
    day = rb.REPORT_DAY
    month = (day - timedelta(days=29)).isoformat()
    paths = {
        "hello": lambda m, r: "/",
        "deal card": lambda m, r: f"/deals/{r.choice(deals[m])}",
        "my day": lambda m, r: "/my-day",
        "analytics, 1 day": lambda m, r: f"/analytics?date={day.isoformat()}",
        "analytics, 30 days": lambda m, r: f"/analytics?from={month}&to={day.isoformat()}",
    }
    client_times: dict[str, list[float]] = {k: [] for k in kinds}
    server_times: dict[str, list[float]] = {k: [] for k in kinds}
    warm_ups: dict[str, list[float]] = {}
    active = active_managers()
    clients = [httpx.AsyncClient(base_url=base, timeout=120) for _ in range(users)]

    async def prepare(n: int, kind: str) -> None:
        """Log in (one at a time, as people arrive: argon2 takes the server's CPU, and never
        while others are being timed) and ask the page once, so caches are warm as they are
        in a working day."""
        client, manager = clients[n], active[n % len(active)]
        if kind != "hello":
            client.cookies.clear()
            await log_in(client, "owner" if kind.startswith("analytics") else f"m{manager}")

    async def warm(n: int, kind: str) -> None:
        await clients[n].get(paths[kind](active[n % len(active)], random.Random(-n)))

    async def user(n: int, kind: str) -> None:
        client, manager = clients[n], active[n % len(active)]
        rnd = random.Random(n)
        if think:  # people do not all click at the same instant
            await asyncio.sleep(rnd.uniform(0, think))
        for _ in range(requests):
            started = time.perf_counter()
            answer = await client.get(paths[kind](manager, rnd))
            client_times[kind].append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"{kind}: HTTP {answer.status_code}")
            said = SERVER_TIMING.search(answer.headers.get("server-timing", ""))
            if said:
                server_times[kind].append(float(said.group(1)) / 1000)
            if think:
                await asyncio.sleep(rnd.uniform(0.5, 1.5) * think)

    try:
        for kind in kinds:
            for n in range(users):
                await prepare(n, kind)
            await asyncio.gather(*(warm(n, kind) for n in range(users)))
            before = await clients[0].get(TIMINGS_PATH)  # the log-ins' and warm-ups' times
            warm_ups[kind] = [t for p, t in before.json() if classify(p) != "other"]
            started = time.perf_counter()
            await asyncio.gather(*(user(n, kind) for n in range(users)))
            elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()
    return Measured(client_times, server_times, warm_ups, elapsed)


def classify(path: str) -> str:
    if path.startswith("/deals/"):
        return "deal card"
    if path == "/my-day":
        return "my day"
    if path == "/analytics":
        return "analytics"
    return "other"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def download(base: str, pid: int, call_id: int, size: int) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        await log_in(client, "owner")
        await client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=0-1023"})
        before = rss_kib(pid)
        peak = before
        done = False

        async def sample() -> None:
            nonlocal peak
            while not done:
                peak = max(peak, rss_kib(pid))
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        received = 0
        started = time.perf_counter()
        async with client.stream("GET", f"/calls/{call_id}/recording?download=1") as answer:
            async for chunk in answer.aiter_raw():
                received += len(chunk)
        took = time.perf_counter() - started
        done = True
        await sampler
        after = rss_kib(pid)
    if received != size:
        raise RuntimeError(f"downloaded {received} bytes of {size}")
    return (
        f"  recording download {size / 2**20:.0f} MB in {took:.2f} s ({size / 2**20 / took:.0f} "
        f"MB/s); server RSS before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, after "
        f"{after / 1024:.0f} MiB (growth {(peak - before) / 1024:.1f} MiB)"
    )


def timings(base: str) -> list[tuple[str, float]]:
    return [(p, t) for p, t in httpx.get(base + TIMINGS_PATH, timeout=30).json()]


class Lines(list[str]):
    """The lines of the table, each printed as soon as it is measured."""

    def append(self, line: str) -> None:
        print(line, flush=True)
        super().append(line)


def ms(values: list[float], share: float) -> str:
    return f"{percentile(values, share) * 1000:7.2f}" if values else "      –"


def run_backend(
    kind: str, sizes: Sizes, users: int, requests: int, smoke: bool, think: float, hammer: int
) -> list[str]:
    lines = Lines()
    with (
        database(kind, sizes, smoke) as (url, how),
        tempfile.TemporaryDirectory(prefix="callrouter-web-rec-") as folder,
    ):
        lines.append(f"{kind}: {how}")
        if is_sqlite(url):
            lines.append(f"  {warm_page_cache(make_url(url).database or '')}")
        recordings = Path(folder)
        size = (1 if smoke else RECORDING_MB) * 2**20
        with (recordings / "bench-recording.wav").open("wb") as out:
            for _ in range(size // 2**20):
                out.write(os.urandom(2**20))
        set_recording(url, "bench-recording.wav")
        pages = ("deal card", "my day", "analytics, 1 day", "analytics, 30 days")
        lines.append(
            f"  {users} users, think time {think:g} s (uniform 0.5–1.5 ×), {requests} requests "
            "each per page; ms"
        )
        with server(url, recordings, floor=True) as (base, _pid):
            asyncio.run(load(base, users, requests, ["hello"], url, sizes, think))
            floor = [t for _, t in timings(base)]
            saturated = asyncio.run(load(base, users, hammer, ["hello"], url, sizes, 0))
            timings(base)
        lines.append(
            f"  {'floor: bare ASGI hello':<22} arrival→last byte p50 {ms(floor, 0.5)}"
            f"   p95 {ms(floor, 0.95)}"
        )
        hammered: dict[str, Measured] = {"floor: bare ASGI hello": saturated}
        with server(url, recordings) as (base, pid):
            for kind_name in pages:
                got = asyncio.run(load(base, users, requests, [kind_name], url, sizes, think))
                last_byte = [t for p, t in timings(base) if classify(p) != "other"]
                server_times, client = got.server[kind_name], got.client[kind_name]
                target = TARGETS[kind_name]
                p95 = percentile(server_times, 0.95)
                lines.append(
                    f"  {kind_name:<22} server time p50 {ms(server_times, 0.5)}   p95 "
                    f"{ms(server_times, 0.95)}   arrival→last byte p95 {ms(last_byte, 0.95)}   "
                    f"client p50 {ms(client, 0.5)}   p95 {ms(client, 0.95)}   "
                    f"({len(server_times)} requests; target p95 ≤ {target * 1000:.0f} ms: "
                    f"{'met' if p95 <= target else 'NOT met'})"
                )
                warm = got.warm_ups
                if kind_name.startswith("analytics") and warm.get(kind_name):
                    lines.append(
                        f"  {'':<22} its first answer (cache empty, {users} asking at once): "
                        f"{max(warm[kind_name]) * 1000:7.0f} ms"
                    )
            for kind_name in pages[:2]:
                hammered[kind_name] = asyncio.run(
                    load(base, users, hammer, [kind_name], url, sizes, 0)
                )
                timings(base)
            lines.append(
                f"  queueing: the same {users} users with no think time, {hammer} requests each "
                "(one process, requests wait for each other: not server time)"
            )
            for kind_name, got in hammered.items():
                values = next(iter(got.client.values()))
                served = next(iter(got.server.values()))
                lines.append(
                    f"  {kind_name:<22} {len(values) / got.elapsed:7.0f} requests/s   client p50 "
                    f"{ms(values, 0.5)}   p95 {ms(values, 0.95)}   server time p95 "
                    f"{ms(served, 0.95)}"
                )
            lines.append(asyncio.run(download(base, pid, 1, size)))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve", help="(internal) serve the app or the floor")
    serve_parser.add_argument("--url", required=True)
    serve_parser.add_argument("--recordings", required=True)
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--floor", action="store_true")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per user and page")
    parser.add_argument(
        "--think", type=float, default=1.0, help="mean seconds between a user's requests"
    )
    parser.add_argument(
        "--hammer", type=int, default=10, help="requests per user of the no-think-time run"
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.url, args.recordings, args.port, args.floor)
        return 0
    sizes = Sizes(args.calls, args.contacts, args.deals)
    if args.smoke:
        sizes = Sizes(3000, 2000, 1000)
        args.users, args.requests, args.think, args.hammer = 4, 3, 0.05, 3
    print(
        f"web: {args.users} concurrent users (think time {args.think:g} s), {args.requests} "
        "requests each per page; "
        f"{sizes.calls} calls, {sizes.contacts} contacts, {sizes.deals} deals"
    )
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        started = time.monotonic()
        run_backend(kind, sizes, args.users, args.requests, args.smoke, args.think, args.hammer)
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
