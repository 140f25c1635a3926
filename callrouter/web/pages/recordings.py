"""GET /calls/{id}/recording: a call's audio, streamed from disk, seekable (HTTP Range).

Only a user whose role scope holds the call gets anything (crm/access.py); for anyone else the
call does not exist (404, the same bare page as a call that really does not exist). The file is
read in 64 KB chunks in a worker thread, never whole, so a 100 MB recording costs the server
one chunk of memory per download.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from callrouter.web import recordings as rec
from callrouter.web.auth import viewer
from callrouter.web.i18n import gettext
from callrouter.web.render import error_page, not_found
from crm import access
from models.tables import Call

log = logging.getLogger(__name__)
CACHE = "private, no-store"  # personal data: never kept by a proxy or the browser's disk cache


async def recording(request: Request) -> Response:
    try:
        call_id = int(request.path_params["call_id"])
    except ValueError:
        return not_found(request)
    database = request.app.state.database
    settings = request.app.state.settings
    async with database.reader() as session:
        if not await access.may_see_call(session, viewer(request), call_id):
            return not_found(request)
        call = await session.get(Call, call_id)
    if call is None or not call.recording_file:
        return recording_missing(request, call_id)
    try:
        path = await anyio.to_thread.run_sync(
            rec.resolve, Path(settings.recordings_dir), call.recording_file
        )
        size = await anyio.to_thread.run_sync(rec.file_size, path)
    except rec.RecordingRefused:
        # The stored name points outside the recordings folder: refused, and named nowhere
        # (the log carries the call's id only, for the administrator).
        log.warning("call #%s: its recording is outside the recordings folder; refused", call_id)
        return recording_missing(request, call_id)
    except (rec.RecordingMissing, OSError):
        return recording_missing(request, call_id)

    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": CACHE,
    }
    if request.query_params.get("download") == "1":
        name = rec.download_name(
            call.id, call.started_at, call.external_number, path, ZoneInfo(settings.timezone)
        )
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    try:
        wanted = rec.parse_range(request.headers.get("range"), size)
    except rec.RangeNotSatisfiable:
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    if wanted is None:
        start, length, status = 0, size, 200
    else:
        start, length, status = wanted.start, wanted.length, 206
        headers["Content-Range"] = wanted.content_range
    headers["Content-Length"] = str(length)
    body = b"" if request.method == "HEAD" else _stream(path, start, length)
    if isinstance(body, bytes):
        return Response(
            body, status_code=status, headers=headers, media_type=rec.content_type(path)
        )
    return StreamingResponse(
        body, status_code=status, headers=headers, media_type=rec.content_type(path)
    )


async def _stream(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    """The bytes, one chunk per worker-thread read; the file is closed however the client
    leaves (a seek in the player drops the connection mid-stream)."""
    chunks = rec.read_chunks(path, start, length)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        chunks.close()


def recording_missing(request: Request, call_id: int) -> Response:
    """The call is the user's but its file is not in the recordings folder (or the name
    stored on the call points outside it: served never, and said the same way)."""
    return error_page(
        request,
        404,
        gettext(request, "The recording of call #%(id)s is not on the server.", id=call_id),
    )


routes: list[BaseRoute] = [
    Route("/calls/{call_id}/recording", recording, methods=["GET", "HEAD"]),
]
