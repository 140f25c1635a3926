"""A settings file holding a password must not be readable by everyone."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ('[smtp]\nhost = "mail"\npassword = "hunter2"\n', "the SMTP password"),
        (
            '[ami]\nsecret = "s3cret"\n[smtp]\npassword = "hunter2"\n',
            "the AMI secret and the SMTP password",
        ),
    ],
)
def test_world_readable_file_with_a_password_is_refused(
    tmp_path: Path, text: str, what: str
) -> None:
    path = tmp_path / "callrouter.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
    with pytest.raises(SettingsError, match=f"holds {what} and is world-readable") as info:
        load_settings(path)
    assert "hunter2" not in str(info.value) and "s3cret" not in str(info.value)
    path.chmod(0o640)
    assert load_settings(path).smtp.password.get_secret_value() == "hunter2"
