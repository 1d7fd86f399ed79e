"""The batch's HTML: each executed notebook as a report, and the indexes that link them.

:func:`to_html` converts an executed notebook (code folded in ``<details>``);
:func:`write_index` keeps a manifest (``_runs.json``) in every ``<root>/<province>/<month>/``
and writes its ``index.html`` and ``<root>/index.html``.
"""
from __future__ import annotations

import functools
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

from dmkit.batch.record import read_record
from dmkit.batch.results import NotebookRun
from dmkit.contract.files import atomic_write_bytes
from dmkit.errors import DataNotFoundError
from dmkit.report.record import read_headline, read_title
from dmkit.report.tables import format_number, format_percent
from dmkit.report.webfont import embed_cjk_font

__all__ = ["MANIFEST", "read_manifest", "to_html", "write_index"]

MANIFEST = "_runs.json"


def to_html(notebook: str | Path, *, title: str | None = None) -> Path:
    """Convert an executed notebook to ``<same name>.html`` beside it, atomically.

    Code cells are kept but folded away (``<details>``, click "code" to open them);
    outputs, plots and prose show as in JupyterLab. ``title`` (the page title) defaults
    to the notebook's file name. The page embeds the glyphs of its Chinese text
    (:func:`dmkit.report.webfont.embed_cjk_font`), so it renders on machines without a CJK font.
    """
    exporter = _exporter()
    import nbformat

    notebook = Path(notebook)
    resources = {"metadata": {"name": title or notebook.stem}}
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4), resources=resources)
    return atomic_write_bytes(notebook.with_suffix(".html"), embed_cjk_font(body).encode("utf-8"))


@functools.lru_cache(maxsize=1)
def _exporter():
    """The report's ``HTMLExporter``, made once per process: its Jinja templates are compiled
    on the first conversion and reused by the next notebooks of a batch worker."""
    from dmkit.batch.kernels import notebook_tools

    notebook_tools()
    import jinja2
    from nbconvert import HTMLExporter

    loader = jinja2.DictLoader({"dmkit_report.html.j2": _REPORT_TEMPLATE})
    return HTMLExporter(template_name="lab", extra_loaders=[loader], template_file="dmkit_report.html.j2")


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
            manifest[r.notebook] = {**r.__dict__, "figures": _figures(folder, r.notebook),
                                    "headline": [h.__dict__ for h in read_headline(folder, r.notebook)],
                                    "title": read_title(folder, r.notebook)}
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


# The lab template, with the code folded and its input block without ``clean_html``: the lab
# template runs bleach over Pygments' highlighted code (every character of the source already
# escaped by Pygments, the cells are our own notebooks), 0.2 s of a 0.4 s conversion.
_REPORT_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block input_group -%}
<details class="dmkit-code"><summary>code</summary>
{{ super() }}
</details>
{%- endblock input_group %}
{% block input %}
<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor" data-type="inline">
     <div class="cm-editor cm-s-jupyter">
{{ cell.source | highlight_code(metadata=cell.metadata) }}
     </div>
</div>
{%- endblock input %}
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
.skipped {{ color: #57606a; font-weight: bold; }}
.figs {{ font-size: 85%; color: #555; }}
.err {{ font-family: monospace; font-size: 85%; color: #cf222e; }}
</style></head>
<body>
<h1>{title}</h1>
<p>{lead}</p>
{body}
</body></html>
"""


_INDEX_STYLE = """<style>
table.reports { width: 100%; max-width: 1300px; }
table.reports td.fig { white-space: nowrap; }
table.reports td:first-child { width: 34%; }
.heads { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 2px 18px; }
.headline { display: block; }
.headline .label { display: block; font-size: 80%; color: #57606a; }
.headline .value { font-size: 115%; font-weight: 600; }
.small { font-size: 80%; color: #6e7781; }
</style>"""


def _dir_index(folder: Path, manifest: dict) -> bytes:
    rows = []
    for name in sorted(manifest, key=lambda n: (manifest[n]["status"] == "passed", n)):
        m = manifest[name]
        label = _without_run(m.get("title") or name.replace("_", " "), folder)
        report = _link(folder, m.get("html"), label) if m.get("html") else html.escape(label)
        nb = _link(folder, m.get("ipynb"), "notebook") if m.get("ipynb") else ""
        status = html.escape(m["status"])
        error = f"<div class=\"err\">{html.escape(m.get('error', ''))}</div>" if m.get("error") else ""
        rows.append(
            f"<tr><td>{report}<div class=\"small\">{html.escape(name)} · {nb}</div></td>"
            f"<td class=\"{status}\">{status}{error}</td>"
            f"<td class=\"fig\">{_duration(m.get('seconds', 0.0))}</td>"
            f"<td>{_headline_html(m)}</td></tr>")
    passed = sum(m["status"] == "passed" for m in manifest.values())
    skipped = sum(m["status"] == "skipped" for m in manifest.values())
    table = ("<table class=\"reports\"><tr><th>report</th><th>status</th><th>run time</th>"
             "<th>headline figures</th></tr>\n" + "\n".join(rows) + "</table>")
    province, month = folder.parent.name, folder.name
    title = f"{province.replace('_', ' ').title()}, {month}: case-study reports"
    finished = max((m.get("finished_at", "") for m in manifest.values()), default="")
    lead = (f"{passed} of {len(manifest)} reports passed"
            + (f" ({skipped} skipped: not applicable to this data)" if skipped else "")
            + (f"; last run finished {html.escape(finished.replace('T', ' ')[:19])}" if finished else "")
            + ". Each report opens with an executive summary; the figures below are its headline figures."
            + " <a href=\"../../index.html\">all runs</a>")
    return embed_cjk_font(_PAGE.format(title=html.escape(title), lead=lead, body=_INDEX_STYLE + table)).encode("utf-8")


def _duration(seconds: float) -> str:
    """``47.2 -> '47 s'``, ``147.5 -> '2 min 28 s'``."""
    seconds = float(seconds or 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _headline_html(m: dict, limit: int = 3) -> str:
    """The report's headline figures (label and formatted value); recorded figures when it has none."""
    heads = [(h["label"], h["text"]) for h in m.get("headline") or []]
    if not heads:  # a notebook that records no headline: its first figures, made readable
        heads = [(_readable(k), _value_text(k, v)) for k, v in list((m.get("figures") or {}).items())[:limit]
                 if not isinstance(v, (list, dict))]
    return "<div class=\"heads\">" + "".join(
        f"<span class=\"headline\"><span class=\"label\">{html.escape(label)}</span>"
        f"<span class=\"value\">{html.escape(text)}</span></span>" for label, text in heads[:limit]) + "</div>"


def _without_run(title: str, folder: Path) -> str:
    """A report's heading without the "Jiangsu, 2009-06: " the index's own heading already says."""
    prefix = f"{folder.parent.name.replace('_', ' ').title()}, {folder.name}: "
    return title[len(prefix):] if title.startswith(prefix) else title


def _readable(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _value_text(key: str, value: object) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return "n/a" if value is None else str(value)
    rate = any(w in key for w in ("rate", "share", "retention", "penetration", "mape"))
    return format_percent(value) if rate and abs(float(value)) <= 1 else format_number(value)


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
                f"<td>{_duration(m['seconds'])}</td><td>{html.escape(m.get('finished_at', ''))}</td>"
                f"<td class=\"err\">{html.escape(m.get('error', '')[:200])}</td></tr>")
    table = ("<table><tr><th>province</th><th>month</th><th>report</th><th>status</th>"
             "<th>run time</th><th>finished</th><th>error</th></tr>\n" + "\n".join(rows) + "</table>")
    lead = f"{n_pass} of {n_all} reports passed."
    return embed_cjk_font(_PAGE.format(title="dmkit reports", lead=lead, body=table)).encode("utf-8")


def _link(base: Path, target: str | None, text: str) -> str:
    href = os.path.relpath(str(target), str(base))
    return f"<a href=\"{html.escape(href)}\">{html.escape(text)}</a>"
