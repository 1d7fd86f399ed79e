"""Every notebook follows the shared conventions (see dmkit.runner and the README).

Checked without executing anything: a ``parameters``-tagged first code cell defining the
common names, stored without outputs, thin cells, ``dm.runner.record`` last, and a test.
"""
from __future__ import annotations

import ast
import functools
import json
from pathlib import Path

import nbformat
import pytest

from dmkit.params import NOTEBOOK_PARAMETERS, NOTEBOOKS

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK_FILES = sorted((REPO / "notebooks").glob("*.ipynb"))


@functools.cache
def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(path: Path) -> list:
    return [c for c in _read(path).cells if c.cell_type == "code"]


def _parse(source: str) -> ast.Module:
    """Parse a cell, ignoring IPython magics and shell escapes."""
    lines = ["pass" if line.lstrip().startswith(("%", "!")) else line
             for line in source.splitlines()]
    return ast.parse("\n".join(lines))


def test_every_case_study_has_a_notebook():
    have = {p.stem for p in NOTEBOOK_FILES}
    assert sorted(set(NOTEBOOKS) - have) == []


def test_no_unexpected_notebooks():
    assert sorted({p.stem for p in NOTEBOOK_FILES} - set(NOTEBOOKS)) == []


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
class TestNotebook:
    def test_valid_and_kernel_python3(self, path):
        nb = _read(path)
        nbformat.validate(nb)
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3"

    def test_every_cell_has_a_unique_id(self, path):
        # nbformat 4.5 warns (MissingIDFieldWarning) when reading a cell without an id
        raw = json.loads(path.read_text(encoding="utf-8"))
        ids = [c.get("id") for c in raw["cells"]]
        assert None not in ids and len(set(ids)) == len(ids), f"cells without an id or with a repeated one in {path.name}"

    def test_first_code_cell_is_tagged_parameters_with_common_names(self, path):
        first = _code_cells(path)[0]
        assert "parameters" in first.metadata.get("tags", []), "first code cell not tagged 'parameters'"
        assigned = {t.id for node in _parse(first.source).body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)}
        missing = sorted(set(NOTEBOOK_PARAMETERS) - assigned)
        assert missing == [], f"parameters cell does not define {missing}"

    def test_papermill_reads_every_parameter(self, path):
        # papermill's inspector (``papermill --help-notebook``, and type inference when
        # injecting) skips a line holding two "=" with a warning: keep "=" out of comments.
        from papermill.translators import PythonTranslator

        first = _code_cells(path)[0]
        assigned = [t.id for node in _parse(first.source).body if isinstance(node, ast.Assign)
                    for t in node.targets if isinstance(t, ast.Name)]
        assert [p.name for p in PythonTranslator.inspect(first)] == assigned

    def test_only_one_parameters_cell(self, path):
        tagged = [c for c in _code_cells(path) if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1

    def test_stored_without_outputs(self, path):
        dirty = [i for i, c in enumerate(_code_cells(path))
                 if c.get("outputs") or c.get("execution_count") is not None]
        assert dirty == [], f"code cells {dirty} have outputs or execution counts: strip them"

    def test_records_figures_last(self, path):
        last = _code_cells(path)[-1].source
        calls = [n for n in ast.walk(_parse(last)) if isinstance(n, ast.Call)
                 and ast.unparse(n.func) in ("dm.report.record", "dm.runner.record")]  # runner's: an alias
        assert calls, "the last code cell must call dm.report.record(out_dir, name, {...})"
        args = calls[0].args
        assert len(args) == 3 and ast.unparse(args[0]) == "out_dir"
        assert isinstance(args[1], ast.Constant) and args[1].value == path.stem

    def test_no_function_longer_than_two_lines(self, path):
        long = []
        for i, cell in enumerate(_code_cells(path)):
            for node in ast.walk(_parse(cell.source)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    if node.end_lineno - node.lineno + 1 > 2:
                        long.append(f"cell {i}: {node.name}")
        assert long == [], f"move these into dmkit: {long}"

    def test_declares_its_peak_memory_per_user(self, path):
        # read by the batch's memory admission (dmkit.batch.memory); measured with
        # benchmarks/notebooks.py (kernel tree peak at 3M users, or 1M for the small ones)
        per_user = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("dmkit", {}).get("peak_bytes_per_user")
        assert isinstance(per_user, (int, float)) and 0 < per_user < 10_000, per_user

    def test_declares_its_seconds_per_user(self, path):
        # read by the batch's order (dmkit.batch.costs: longest first); measured with
        # benchmarks/notebooks.py (kernel wall seconds in the 12M batch)
        per_user = json.loads(path.read_text(encoding="utf-8"))["metadata"].get("dmkit", {}).get("seconds_per_user")
        assert isinstance(per_user, float) and 0 < per_user < 1e-3, per_user

    def test_has_its_own_test(self, path):
        test = REPO / "tests" / f"test_nb_{path.stem}.py"
        assert test.is_file(), f"missing {test.relative_to(REPO)}"
        assert "execute_notebook" in test.read_text(encoding="utf-8")
