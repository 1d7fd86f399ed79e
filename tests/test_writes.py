"""Interrupted and damaged writes: completion manifests for `dmkit synth` and the cache, the umask.

Each case is one of issue 11's probe findings: a killed `dmkit synth` over an existing
folder left a mixed-seed dataset that validated; a truncated cache file was regenerated
in memory on every load and never repaired; every output file was mode 0600.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from dmkit import io, schema
from dmkit.contract import manifest
from dmkit.errors import SchemaError
from tests.contract_frames import frame
from tests.test_cli import run

SYNTH = ["synth", "--province", "yunnan", "--month", "2009-05", "--users", "600", "--months", "2",
         "--no-progress"]


def _synth(capsys, out: Path, seed: int, fmt: str = "parquet") -> None:
    code, _, err = run(capsys, *SYNTH, "--seed", str(seed), "--out", str(out), "--format", fmt)
    assert code == 0, err


def _load(out: Path):
    return io.load_province(out, province="yunnan", month="2009-05")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Two complete `dmkit synth` outputs (seeds 1 and 2) to copy from."""
    import shutil

    from dmkit import cli

    base = tmp_path_factory.mktemp("synth")
    for seed in (1, 2):
        with pytest.raises(SystemExit) as info:
            cli.main([*SYNTH, "--seed", str(seed), "--out", str(base / f"s{seed}")])
        assert info.value.code == 0
    return {seed: base / f"s{seed}" for seed in (1, 2)}, shutil.copytree


def test_synth_writes_a_manifest_with_every_file_hash_and_the_seed(seeds):
    roots, _ = seeds
    path = manifest.synth_manifest_path(roots[1], province="yunnan", month="2009-05")
    body = json.loads(path.read_text())
    assert body["meta"]["seed"] == 1 and body["meta"]["n_users"] == 600
    listed = set(body["files"])
    on_disk = {p.relative_to(roots[1]).as_posix() for p in roots[1].rglob("*")
               if p.is_file() and "_manifests" not in p.parts}
    assert listed == on_disk
    some = next(iter(listed))
    assert body["files"][some]["sha256"] == manifest.file_digest(roots[1] / some)
    assert _load(roots[1]).truth.seed == 1


def test_a_synth_killed_midway_over_an_existing_folder_is_refused_then_repaired(capsys, monkeypatch, tmp_path,
                                                                                  seeds):
    roots, copytree = seeds
    out = copytree(roots[1], tmp_path / "out")
    real = io.write_table
    written = []

    def killed(df, table, *a, **k):
        if len(written) == 3:
            raise KeyboardInterrupt  # as kill / Ctrl-C after users, usage, subscriptions
        written.append(table)
        return real(df, table, *a, **k)

    monkeypatch.setattr(io, "write_table", killed)
    code, _, err = run(capsys, *SYNTH, "--seed", "2", "--out", str(out))
    assert code == 130 and written == ["users", "usage", "subscriptions"]
    with pytest.raises(SchemaError, match=r"dmkit synth output for yunnan 2009-05 without its completion "
                                          r"manifest .* Fix: rerun `dmkit synth"):
        _load(out)  # users/usage/subscriptions of seed 2, the rest of seed 1: refused
    monkeypatch.setattr(io, "write_table", real)
    _synth(capsys, out, 2)  # repaired by running it again
    assert _load(out).truth.seed == 2


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_truncated_corrupted_or_missing_synth_file_is_refused_by_name(tmp_path, seeds, damage):
    roots, copytree = seeds
    out = copytree(roots[1], tmp_path / "out")
    victim = next((out / "events").rglob("part.parquet"))
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        victim.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    else:
        victim.unlink()
    rel = victim.relative_to(out).as_posix()
    expected = {"truncate": "truncated or replaced", "flip": "content differs", "delete": "missing"}[damage]
    with pytest.raises(SchemaError, match=rf"do not match the completion manifest: {rel}: .*{expected}"):
        _load(out)


def test_a_partition_left_by_another_run_is_refused_as_mixed(tmp_path, seeds):
    roots, copytree = seeds
    out = copytree(roots[1], tmp_path / "out")
    stray = out / "usage" / "province=yunnan" / "month=2008-12" / "part.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(next((roots[2] / "usage").rglob("part.parquet")).read_bytes())
    with pytest.raises(SchemaError, match=r"usage/province=yunnan/month=2008-12/part.parquet: not written by "
                                          r"this run \(left by another run: a mixed dataset\)"):
        _load(out)


def test_plain_extracts_without_truth_or_manifest_are_read_as_before(tmp_path):
    for t in schema.TABLES:
        io.write_table(frame(t), t, tmp_path, province="jiangsu", month="2009-06")
    got = io.load_province(tmp_path, province="jiangsu", month="2009-06")
    assert got.truth is None and len(got.users) == 3


# --- the simulator cache -------------------------------------------------------------------
SMALL = {"province": "yunnan", "month": "2009-05", "n_users": 600, "seed": 3, "n_months": 2}


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cache_is_regenerated_once_and_repaired_on_disk(tmp_path, monkeypatch, damage):
    from dmkit import synth

    real = synth.generate
    calls = []
    monkeypatch.setattr(synth, "generate", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = io.load_province("synth", cache_dir=tmp_path, **SMALL)
    folder = io.synth_cache_path(cache_dir=tmp_path, **SMALL)
    victim = folder / "usage.parquet"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) - 40] if damage == "truncate" else
                       data[:64] + bytes([data[64] ^ 0x10]) + data[65:])
    again = io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert again.usage.equals(first.usage)  # a flipped byte shows when the table is read (page CRC)
    assert len(calls) == 2 and again.users.equals(first.users)
    assert victim.read_bytes() == data  # repaired on disk ...
    io.load_province("synth", cache_dir=tmp_path, **SMALL)
    assert len(calls) == 2  # ... so the next load reads the cache
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temp or trash left


# --- the umask -------------------------------------------------------------------------------
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_written_files_respect_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        files = io.write_table(frame("usage"), "usage", tmp_path, format="csv", province="jiangsu")
        files += io.write_table(frame("users"), "users", tmp_path, month="2009-06")
        files.append(io.atomic_write_bytes(tmp_path / "x.json", b"{}"))
    finally:
        os.umask(old)
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {mode}


# --- params files ---------------------------------------------------------------------------
def _params(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    (tmp_path / "extracts").mkdir(exist_ok=True)
    path = tmp_path / "params" / "jiangsu" / "2009-06.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "params" / "defaults.yaml").write_text(f"data: {tmp_path / 'extracts'}\n")
    path.write_bytes(text.encode(encoding))
    return path


def test_a_params_out_dir_that_escapes_the_output_root_is_refused(tmp_path):
    from dmkit.errors import ParameterError
    from dmkit.params import load_params

    path = _params(tmp_path, "province: jiangsu\nmonth: '2009-06'\nout_dir: reports/../../etc/{province}\n")
    with pytest.raises(ParameterError, match=r"key 'out_dir': expected a folder under the output root "
                                             r"\(no '..' in the path\); got 'reports/../../etc/\{province\}'"):
        load_params(path)
    path.write_text("province: jiangsu\nmonth: '2009-06'\nout_dir: out/{province}/{month}\n")
    assert load_params(path).out_dir == "out/jiangsu/2009-06"


def test_a_params_key_given_twice_is_refused(tmp_path):
    from dmkit.errors import ParameterError
    from dmkit.params import load_params

    path = _params(tmp_path, "province: jiangsu\nmonth: '2009-06'\nn_users: 1000\nn_users: 50000\n")
    with pytest.raises(ParameterError, match=r"2009-06.yaml: key 'n_users' is given twice \(lines 3 and 4\)"):
        load_params(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "gb18030"])
def test_a_utf16_bom_or_gb18030_params_file_is_read(tmp_path, encoding):
    from dmkit.params import load_params

    path = _params(tmp_path, "# 江苏 2009年6月\nprovince: jiangsu\nmonth: '2009-06'\nn_users: 1234\n", encoding)
    params = load_params(path)
    assert (params.province, params.month, params.n_users) == ("jiangsu", "2009-06", 1234)


# --- dmkit run: checked before any work ---------------------------------------------------------
def _run_args(tmp_path: Path, *extra: str) -> list[str]:
    _params(tmp_path, "province: jiangsu\nmonth: '2009-06'\n")
    nbs = tmp_path / "notebooks"
    nbs.mkdir(exist_ok=True)
    src = Path(__file__).parent / "fixtures" / "notebooks"
    for name in ("nb_sleep", "nb_pass"):
        (nbs / f"{name}.ipynb").write_bytes((src / f"{name}.ipynb").read_bytes())
    return ["run", "--params-root", str(tmp_path / "params"), "--province", "jiangsu", "--month", "2009-06",
            "--notebook-dir", str(nbs), "--no-progress", *extra]


@pytest.fixture
def no_work(monkeypatch):
    from dmkit.batch import run as batch_run

    def fail(*a, **k):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr(batch_run, "prepare_data", fail)
    monkeypatch.setattr(batch_run, "_execute_all", fail)


@pytest.mark.parametrize("value", ["0.5", "0", "-3"])
def test_dmkit_run_timeout_that_is_not_whole_seconds_is_refused_before_work(capsys, tmp_path, no_work, value):
    code, _, err = run(capsys, *_run_args(tmp_path, "--notebook", "nb_pass", "--timeout", value))
    assert code == 2
    assert f"parameter 'timeout': expected a whole number of seconds >= 1 (or None for no limit); got {value}" \
        in err.replace(f"{float(value)}", value) and "Traceback" not in err


def test_dmkit_run_out_is_checked_before_any_work(capsys, tmp_path, no_work):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, *_run_args(tmp_path, "--notebook", "nb_pass", "--out", str(blocker / "reports")))
    assert code == 2 and "dmkit run: error: parameter 'out': expected a writable folder" in err
    code, _, err = run(capsys, *_run_args(tmp_path, "--notebook", "nb_pass", "--out", "/proc/dmkit-x"))
    assert code == 2 and "parameter 'out'" in err


# --- dmkit run: killed -------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _start_sleepers(tmp_path: Path):
    import subprocess
    import sys
    import time

    args = _run_args(tmp_path, "--notebook", "nb_sleep", "--notebook", "nb_sleep2", "--jobs", "2",
                     "--out", str(tmp_path / "reports"))
    nbs = tmp_path / "notebooks"
    (nbs / "nb_sleep2.ipynb").write_bytes((nbs / "nb_sleep.ipynb").read_bytes())
    proc = subprocess.Popen([sys.executable, "-m", "dmkit", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "reports" / "jiangsu" / "2009-06"
    deadline = time.monotonic() + 180
    while len(list(folder.glob("pids-*.json"))) < 2:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the notebooks did not start"
        time.sleep(0.5)
    pids = [json.loads(p.read_text()) for p in folder.glob("pids-*.json")]
    return proc, folder, [p["kernel"] for p in pids] + [p["parent"] for p in pids]


def _all_gone(pids: list[int], seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


@pytest.mark.slow
def test_sigterm_stops_workers_and_kernels_cleans_temp_files_and_exits_nonzero(tmp_path):
    import signal

    proc, folder, pids = _start_sleepers(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "dmkit run: terminated" in err and "Traceback" not in err
    assert _all_gone(pids, 30), [p for p in pids if _alive(p)]  # kernels and pool workers
    assert not [p for p in (tmp_path / "reports").rglob("*") if ".tmp" in p.name]
    runs = json.loads((folder / "_runs.json").read_text())
    assert {r["status"] for r in runs.values()} == {"interrupted"}  # the index claims no success
    assert "passed" not in (folder / "index.html").read_text().split("<h1>")[1].split("</h1>")[0]


@pytest.mark.slow
def test_kill_9_of_the_batch_leaves_no_worker_or_kernel_behind(tmp_path):
    import signal

    proc, _, pids = _start_sleepers(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _all_gone(pids, 60), [p for p in pids if _alive(p)]
    assert not [p for p in (tmp_path / "reports").rglob("*") if ".tmp" in p.name]


def test_dmkit_run_reports_respect_the_umask(capsys, tmp_path):
    old = os.umask(0o027)
    try:
        code, _, err = run(capsys, *_run_args(tmp_path, "--notebook", "nb_pass", "--jobs", "1",
                                              "--out", str(tmp_path / "reports")))
    finally:
        os.umask(old)
    assert code == 0, err
    files = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".ipynb", ".html", ".json"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o640 for p in files}


def test_a_kernel_death_is_reported_unless_the_batch_is_stopping(caplog):
    import logging

    from nbclient.exceptions import DeadKernelError

    from dmkit.batch import kernels

    kernels.quiet_when_stopping()
    kernels.quiet_when_stopping()  # once: no second filter
    assert logging.getLogger("papermill").filters.count(kernels._QUIET) == 1
    died = (DeadKernelError, DeadKernelError("Kernel died"), None)

    def log_all():
        logging.getLogger("papermill").error("Kernel died while waiting for execute reply.")
        logging.getLogger("asyncio").error("Task exception was never retrieved", exc_info=died)
        logging.getLogger("asyncio").error("another error", exc_info=(ValueError, ValueError("x"), None))

    with caplog.at_level(logging.ERROR):
        log_all()  # a kernel that dies by itself: reported
        kernels.STOPPING.append(True)
        try:
            log_all()  # our own interrupt: only the unrelated error
        finally:
            kernels.STOPPING.clear()
    assert [r.getMessage() for r in caplog.records] == [
        "Kernel died while waiting for execute reply.", "Task exception was never retrieved",
        "another error", "another error"]
