"""`status.json` in the spool directory: the AMI listener's state for `callrouter status`.

Written atomically (temporary file + rename) when the AMI connection comes up or goes down,
and refreshed every `HEARTBEAT` seconds while the service runs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FILENAME = "status.json"
HEARTBEAT = 15.0


@dataclass(frozen=True)
class ListenerStatus:
    pid: int
    ami_connected: bool
    ami_address: str
    changed_at: str  # when ami_connected last changed (ISO 8601, UTC)
    updated_at: str
    running: bool = True
    # Why AMI is not connected (the last session's end or the failed login); None when it is.
    ami_error: str | None = None


def status_path(spool_dir: Path) -> Path:
    return Path(spool_dir) / FILENAME


def write_status(path: Path, status: ListenerStatus) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(asdict(status)), encoding="utf-8")
    os.replace(tmp, path)


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status written, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def process_alive(pid: int) -> bool:
    """Whether `pid` is a running process (works across users: /proc, then kill 0)."""
    if pid <= 0:
        return False
    if Path("/proc").is_dir():
        return Path(f"/proc/{pid}").exists()
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True
