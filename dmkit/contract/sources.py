"""The dmkit source files a computation runs, and their digest: what a stored result is keyed on.

A cache of computed results must not outlive the code that computed it. :func:`module_sources`
lists the source of a dmkit module and of every dmkit module it imports, transitively (read
from their ``import`` statements, those inside functions included), and :func:`source_digest`
hashes them, so an edit to any of them gives another key while an edit elsewhere does not.

Part of the contract (:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

__all__ = ["module_sources", "source_digest"]

_PACKAGE = Path(__file__).resolve().parent.parent
_ROOT = _PACKAGE.parent


def _module_file(name: str) -> Path | None:
    base = _ROOT.joinpath(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _imported(f: Path) -> set[str]:
    names = set()
    here = ".".join(f.relative_to(_ROOT).with_suffix("").parts)
    pkg = here.rsplit(".", 1)[0] if f.name != "__init__.py" else here.removesuffix(".__init__")
    for node in ast.walk(ast.parse(f.read_text(), filename=str(f))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                mod = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([mod] if mod else []))
            for a in node.names:  # a submodule when one is named so, else a name of ``mod``
                names.add(f"{mod}.{a.name}" if _module_file(f"{mod}.{a.name}") else mod)
    return {n for n in names if n == "dmkit" or n.startswith("dmkit.")}


def module_sources(*modules: str) -> list[Path]:
    """The source files of ``modules`` (dotted names, ``"dmkit.synth.generate"``) and of every
    dmkit module they import, transitively, sorted. The package's own ``__init__`` (lazy: it
    runs nothing) is left out."""
    seen: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        f = _module_file(name)
        if name in seen or f is None or name == "dmkit":
            continue
        seen[name] = f
        todo.extend(_imported(f))
    return sorted(set(seen.values()))


@functools.cache
def source_digest(*modules: str) -> str:
    """SHA-256 (16 hex digits) of the relative paths and bytes of :func:`module_sources`.

    Computed once per process: the code a process runs does not change under it."""
    h = hashlib.sha256()
    for f in module_sources(*modules):
        h.update(f.relative_to(_PACKAGE).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
