"""The package's layers import only downwards (docs/architecture.md), and no module grows past 400 lines.

Found by reading every module's imports (top level and inside functions alike), so a leak such as the engine
reaching into the data layer for a cache folder fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import irtool

ROOT = Path(irtool.__file__).parent
# Lower numbers are lower layers; a module may import its own layer and those below it.
LAYERS = {
    "errors": 0,
    "files": 0,
    "paths": 0,
    "launch": 0,
    "ops": 1,
    "io": 1,
    "hub": 1,
    "models": 2,
    "engine": 3,
    "data": 3,
    "evaluate": 4,
    "export": 4,
    "train": 5,
    "cli": 6,
}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "irtool" or len(parts) < 2:
        return None  # the package root only carries the version
    return parts[1]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if node.module == "irtool")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_belongs_to_a_layer():
    own = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in _modules()}
    assert own - {"__init__", "__main__"} <= LAYERS.keys()


def test_layers_import_only_downwards():
    leaks = []
    for path in _modules():
        rel = path.relative_to(ROOT)
        here = rel.parts[0].removesuffix(".py")
        if here in ("__init__", "__main__"):
            continue
        for module in _imports(path):
            there = _layer(module)
            if there is not None and there in LAYERS and LAYERS[there] > LAYERS[here]:
                leaks.append(f"{rel} imports {module}")
            if here == "data" and there == "engine" or here == "engine" and there == "data":
                leaks.append(f"{rel} imports {module} (engine and data are side by side)")
    assert not leaks, "\n".join(leaks)


def test_no_module_over_400_lines():
    long = [f"{p.relative_to(ROOT)}: {n}" for p in _modules() if (n := len(p.read_text().splitlines())) > 400]
    assert not long, long
