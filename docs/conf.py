"""Sphinx configuration of the dmkit docs (``make docs``; CI builds them with warnings as errors)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

project = "dmkit"
author = "dmkit developers"
copyright = "2026, dmkit developers"
release = __import__("dmkit").__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "numpydoc", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_title = "dmkit"
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"         # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]  # README/contract links to repository files, not doc pages

_GEN = Path(__file__).parent / "_generated"


def _cli_help() -> None:
    """``dmkit <command> --help`` for each command, as the CLI page shows it."""
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1", "_TYPER_FORCE_DISABLE_TERMINAL": "1"}
    for cmd in ("synth", "validate", "run", "loop"):
        out = subprocess.run([sys.executable, "-m", "dmkit", cmd, "--help"], capture_output=True, text=True,
                             env=env, cwd=ROOT, check=True).stdout
        (_GEN / f"cli_{cmd}.txt").write_text(out, encoding="utf-8")


def _report_title(source: str) -> str | None:
    """The title given to ``dm.report.start(...)`` in a notebook cell (any quoting), or None."""
    if "dm.report.start(" not in source:
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and ast.unparse(node.func) == "dm.report.start" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            return node.args[0].value
    return None


def _gallery() -> None:
    """One entry per case-study notebook: its deck, what it reproduces, how to run it."""
    from dmkit.params import NOTEBOOKS

    parts = ["# Gallery of the case reports\n",
             "Each case study is a notebook that `dmkit run` executes for a province and month into an HTML "
             "report (`reports/<province>/<month>/<name>.html`), opening with an executive summary written "
             "from the run's numbers. What each one reproduces:\n"]
    for name in NOTEBOOKS:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        intro = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
        heading = next((t for t in (_report_title(c.source) for c in nb.cells if c.cell_type == "code") if t), name)
        body = "\n".join(line for line in intro.splitlines() if not line.startswith("#")).strip()
        parts += [f"## {heading}\n", f"`notebooks/{name}.ipynb` — "
                  f"`dmkit run --province jiangsu --month 2009-06 -n {name}`\n", body + "\n"]
    (_GEN / "gallery.md").write_text("\n".join(parts), encoding="utf-8")


_GEN.mkdir(exist_ok=True)
_cli_help()
_gallery()


# numpydoc reads dmkit's "Fitted Attributes" section (scikit-learn's learned-attribute habit) as
# unknown and says so with a Python UserWarning; the section still renders as text.
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message="Unknown section Fitted Attributes", category=UserWarning)


def _module_sections_as_rubrics(app, what, name, obj, options, lines):
    """A module docstring's "Example" heading becomes a rubric: two modules on one page, or on
    two pages, would otherwise declare the same section id ("example")."""
    if what != "module":
        return
    for i in range(len(lines) - 1):
        if lines[i].strip() in ("Example", "Examples") and set(lines[i + 1].strip()) == {"-"}:
            lines[i], lines[i + 1] = f".. rubric:: {lines[i].strip()}", ""


def _skip_generated(app, what, name, obj, skip, options):
    """scikit-learn's generated ``set_*_request`` methods are not dmkit's API."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _module_sections_as_rubrics, priority=400)
    app.connect("autodoc-skip-member", _skip_generated)
