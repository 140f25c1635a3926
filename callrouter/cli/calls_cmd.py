"""`callrouter calls …`: recorded calls and their recordings.

`calls list` reads through crm/lists.py and loads no SQLAlchemy (issue #17, fast listings); the
call card is imported by `calls show` and `calls recording` only."""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

from core.phones import try_normalize_phone
from crm import lists
from models.errors import InputError

from .common import (
    AppContext,
    emit_object,
    emit_rows,
    json_option,
    local_time,
    pass_app,
    read,
    run,
)
from .limits import limit_options, note_shown

if TYPE_CHECKING:
    from crm import views
    from models.db import Database


@click.group("calls")
def calls_group() -> None:
    """Recorded calls: inbound, outbound, internal, missed."""


@calls_group.command("list")
@click.option("--number", default=None, help="Only calls with this external number.")
@click.option("--missed", is_flag=True, help="Only missed inbound calls.")
@limit_options(50)
@json_option
@pass_app
def call_list(app: AppContext, number: str | None, missed: bool, limit: int | None) -> None:
    """Calls, newest first."""
    e164 = None
    if number:
        e164 = try_normalize_phone(number, app.settings.default_region)
        if e164 is None:
            raise InputError(f"invalid phone number {number!r}")

    page = read(
        lambda reader: lists.list_calls(reader, number=e164, missed=missed, limit=limit), app
    )
    rows = [
        {
            "id": c["id"],
            "started": local_time(app, c["started_at"]),
            "direction": c["direction"],
            "number": c["external_number"] or c["external_number_raw"],
            "disposition": c["disposition"],
            "manager": c["manager"],
            "ring_s": round(c["ring_seconds"]),
            "talk_s": round(c["talk_seconds"]),
            "recovered": local_time(app, c["recovered_at"]) if c["missed"] else "",
        }
        for c in page.rows
    ]
    emit_rows(app, rows, "no calls")
    note_shown(len(rows), page.total)


async def _call_card(db: Database, call_id: int) -> views.CallCard:
    from crm import views

    async with db.reader() as s:
        return await views.call_card(s, call_id)


@calls_group.command("show")
@click.argument("call_id", type=int)
@json_option
@pass_app
def call_show(app: AppContext, call_id: int) -> None:
    """One call: who was rung, who answered, ring and talk time, the recording."""
    card = run(lambda db: _call_card(db, call_id), app)
    # The card's fields are the JSON's keys, in its order.
    emit_object(app, asdict(card), lambda: _call_text(app, card))


def _call_text(app: AppContext, call: views.CallCard) -> str:
    lines = [
        f"Call #{call.id} ({call.system} {call.linkedid}) {call.direction} {call.disposition}",
        f"  number:    {call.number or call.number_raw or '—'}"
        + (f" {call.caller_name}" if call.caller_name else ""),
        f"  dialled:   {call.dialed or '—'}",
        f"  started:   {local_time(app, call.started_at)}   "
        f"ring {call.ring_seconds:.0f} s, talk {call.talk_seconds:.0f} s",
        f"  manager:   {call.manager or '—'}",
    ]
    if call.missed:
        state = (
            f"recovered {local_time(app, call.recovered_at)}"
            if call.recovered_at
            else "not recovered"
        )
        lines.append(f"  missed:    {'after hours, ' if call.after_hours else ''}{state}")
    lines.append(f"  recording: {call.recording or '—'}")
    lines.append("  rung:")
    lines += [
        f"    {leg.endpoint:<16} {leg.manager or '':<20} {leg.ring_seconds:>5.1f} s  "
        f"{leg.dial_status or ''}{' ← answered' if leg.answered else ''}"
        for leg in call.legs
    ] or ["    nobody"]
    return "\n".join(lines)


def resolve_recording(recordings_dir: Path, recording: str) -> Path:
    """The recording's path, refusing anything outside the recordings folder (`..`, symlinks)."""
    base = recordings_dir.resolve()
    candidate = Path(recording)
    if not candidate.is_absolute():
        candidate = base / candidate
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base):
        raise InputError(f"recording {recording!r} is outside the recordings folder {base}")
    if not resolved.is_file():
        raise InputError(f"recording file {resolved} does not exist")
    return resolved


@calls_group.command("recording")
@click.argument("call_id", type=int)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the copy (an existing file is not overwritten).",
)
@pass_app
def call_recording(app: AppContext, call_id: int, out: Path) -> None:
    """Copy the call's recording to OUT."""
    call = run(lambda db: _call_card(db, call_id), app)
    if not call.recording:
        raise InputError(f"call #{call_id} has no recording")
    source = resolve_recording(app.settings.recordings_dir, call.recording)
    if out.exists():
        raise InputError(f"{out} already exists; not overwriting it")
    shutil.copyfile(source, out)
    click.echo(f"recording of call #{call_id} copied to {out}")
