"""Which notebooks apply to a run: the simulator-only ones and those bound to service codes.

A batch over real extracts, or under an operator's catalog, plans every notebook it is
asked for, then *skips* (never runs, never fails) the ones that cannot apply, with the
reason in the result and the index:

- **simulator only** — the notebook calls the simulator (``dm.synth.…``: it simulates a
  campaign's responses, a club, a locations table) and the run's ``data`` is a folder of
  extracts;
- **service codes** — under an operator catalog (params ``catalog``, or the mapping's
  ``catalog:``), a parameter of the notebook (its default in the ``parameters`` cell, or
  the params file's ``thresholds``) names a service code of the simulator's catalog that
  the operator's does not hold, e.g. ``service = "crbt"``. Set the parameter to one of the
  operator's codes in ``thresholds.<notebook>`` and the notebook runs.

Both are read from the notebook's source with ``ast`` (nothing is executed). A notebook
that names simulator codes only outside its parameters cell is not caught here; it runs
and, if the codes are missing from the data, fails with the method's error.
"""
from __future__ import annotations

import ast
import functools
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["catalog_codes_missing", "needs_simulator", "parameter_defaults", "skip_reason"]


@functools.lru_cache(maxsize=64)
def _cells_of(path: Path, mtime: float) -> tuple[tuple[bool, ast.Module], ...]:
    nb = json.loads(path.read_text(encoding="utf-8"))  # the JSON itself: no nbformat validation warnings
    cells = []
    for c in nb.get("cells", []):
        if c.get("cell_type") != "code":
            continue
        source = c.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        cells.append(("parameters" in c.get("metadata", {}).get("tags", []), tree))
    return tuple(cells)


def _code_cells(path: Path) -> tuple[tuple[bool, ast.Module], ...]:
    """``(is the parameters cell, parsed source)`` of every code cell that parses."""
    return _cells_of(path.resolve(), path.stat().st_mtime)


def needs_simulator(path: str | Path) -> str | None:
    """The simulator module the notebook calls (``dm.synth.location``...), or None."""
    for _, tree in _code_cells(Path(path)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and (
                    isinstance(node.value.value, ast.Name) and node.value.value.id in ("dm", "dmkit")
                    and node.value.attr == "synth"):
                return f"dm.synth.{node.attr}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                hit = next((n for n in names if n.startswith("dmkit.synth")), None)
                if hit:
                    return hit
    return None


def parameter_defaults(path: str | Path) -> dict[str, object]:
    """The literal defaults of the notebook's ``parameters`` cell (names assigned a
    constant, or a list of constants)."""
    out: dict[str, object] = {}
    for is_params, tree in _code_cells(Path(path)):
        if not is_params:
            continue
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
                node.target if isinstance(node, ast.AnnAssign) else None)
            if not isinstance(target, ast.Name) or node.value is None:
                continue
            try:
                out[target.id] = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
    return out


def catalog_codes_missing(values: Mapping[str, object], catalog) -> dict[str, list[str]]:
    """``{parameter: [codes]}``: the simulator service codes the parameters name that the
    operator ``catalog`` does not hold (usage column names such as ``sms_p2p`` are not
    counted: a parameter holding one may name a column)."""
    from dmkit import catalog as sim
    from dmkit.schema import COLUMNS

    columns = {s.name for specs in COLUMNS.values() for s in specs}
    have = set(catalog.service_codes)
    out: dict[str, list[str]] = {}
    for name, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        missing = [v for v in items if isinstance(v, str) and v in sim.SERVICES
                   and v not in have and v not in columns]
        if missing:
            out[name] = missing
    return out


def skip_reason(source: str | Path, params, parameters: Mapping[str, object]) -> str:
    """Why the notebook at ``source`` does not apply to ``params`` ('' when it does).

    ``parameters`` are what papermill would inject (the params' thresholds win over the
    notebook's defaults).
    """
    name = Path(source).stem
    if params.data != "synth":
        module = needs_simulator(source)
        if module:
            return (f"needs the simulator ({module}): it simulates what a folder of extracts does not "
                    f"hold; run it with data: synth")
    catalog_file = params.catalog_file()
    if catalog_file is None:
        return ""
    from dmkit.contract.catalog_yaml import load_catalog

    values = {**parameter_defaults(source), **dict(parameters)}
    missing = catalog_codes_missing(values, load_catalog(catalog_file))
    if not missing:
        return ""
    key, codes = next(iter(missing.items()))
    others = [k for k in missing if k != key]
    more = f" (and the parameter(s) {others})" if others else ""
    return (f"parameter {key!r} names the simulator service code(s) {codes}, not in the catalog "
            f"{catalog_file!r}{more}; set thresholds.{name}.{key} in the params file to one of the "
            "catalog's codes")
