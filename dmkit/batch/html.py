"""The batch's HTML: each executed notebook as a report, and the indexes that link them.

:func:`to_html` converts an executed notebook (code folded in ``<details>``);
:func:`write_index` keeps a manifest (``_runs.json``) in every ``<root>/<province>/<month>/``
and writes its ``index.html`` and ``<root>/index.html``.
"""
from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

from dmkit.batch.record import read_record
from dmkit.batch.results import NotebookRun
from dmkit.contract.files import atomic_write_bytes
from dmkit.errors import DataNotFoundError

__all__ = ["MANIFEST", "read_manifest", "to_html", "write_index"]

MANIFEST = "_runs.json"


def to_html(notebook: str | Path, *, title: str | None = None) -> Path:
    """Convert an executed notebook to ``<same name>.html`` beside it, atomically.

    Code cells are kept but folded away (``<details>``, click "code" to open them);
    outputs, plots and prose show as in JupyterLab. ``title`` (the page title) defaults
    to the notebook's file name.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    loader = jinja2.DictLoader({"dmkit_report.html.j2": _REPORT_TEMPLATE})
    exporter = HTMLExporter(template_name="lab", extra_loaders=[loader],
                            template_file="dmkit_report.html.j2")
    resources = {"metadata": {"name": title or notebook.stem}}
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4), resources=resources)
    return atomic_write_bytes(notebook.with_suffix(".html"), body.encode("utf-8"))


def write_index(out_dirs: Sequence[Path], *, runs: Sequence[NotebookRun], root: Path) -> list[Path]:
    """Update each run folder's manifest and write its ``index.html``, then ``<root>/index.html``.

    A folder's index lists every notebook ever run there (the latest run of each), so a
    batch of one notebook does not hide the others' reports.
    """
    written = []
    by_dir: dict[Path, list[NotebookRun]] = {}
    for r in runs:
        folder = Path(r.ipynb).parent if r.ipynb else None
        if folder is None:
            folder = next((d for d in out_dirs if d.parts[-2:] == (r.province, r.month)), out_dirs[0])
        by_dir.setdefault(folder, []).append(r)
    for folder in out_dirs:
        manifest = read_manifest(folder)
        for r in by_dir.get(folder, []):
            manifest[r.notebook] = {**r.__dict__, "figures": _figures(folder, r.notebook)}
        text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True)
        atomic_write_bytes(folder / MANIFEST, text.encode("utf-8"))
        written.append(atomic_write_bytes(folder / "index.html", _dir_index(folder, manifest)))
    written.append(atomic_write_bytes(root / "index.html", _root_index(root)))
    return written


def _figures(folder: Path, name: str) -> dict:
    try:
        return read_record(folder, name)
    except (DataNotFoundError, ValueError):
        return {}


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


_REPORT_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block input_group -%}
<details class="dmkit-code"><summary>code</summary>
{{ super() }}
</details>
{%- endblock input_group %}
{% block html_head_js %}
{{ super() }}
<style>
details.dmkit-code > summary { cursor: pointer; color: #888; font-size: 85%; margin: 2px 0 2px 64px; }
</style>
{% endblock html_head_js %}
"""


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
.passed {{ color: #1a7f37; font-weight: bold; }}
.failed {{ color: #cf222e; font-weight: bold; }}
.interrupted {{ color: #9a6700; font-weight: bold; }}
.figs {{ font-size: 85%; color: #555; }}
.err {{ font-family: monospace; font-size: 85%; color: #cf222e; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{lead}</p>
{body}
</body></html>
"""


def _dir_index(folder: Path, manifest: dict) -> bytes:
    rows = []
    for name in sorted(manifest):
        m = manifest[name]
        report = _link(folder, m.get("html"), name) if m.get("html") else html.escape(name)
        nb = _link(folder, m.get("ipynb"), "ipynb") if m.get("ipynb") else ""
        rows.append(
            f"<tr><td>{report}</td><td class=\"{html.escape(m['status'])}\">{html.escape(m['status'])}</td>"
            f"<td>{m['seconds']:.1f}</td><td>{html.escape(m.get('finished_at', ''))}</td>"
            f"<td>{nb}</td><td class=\"figs\">{_fmt_figures(m.get('figures', {}))}</td>"
            f"<td class=\"err\">{html.escape(m.get('error', ''))}</td></tr>")
    passed = sum(m["status"] == "passed" for m in manifest.values())
    table = ("<table><tr><th>report</th><th>status</th><th>seconds</th><th>finished</th>"
             "<th>notebook</th><th>key figures</th><th>error</th></tr>\n" + "\n".join(rows) + "</table>")
    title = f"dmkit reports: {folder.parent.name} {folder.name}"
    lead = f"{passed} of {len(manifest)} notebooks passed. <a href=\"../../index.html\">all runs</a>"
    return _PAGE.format(title=html.escape(title), lead=lead, body=table).encode("utf-8")


def _root_index(root: Path) -> bytes:
    rows = []
    n_all = n_pass = 0
    for manifest_path in sorted(root.glob(f"*/*/{MANIFEST}")):
        folder = manifest_path.parent
        manifest = read_manifest(folder)
        for name in sorted(manifest):
            m = manifest[name]
            n_all += 1
            n_pass += m["status"] == "passed"
            report = _link(root, m.get("html"), name) if m.get("html") else html.escape(name)
            rows.append(
                f"<tr><td>{html.escape(folder.parent.name)}</td>"
                f"<td>{_link(root, str(folder / 'index.html'), folder.name)}</td><td>{report}</td>"
                f"<td class=\"{html.escape(m['status'])}\">{html.escape(m['status'])}</td>"
                f"<td>{m['seconds']:.1f}</td><td>{html.escape(m.get('finished_at', ''))}</td>"
                f"<td class=\"err\">{html.escape(m.get('error', '')[:200])}</td></tr>")
    table = ("<table><tr><th>province</th><th>month</th><th>report</th><th>status</th>"
             "<th>seconds</th><th>finished</th><th>error</th></tr>\n" + "\n".join(rows) + "</table>")
    lead = f"{n_pass} of {n_all} reports passed."
    return _PAGE.format(title="dmkit reports", lead=lead, body=table).encode("utf-8")


def _link(base: Path, target: str | None, text: str) -> str:
    href = os.path.relpath(str(target), str(base))
    return f"<a href=\"{html.escape(href)}\">{html.escape(text)}</a>"


def _fmt_figures(figures: dict, limit: int = 8) -> str:
    items = []
    for key, value in list(figures.items())[:limit]:
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, list):
            value = "[" + ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value) + "]"
        value = str(value) if len(str(value)) <= 60 else str(value)[:57] + "..."
        items.append(f"{html.escape(str(key))} = {html.escape(str(value))}")
    more = f" … (+{len(figures) - limit})" if len(figures) > limit else ""
    return "<br>".join(items) + more
