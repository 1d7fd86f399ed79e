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

- **the simulator's catalog** — a notebook whose method is written for the simulator's
  35 services (:data:`SIMULATOR_CATALOG`: the planning families, the closed loop's offers,
  the decks' published tables, the packaged rule libraries) is skipped under an operator
  catalog that lacks any of them (a catalog with ``extends: simulator`` keeps them).

The first two are read from the notebook's source with ``ast`` (nothing is executed). A
notebook that names simulator codes only outside its parameters cell, and is not in
:data:`SIMULATOR_CATALOG`, is not caught here; it runs and, if the codes are missing from
the data, fails with the method's error.
"""
from __future__ import annotations

import ast
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

__all__ = ["SIMULATOR_CATALOG", "catalog_codes_missing", "declared_parameters", "needs_simulator",
           "parameter_defaults", "skip_reason"]

#: Notebooks whose method needs the simulator's service codes beyond their parameters,
#: and why. ``guangzhou_rule_library`` only with a packaged ``rules_file`` ('g3', 'fetion').
SIMULATOR_CATALOG: Mapping[str, str] = MappingProxyType({
    "guangzhou_planning": "dm.planning plans the simulator's service families (music, crbt, newspaper...)",
    "guangzhou_rule_library": "its packaged rule library (rules_file) names the simulator's services; "
                              "set thresholds.guangzhou_rule_library.rules_file to a rule YAML of your codes",
    "operations_loop": "the closed loop (dm.loop) offers the simulator's services",
    "published_tables": "it rebuilds the decks' published tables, which are coded in the simulator's services",
    "yunnan_crbt_states": "dm.lifecycle.customer_states measures a service's use by the usage columns of the "
                          "simulator's codes (crbt: crbt_changes, music_downloads) and the notebook has no "
                          "activity_columns parameter",
    "yunnan_lifecycle": "dm.lifecycle.customer_states measures a service's use by the usage columns of the "
                        "simulator's codes (crbt: crbt_changes, music_downloads) and the notebook has no "
                        "activity_columns parameter",
})
_PACKAGED_RULES = ("g3", "fetion")


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


def declared_parameters(path: str | Path) -> set[str]:
    """The names the notebook's ``parameters`` cell assigns (read with ``ast``, not run)."""
    names: set[str] = set()
    for is_params, tree in _code_cells(Path(path)):
        if not is_params:
            continue
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        break  # the first parameters cell, as papermill
    return names


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
        break
    return out


def catalog_codes_missing(values: Mapping[str, object], catalog) -> dict[str, list[str]]:
    """``{parameter: [codes]}``: the simulator service codes the parameters name that the
    operator ``catalog`` does not hold. A value that is also a contract column name (``sms_p2p``,
    ``mms``) counts only for a parameter whose name says ``service``: ``features =
    ["sms_p2p"]`` names usage columns, ``focus_service = "sms_p2p"`` a service."""
    from dmkit import catalog as sim
    from dmkit.schema import COLUMNS

    columns = {s.name for specs in COLUMNS.values() for s in specs}
    have = set(catalog.service_codes)
    out: dict[str, list[str]] = {}
    for name, value in values.items():
        items = value if isinstance(value, list | tuple) else [value]
        missing = [v for v in items if isinstance(v, str) and v in sim.SERVICES
                   and v not in have and (v not in columns or "service" in name)]
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
    catalog = load_catalog(catalog_file)
    bound = SIMULATOR_CATALOG.get(name)
    if bound and (name != "guangzhou_rule_library" or values.get("rules_file") in _PACKAGED_RULES):
        from dmkit import catalog as sim

        lacks = [c for c in sim.SERVICES if c not in catalog.service_codes]
        if lacks:
            return (f"written for the simulator's catalog: {bound}; the catalog {catalog_file!r} lacks "
                    f"{len(lacks)} of its {len(sim.SERVICES)} service codes, e.g. {lacks[:3]} "
                    "(a catalog with 'extends: simulator' keeps them)")
    missing = catalog_codes_missing(values, catalog)
    if not missing:
        return ""
    key, codes = next(iter(missing.items()))
    others = [k for k in missing if k != key]
    more = f" (and the parameter(s) {others})" if others else ""
    return (f"parameter {key!r} names the simulator service code(s) {codes}, not in the catalog "
            f"{catalog_file!r}{more}; set thresholds.{name}.{key} in the params file to one of the "
            "catalog's codes")
