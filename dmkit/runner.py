"""Run the case-study notebooks with papermill, in parallel, into HTML reports.

``run_batch`` reads as named steps, in the spirit of ``papermill.execute``:

1. :func:`plan` — resolve params files and notebook names into one job per (params, notebook);
2. :func:`prepare_data` — generate the simulator data each run needs, once per
   province/month/size/seed, before any notebook starts (so parallel notebooks never race
   on the cache);
3. :func:`execute` — run one notebook with papermill into a temp file, rename it into
   ``<out_dir>/<name>.ipynb`` and convert it to ``<name>.html`` (code folded away in
   ``<details>``), also through a temp file; a failing notebook is kept with its error;
4. :func:`write_index` — ``index.html`` in every ``<root>/<province>/<month>/`` and in ``<root>``,
   linking every report with its status, run time and recorded figures.

Notebooks end with :func:`record`, which writes their key figures to ``<out_dir>/<name>.json``
for the tests and the index.

Example
-------
>>> from dmkit.params import select_params
>>> from dmkit.runner import run_batch
>>> result = run_batch(select_params(province="jiangsu", month="2009-06"), jobs=2)  # doctest: +SKIP
>>> print(result.summary())                                                        # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import html
import json
import math
import multiprocessing
import os
import re
import signal
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit.errors import DataNotFoundError, DmkitError, ParameterError, parameter_error
from dmkit.io import atomic_write_bytes
from dmkit.params import Params, load_params

__all__ = [
    "BatchResult",
    "Job",
    "NotebookRun",
    "execute",
    "main_cli",
    "plan",
    "prepare_data",
    "read_record",
    "record",
    "run_batch",
    "to_html",
    "write_index",
]

Status = Literal["passed", "failed"]

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_MANIFEST = "_runs.json"
_INLINE = "module://matplotlib_inline.backend_inline"


# --------------------------------------------------------------------------- record

def record(out_dir: str | Path, name: str, figures: Mapping[str, object]) -> None:
    """Write a notebook's key figures to ``<out_dir>/<name>.json`` atomically.

    Call it in the notebook's last code cell; the notebook's test and the batch index
    read these figures.

    Parameters
    ----------
    out_dir : str or Path
        The notebook's ``out_dir`` parameter (created if missing).
    name : str
        The notebook's name, e.g. ``"jiangsu_campaign"``.
    figures : mapping of str to scalar
        int, float, str, bool, None (numpy scalars are converted; NaN, infinities, pd.NA
        and NaT become None; dates, timestamps and periods become ISO strings), or lists
        of those.

    Returns nothing, so the notebook's last cell shows no output; read the figures back
    with :func:`read_record`.

    Raises
    ------
    ParameterError
        A name that is not a plain file name, or a value that is not a scalar or list of scalars.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise parameter_error("name", expected="a notebook name like 'jiangsu_campaign'", found=name)
    if not isinstance(figures, Mapping):
        raise parameter_error("figures", expected="a dict {figure name: value}",
                              found=type(figures).__name__)
    clean = {}
    for key, value in figures.items():
        if not isinstance(key, str):
            raise parameter_error("figures", expected="string keys", found=key)
        if isinstance(value, (list, tuple)):
            clean[key] = [_plain(f"figures[{key!r}]", v) for v in value]
        else:
            clean[key] = _plain(f"figures[{key!r}]", value)
    text = json.dumps(clean, indent=2, ensure_ascii=False, allow_nan=False, sort_keys=True)
    atomic_write_bytes(Path(out_dir) / f"{name}.json", text.encode("utf-8"))


def read_record(out_dir: str | Path, name: str) -> dict[str, object]:
    """The figures a notebook recorded with :func:`record`.

    Raises
    ------
    DataNotFoundError
        The notebook recorded nothing in ``out_dir`` (it failed before its last cell,
        or it does not call ``dm.runner.record``).
    """
    path = Path(out_dir) / f"{name}.json"
    if not path.is_file():
        raise DataNotFoundError(f"no figures recorded at {str(path)!r}: the notebook failed "
                                f"before its last cell or does not call dm.runner.record")
    return json.loads(path.read_text(encoding="utf-8"))


def _plain(where: str, value: object) -> object:
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (_dt.date, pd.Period)):
        return str(value.isoformat() if isinstance(value, _dt.date) else value)
    item = getattr(value, "item", None)  # numpy scalars, 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0:
        value = item()
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    raise parameter_error(where, expected="an int, float, str, bool or None (or a list of them)",
                          found=type(value).__name__)


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Job:
    """One notebook to run with one params file."""

    notebook: str
    source: Path
    params: Params
    out_dir: Path
    parameters: Mapping[str, object]


@dataclass(frozen=True)
class NotebookRun:
    """What happened to one job."""

    notebook: str
    province: str
    month: str
    status: Status
    seconds: float
    error: str = ""
    ipynb: str = ""
    html: str = ""
    finished_at: str = ""


@dataclass(frozen=True)
class BatchResult(Result):
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    runs : tuple of NotebookRun
    root : Path
        Folder holding the batch ``index.html``.
    seconds : float
        Wall time of the whole batch.
    """

    runs: tuple[NotebookRun, ...]
    root: Path
    seconds: float = 0.0
    indexes: tuple[Path, ...] = field(default=())

    @property
    def failed(self) -> tuple[NotebookRun, ...]:
        """The runs that failed."""
        return tuple(r for r in self.runs if r.status != "passed")

    @property
    def exit_code(self) -> int:
        """0 if every notebook passed, else 1 (what ``dmkit run`` exits with)."""
        return 1 if self.failed or not self.runs else 0

    def to_frame(self) -> pd.DataFrame:
        """One row per notebook run.

        Columns: notebook, province, month, status ("passed" | "failed"), seconds,
        error ("" when passed), ipynb, html (paths of the executed notebook and its report).
        """
        cols = ["notebook", "province", "month", "status", "seconds", "error", "ipynb", "html"]
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in self.runs], columns=cols)

    def summary(self) -> Summary:
        """The pass/fail table, slowest last, with the failures' errors as notes."""
        table = self.to_frame()[["province", "month", "notebook", "status", "seconds", "error"]]
        table = table.assign(seconds=table["seconds"].round(1),
                             error=table["error"].str.slice(0, 80))
        n_fail = len(self.failed)
        title = (f"dmkit run: {len(self.runs) - n_fail} passed, {n_fail} failed "
                 f"of {len(self.runs)} notebooks in {self.seconds:.0f} s")
        notes = [f"{r.province}/{r.month}/{r.notebook} failed: {r.error} (see {r.html or r.ipynb})"
                 for r in self.failed]
        notes.append(f"index: {self.root / 'index.html'}")
        return Summary(title=title, tables=(("", table.reset_index(drop=True)),), notes=tuple(notes))

    def plot(self, ax=None):
        """Horizontal bars of run time per notebook, red when it failed."""
        ax = get_ax(ax)
        frame = self.to_frame()
        labels = frame["province"] + "/" + frame["month"] + "/" + frame["notebook"]
        colors = ["tab:green" if s == "passed" else "tab:red" for s in frame["status"]]
        ax.barh(labels, frame["seconds"], color=colors)
        ax.set_xlabel("seconds")
        ax.set_title("dmkit run: run time per notebook (red = failed)")
        return ax


# --------------------------------------------------------------------------- steps

def run_batch(
    params_files: Sequence[str | Path] | str | Path,
    *,
    notebooks: Sequence[str] | None = None,
    jobs: int | None = None,
    kernel: str = "python3",
    out: str | Path | None = None,
    n_users: int | None = None,
    engine: str | None = None,
    notebook_dir: str | Path = "notebooks",
    timeout: float | None = None,
    progress: bool = True,
) -> BatchResult:
    """Execute notebooks for one or many params files and write HTML reports and indexes.

    Parameters
    ----------
    params_files : path or sequence of paths
        ``params/<province>/<YYYY-MM>.yaml`` files (see :func:`dmkit.params.select_params`).
    notebooks : sequence of str, optional
        Notebook names (``notebooks/<name>.ipynb``); default: each params file's
        ``notebooks`` key (``"all"`` = every notebook in ``notebook_dir``).
    jobs : int, optional
        Parallel processes; default the core count. ``1`` runs in this process.
    kernel : str
        Jupyter kernel name.
    out : str or Path, optional
        Reports root: reports go to ``<out>/<province>/<month>/``. Default: each params
        file's ``out_dir``.
    n_users : int, optional
        Overrides every params file's ``n_users``.
    engine : {"pandas", "spark"}, optional
        Overrides every params file's ``engine`` (notebooks that declare it run their
        methods on that engine; see :func:`dmkit.spark.engine.dispatch`).
    notebook_dir : str or Path
        Where the notebooks are.
    timeout : float, optional
        Per-cell execution timeout in seconds (None: no limit).
    progress : bool
        Show a tqdm progress bar over the batch.

    Returns
    -------
    BatchResult
        ``.to_frame()`` columns: notebook, province, month, status, seconds, error, ipynb,
        html; ``.summary()`` the pass/fail table; ``.exit_code`` 0 only if all passed.

    Raises
    ------
    ParameterError, DataNotFoundError
        A bad params file, an unknown notebook or ``jobs < 1`` — before anything runs.
    KeyboardInterrupt
        Re-raised after the pending notebooks are cancelled; no half-written report is left.

    Notes
    -----
    One failing notebook never stops the others: its executed notebook (with the error)
    is kept and converted to HTML, and it is marked failed in the result and the index.
    """
    start = time.perf_counter()
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise parameter_error("jobs", expected="an integer >= 1", found=jobs)
    _require_notebook_tools()
    todo = plan(params_files, notebooks=notebooks, out=out, n_users=n_users, engine=engine,
                notebook_dir=notebook_dir)
    with _pool(jobs) as pool:
        data_errors = prepare_data([j.params for j in todo], pool=pool, progress=progress)
        runs = _execute_all(todo, data_errors, pool=pool, kernel=kernel, timeout=timeout,
                            progress=progress)
    root = _batch_root(todo)
    indexes = write_index(sorted({j.out_dir for j in todo}), runs=runs, root=root)
    order = {(j.params.province, j.params.month, j.notebook): i for i, j in enumerate(todo)}
    runs = sorted(runs, key=lambda r: order[(r.province, r.month, r.notebook)])
    return BatchResult(runs=tuple(runs), root=root, seconds=time.perf_counter() - start,
                       indexes=tuple(indexes))


def plan(
    params_files: Sequence[str | Path] | str | Path,
    *,
    notebooks: Sequence[str] | None = None,
    out: str | Path | None = None,
    n_users: int | None = None,
    engine: str | None = None,
    notebook_dir: str | Path = "notebooks",
) -> list[Job]:
    """Resolve params files and notebook names into jobs (validating everything first)."""
    if isinstance(params_files, (str, Path)):
        params_files = [params_files]
    if not params_files:
        raise parameter_error("params_files", expected="at least one params file", found=params_files)
    if notebooks is not None and (isinstance(notebooks, str) or not notebooks):
        raise parameter_error("notebooks", expected="a non-empty list of notebook names or None",
                              found=notebooks)
    notebook_dir = Path(notebook_dir)
    available = sorted(p.stem for p in notebook_dir.glob("*.ipynb")
                       if not p.name.startswith(("_", ".")))
    todo: list[Job] = []
    declared: dict[str, set[str]] = {}
    for file in params_files:
        params = load_params(file).with_overrides(n_users=n_users, engine=engine)
        if out is not None:
            params = params.with_overrides(out_dir=str(Path(out) / params.province / params.month))
        names = list(notebooks) if notebooks is not None else (
            available if params.notebooks == "all" else list(params.notebooks))
        if not names:
            raise DataNotFoundError(f"no notebooks in {str(notebook_dir)!r}")
        out_dir = Path(params.out_dir).resolve()
        for name in names:
            if name not in available:
                raise DataNotFoundError(f"no notebook {name!r} in {str(notebook_dir)!r}; "
                                        f"available: {available}")
            if name not in declared:
                declared[name] = _declared(notebook_dir / f"{name}.ipynb")
            parameters = _parameters(params, name, declared[name])
            parameters["out_dir"] = str(out_dir)
            todo.append(Job(notebook=name, source=(notebook_dir / f"{name}.ipynb").resolve(),
                            params=params, out_dir=out_dir, parameters=parameters))
    return todo


def prepare_data(params: Sequence[Params], *, pool=None, progress: bool = False) -> dict[tuple, str]:
    """Generate (or find in the cache) the simulator data of every synth run, once per key.

    The key is (province, month, n_users, seed, cache_dir). Runs on ``pool`` when given.

    Returns
    -------
    dict
        key -> error text, for the keys whose data could not be made (empty if all fine).
    """
    keys = sorted({_data_key(p) for p in params if p.data == "synth"})
    if not keys:
        return {}
    errors: dict[tuple, str] = {}
    bar = _bar(len(keys), "simulating data", progress)
    if pool is None:
        for key in keys:
            err = _generate(*key)
            if err:
                errors[key] = err
            bar.update()
    else:
        futures = {pool.submit(_generate, *key): key for key in keys}
        try:
            for fut in as_completed(futures):
                err = fut.result()
                if err:
                    errors[futures[fut]] = err
                bar.update()
        except KeyboardInterrupt:
            _abort(pool, futures)
            raise
    bar.close()
    return errors


def execute(job: Job, *, kernel: str = "python3", timeout: float | None = None) -> NotebookRun:
    """Run one notebook with papermill and convert it to HTML, both written atomically.

    The executed notebook goes to a temp file beside ``<out_dir>/<name>.ipynb`` and is
    renamed into place when papermill is done, whether the notebook passed or failed (a
    failing notebook keeps its traceback). If the run is interrupted (Ctrl-C), the temp
    file is removed and ``KeyboardInterrupt`` propagates: no half-written report.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if _INTERRUPTED:
        raise KeyboardInterrupt(f"{job.notebook} not started: the batch was interrupted")
    job.out_dir.mkdir(parents=True, exist_ok=True)
    final = job.out_dir / f"{job.notebook}.ipynb"
    fd, tmp_name = tempfile.mkstemp(dir=job.out_dir, prefix=f".{job.notebook}.tmp.", suffix=".ipynb")
    os.close(fd)
    tmp = Path(tmp_name)
    (job.out_dir / f"{job.notebook}.json").unlink(missing_ok=True)  # no stale figures
    start = time.perf_counter()
    error = ""
    try:
        try:
            with _kernel_env(**kernel_environment(job.params.cache_dir, mplbackend=_INLINE,
                                                  spark_master=job.params.spark_master)):
                pm.execute_notebook(str(job.source), str(tmp), parameters=dict(job.parameters),
                                    kernel_name=kernel, progress_bar=False, cwd=os.getcwd(),
                                    execution_timeout=timeout, **kernel_options())
        except PapermillExecutionError as err:
            if err.ename == "KeyboardInterrupt":
                raise KeyboardInterrupt(f"{job.notebook} interrupted") from err
            error = f"cell {err.exec_count}: {err.ename}: {err.evalue}"
        except Exception as err:  # kernel died, timeout, bad notebook: keep going, report it
            error = f"{type(err).__name__}: {err}"
        if tmp.stat().st_size > 0:
            os.replace(tmp, final)
        else:  # nothing executed: do not leave an older run's report looking current
            final.unlink(missing_ok=True)
            final.with_suffix(".html").unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    report = ""
    if final.is_file():
        try:
            report = str(to_html(final, title=f"{job.notebook} · {job.params.province} {job.params.month}"))
        except Exception as err:  # conversion problems are reported, not fatal
            error = error or f"HTML conversion failed: {type(err).__name__}: {err}"
    return NotebookRun(notebook=job.notebook, province=job.params.province,
                       month=job.params.month, status="failed" if error else "passed",
                       seconds=seconds, error=error, ipynb=str(final) if final.is_file() else "",
                       html=report, finished_at=_now())


def _require_notebook_tools() -> None:
    """Fail before any work when the ``notebook`` extra (nbconvert, ipykernel) is missing."""
    import importlib.util

    missing = [m for m in ("nbconvert", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:
        raise DmkitError(
            f"dmkit run needs {missing} to execute notebooks and write HTML reports; "
            'install the notebook extra: pip install "dmkit[notebook]"')


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
        manifest = _read_manifest(folder)
        for r in by_dir.get(folder, []):
            manifest[r.notebook] = {**r.__dict__, "figures": _figures(folder, r.notebook)}
        text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True)
        atomic_write_bytes(folder / _MANIFEST, text.encode("utf-8"))
        written.append(atomic_write_bytes(folder / "index.html", _dir_index(folder, manifest)))
    written.append(atomic_write_bytes(root / "index.html", _root_index(root)))
    return written


# --------------------------------------------------------------------------- command line

def main_cli(argv: Sequence[str] | None = None) -> int:
    """``dmkit run``: parse ``argv``, run the batch, print the pass/fail table; return the exit code.

    0 when every notebook passed, 1 when any failed, 2 for a bad command line. dmkit's own
    errors (a bad params file, an unknown notebook) propagate as
    :class:`~dmkit.errors.DmkitError` for the caller (``dmkit.cli``) to print.
    """
    import argparse
    import sys

    from dmkit.params import select_params

    class _OneLineParser(argparse.ArgumentParser):
        def error(self, message: str):  # one clear line, like every other dmkit command
            self.exit(2, f"{self.prog}: error: {message} (see dmkit run --help)\n")

    parser = _OneLineParser(
        prog="dmkit run",
        description="Run the case-study notebooks with papermill into HTML reports under "
                    "<out>/<province>/<month>/ (index.html links them all).",
        epilog="example: dmkit run --province jiangsu --month 2009-06 --jobs 2")
    parser.add_argument("--province", "-p", help="province of the params file(s): "
                        "yunnan, jiangsu, guangdong, national")
    parser.add_argument("--month", "-m", help="data month YYYY-MM (default: every month of the province)")
    parser.add_argument("--all", action="store_true", dest="all_files",
                        help="every params file under --params-root")
    parser.add_argument("--notebook", "-n", action="append", dest="notebooks", metavar="NAME",
                        help="run only this notebook (repeatable; default: all)")
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="parallel processes (default: the number of cores)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel (default: python3)")
    parser.add_argument("--out", default=None,
                        help="reports root (default: the params' out_dir, reports/<province>/<month>)")
    parser.add_argument("--users", type=int, default=None, dest="n_users",
                        help="override n_users of every params file (simulated subscribers)")
    parser.add_argument("--engine", choices=("pandas", "spark"), default=None,
                        help="override engine of every params file (spark: the notebooks that "
                             "declare engine run their methods on Apache Spark)")
    parser.add_argument("--params-root", default="params", help="folder of params files (default: params)")
    parser.add_argument("--notebook-dir", default="notebooks", help="folder of notebooks (default: notebooks)")
    parser.add_argument("--timeout", type=float, default=None, help="per-cell timeout in seconds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as stop:  # --help (0) or a bad command line (2)
        return int(stop.code or 0)
    files = select_params(province=args.province, month=args.month, all_files=args.all_files,
                          root=args.params_root)
    result = run_batch(files, notebooks=args.notebooks, jobs=args.jobs, kernel=args.kernel,
                       out=args.out, n_users=args.n_users, engine=args.engine,
                       notebook_dir=args.notebook_dir,
                       timeout=args.timeout, progress=not args.no_progress)
    sys.stdout.write(str(result.summary()) + "\n")
    return result.exit_code


# --------------------------------------------------------------------------- internals

def _declared(path: Path) -> set[str]:
    """The names the notebook's ``parameters`` cell assigns (read with ``ast``, not run)."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code"
                 and "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        return set()
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _parameters(params: Params, notebook: str, declared: set[str]) -> dict[str, object]:
    """What papermill injects: the common names, ``engine`` if declared, the notebook's thresholds.

    A threshold the notebook does not declare is a typo in the params file: an error.
    """
    values = params.notebook_parameters(notebook)
    for key in params.thresholds.get(notebook, {}):
        if key not in declared:
            where = str(params.path) if params.path else "params"
            raise ParameterError(
                f"{where}: key 'thresholds.{notebook}.{key}': expected a parameter of notebook "
                f"{notebook!r} (it declares {sorted(declared)}); got {key!r}",
                parameter=f"thresholds.{notebook}.{key}")
    if "engine" in declared:
        values["engine"] = params.engine
    return values


def _execute_all(todo: list[Job], data_errors: dict[tuple, str], *, pool, kernel: str,
                 timeout: float | None, progress: bool) -> list[NotebookRun]:
    runs: list[NotebookRun] = []
    bar = _bar(len(todo), "notebooks", progress)
    runnable = []
    for job in todo:
        err = data_errors.get(_data_key(job.params)) if job.params.data == "synth" else None
        if err:
            runs.append(NotebookRun(job.notebook, job.params.province, job.params.month, "failed",
                                    0.0, error=f"simulator data not generated: {err}",
                                    finished_at=_now()))
            bar.update()
        else:
            runnable.append(job)
    if pool is None:
        for job in runnable:
            runs.append(execute(job, kernel=kernel, timeout=timeout))
            _tick(bar, runs)
    else:
        futures: dict[Future, Job] = {pool.submit(execute, j, kernel=kernel, timeout=timeout): j
                                      for j in runnable}
        try:
            for fut in as_completed(futures):
                runs.append(fut.result())
                _tick(bar, runs)
        except KeyboardInterrupt:
            _abort(pool, futures)
            raise
    bar.close()
    return runs


class _InProcess:
    """Stands in for a pool when ``jobs == 1``: nothing to start or shut down."""

    def __enter__(self):
        return None

    def __exit__(self, *exc) -> None:
        return None


def _pool(jobs: int):
    if jobs == 1:
        return _InProcess()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init)


_INTERRUPTED: list[bool] = []  # set in a pool worker once it saw Ctrl-C


def _worker_init() -> None:
    """In each pool worker: after one Ctrl-C, refuse the notebooks still queued to it."""
    def on_sigint(signum, frame):
        first = not _INTERRUPTED
        _INTERRUPTED.append(True)
        if first:  # a second Ctrl-C must not break the clean-up of the first
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def _abort(pool, futures) -> None:
    """Ctrl-C in the batch: cancel what has not started and pass the interrupt to the workers."""
    for f in futures:
        f.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError):
            os.kill(proc.pid, signal.SIGINT)


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="nb" if desc == "notebooks" else "run",
                disable=not progress, leave=True)


def _tick(bar, runs: list[NotebookRun]) -> None:
    failed = sum(r.status != "passed" for r in runs)
    bar.set_postfix_str(f"{failed} failed" if failed else "all passed", refresh=False)
    bar.update()


def _data_key(p: Params) -> tuple:
    return (p.province, p.month, p.n_users, p.seed, str(Path(p.cache_dir).resolve()))


def _generate(province: str, month: str, n_users: int, seed: int, cache_dir: str) -> str:
    """Make sure the simulator data of one key is in the cache; '' when fine, else the error."""
    try:
        import dmkit.io

        dmkit.io.load_province("synth", province=province, month=month, n_users=n_users,
                               seed=seed, cache_dir=cache_dir)
    except Exception as err:  # reported per notebook; the batch goes on
        return f"{type(err).__name__}: {err}"
    return ""


def kernel_environment(cache_dir: str | Path, *, mplbackend: str = _INLINE,
                       spark_master: str | None = None) -> dict[str, str]:
    """Environment of the kernels: the simulator cache, the plot backend, no progress bars,
    and the params' Spark master (``DMKIT_SPARK_MASTER``) when it sets one.

    Reports do not want tqdm bars (nor tqdm's "IProgress not found" warning in a kernel
    without ipywidgets); ``dm.io.load_province`` reads ``DMKIT_CACHE_DIR``;
    ``dm.spark.session.get_session`` reads ``DMKIT_SPARK_MASTER``.
    """
    from dmkit.spark.session import MASTER_ENV

    warn = "ignore:IProgress not found"
    current = os.environ.get("PYTHONWARNINGS", "")
    env = {"DMKIT_CACHE_DIR": str(Path(cache_dir).resolve()), "MPLBACKEND": mplbackend,
           "TQDM_DISABLE": "1",
           "PYTHONWARNINGS": current if warn in current else ",".join(filter(None, [current, warn]))}
    if spark_master is not None:
        env[MASTER_ENV] = spark_master
    return env


def kernel_options() -> dict[str, object]:
    """Extra papermill options: kernels talk over private IPC sockets on POSIX.

    Kernels started in parallel over TCP can race for the same free port ("Address already
    in use", then "Kernel died before replying to kernel_info"), which would fail a healthy
    notebook; a Unix socket under a unique name per kernel cannot collide.
    """
    if os.name != "posix":
        return {}
    return {"kernel_manager_class": _ipc_kernel_manager()}


def _ipc_kernel_manager() -> type:
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        """A kernel manager whose sockets are ``<tmp>/dmkit-kernel-<uuid>-<n>`` files."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(tempfile.gettempdir(), f"dmkit-kernel-{uuid.uuid4().hex[:12]}")

        async def _async_interrupt_kernel(self) -> None:
            # jupyter_client interrupts every kernel before asking it to shut down; an idle
            # kernel then logs "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel."
            # over the batch's progress bar. The shutdown request alone ends an idle kernel
            # (and escalates to SIGTERM/SIGKILL if it hangs); nbclient interrupts a cell that
            # times out by itself, before shutdown.
            if getattr(self, "shutting_down", False):
                return
            await super()._async_interrupt_kernel()

    return IPCKernelManager


@contextlib.contextmanager
def _kernel_env(**values: str):
    """Set environment variables for the kernels started inside the block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _batch_root(todo: list[Job]) -> Path:
    """``<root>`` of ``<root>/<province>/<month>`` (the common one for several layouts)."""
    roots = {j.out_dir.parent.parent for j in todo}
    return Path(os.path.commonpath([str(r) for r in roots])) if len(roots) > 1 else roots.pop()


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")


def _figures(folder: Path, name: str) -> dict:
    try:
        return read_record(folder, name)
    except (DataNotFoundError, ValueError):
        return {}


def _read_manifest(folder: Path) -> dict:
    path = folder / _MANIFEST
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}


# --------------------------------------------------------------------------- HTML

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
    for manifest_path in sorted(root.glob(f"*/*/{_MANIFEST}")):
        folder = manifest_path.parent
        manifest = _read_manifest(folder)
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

