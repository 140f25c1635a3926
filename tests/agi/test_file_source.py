"""The JSON directory snapshot (`agi.directory_file`) knows departments' lines and the default,
so a call routed from the snapshot picks its department by the number dialled, as from the
database."""

from __future__ import annotations

import json
from pathlib import Path

from agi_scripts.file_source import FileDirectorySource
from router.departments import ChoiceBasis, choose_department

SNAPSHOT = {
    "departments": [
        {"id": 1, "name": "Продажи", "dids": ["+74950000001"]},
        {"id": 2, "name": "Опт", "dids": ["+74950000002"]},
    ],
    "default_department_id": 1,
    "managers": [
        {"id": 1, "name": "Анна", "endpoint": "PJSIP/101", "department_id": 1},
        {"id": 2, "name": "Борис", "endpoint": "PJSIP/201", "department_id": 2},
    ],
}


async def test_the_snapshot_picks_the_department_by_the_line_dialled(tmp_path: Path) -> None:
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(SNAPSHOT, ensure_ascii=False), encoding="utf-8")
    directory = await FileDirectorySource(path).load_directory()

    wholesale = choose_department(directory, "+74950000002")
    assert (wholesale.name, wholesale.basis) == ("Опт", ChoiceBasis.DID)
    unknown = choose_department(directory, "+74959999999")
    assert (unknown.name, unknown.basis) == ("Продажи", ChoiceBasis.DEFAULT)
