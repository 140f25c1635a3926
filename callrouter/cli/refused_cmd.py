"""`callrouter refused …`: calls the database refused, set aside by the listener, and their replay.

The listener keeps each refused call in `<spool_dir>/calls/refused/` with the reason. Fix the
cause — in the database, or in the `call` object of the file when the record itself is wrong —
then replay: a call stored leaves `refused/`; one still refused stays, with the new reason. The
writer is idempotent on (system, linkedid), so replaying twice never stores a call twice.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import click

from ami_listener.refused import RefusedCall, RefusedCalls
from ami_listener.sink import CallRefused
from callrouter.service.ami_part import refused_calls_dir
from crm.call_sink import DbCallSink
from models.db import Database
from models.errors import InputError

from .common import AppContext, emit_rows, json_option, local_time, pass_app, run
from .limits import limit_options, note_shown


@click.group("refused")
def refused_group() -> None:
    """Calls the database refused: list them, replay them once the cause is fixed."""


@refused_group.command("list")
@limit_options(200)
@json_option
@pass_app
def refused_list(app: AppContext, limit: int | None) -> None:
    """Refused calls, oldest first, with the reason and its file."""
    entries = _area(app).entries()
    shown = entries if limit is None else entries[:limit]
    emit_rows(app, [_row(app, entry) for entry in shown], "no refused calls")
    note_shown(len(shown), len(entries))


@refused_group.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Replay every refused call.")
@json_option
@pass_app
def refused_replay(app: AppContext, ids: tuple[str, ...], everything: bool) -> None:
    """Store refused calls again (IDS: linkedids, or `system-linkedid` file names).

    Exit code 0 when every call named is stored now, 1 when some are still refused."""
    if everything == bool(ids):
        raise InputError("name the calls to replay (their linkedids), or give --all")
    area = _area(app)
    entries = area.entries()
    if not everything:
        entries = _chosen(entries, ids)

    async def work(db: Database) -> list[dict[str, Any]]:
        sink = DbCallSink(
            db, app.settings.leads, sales_department_id=app.settings.routing.sales_department_id
        )
        return [await _replay(sink, area, entry) for entry in entries]

    rows = run(work, app) if entries else []
    emit_rows(app, rows, "no refused calls")
    if any(row["outcome"] not in ("stored", "already stored") for row in rows):
        raise SystemExit(1)


async def _replay(sink: DbCallSink, area: RefusedCalls, entry: RefusedCall) -> dict[str, Any]:
    row: dict[str, Any] = {"file": entry.path.name, "outcome": "", "call_id": None, "reason": ""}
    if entry.call is None:
        return row | {"outcome": "unreadable", "reason": entry.detail}
    try:
        result = (await sink.record([entry.call]))[0]
    except CallRefused as refused:
        await asyncio.to_thread(area.refused_again, entry, refused.error, refused.detail)
        return row | {"outcome": "still refused", "reason": _reason(refused.error, refused.detail)}
    await asyncio.to_thread(area.remove, entry)
    outcome = "stored" if result.created else "already stored"
    return row | {"outcome": outcome, "call_id": result.call_id}


def _area(app: AppContext) -> RefusedCalls:
    return RefusedCalls(refused_calls_dir(app.settings))


def _chosen(entries: list[RefusedCall], ids: tuple[str, ...]) -> list[RefusedCall]:
    chosen: list[RefusedCall] = []
    for wanted in ids:
        matches = [e for e in entries if wanted in _names(e)]
        if not matches:
            raise InputError(f"no refused call {wanted!r} (see `callrouter refused list`)")
        chosen.extend(m for m in matches if m not in chosen)
    return sorted(chosen, key=lambda e: e.started_at)


def _names(entry: RefusedCall) -> set[str]:
    names = {entry.path.name, entry.path.stem}
    if entry.call is not None:
        names.add(entry.call.linkedid)
    return names


def _row(app: AppContext, entry: RefusedCall) -> dict[str, Any]:
    call = entry.call
    return {
        "linkedid": call.linkedid if call else "",
        "system": call.system if call else "",
        "started": local_time(app, call.started_at) if call else "",
        "direction": call.direction if call else "",
        "refused": _local(app, entry.refused_at),
        "attempts": entry.attempts,
        "reason": _reason(entry.error, entry.detail),
        "file": str(entry.path),
    }


def _reason(error: str, detail: str) -> str:
    return f"{error}: {detail}" if detail else error


def _local(app: AppContext, stamp: str) -> str:
    try:
        return local_time(app, datetime.fromisoformat(stamp))
    except ValueError:
        return stamp
