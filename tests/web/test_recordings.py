"""GET /calls/{id}/recording: ranges, the download's name and bytes, the recordings folder's
fence (no traversal, no symlink escape) and the role check — on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callrouter.web import recordings as rec
from models.db import Database
from models.tables import Call

STARTED = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 2 December, 00:30 in Moscow
NUMBER = "+79161234567"


# --- the pure parts ---------------------------------------------------------------------------


def test_resolve_accepts_names_inside_and_refuses_everything_else(tmp_path: Path) -> None:
    folder = tmp_path / "monitor"
    (folder / "2026").mkdir(parents=True)
    inside = folder / "2026" / "a.wav"
    inside.write_bytes(b"RIFF")
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"secret")
    assert rec.resolve(folder, "2026/a.wav") == inside.resolve()
    assert rec.resolve(folder, str(inside)) == inside.resolve()  # Asterisk's absolute name
    for name in ("../secret.wav", "2026/../../secret.wav", str(outside), "/etc/passwd", "."):
        with pytest.raises(rec.RecordingRefused):
            rec.resolve(folder, name)
    (folder / "escape.wav").symlink_to(outside)
    (folder / "up").symlink_to(tmp_path)
    for name in ("escape.wav", "up/secret.wav"):
        with pytest.raises(rec.RecordingRefused):
            rec.resolve(folder, name)
    (folder / "alias.wav").symlink_to(inside)  # a link that stays inside is fine
    assert rec.resolve(folder, "alias.wav") == inside.resolve()
    for name in ("", "a\x00.wav"):
        with pytest.raises(rec.RecordingRefused):
            rec.resolve(folder, name)
    with pytest.raises(rec.RecordingMissing):
        rec.resolve(folder, "2026/none.wav")
    with pytest.raises(rec.RecordingMissing):
        rec.resolve(folder, "2026")  # a folder is not a recording


def test_a_recordings_folder_reached_through_a_symlink_still_serves(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.wav").write_bytes(b"x")
    (tmp_path / "link").symlink_to(real)
    assert rec.resolve(tmp_path / "link", "a.wav") == (real / "a.wav").resolve()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),  # a suffix longer than the file: all of it
        ("bytes=990-5000", (990, 999)),  # the end is clipped to the file
        ("bytes=999-999", (999, 999)),
        ("BYTES = 1 - 2", (1, 2)),
        ("bytes=0-1,5-6", None),  # several ranges: ignored, the whole file with 200
        ("items=0-1", None),
        ("bytes=5-1", None),
        ("bytes=-", None),
        ("nonsense", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    got = rec.parse_range(header, 1000)
    assert (None if got is None else (got.start, got.end)) == expected
    if got is not None:
        assert got.length == got.end - got.start + 1
        assert got.content_range == f"bytes {got.start}-{got.end}/1000"


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(rec.RangeNotSatisfiable):
        rec.parse_range(header, 1000)
    with pytest.raises(rec.RangeNotSatisfiable):
        rec.parse_range("bytes=0-", 0)  # nothing of an empty file can be asked for


def test_content_types_and_download_names() -> None:
    assert rec.content_type("a.wav") == "audio/wav"
    assert rec.content_type("a.WAV") == "audio/wav"
    assert rec.content_type("a.mp3") == "audio/mpeg"
    assert rec.content_type("a.ogg") == "audio/ogg"
    assert rec.content_type("a.gsm") == "audio/x-gsm"
    assert rec.content_type("a.exe") == "application/octet-stream"
    tz = ZoneInfo("Europe/Moscow")
    assert (
        rec.download_name(7, STARTED, NUMBER, "x/in-1.wav", tz) == "2026-12-02_+79161234567_7.wav"
    )
    assert rec.download_name(8, STARTED, None, "in.WAV", tz) == "2026-12-02_unknown_8.wav"
    # Nothing of a hostile stored number or extension reaches the header.
    assert rec.download_name(9, STARTED, '1"; x=\r\n', 'a.w"av', tz) == "2026-12-02_1x_9.wav"


def test_read_chunks_never_reads_more_than_asked(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    data = os.urandom(200_000)
    path.write_bytes(data)
    chunks = list(rec.read_chunks(path, 1000, 150_000, chunk=65536))
    assert [len(c) for c in chunks] == [65536, 65536, 150_000 - 2 * 65536]
    assert b"".join(chunks) == data[1000:151_000]


# --- the page -----------------------------------------------------------------------------------


async def add_call(
    db: Database, *, answered_by: int | None, recording: str | None, number: str = NUMBER
) -> int:
    async with db.transaction() as s:
        call = Call(
            system="pbx1",
            linkedid=f"rec-{os.urandom(6).hex()}",
            direction="inbound",
            external_number=number,
            external_number_raw=number,
            started_at=STARTED,
            answered_at=STARTED + timedelta(seconds=5) if answered_by else None,
            ended_at=STARTED + timedelta(seconds=65),
            ring_seconds=5.0,
            talk_seconds=60.0 if answered_by else 0.0,
            disposition="ANSWERED" if answered_by else "NO ANSWER",
            missed=answered_by is None,
            manager_id=answered_by,
            answered_by_manager_id=answered_by,
            recording_file=recording,
            variables={},
        )
        s.add(call)
        await s.flush()
        return call.id


@pytest.fixture
def audio(web_settings) -> bytes:  # type: ignore[no-untyped-def]
    data = b"RIFF" + os.urandom(300_000)
    (web_settings.recordings_dir / "in-1.wav").write_bytes(data)
    return data


async def test_the_manager_plays_seeks_and_downloads_their_recording(
    db: Database, make_user, client_for, audio: bytes
) -> None:  # type: ignore[no-untyped-def]
    anna = await make_user("manager")
    call_id = await add_call(db, answered_by=anna.manager_id, recording="in-1.wav")
    async with client_for(anna) as client:
        whole = await client.get(f"/calls/{call_id}/recording")
        assert whole.status_code == 200
        assert whole.content == audio
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-type"] == "audio/wav"
        assert whole.headers["content-length"] == str(len(audio))
        assert "content-disposition" not in whole.headers

        part = await client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.content == audio[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(audio)}"
        assert part.headers["content-length"] == "1000"

        tail = await client.get(f"/calls/{call_id}/recording", headers={"Range": "bytes=-500"})
        assert tail.status_code == 206 and tail.content == audio[-500:]
        middle = await client.get(
            f"/calls/{call_id}/recording", headers={"Range": f"bytes={len(audio) // 2}-"}
        )
        assert middle.status_code == 206 and middle.content == audio[len(audio) // 2 :]

        beyond = await client.get(
            f"/calls/{call_id}/recording", headers={"Range": f"bytes={len(audio)}-"}
        )
        assert beyond.status_code == 416
        assert beyond.headers["content-range"] == f"bytes */{len(audio)}"
        assert beyond.content == b""

        saved = await client.get(f"/calls/{call_id}/recording?download=1")
        assert saved.status_code == 200
        assert saved.content == audio  # the file's exact bytes
        assert saved.headers["content-disposition"] == (
            f'attachment; filename="2026-12-02_+79161234567_{call_id}.wav"'
        )


async def test_another_manager_gets_a_404_that_names_nothing(
    db: Database, make_user, client_for, audio: bytes
) -> None:  # type: ignore[no-untyped-def]
    anna = await make_user("manager")
    boris = await make_user("manager")
    owner = await make_user("owner")
    call_id = await add_call(db, answered_by=anna.manager_id, recording="in-1.wav")
    async with client_for(boris) as client:
        for url in (f"/calls/{call_id}/recording", f"/calls/{call_id}/recording?download=1"):
            refused = await client.get(url, headers={"Range": "bytes=0-10"})
            assert refused.status_code == 404
            assert "content-disposition" not in refused.headers
            for secret in ("in-1.wav", "79161234567", "916", audio[:8].decode("latin-1")):
                assert secret not in refused.text
        # The same answer as for a call that does not exist at all (but for the URL itself,
        # which the page's language switch sends back to).
        nothing = await client.get("/calls/999999/recording?download=1")
        assert nothing.status_code == 404
        assert nothing.text.replace("999999", str(call_id)) == refused.text
    async with client_for(owner) as client:
        assert (await client.get(f"/calls/{call_id}/recording")).content == audio


async def test_a_head_of_sales_hears_their_department_only(
    db: Database, make_user, client_for, audio: bytes
) -> None:  # type: ignore[no-untyped-def]
    from crm.staff import add_department

    async with db.transaction() as s:
        north = (await add_department(s, "North", "Europe/Moscow")).id
        south = (await add_department(s, "South", "Europe/Moscow")).id
    anna = await make_user("manager", department_id=north)
    head_north = await make_user("head_of_sales", department_id=north)
    head_south = await make_user("head_of_sales", department_id=south)
    call_id = await add_call(db, answered_by=anna.manager_id, recording="in-1.wav")
    async with client_for(head_north) as client:
        assert (await client.get(f"/calls/{call_id}/recording")).status_code == 200
    async with client_for(head_south) as client:
        assert (await client.get(f"/calls/{call_id}/recording")).status_code == 404


async def test_names_outside_the_folder_are_never_served(
    db: Database, make_user, client_for, web_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user("owner")
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"TOP-SECRET-BYTES")
    folder = web_settings.recordings_dir
    (folder / "link.wav").symlink_to(secret)
    (folder / "up").symlink_to(tmp_path)
    names = ["../secret.wav", str(secret), "link.wav", "up/secret.wav", "/etc/passwd"]
    ids = [await add_call(db, answered_by=owner.manager_id, recording=n) for n in names]
    async with client_for(owner) as client:
        for call_id in ids:
            for url in (f"/calls/{call_id}/recording", f"/calls/{call_id}/recording?download=1"):
                answer = await client.get(url)
                assert answer.status_code == 404
                assert "TOP-SECRET" not in answer.text and "root:" not in answer.text
                assert "secret.wav" not in answer.text and "passwd" not in answer.text


async def test_a_missing_file_is_a_clear_404(db: Database, make_user, client_for) -> None:  # type: ignore[no-untyped-def]
    anna = await make_user("manager", locale="en")
    gone = await add_call(db, answered_by=anna.manager_id, recording="gone.wav")
    none = await add_call(db, answered_by=anna.manager_id, recording=None)
    async with client_for(anna) as client:
        for call_id in (gone, none):
            answer = await client.get(f"/calls/{call_id}/recording")
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
            assert f"The recording of call #{call_id} is not on the server." in answer.text
            assert "gone.wav" not in answer.text


async def test_logged_out_visitors_are_sent_to_log_in(
    db: Database, make_user, anon_client, audio: bytes
) -> None:  # type: ignore[no-untyped-def]
    anna = await make_user("manager")
    call_id = await add_call(db, answered_by=anna.manager_id, recording="in-1.wav")
    async with anon_client() as client:
        answer = await client.get(f"/calls/{call_id}/recording")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        assert answer.content != audio
