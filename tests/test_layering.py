"""The package reads as the pipeline: each subpackage imports only from itself and the stages
below it, no module imports itself back through a cycle, and the wheel lists every package."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.tier("unit")

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "bnn2hls"

# Stages, low to high. A module of one stage may import its own stage and any lower one; two
# stages on one row are siblings that must not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "resources"),
    ("safeio", "procs"),  # reading/writing what the user gives; running external tools
    ("ir",),
    ("frontend", "passes"),
    ("reference",),
    ("hw",),
    ("estimate",),
    ("backends",),
    ("engines",),
    ("reports",),
    ("models",),
    ("flow",),
    ("search",),
    ("cli",),
    ("__main__", "__init__"),
]
RANK = {stage: rank for rank, row in enumerate(LAYERS) for stage in row}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The bnn2hls modules (dotted, below bnn2hls) that `path` imports, relative or absolute,
    at any depth of the file (function-level imports count)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name[len("bnn2hls."):] for a in node.names if a.name.startswith("bnn2hls.")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and (node.module + ".").startswith("bnn2hls."):
                target = node.module[len("bnn2hls"):].lstrip(".")
            else:
                continue
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if (PKG / sub.replace(".", "/")).with_suffix(".py").exists()
                          or (PKG / sub.replace(".", "/")).is_dir() else target)
    return {f for f in found if f}


def stage(module: str) -> str:
    return module.split(".")[0]


MODULES = {module_name(p): p for p in sorted(PKG.rglob("*.py"))}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_every_stage_is_ranked():
    stages = {stage(m) for m in MODULES}
    assert stages <= set(RANK), sorted(stages - set(RANK))


def test_no_upward_or_sideways_imports():
    bad = []
    for module, targets in GRAPH.items():
        here = stage(module)
        for target in targets:
            there = stage(target)
            if there != here and RANK[there] >= RANK[here] and here != "__init__":
                bad.append(f"{module} -> {target}")
    assert not bad, "imports against the pipeline order:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    # Module level only matters for cycles Python trips on, but a function-level import that
    # closes a cycle is a layering smell too: every import counts.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH.get(m, ())):
            if t not in GRAPH or t == m:
                continue
            # a package's __init__ re-exporting its own submodules is not a cycle of the code
            if m == t.rsplit(".", 1)[0] or t == m.rsplit(".", 1)[0]:
                continue
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if state.get(t) is None and (cycle := visit(t)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if state.get(m) is None and (cycle := visit(m)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_wheel_lists_every_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {"bnn2hls" + ("." + ".".join(p.parent.relative_to(PKG).parts) if p.parent != PKG else "")
               for p in PKG.rglob("__init__.py")}
    data = {name for name in listed if name in config.get("package-dir", {})}
    assert listed - data == on_disk, (sorted(on_disk - listed), sorted(listed - data - on_disk))
    for name, folder in config["package-dir"].items():
        assert (ROOT / folder).is_dir(), (name, folder)
