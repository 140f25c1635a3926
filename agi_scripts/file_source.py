"""A DirectorySource read from a JSON snapshot (demos, tests, `route explain` without a database).

{"departments": [{"id": 1, "name": "Sales", "timezone": "Europe/Moscow",
                  "week": {"0": [["09:00", "18:00"]], ...}, "dids": ["+74951234567"]}],
 "default_department_id": 1,
 "managers": [{"id": 1, "name": "Ivan", "endpoint": "PJSIP/101", "role": "manager",
               "department_id": 1, "active": true}],
 "contacts": [{"id": 7, "phone": "+79161234567", "name": "…", "responsible_manager_id": 1}]}
"""

from __future__ import annotations

import asyncio
import json
from datetime import time
from pathlib import Path
from typing import Any

from router.directory import ContactView, Department, Directory, Manager, Role, WorkingHours


def _hours(raw: dict[str, Any]) -> WorkingHours:
    timezone = raw.get("timezone", "UTC")
    if "week" not in raw:
        return WorkingHours.always(timezone)
    week = {
        int(day): tuple((time.fromisoformat(a), time.fromisoformat(b)) for a, b in spans)
        for day, spans in raw["week"].items()
    }
    return WorkingHours(week, timezone)


def parse_snapshot(data: dict[str, Any]) -> tuple[Directory, dict[str, ContactView]]:
    """The directory and the contacts by phone from the JSON structure above."""
    departments = tuple(
        Department(d["id"], d["name"], _hours(d), frozenset(d.get("dids", ())))
        for d in data.get("departments", ())
    )
    managers = tuple(
        Manager(
            m["id"],
            m["name"],
            m["endpoint"],
            Role(m.get("role", "manager")),
            m.get("department_id"),
            m.get("active", True),
        )
        for m in data.get("managers", ())
    )
    contacts = {
        c["phone"]: ContactView(c["id"], c["phone"], c.get("name"), c.get("responsible_manager_id"))
        for c in data.get("contacts", ())
    }
    default = data.get("default_department_id")
    return Directory(departments, managers, default), contacts


class FileDirectorySource:
    """Reads the file on every call (off the event loop), so edits apply to the next call."""

    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    async def _load(self) -> tuple[Directory, dict[str, ContactView]]:
        text = await asyncio.to_thread(self._path.read_text, encoding="utf-8")
        return parse_snapshot(json.loads(text))

    async def load_directory(self) -> Directory:
        return (await self._load())[0]

    async def find_contact(self, phone_e164: str) -> ContactView | None:
        return (await self._load())[1].get(phone_e164)
