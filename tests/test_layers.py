"""The house's floors: no import runs upward, no cycle between packages, no star import.

Walks the syntax tree of every module of the product packages (issue #15). Imports inside
functions and under `if TYPE_CHECKING:` count too: a type-only upward import is still a wrong
arrow. Relative imports count as the package they resolve to. `tests/` is not checked.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Layer:
    package: str
    may_import: tuple[str, ...]  # packages, or dotted modules when only a part of one is open
    reason: str
    checked: bool = True


_UP_TO_CRM = ("router", "asterisk_sim", "core", "models", "migrations", "ami_listener", "crm")

# Bottom to top: a layer may import what it names, all of it below it, and nothing else of ours.
# fmt: off
LAYERS: tuple[Layer, ...] = (
    Layer("router", (), "pure routing policy: no I/O, no clock, nothing of ours"),
    Layer("asterisk_sim", (), "stand-alone simulator: it plays Asterisk, knows none of us"),
    Layer("core", ("router",), "shared ground: settings, phones, working time, dialplan names"),
    Layer("models", ("core", "router"), "storage: tables, engine, migrations runner, read models"),
    Layer("migrations", ("models", "core", "router"), "Alembic scripts build the tables' schema"),
    Layer("ami_listener", ("core", "router"), "owns its writer interface; never storage or CRM"),
    Layer("crm", ("models", "core", "router", "ami_listener.calls", "ami_listener.sink"),
          "CRM operations and the call writer; of the listener its call records and sink contract"),
    Layer("agi_scripts", ("models", "core", "router"), "AGI wire and decision; reads directory"),
    Layer("callrouter", (*_UP_TO_CRM, "agi_scripts"), "the roof: CLI, service, reports, demo"),
    Layer("bench", (*_UP_TO_CRM, "agi_scripts", "callrouter"), "benchmarks drive any part"),
    Layer("tests", (), "tests may import anything; their files are not checked", checked=False),
)
# fmt: on


@dataclass(frozen=True)
class Import:
    path: str  # relative to the tree's root
    line: int
    text: str  # the statement as written
    source: str  # the importing module's package
    target: str  # the dotted name it reaches, relative imports resolved

    @property
    def target_package(self) -> str:
        return self.target.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def module_name(path: Path, root: Path) -> tuple[list[str], bool]:
    """The dotted parts of the module at `path`, and whether it is a package's `__init__`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    """Every import statement of the module, wherever it stands (functions, TYPE_CHECKING)."""
    parts, is_package = module_name(path, root)
    rel = path.relative_to(root).as_posix()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=rel)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(rel, node.lineno, f"import {alias.name}", parts[0], alias.name)
        elif isinstance(node, ast.ImportFrom):
            names = ", ".join(alias.name for alias in node.names)
            text = f"from {'.' * node.level}{node.module or ''} import {names}"
            if node.level:
                here = parts if is_package else parts[:-1]
                base = here[: len(here) - (node.level - 1)] if node.level - 1 < len(here) else []
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                target = module if alias.name == "*" else f"{module}.{alias.name}".lstrip(".")
                yield Import(rel, node.lineno, text, parts[0], target)


def collect(root: Path, layers: Sequence[Layer]) -> list[Import]:
    found: list[Import] = []
    for layer in layers:
        if layer.checked:
            for path in sorted((root / layer.package).rglob("*.py")):
                found.extend(imports_of(path, root))
    return found


def star_imports(imports: Sequence[Import]) -> list[str]:
    return sorted({str(imp) for imp in imports if imp.text.endswith(" import *")})


def wrong_arrows(imports: Sequence[Import], layers: Sequence[Layer]) -> list[str]:
    """Imports of ours that the picture does not allow: upward, or sideways past a rule."""
    floor = {layer.package: number for number, layer in enumerate(layers, 1)}
    allowed = {layer.package: layer.may_import for layer in layers}
    found = []
    for imp in imports:
        target = imp.target_package
        if target == imp.source or target not in floor:
            continue
        if any(imp.target == a or imp.target.startswith(a + ".") for a in allowed[imp.source]):
            continue
        if floor[target] > floor[imp.source]:
            why = f"runs upward: {imp.source} (floor {floor[imp.source]}) imports {target} "
            why += f"(floor {floor[target]})"
        else:
            why = f"is not an arrow of the picture: {imp.source} may import "
            why += ", ".join(allowed[imp.source]) or "nothing of ours"
        found.append(f"{imp}  — {why}")
    return found


def package_cycles(imports: Sequence[Import], layers: Sequence[Layer]) -> list[str]:
    """Each cycle between packages, with one import standing for each of its arrows."""
    ours = {layer.package for layer in layers}
    example: dict[tuple[str, str], Import] = {}
    for imp in imports:
        if imp.target_package in ours and imp.target_package != imp.source:
            example.setdefault((imp.source, imp.target_package), imp)
    graph: dict[str, set[str]] = {}
    for source, target in example:
        graph.setdefault(source, set()).add(target)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def shortest_cycle(start: str) -> list[str]:
        came_from: dict[str, str] = {}
        todo = [start]
        while todo:
            here = todo.pop(0)
            for nxt in sorted(graph.get(here, ())):
                if nxt == start:
                    path = [here]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt not in came_from:
                    came_from[nxt] = here
                    todo.append(nxt)
        return []

    reach = {package: reachable(package) for package in sorted(graph)}
    reported: set[frozenset[str]] = set()
    cycles = []
    for package in sorted(graph):
        group = frozenset(p for p in reach[package] if package in reach.get(p, set()))
        if not group or group in reported:
            continue
        reported.add(group)
        cycle = shortest_cycle(package)
        arrows = [f"  {s} -> {t}: {example[s, t]}" for s, t in zip(cycle, cycle[1:], strict=False)]
        title = f"cycle {' -> '.join(cycle)} (tying together {', '.join(sorted(group))})"
        cycles.append("\n".join([title, *arrows]))
    return cycles


def _fail(title: str, problems: list[str]) -> str:
    return f"{len(problems)} {title}:\n" + "\n".join(problems)


# --- the house ---------------------------------------------------------------------------------


def test_the_picture_is_drawn_bottom_to_top():
    seen: set[str] = set()
    for layer in LAYERS:
        for allowed in layer.may_import:
            assert allowed.split(".")[0] in seen, f"{layer.package} may import {allowed}: above it"
        seen.add(layer.package)


def test_every_package_has_a_floor():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {layer.package for layer in LAYERS} == set()


def test_no_import_runs_upward():
    problems = wrong_arrows(collect(ROOT, LAYERS), LAYERS)
    assert not problems, _fail("imports against the layering", problems)


def test_no_cycle_between_packages():
    problems = package_cycles(collect(ROOT, LAYERS), LAYERS)
    assert not problems, _fail("cycles", problems)


def test_no_star_import():
    problems = star_imports(collect(ROOT, LAYERS))
    assert not problems, _fail("star imports", problems)


def package_arrows(imports: Sequence[Import], layers: Sequence[Layer]) -> set[tuple[str, str]]:
    """(importer, imported) for every pair of our packages joined by at least one import."""
    ours = {layer.package for layer in layers}
    return {
        (imp.source, imp.target_package)
        for imp in imports
        if imp.target_package in ours and imp.target_package != imp.source
    }


def drawn_arrows(doc: str) -> set[tuple[str, str]]:
    """The arrows listed in docs/architecture.md's table between the `arrows` markers."""
    table = doc.split("<!-- arrows: begin -->", 1)[1].split("<!-- arrows: end -->", 1)[0]
    arrows = set()
    for row in table.splitlines():
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        if len(cells) != 2 or not cells[0].startswith("`"):
            continue
        source = cells[0].strip("`")
        # "`ami_listener` (`calls`, `sink` only), `core`" → ami_listener, core
        targets = cells[1].split("(")[0] + "".join(
            p.split(")", 1)[-1] for p in cells[1].split("(")[1:]
        )
        for target in targets.split(","):
            if target.strip():
                arrows.add((source, target.strip().strip("`")))
    return arrows


def test_the_documented_picture_matches_the_code():
    product = tuple(layer for layer in LAYERS if layer.package != "bench")
    code = package_arrows(collect(ROOT, product), product)
    drawn = drawn_arrows((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    assert not drawn - code, (
        f"drawn in docs/architecture.md, no such import: {sorted(drawn - code)}"
    )
    assert not code - drawn, f"imports missing from docs/architecture.md: {sorted(code - drawn)}"


def test_the_documented_arrows_are_read_as_written():
    doc = """<!-- arrows: begin -->
| from | imports |
| --- | --- |
| `crm` | `ami_listener` (`calls`, `sink` only), `core` |
| `core` | `router` |
<!-- arrows: end -->"""
    assert drawn_arrows(doc) == {("crm", "ami_listener"), ("crm", "core"), ("core", "router")}


# --- the checker fails when it should ----------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_checker_names_an_upward_import_a_cycle_and_a_star_import(tmp_path):
    layers = (
        Layer("low", (), "bottom"),
        Layer("mid", ("low.ok",), "may use one module of low"),
        Layer("high", ("low", "mid"), "top"),
    )
    _tree(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/ok.py": "from . import hidden\nfrom .hidden import X\n",
            "low/hidden.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from high.top import Y\n"
                "X = 1\n"
            ),
            "mid/__init__.py": "",
            "mid/m.py": "import low.ok\n\n\ndef f():\n    from low import hidden\n",
            "high/__init__.py": "from .top import *\n",
            "high/top.py": "import os\nfrom low.ok import X\nfrom mid import m\nY = 2\n",
        },
    )
    imports = collect(tmp_path, layers)

    arrows = wrong_arrows(imports, layers)
    assert len(arrows) == 2, arrows
    assert arrows[0].startswith("low/hidden.py:3: from high.top import Y  — runs upward")
    assert arrows[1].startswith("mid/m.py:5: from low import hidden  — is not an arrow")

    (cycle,) = package_cycles(imports, layers)
    assert cycle.startswith("cycle high -> low -> high (tying together high, low, mid)")
    assert "high -> low: high/top.py:2: from low.ok import X" in cycle
    assert "low -> high: low/hidden.py:3: from high.top import Y" in cycle

    assert star_imports(imports) == ["high/__init__.py:1: from .top import *"]
