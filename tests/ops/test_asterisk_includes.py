"""The Asterisk files a live PBX #includes touch nothing of the PBX's own; the example office
includes them and lints clean (the check CI runs)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "asterisk_conf"
OFFICE = CONF / "example-office"


def sections(path: Path) -> list[str]:
    return re.findall(r"^\[([^\]]+)\]", path.read_text(encoding="utf-8"), flags=re.M)


def test_the_dialplan_include_holds_only_callrouter_contexts() -> None:
    names = sections(CONF / "extensions_callrouter.conf")
    assert names == [
        "callrouter-config",
        "callrouter-inbound",
        "callrouter-outbound",
        "callrouter-ring-delayed",
    ]
    text = (CONF / "extensions_callrouter.conf").read_text(encoding="utf-8")
    assert not re.search(r"^\s*#(include|tryinclude|exec)", text, flags=re.M)


def test_the_manager_include_holds_only_the_callrouter_user() -> None:
    assert sections(CONF / "manager_callrouter.conf") == ["callrouter"]


def test_the_example_office_includes_them_and_is_complete() -> None:
    for name in ("extensions_callrouter.conf", "manager_callrouter.conf"):
        link = OFFICE / name
        assert link.resolve() == (CONF / name).resolve()
    office = (OFFICE / "extensions.conf").read_text(encoding="utf-8")
    assert office.rstrip().endswith("#include extensions_callrouter.conf")
    assert (
        (OFFICE / "manager.conf")
        .read_text(encoding="utf-8")
        .rstrip()
        .endswith("#include manager_callrouter.conf")
    )
    assert {p.name for p in OFFICE.iterdir()} >= {
        "extensions.conf",
        "manager.conf",
        "pjsip.conf",
        "modules.conf",
        "cdr.conf",
        "cdr_manager.conf",
    }


def test_phones_are_pjsip_everywhere_in_the_examples() -> None:
    """chan_sip is not loaded by the example office, so no example may name a SIP/ phone."""
    modules = (OFFICE / "modules.conf").read_text(encoding="utf-8")
    assert "noload => chan_sip.so" in modules
    readme = (CONF.parent / "README.md").read_text(encoding="utf-8")
    examples = [line for line in readme.splitlines() if line.startswith("callrouter ")]
    assert examples and not [line for line in examples if re.search(r"--phone SIP/", line)]
    for conf in (CONF / "extensions_callrouter.conf", OFFICE / "extensions.conf"):
        assert not re.search(r"\bSIP/", conf.read_text(encoding="utf-8").replace("PJSIP/", ""))


def test_the_example_office_dialplan_lints_clean_with_the_include(tmp_path: Path) -> None:
    lint = Path(sys.executable).with_name("asterisklint")
    if not lint.exists():
        pytest.skip("asterisklint is not installed (pip install -e '.[dev]')")
    done = subprocess.run(
        [str(lint), "dialplan-check", str(OFFICE / "extensions.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # The include is really read: a broken application in it fails the office's lint.
    copy = tmp_path / "office"
    copy.mkdir()
    shutil.copy(OFFICE / "extensions.conf", copy / "extensions.conf")
    broken = (CONF / "extensions_callrouter.conf").read_text(encoding="utf-8")
    (copy / "extensions_callrouter.conf").write_text(
        broken.replace("Playback(custom/", "Playbak(custom/"), encoding="utf-8"
    )
    failed = subprocess.run(
        [str(lint), "dialplan-check", str(copy / "extensions.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode != 0 and "Playbak" in failed.stdout + failed.stderr
