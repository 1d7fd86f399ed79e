"""The house's import layers (DESIGN.md, "Layers"), read from the source with ``ast``.

Every ``import`` of a dmkit module, at the top of a file or inside a function, is an arrow
from the importing module's floor to the imported one's. Arrows may run down or along a
floor, never up; the methods stand on the contract alone (not on the simulator, the data
facade, the loop, the engines, the report or the batch); the simulator imports no method.
A module not listed in ``FLOORS`` is a method (a new method family slots in as such).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dmkit"

CONTRACT, SIMULATOR, FACADE, METHODS, LOOP, ENGINES, TOP = range(1, 8)
FLOORS: dict[str, int] = {  # module prefix -> floor; the longest prefix wins
    "dmkit.errors": CONTRACT, "dmkit.schema": CONTRACT, "dmkit.catalog": CONTRACT,
    "dmkit.contract": CONTRACT,
    "dmkit._validation": CONTRACT, "dmkit._results": CONTRACT, "dmkit._threads": CONTRACT,
    "dmkit.synth": SIMULATOR,
    "dmkit.io": FACADE,
    "dmkit.loop": LOOP,
    "dmkit.engines": ENGINES, "dmkit.spark": ENGINES,
    "dmkit.report": TOP, "dmkit.batch": TOP, "dmkit.params": TOP, "dmkit.cli": TOP,
    "dmkit.runner": TOP, "dmkit.__main__": TOP,
}
NAMES = {CONTRACT: "contract", SIMULATOR: "simulator", FACADE: "data facade", METHODS: "methods",
         LOOP: "loop", ENGINES: "engines", TOP: "report/batch/CLI"}


def floor(module: str) -> int:
    match = max((p for p in FLOORS if module == p or module.startswith(p + ".")), key=len, default=None)
    return FLOORS[match] if match else METHODS


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The dmkit modules ``path`` imports (``from dmkit import x`` counts as ``dmkit.x``)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for a in node.names:
                target = f"{base}.{a.name}"
                is_module = (PACKAGE.parent / (target.replace(".", "/") + ".py")).is_file() or (
                    PACKAGE.parent / target.replace(".", "/")).is_dir()
                found.add(target if is_module else base)
    return {m for m in found if m.startswith("dmkit.")}  # bare "dmkit" only runs its lazy __init__


def _arrows() -> list[tuple[str, str]]:
    return sorted((_module_name(f), target) for f in PACKAGE.rglob("*.py") for target in _imports(f))


def _upward(allowed) -> list[str]:
    return [f"{src} ({NAMES[floor(src)]}) imports {dst} ({NAMES[floor(dst)]})"
            for src, dst in _arrows() if not allowed(floor(src), floor(dst))]


def test_the_import_reader_sees_the_arrows_it_should():
    arrows = set(_arrows())
    assert ("dmkit.io", "dmkit.synth.cache") in arrows          # top-level import
    assert ("dmkit.synth.cache", "dmkit.synth") in arrows        # import inside a function
    assert ("dmkit.health", "dmkit.factors") in arrows
    assert floor("dmkit.contract.tables") == CONTRACT and floor("dmkit.viral") == METHODS


def test_no_import_runs_upward():
    assert _upward(lambda a, b: b <= a) == []


def test_the_contract_imports_nothing_above_it():
    assert _upward(lambda a, b: a != CONTRACT or b == CONTRACT) == []


@pytest.mark.parametrize("floor_below", [SIMULATOR, FACADE])
def test_methods_stand_on_the_contract_alone(floor_below):
    # not the simulator, the data facade, nor (by the first test) the loop, engines, batch or report
    assert _upward(lambda a, b: a != METHODS or b != floor_below) == []


def test_the_simulator_imports_no_method():
    assert _upward(lambda a, b: a != SIMULATOR or b in (CONTRACT, SIMULATOR)) == []
