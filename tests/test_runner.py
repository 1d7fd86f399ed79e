"""dmkit.runner: record, failure isolation, kept failed notebooks, indexes, exit code, atomicity.

The batch runs the fixture notebooks in tests/fixtures/notebooks/ (no simulator needed):
``nb_pass`` records answer = 21 * factor, ``nb_fail`` raises ValueError in its fourth
cell, ``nb_interrupt`` raises KeyboardInterrupt (what Ctrl-C does to a kernel).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

import dmkit.io
from dmkit import cli
from dmkit.errors import DataNotFoundError, ParameterError
from dmkit.params import load_params
from dmkit.runner import plan, prepare_data, read_record, record, run_batch
from tests.notebook_helpers import execute_notebook, session_cache

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "notebooks"


def main_cli(argv: list[str]) -> int:
    """``dmkit run ARGV`` through the one command line (:mod:`dmkit.cli`); its exit code."""
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", *argv])
    return stop.value.code


def _leftovers(folder: Path) -> list[str]:
    """Temp files a write-then-rename left behind (hidden files other than none)."""
    return sorted(p.name for p in folder.rglob(".*"))


# --------------------------------------------------------------------------- record

def test_record_converts_numpy_and_writes_atomically(tmp_path):
    assert record(tmp_path / "out", "demo", {
        "rate": np.float32(0.25), "n": np.int64(7), "flag": np.bool_(True), "name": "x",
        "nan": float("nan"), "inf": np.inf, "none": None, "shares": [np.float64(0.5), 1, None],
        "zero_d": np.array(3.5), "na": pd.NA, "when": pd.Timestamp("2009-06-01"),
        "period": pd.Period("2009-06", freq="M")}) is None
    got = json.loads((tmp_path / "out" / "demo.json").read_text())
    assert got == {"rate": 0.25, "n": 7, "flag": True, "name": "x", "nan": None, "inf": None,
                   "none": None, "shares": [0.5, 1, None], "zero_d": 3.5, "na": None,
                   "when": "2009-06-01T00:00:00", "period": "2009-06"}
    assert type(got["n"]) is int and type(got["flag"]) is bool
    assert read_record(tmp_path / "out", "demo") == got
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("name, figures, wording", [
    ("demo", {"table": {"a": 1}}, r"parameter \"figures\['table'\]\": expected an int, float"),
    ("demo", {"arr": np.array([1, 2])}, r"figures\['arr'\]"),
    ("../escape", {"a": 1}, "parameter 'name'"),
    ("demo", [("a", 1)], "parameter 'figures': expected a dict"),
])
def test_record_rejects_what_json_cannot_hold(tmp_path, name, figures, wording):
    with pytest.raises(ParameterError, match=wording):
        record(tmp_path, name, figures)
    assert list(tmp_path.iterdir()) == []


def test_read_record_says_why_nothing_is_there(tmp_path):
    with pytest.raises(DataNotFoundError, match="failed before its last cell"):
        read_record(tmp_path, "viral_sms")


# --------------------------------------------------------------------------- a batch

@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Params and notebooks for the batch tests: no simulator (data is a folder)."""
    root = tmp_path_factory.mktemp("runner")
    (root / "extracts").mkdir()
    nbs = root / "notebooks"
    nbs.mkdir()
    for name in ("nb_pass", "nb_fail", "nb_interrupt"):
        shutil.copy(FIXTURES / f"{name}.ipynb", nbs / f"{name}.ipynb")
    # a notebook under a case-study name, so the params file can give it a threshold
    text = (FIXTURES / "nb_pass.ipynb").read_text().replace('\\"nb_pass\\"', '\\"viral_sms\\"')
    assert "viral_sms" in text
    (nbs / "viral_sms.ipynb").write_text(text)
    params = root / "params"
    (params / "jiangsu").mkdir(parents=True)
    (params / "defaults.yaml").write_text(
        f"data: {root / 'extracts'}\nn_users: 1000\ncache_dir: {root / 'cache'}\n")
    (params / "jiangsu" / "2009-06.yaml").write_text(
        "province: jiangsu\nmonth: '2009-06'\nthresholds:\n  viral_sms: {factor: 5}\n")
    return root


@pytest.fixture(scope="module")
def batch(workspace):
    """One parallel batch: a passing, a failing and a threshold-injected notebook."""
    return run_batch(workspace / "params" / "jiangsu" / "2009-06.yaml",
                     notebooks=["nb_pass", "nb_fail", "viral_sms"], jobs=2,
                     out=workspace / "reports", notebook_dir=workspace / "notebooks",
                     n_users=321, progress=False)


def test_one_failure_does_not_stop_the_others(batch):
    frame = batch.to_frame()
    assert list(frame["notebook"]) == ["nb_pass", "nb_fail", "viral_sms"]
    assert dict(zip(frame["notebook"], frame["status"], strict=True)) == {
        "nb_pass": "passed", "nb_fail": "failed", "viral_sms": "passed"}
    assert frame.loc[frame["notebook"] == "nb_fail", "error"].item() == (
        "cell 5: ValueError: planted failure for the runner tests")
    assert (frame["seconds"] > 0).all()
    assert batch.exit_code == 1
    assert [r.notebook for r in batch.failed] == ["nb_fail"]


def test_parameters_reach_the_notebooks(batch, workspace):
    out = workspace / "reports" / "jiangsu" / "2009-06"
    assert read_record(out, "nb_pass") == {"answer": 42, "province": "jiangsu", "n_users": 321,
                                           "cache_dir": str(workspace / "cache")}
    # viral_sms got its threshold from the params file: factor 5 instead of the default 2
    assert read_record(out, "viral_sms")["answer"] == 105


def test_failed_notebook_is_kept_with_its_error(batch, workspace):
    out = workspace / "reports" / "jiangsu" / "2009-06"
    nb = nbformat.read(out / "nb_fail.ipynb", as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "planted failure for the runner tests")]
    assert "planted failure for the runner tests" in (out / "nb_fail.html").read_text()
    assert not (out / "nb_fail.json").exists()


def test_reports_are_html_with_plots_and_folded_code(batch, workspace):
    html = (workspace / "reports" / "jiangsu" / "2009-06" / "nb_pass.html").read_text()
    assert "data:image/png;base64" in html            # the plot is embedded
    executed = nbformat.read(workspace / "reports" / "jiangsu" / "2009-06" / "nb_pass.ipynb", as_version=4)
    n_code = sum(c.cell_type == "code" for c in executed.cells)  # incl. papermill's injected cell
    assert n_code == 7
    assert html.count('<details class="dmkit-code">') == n_code  # every code cell folded
    assert "answer = 21 * factor" in re.sub(r"<[^>]+>", "", html)  # code is there when unfolded
    assert "PosixPath" not in html                    # record() displays nothing
    assert "<title>nb_pass · jiangsu 2009-06</title>" in html


def test_indexes_link_every_report_with_status(batch, workspace):
    out = workspace / "reports" / "jiangsu" / "2009-06"
    index = (out / "index.html").read_text()
    for name, status in [("nb_pass", "passed"), ("nb_fail", "failed"), ("viral_sms", "passed")]:
        row = index[index.index(f'<a href="{name}.html">{name.replace("_", " ")}</a>'):]
        assert row.split("</tr>")[0].count(f'<td class="{status}">{status}') == 1
    assert "2 of 3 reports passed" in index
    # recorded figures shown with readable labels (the notebook records no headline figures)
    assert '<span class="label">Answer</span><span class="value">105</span>' in index
    root = (workspace / "reports" / "index.html").read_text()
    assert '<a href="jiangsu/2009-06/nb_fail.html">nb_fail</a>' in root
    assert '<a href="jiangsu/2009-06/index.html">2009-06</a>' in root
    assert batch.root == workspace / "reports"


def test_no_temp_files_are_left(batch, workspace):
    assert _leftovers(workspace / "reports") == []


def test_summary_is_the_pass_fail_table(batch):
    s = batch.summary()
    assert s.title.startswith("dmkit run: 2 passed, 1 failed of 3 notebooks")
    assert list(s.tables[0][1]["status"]) == ["passed", "failed", "passed"]
    assert any("nb_fail failed: cell 5: ValueError" in n for n in s.notes)


def test_dmkit_run_later_batch_keeps_other_reports_in_the_index(batch, workspace, capsys):
    code = main_cli(["--province", "jiangsu", "--month", "2009-06", "--notebook", "nb_pass",
                     "--jobs", "1", "--out", str(workspace / "reports"), "--no-progress",
                     "--params-root", str(workspace / "params"),
                     "--notebook-dir", str(workspace / "notebooks")])
    assert code == 0
    assert "dmkit run: 1 passed, 0 failed of 1 notebooks" in capsys.readouterr().out
    index = (workspace / "reports" / "jiangsu" / "2009-06" / "index.html").read_text()
    assert "nb_fail" in index and "viral_sms" in index and "2 of 3 reports passed" in index
    assert read_record(workspace / "reports" / "jiangsu" / "2009-06", "nb_pass")["n_users"] == 1000


def test_dmkit_run_command_line_errors(workspace, capsys):
    assert main_cli(["--help"]) == 0
    assert "--province" in capsys.readouterr().out
    assert main_cli(["--jobs", "two"]) == 2
    assert "invalid int value: 'two'" in capsys.readouterr().err
    # dmkit's own errors end the command with one line: 2 for a bad argument, 1 for missing data
    assert main_cli(["--jobs", "1"]) == 2
    assert "--province P --month YYYY-MM" in capsys.readouterr().err
    assert main_cli(["-p", "jiangsu", "-m", "2009-07", "--params-root", str(workspace / "params")]) == 1
    assert "months available for 'jiangsu': ['2009-06']" in capsys.readouterr().err


def test_execute_notebook_helper_returns_the_recorded_figures(tmp_path):
    figures = execute_notebook("nb_pass", tmp_path, notebook_dir=FIXTURES, factor=3, n_users=77)
    assert figures == {"answer": 63, "province": "jiangsu", "n_users": 77,
                       "cache_dir": str(session_cache() / "data" / "generated")}
    assert (tmp_path / "nb_pass.ipynb").is_file()


def test_interrupt_leaves_no_half_written_report(workspace):
    out = workspace / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        run_batch(workspace / "params" / "jiangsu" / "2009-06.yaml", notebooks=["nb_interrupt"],
                  jobs=1, out=out, notebook_dir=workspace / "notebooks", progress=False)
    folder = out / "jiangsu" / "2009-06"
    assert sorted(p.name for p in folder.iterdir()) == ["_runs.json", "index.html"]  # no report, no temp file
    runs = json.loads((folder / "_runs.json").read_text())
    assert runs["nb_interrupt"]["status"] == "interrupted" and runs["nb_interrupt"]["html"] == ""


# --------------------------------------------------------------------------- data and planning

def test_data_is_generated_once_per_key_and_failures_are_reported(tmp_path, monkeypatch):
    calls = []

    def fake_load(data, *, province, month, n_users, seed, cache_dir):
        calls.append((data, province, month, n_users, seed))
        if province == "yunnan":
            raise RuntimeError("simulator broke")

    monkeypatch.setattr(dmkit.io, "load_province", fake_load, raising=False)
    files = []
    for prov in ("jiangsu", "yunnan"):
        f = tmp_path / prov / "2009-06.yaml"
        f.parent.mkdir()
        f.write_text("n_users: 100\n")
        files.append(load_params(f))
    errors = prepare_data([files[0], files[0], files[1], files[0]])
    assert sorted(calls) == [("synth", "jiangsu", "2009-06", 100, 7),
                             ("synth", "yunnan", "2009-06", 100, 7)]
    assert list(errors.values()) == ["RuntimeError: simulator broke"]


def test_notebooks_of_a_province_without_data_fail_without_running(tmp_path, monkeypatch, capsys):
    def broken(data, **kwargs):
        raise RuntimeError("no simulator today")

    monkeypatch.setattr(dmkit.io, "load_province", broken, raising=False)
    f = tmp_path / "params" / "jiangsu" / "2009-06.yaml"
    f.parent.mkdir(parents=True)
    f.write_text("")
    result = run_batch(f, notebooks=["nb_pass", "nb_fail"], jobs=1, out=tmp_path / "r",
                       notebook_dir=FIXTURES, progress=False)
    assert result.exit_code == 1
    assert set(result.to_frame()["error"]) == {
        "simulator data not generated: RuntimeError: no simulator today"}
    assert (result.to_frame()["ipynb"] == "").all()
    index = (tmp_path / "r" / "jiangsu" / "2009-06" / "index.html").read_text()
    assert "simulator data not generated" in index
    # the command line exits 1 on the same failure
    code = main_cli(["-p", "jiangsu", "-m", "2009-06", "-n", "nb_pass", "-j", "1", "--no-progress",
                     "--params-root", str(tmp_path / "params"), "--notebook-dir", str(FIXTURES),
                     "--out", str(tmp_path / "r2")])
    assert code == 1
    assert "0 passed, 1 failed" in capsys.readouterr().out


def test_plan_validates_before_running(workspace):
    f = workspace / "params" / "jiangsu" / "2009-06.yaml"
    with pytest.raises(DataNotFoundError, match=r"no notebook 'nope'.*available: \['nb_fail'"):
        plan(f, notebooks=["nope"], notebook_dir=workspace / "notebooks")
    with pytest.raises(ParameterError, match="parameter 'notebooks'"):
        plan(f, notebooks="nb_pass", notebook_dir=workspace / "notebooks")
    with pytest.raises(ParameterError, match="parameter 'jobs': expected an integer >= 1; got 0"):
        run_batch(f, jobs=0, notebook_dir=workspace / "notebooks")
    jobs = plan(f, notebook_dir=workspace / "notebooks", out="x", n_users=9)
    assert [j.notebook for j in jobs] == ["nb_fail", "nb_interrupt", "nb_pass", "viral_sms"]
    assert jobs[0].parameters["n_users"] == 9
    assert jobs[0].parameters["out_dir"] == str(Path("x/jiangsu/2009-06").resolve())
    assert "factor" in jobs[3].parameters and "factor" not in jobs[2].parameters
    assert "engine" not in jobs[3].parameters       # the fixtures do not declare it


def test_engine_override_reaches_the_notebooks_that_declare_it(tmp_path):
    # the repository's notebooks: yunnan_securities declares engine, yunnan_health does not
    f = Path(__file__).resolve().parent.parent / "params" / "yunnan" / "2008-06.yaml"
    nb_dir = Path(__file__).resolve().parent.parent / "notebooks"
    names = ["yunnan_securities", "yunnan_health"]
    default, spark = (plan(f, notebooks=names, notebook_dir=nb_dir, out=tmp_path, engine=e)
                      for e in (None, "spark"))
    assert [j.parameters.get("engine") for j in default] == ["pandas", None]
    assert [j.parameters.get("engine") for j in spark] == ["spark", None]
    with pytest.raises(ParameterError, match="key 'engine'"):
        plan(f, notebooks=names, notebook_dir=nb_dir, engine="dask")
    assert main_cli(["-p", "yunnan", "-m", "2008-06", "--engine", "dask"]) == 2


def test_kernels_get_the_params_spark_master(tmp_path):
    from dmkit.runner import kernel_environment
    from dmkit.spark.session import MASTER_ENV

    assert MASTER_ENV not in kernel_environment(tmp_path)
    assert kernel_environment(tmp_path, spark_master="spark://head:7077")[MASTER_ENV] == "spark://head:7077"


def test_a_threshold_the_notebook_does_not_declare_is_an_error(workspace, tmp_path):
    f = tmp_path / "jiangsu" / "2009-06.yaml"
    f.parent.mkdir()
    f.write_text(f"data: {workspace / 'extracts'}\nthresholds:\n  viral_sms: {{factr: 5}}\n")
    with pytest.raises(ParameterError, match=re.escape(f"{f}: key 'thresholds.viral_sms.factr': "
                                                       "expected a parameter of notebook 'viral_sms'")):
        plan(f, notebook_dir=workspace / "notebooks")


def test_missing_notebook_extra_is_a_clear_error(monkeypatch, tmp_path):
    import importlib.util

    import dmkit.runner as runner
    from dmkit.errors import DmkitError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "nbconvert" else real(name, *a))
    with pytest.raises(DmkitError, match=r"nbconvert.*dmkit\[notebook\]"):
        runner.run_batch([tmp_path / "nothing.yaml"], progress=False)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="IPC kernels are POSIX only")
def test_kernels_are_shut_down_without_an_interrupt(monkeypatch):
    # jupyter_client interrupts a kernel before shutting it down, and an idle kernel then
    # logs "KeyboardInterrupt caught in kernel" over the batch's progress bar: the runner's
    # kernel manager must skip that interrupt yet still end the kernel, and still pass on
    # an interrupt asked for while the kernel runs.
    import asyncio

    from jupyter_client.manager import KernelManager

    from dmkit.runner import kernel_options

    sent: list[bool] = []
    base = KernelManager._async_interrupt_kernel

    async def spy(self):
        sent.append(self.shutting_down)
        await base(self)

    monkeypatch.setattr(KernelManager, "_async_interrupt_kernel", spy)
    km = kernel_options()["kernel_manager_class"](kernel_name="python3")

    async def cycle():
        await km.start_kernel()
        try:
            await km._async_interrupt_kernel()  # as nbclient does when a cell times out
            await km.shutdown_kernel()
        finally:
            if await km.is_alive():
                await km.shutdown_kernel(now=True)
        return await km.is_alive()

    alive = asyncio.run(cycle())
    assert not alive
    assert sent == [False]  # the running kernel's interrupt went through, none at shutdown


def test_kernel_command_runs_ipykernel_and_leaves_other_kernels_alone():
    from dmkit.batch.kernels import KERNEL_MAIN, kernel_command

    cmd = ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "/tmp/k.json"]
    assert kernel_command(cmd) == ["/usr/bin/python3", "-c", KERNEL_MAIN, "-f", "/tmp/k.json"]
    assert "ipykernel_launcher" in " ".join(kernel_command(cmd))  # how benchmarks/notebooks.py finds kernels
    other = ["R", "--slave", "-e", "IRkernel::main()", "--args", "/tmp/k.json"]
    assert kernel_command(other) == other


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="IPC kernels are POSIX only")
def test_kernels_run_their_clean_up_then_exit_without_the_teardown(tmp_path):
    # the batch's kernel skips only the interpreter's teardown: what a notebook's libraries
    # registered with atexit (and weakref.finalize: temp folders) still runs, and the kernel
    # exits with status 0
    import asyncio

    from dmkit.runner import kernel_options

    km = kernel_options()["kernel_manager_class"](kernel_name="python3")
    code = (f"import atexit, pathlib, tempfile, weakref, sys\n"
            f"atexit.register(pathlib.Path({str(tmp_path / 'atexit')!r}).write_text, 'ran')\n"
            f"folder = tempfile.TemporaryDirectory(dir={str(tmp_path)!r})\n"
            f"print(folder.name, sys.argv[0])\n")
    texts: list[str] = []

    async def cycle():
        await km.start_kernel()
        proc = km.provisioner.process
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            reply = await kc.execute_interactive(
                code, timeout=60, output_hook=lambda m: texts.append(m["content"].get("text", "")))
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()
        return proc

    proc = asyncio.run(cycle())
    assert proc.wait(10) == 0
    assert "-c" in proc.args and "ipykernel_launcher" in " ".join(proc.args)
    folder, argv0 = "".join(texts).split()
    assert argv0.endswith("ipykernel_launcher.py")                  # ipykernel's launcher ran as __main__
    assert (tmp_path / "atexit").read_text() == "ran"
    assert not Path(folder).exists()                                 # weakref.finalize clean-up ran


def test_report_code_is_escaped_without_bleach_and_the_exporter_is_reused(tmp_path):
    # the report template highlights code without the lab template's bleach pass: Pygments
    # escapes the source itself, so markup in a cell shows as text, never as markup
    from dmkit.batch import html as batch_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        'page = "<script>alert(1)</script>" if 1 < 2 and x & y else "<b>"')])
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    path = tmp_path / "markup.ipynb"
    nbformat.write(nb, path)
    text = batch_html.to_html(path, title="markup").read_text()
    assert "<script>alert(1)</script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert" in text and "&lt;b&gt;" in text and "&amp;" in text
    assert text.count('<details class="dmkit-code">') == 1
    assert batch_html._exporter() is batch_html._exporter()   # templates compiled once per process
