"""The batch API: plan the jobs, prepare the data, execute each notebook, write the indexes.

``run_batch`` reads as named steps, in the spirit of ``papermill.execute``:

1. :func:`plan` — resolve params files and notebook names into one job per (params, notebook);
2. :func:`prepare_data` — generate the simulator data each run needs, once per
   province/month/size/seed, before any notebook starts (so parallel notebooks never race
   on the cache);
3. :func:`execute` — run one notebook with papermill into a temp file, rename it into
   ``<out_dir>/<name>.ipynb`` and convert it to ``<name>.html`` (:mod:`dmkit.batch.html`);
   a failing notebook is kept with its error;
4. :func:`~dmkit.batch.html.write_index` — ``index.html`` in every ``<root>/<province>/<month>/``
   and in ``<root>``, linking every report with its status, run time and recorded figures.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, as_completed, wait
from pathlib import Path

from dmkit.batch import pool as _workers
from dmkit.batch.applies import declared_parameters, skip_reason
from dmkit.batch.costs import estimated_seconds, longest_first
from dmkit.batch.html import to_html, write_index
from dmkit.batch.kernels import (
    INLINE,
    kernel_env,
    kernel_environment,
    kernel_options,
    notebook_tools,
    quiet_when_stopping,
    require_notebook_tools,
)
from dmkit.batch.memory import available_bytes, estimated_peak, first_fit
from dmkit.batch.pool import abort, make_pool, progress_bar, terminate_as_interrupt, tick
from dmkit.batch.results import BatchResult, Job, NotebookRun
from dmkit.contract.files import check_writable, with_umask
from dmkit.errors import DataNotFoundError, ParameterError, parameter_error
from dmkit.params import Params, load_params

__all__ = ["execute", "plan", "prepare_data", "run_batch"]

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
    data: str | Path | None = None,
    catalog: str | Path | None = None,
    mapping: str | Path | None = None,
    memory_budget: float | str | None = "auto",
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
    timeout : int, optional
        Per-cell execution timeout in whole seconds >= 1 (None: no limit).
    progress : bool
        Show a tqdm progress bar over the batch.
    data : str or Path, optional
        Overrides every params file's ``data``: ``"synth"`` or a folder of extracts.
    catalog : str or Path, optional
        Overrides every params file's ``catalog``: the operator's catalog YAML, which the
        kernels get as ``DMKIT_CATALOG`` (codes checked and taken by every method).
    mapping : str or Path, optional
        Overrides every params file's ``mapping``: the extracts' mapping YAML, which the
        kernels get as ``DMKIT_MAPPING`` (read by :func:`dmkit.io.load_province`).
    memory_budget : float, "auto" or None
        GiB the running kernels may hold together: a notebook starts only when its
        estimated peak (its declared bytes per user times the users, see
        :mod:`dmkit.batch.memory`) fits beside the running ones, else the next queued one
        that fits starts, or it waits. ``"auto"``: 90% of the memory available when the
        batch starts; None: no limit. A notebook estimated above the budget runs alone.
        The notebooks are queued longest first, by their declared seconds per user
        (:mod:`dmkit.batch.costs`), so that the short ones fill both lanes at the end.

    Returns
    -------
    BatchResult
        ``.to_frame()`` columns: notebook, province, month, status, seconds, error, ipynb,
        html; ``.summary()`` the pass/fail table; ``.exit_code`` 0 only if none failed.

    Raises
    ------
    ParameterError, DataNotFoundError
        A bad params file, an unknown notebook, ``jobs < 1``, a timeout that is not a
        whole number of seconds, or a report folder that cannot be written — before
        anything runs.
    KeyboardInterrupt
        Re-raised after the pending notebooks are cancelled and the workers (and their
        kernels) stopped; no half-written report or temp file is left, and the indexes
        list the notebooks that finished, the others as ``interrupted``. SIGTERM is
        handled the same way (:class:`dmkit.batch.pool.Terminated`).

    Notes
    -----
    One failing notebook never stops the others: its executed notebook (with the error)
    is kept and converted to HTML, and it is marked failed in the result and the index.
    A notebook that does not apply to the run (it needs the simulator and ``data`` is a
    folder of extracts, or a parameter names a service code the operator's catalog does
    not hold; see :mod:`dmkit.batch.applies`) is not run: it is ``skipped`` with the
    reason, and does not make the batch fail.
    """
    start = time.perf_counter()
    if jobs is None:
        jobs = os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise parameter_error("jobs", expected="an integer >= 1", found=jobs)
    timeout = _check_timeout(timeout)
    budget = _memory_budget(memory_budget)
    require_notebook_tools()
    todo = plan(params_files, notebooks=notebooks, out=out, n_users=n_users, engine=engine,
                notebook_dir=notebook_dir, data=data, catalog=catalog, mapping=mapping)
    for folder in sorted({j.out_dir for j in todo}):  # before minutes of simulation
        check_writable(folder)
    root = _batch_root(todo)
    runs: list[NotebookRun] = []
    try:
        with terminate_as_interrupt(), make_pool(jobs) as pool:
            data_errors = prepare_data([j.params for j in todo if not j.skip], pool=pool, progress=progress)
            _execute_all(todo, data_errors, pool=pool, kernel=kernel, timeout=timeout,
                         progress=progress, runs=runs, jobs=jobs, budget=budget)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the index says what finished, nothing more
        _index_interrupted(todo, runs, root)
        raise
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
    data: str | Path | None = None,
    catalog: str | Path | None = None,
    mapping: str | Path | None = None,
) -> list[Job]:
    """Resolve params files and notebook names into jobs (validating everything first).

    A job whose notebook does not apply to its params gets ``skip``, the reason
    (:func:`dmkit.batch.applies.skip_reason`).
    """
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
        params = load_params(file).with_overrides(n_users=n_users, engine=engine, data=data,
                                                  catalog=catalog, mapping=mapping)
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
                declared[name] = declared_parameters(notebook_dir / f"{name}.ipynb")
            parameters = _parameters(params, name, declared[name])
            parameters["out_dir"] = str(out_dir)
            source = (notebook_dir / f"{name}.ipynb").resolve()
            todo.append(Job(notebook=name, source=source, params=params, out_dir=out_dir,
                            parameters=parameters, skip=skip_reason(source, params, parameters)))
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
    bar = progress_bar(len(keys), "simulating data", progress)
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
            abort(pool, futures)
            raise
    bar.close()
    return errors


def execute(job: Job, *, kernel: str = "python3", timeout: float | None = None,
            threads: int | None = None) -> NotebookRun:
    """Run one notebook with papermill and convert it to HTML, both written atomically.

    The executed notebook goes to a temp file beside ``<out_dir>/<name>.ipynb`` and is
    renamed into place when papermill is done, whether the notebook passed or failed (a
    failing notebook keeps its traceback). If the run is interrupted (Ctrl-C), the temp
    file is removed and ``KeyboardInterrupt`` propagates: no half-written report.
    ``threads`` caps the kernel's native thread pools (:func:`kernel_environment`); a batch
    of ``jobs`` kernels gives each ``cores // jobs``.
    """
    notebook_tools()  # before papermill imports nbformat: seconds saved per process
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    if _workers.INTERRUPTED:
        raise KeyboardInterrupt(f"{job.notebook} not started: the batch was interrupted")
    job.out_dir.mkdir(parents=True, exist_ok=True)
    for stale in job.out_dir.glob(f".{job.notebook}.tmp.*.ipynb"):  # left by a run killed with -9
        stale.unlink(missing_ok=True)
    final = job.out_dir / f"{job.notebook}.ipynb"
    fd, tmp_name = tempfile.mkstemp(dir=job.out_dir, prefix=f".{job.notebook}.tmp.", suffix=".ipynb")
    os.close(fd)
    tmp = Path(tmp_name)
    (job.out_dir / f"{job.notebook}.json").unlink(missing_ok=True)  # no stale figures
    start = time.perf_counter()
    error = ""
    quiet_when_stopping()
    try:
        try:
            with kernel_env(**kernel_environment(job.params.cache_dir, mplbackend=INLINE,
                                                  spark_master=job.params.spark_master,
                                                  catalog=job.params.catalog_file(),
                                                  mapping=job.params.mapping, threads=threads),
                            DMKIT_NOTEBOOK=job.notebook):  # names the kernel (benchmarks/notebooks.py)
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
            with_umask(tmp)  # mkstemp made it 0600
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
                 timeout: float | None, progress: bool, runs: list[NotebookRun], jobs: int = 1,
                 budget: int | None = None) -> list[NotebookRun]:
    """Run the jobs, appending each finished run to ``runs`` (kept if the batch is interrupted);
    at most ``jobs`` at once and, with a ``budget``, only as many as fit (first fit)."""
    bar = progress_bar(len(todo), "notebooks", progress)
    runnable = []
    for job in todo:
        if job.skip:
            runs.append(NotebookRun(job.notebook, job.params.province, job.params.month, "skipped",
                                    0.0, error=job.skip, finished_at=_now()))
            bar.update()
            continue
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
            tick(bar, runs)
        bar.close()
        return runs
    def users(job: Job) -> int | None:
        return job.params.n_users if job.params.data == "synth" else None

    runnable = longest_first(runnable, lambda job: estimated_seconds(job.source, users(job)))
    threads = max(1, (os.cpu_count() or 1) // jobs)  # the cores shared between the kernels
    queue = [(job, estimated_peak(job.source, users(job))) for job in runnable]
    running: dict[Future, int] = {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                i = first_fit([need for _, need in queue], list(running.values()), budget)
                if i is None:
                    break
                job, need = queue.pop(i)
                running[pool.submit(execute, job, kernel=kernel, timeout=timeout, threads=threads)] = need
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                del running[fut]
                runs.append(fut.result())
                tick(bar, runs)
    except KeyboardInterrupt:
        abort(pool, list(running))
        raise
    bar.close()
    return runs


def _memory_budget(value: float | str | None) -> int | None:
    """``memory_budget`` in bytes (None: no limit)."""
    if value is None:
        return None
    if isinstance(value, str) and value == "auto":
        avail = available_bytes()
        return None if avail is None else int(0.9 * avail)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise parameter_error("memory_budget", expected="GiB > 0, 'auto' or None", found=value)
    return int(float(value) * 2 ** 30)


def _index_interrupted(todo: list[Job], runs: list[NotebookRun], root: Path) -> None:
    """After an interrupt: index the finished runs and mark the rest ``interrupted`` (never a
    previous run's success). Best effort: the interrupt goes on whatever happens here."""
    done = {(r.province, r.month, r.notebook) for r in runs}
    rest = [NotebookRun(j.notebook, j.params.province, j.params.month, "interrupted", 0.0,
                        error="the batch was interrupted before this notebook finished", finished_at=_now())
            for j in todo if (j.params.province, j.params.month, j.notebook) not in done]
    with contextlib.suppress(Exception):
        write_index(sorted({j.out_dir for j in todo}), runs=[*runs, *rest], root=root)


def _check_timeout(timeout: object) -> int | None:
    """``timeout``: None or whole seconds >= 1 (nbclient's cell timeout is an integer trait)."""
    if timeout is None:
        return None
    ok = not isinstance(timeout, bool) and isinstance(timeout, int | float) and float(timeout).is_integer()
    if not ok or timeout < 1:
        raise parameter_error("timeout", expected="a whole number of seconds >= 1 (or None for no limit)",
                              found=timeout, fix="e.g. --timeout 600")
    return int(timeout)


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


def _batch_root(todo: list[Job]) -> Path:
    """``<root>`` of ``<root>/<province>/<month>`` (the common one for several layouts)."""
    roots = {j.out_dir.parent.parent for j in todo}
    return Path(os.path.commonpath([str(r) for r in roots])) if len(roots) > 1 else roots.pop()


def _now() -> str:
    return _dt.datetime.now().isoformat(timespec="seconds")
