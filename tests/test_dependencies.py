"""The runtime dependency list holds what the runtime code imports, and nothing else (issue #15)."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib.metadata import packages_distributions

from tests.test_layers import LAYERS, ROOT, collect

# Installed for the runtime although no line of ours imports them: SQLAlchemy loads them by URL.
DRIVERS = {
    "aiosqlite": "sqlite+aiosqlite:// (models/db.py)",
    "python-multipart": "Starlette's request.form() parses forms with it (callrouter/web/)",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        _normal(re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0]) for spec in project["dependencies"]
    }


def _imported() -> dict[str, str]:
    """Distribution → one runtime import of it (file:line), for every third-party import."""
    runtime = [layer for layer in LAYERS if layer.package not in ("bench", "tests")]
    ours = {layer.package for layer in LAYERS}
    distributions = packages_distributions()
    found: dict[str, str] = {}
    for imp in collect(ROOT, runtime):
        top = imp.target_package
        if top in ours or top in sys.stdlib_module_names or top == "__future__":
            continue
        for distribution in distributions.get(top, [f"<no distribution provides {top}>"]):
            found.setdefault(_normal(distribution), str(imp))
    return found


def test_every_runtime_import_is_a_declared_dependency():
    missing = {d: where for d, where in _imported().items() if d not in _declared()}
    assert not missing, f"imported by runtime code but not in [project].dependencies: {missing}"


def test_every_declared_dependency_is_imported_by_runtime_code():
    unused = _declared() - set(_imported()) - set(DRIVERS)
    assert not unused, f"in [project].dependencies but no runtime code imports it: {unused}"
