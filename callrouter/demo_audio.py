"""Short real audio files for the demo's recordings (stdlib `wave`: tones and noise).

Each answered call gets a WAV file exactly as long as its talk time, so a browser's player shows
the call's length. Telephone quality: 8 kHz, mono, 8-bit PCM (8 KB a second, G.711's byte
rate). A conversation is imitated by two "voices" (tones of different pitch, with a little
noise) taking turns, and short silences between; the seconds are drawn from a few pre-built
one-second blocks, so a day of recordings is written at disk speed.
"""

from __future__ import annotations

import asyncio
import math
import random
import wave
from pathlib import Path

from sqlalchemy import select

from models.db import Database
from models.tables import Call

RATE = 8000  # samples a second
WIDTH = 1  # bytes a sample: 8-bit unsigned PCM
SILENCE = 128


def _block(rng: random.Random, pitch: float | None, loudness: float) -> bytes:
    """One second: a tone at `pitch` Hz with its octave and a little noise (None: room noise)."""
    samples = bytearray(RATE)
    for i in range(RATE):
        t = i / RATE
        value = rng.gauss(0.0, 0.03)
        if pitch is not None:
            # A syllable rhythm: the tone swells and fades four times a second.
            envelope = 0.5 - 0.5 * math.cos(2 * math.pi * 4 * t)
            value += envelope * (
                0.6 * math.sin(2 * math.pi * pitch * t) + 0.25 * math.sin(4 * math.pi * pitch * t)
            )
        samples[i] = max(0, min(255, SILENCE + int(127 * loudness * value)))
    return bytes(samples)


class Voices:
    """A few pre-built seconds: the manager's voice, the client's, and room noise."""

    def __init__(self, seed: int = 7) -> None:
        rng = random.Random(seed)
        self.manager = [_block(rng, pitch, 0.8) for pitch in (180.0, 200.0, 220.0)]
        self.client = [_block(rng, pitch, 0.7) for pitch in (120.0, 135.0, 150.0)]
        self.room = [_block(rng, None, 1.0)]

    def seconds(self, rng: random.Random, count: int) -> list[bytes]:
        """`count` seconds of a conversation: turns of 2–6 s, a second of room noise between."""
        out: list[bytes] = []
        speaker = self.manager
        while len(out) < count:
            out += [rng.choice(speaker) for _ in range(rng.randint(2, 6))]
            out.append(self.room[0])
            speaker = self.client if speaker is self.manager else self.manager
        return out[:count]


def write_recording(path: Path, seconds: float, rng: random.Random, voices: Voices) -> int:
    """A WAV file of exactly `seconds` (to the sample) at `path`; returns its size in bytes."""
    frames = max(int(round(seconds * RATE)), 1)
    whole, rest = divmod(frames, RATE)
    blocks = voices.seconds(rng, whole + (1 if rest else 0))
    data = b"".join(blocks)[:frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(WIDTH)
        out.setframerate(RATE)
        out.writeframes(data)
    return path.stat().st_size


def clear_recordings(folder: Path) -> None:
    """Empty the demo's recordings folder of the WAV files a previous run left (nothing else)."""
    if folder.is_dir():
        for old in folder.glob("*.wav"):
            old.unlink()


async def record_calls(db: Database, folder: Path, seed: int) -> tuple[int, int]:
    """A WAV file for every answered call, exactly its talk time long, under `folder` (where
    the simulator's MixMonitor named it). A call nobody answered has no conversation and,
    as MixMonitor's `b` option leaves no file for it, its recording name is cleared.
    Returns (files written, bytes)."""
    async with db.transaction() as session:
        calls = (
            await session.scalars(
                select(Call).where(Call.recording_file.is_not(None)).order_by(Call.id)
            )
        ).all()
        jobs = []
        for call in calls:
            if call.answered_at is None or call.talk_seconds <= 0:
                call.recording_file = None
                continue
            name = Path(call.recording_file or "").name
            call.recording_file = str(folder / name)
            jobs.append((folder / name, call.talk_seconds, call.id))
    return await asyncio.to_thread(_write_all, jobs, seed)


def _write_all(jobs: list[tuple[Path, float, int]], seed: int) -> tuple[int, int]:
    voices = Voices(seed)
    size = 0
    for path, seconds, call_id in jobs:
        size += write_recording(path, seconds, random.Random(seed * 1_000_003 + call_id), voices)
    return len(jobs), size
