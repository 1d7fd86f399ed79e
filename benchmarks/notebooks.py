"""Every notebook at province scale: the `dmkit run` batch, per notebook wall seconds and peak RSS.

For each size given, in a fresh work folder (its own simulator cache unless --cache names a shared
one, params root and reports):

  simulate   dm.io.load_province("synth", ...) in a subprocess: the province-month written to
             the cache once (timed apart, with its peak RSS)
  batch      `dmkit run --province P --month M --users N --jobs J` in a subprocess (every
             notebook; the data is read from that cache)

A sampling thread (every --interval s) walks the batch's process tree with psutil: the sum of
RSS over the whole tree is the batch's peak; each Jupyter kernel (an ``ipykernel_launcher``
process) with its own children (Spark JVM, joblib workers) is one notebook's tree. The batch
starts each notebook's kernel with ``DMKIT_NOTEBOOK=<notebook>`` in its environment, read here
from ``/proc/<pid>/environ``, so every kernel is tied to its notebook by name, however short
(a kernel whose environment cannot be read falls back to the notebook whose papermill
start/end times overlap its lifetime most). Per notebook: status, papermill wall seconds, peak
RSS of its kernel tree and its slowest cell (``cell.metadata.papermill.duration``). With two
sizes or more, the scaling from the smallest to the largest: time and peak ratios against the
ratio of users (linear scaling: the two ratios are equal).

Sizes accept suffixes: ``100k``, ``1M``, ``12M``. Ctrl-C or SIGTERM stops the batch (the
running notebooks are interrupted) and still prints and writes what finished.

    .venv/bin/python benchmarks/notebooks.py --users 100k
    .venv/bin/python benchmarks/notebooks.py --users 1M 12M --json nb.json
    .venv/bin/python benchmarks/notebooks.py --users 100000 --notebook yunnan_health  # one notebook
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

GIB = 1024 ** 3
REPO = Path(__file__).resolve().parents[1]


class TreeMeter:
    """Samples one process tree: peak total RSS and, per kernel process, its tree's peak RSS."""

    def __init__(self, pid: int, interval: float) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.kernels: dict[int, dict] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss: dict[int, int] = {}
        total = 0
        for p in procs:
            try:
                rss[p.pid] = p.memory_info().rss
            except psutil.Error:
                continue
            total += rss[p.pid]
        self.peak = max(self.peak, total)
        now = time.time()
        for p in procs:
            try:
                if "ipykernel_launcher" not in " ".join(p.cmdline()):
                    continue
                tree = rss.get(p.pid, 0) + sum(rss.get(c.pid, 0) for c in p.children(recursive=True))
                k = self.kernels.get(p.pid)
                if k is None:
                    k = self.kernels[p.pid] = {"start": p.create_time(), "peak": 0,
                                               "notebook": kernel_notebook(p)}
            except psutil.Error:
                continue
            k["peak"] = max(k["peak"], tree)
            k["last"] = now

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def kernel_notebook(proc: psutil.Process) -> str | None:
    """The notebook a kernel runs: ``DMKIT_NOTEBOOK`` in its environment (set by ``dmkit run``)."""
    try:
        return proc.environ().get("DMKIT_NOTEBOOK") or None
    except psutil.Error:
        return None


class Stopped(Exception):
    """Ctrl-C or SIGTERM during a measured run: the run was stopped, what finished is reported."""


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def run_measured(cmd: list[str], *, cwd: Path, interval: float, log: Path) -> tuple[float, TreeMeter, int]:
    """Run ``cmd``, sampling its process tree; on Ctrl-C/SIGTERM stop it (SIGTERM, which
    ``dmkit run`` handles as an interrupt) and return with ``rc`` negative."""
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        meter = TreeMeter(proc.pid, interval)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            rc = -signal.SIGTERM
    meter.close()
    return time.perf_counter() - t0, meter, rc


def utc(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.timezone.utc).timestamp()


def notebook_rows(report_dir: Path, kernels: dict[int, dict]) -> list[dict]:
    """One row per executed notebook: papermill times, kernel-tree peak RSS, slowest cell."""
    rows = []
    for path in sorted(p for p in report_dir.glob("*.ipynb") if not p.name.startswith(".")):  # not a running temp
        nb = json.loads(path.read_text())
        pm = nb.get("metadata", {}).get("papermill", {})
        cells = [(i, c) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
        durations = [(c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0, i, c)
                     for i, c in cells]
        slow = max(durations, key=lambda d: d[0], default=(0.0, -1, None))
        first = ""
        if slow[2] is not None:
            src = "".join(slow[2]["source"]).strip().splitlines()
            first = next((s for s in src if s.strip() and not s.lstrip().startswith("#")), src[0] if src else "")
        failed = any(c.get("metadata", {}).get("papermill", {}).get("exception") for _, c in cells)
        start, end = pm.get("start_time"), pm.get("end_time")
        rows.append({"notebook": path.stem, "status": "failed" if failed or pm.get("exception") else "passed",
                     "seconds": pm.get("duration"), "start": utc(start) if start else None,
                     "end": utc(end) if end else None, "peak_gib": None,
                     "slowest_cell": slow[1], "slowest_seconds": slow[0], "slowest_code": first[:90]})
    by_name = {r["notebook"]: r for r in rows}
    # the batch's own record of each run: a kernel killed (out of memory) leaves a notebook whose
    # cells carry no exception, but dmkit run recorded it as failed
    try:
        runs = json.loads((report_dir / "_runs.json").read_text())
    except (OSError, ValueError):
        runs = {}
    for name, run in runs.items():
        if name in by_name and run.get("status") and run["status"] != "passed":
            by_name[name]["status"] = run["status"]
            by_name[name]["error"] = run.get("error", "")
    for k in kernels.values():
        if k.get("notebook") in by_name:  # named by DMKIT_NOTEBOOK in the kernel's environment
            r = by_name[k["notebook"]]
            r["peak_gib"] = max(r["peak_gib"] or 0.0, k["peak"] / GIB)
            r["matched"] = "name"
            continue
        best, overlap = None, 0.0  # else the notebook whose run overlaps this kernel's life most
        for r in rows:
            if r["start"] is None or r["end"] is None:
                continue
            o = min(r["end"], k.get("last", k["start"])) - max(r["start"], k["start"])
            if o > overlap:
                best, overlap = r, o
        if best is not None:
            best["peak_gib"] = max(best["peak_gib"] or 0.0, k["peak"] / GIB)
            best.setdefault("matched", "time")
    return rows


def params_root(work: Path, province: str, month: str, cache: Path) -> Path:
    """A params root like params/ with the simulator cache at ``cache``."""
    root = work / "params"
    (root / province).mkdir(parents=True)
    defaults = yaml.safe_load((REPO / "params" / "defaults.yaml").read_text())
    defaults["cache_dir"] = str(cache)
    (root / "defaults.yaml").write_text(yaml.safe_dump(defaults))
    own = REPO / "params" / province / f"{month}.yaml"
    shutil.copy(own, root / province / own.name)
    return root


def one_size(args: argparse.Namespace, n_users: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"dmkit-notebooks-{n_users}-", dir=args.workdir))
    cache = Path(args.cache).resolve() if args.cache else work / "cache"
    root = params_root(work, args.province, args.month, cache)
    py = sys.executable
    sim = [py, "-c", f"import dmkit as dm; dm.io.load_province('synth', province={args.province!r}, "
           f"month={args.month!r}, n_users={n_users}, seed={args.seed}, cache_dir={str(cache)!r}, progress=False)"]
    print(f"\n{n_users:,} users: simulating into {cache} (a complete cache of the same key is read back)",
          flush=True)
    sim_s, sim_m, rc = run_measured(sim, cwd=REPO, interval=args.interval, log=work / "simulate.log")
    if rc:
        raise SystemExit(f"simulation failed (exit {rc}); see {work / 'simulate.log'}")
    print(f"  simulate {sim_s:8.1f} s  peak {sim_m.peak / GIB:6.2f} GiB", flush=True)
    cmd = [str(Path(py).with_name("dmkit")), "run", "--province", args.province, "--month", args.month,
           "--users", str(n_users), "--jobs", str(args.jobs), "--params-root", str(root),
           "--out", str(work / "reports"), "--no-progress"]
    for name in args.notebook or []:
        cmd += ["--notebook", name]
    if args.timeout:
        cmd += ["--timeout", str(args.timeout)]
    print("  " + " ".join(cmd), flush=True)
    batch_s, meter, rc = run_measured(cmd, cwd=REPO, interval=args.interval, log=work / "batch.log")
    rows = notebook_rows(work / "reports" / args.province / args.month, meter.kernels)
    print(f"  {'notebook':<28} {'status':<7} {'wall s':>8} {'peak GiB':>9}  slowest cell", flush=True)
    for r in sorted(rows, key=lambda r: -(r["seconds"] or 0)):
        sec = f"{r['seconds']:8.1f}" if r["seconds"] is not None else "       -"
        pk = f"{r['peak_gib']:9.2f}" if r["peak_gib"] is not None else "        -"
        print(f"  {r['notebook']:<28} {r['status']:<7} {sec} {pk}  [{r['slowest_cell']}] "
              f"{r['slowest_seconds']:.1f} s  {r['slowest_code']}", flush=True)
    print(f"  batch    {batch_s:8.1f} s  peak {meter.peak / GIB:6.2f} GiB (whole process tree), "
          f"exit {rc}{' (stopped)' if rc < 0 else ''}; simulation apart {sim_s:.1f} s; {len(rows)} notebooks, "
          f"{sum(r['status'] != 'passed' for r in rows)} failed; log {work / 'batch.log'}", flush=True)
    out = {"users": n_users, "simulate_seconds": sim_s, "simulate_peak_gib": sim_m.peak / GIB,
           "batch_seconds": batch_s, "batch_peak_gib": meter.peak / GIB, "exit_code": rc,
           "notebooks": rows, "work": str(work)}
    if not args.keep and not args.cache:
        shutil.rmtree(work / "cache", ignore_errors=True)
    return out


def users(text: str) -> int:
    """A size: ``100000``, ``100k``, ``1M``, ``12M`` (``1_000_000`` too)."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    try:
        n = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of users such as 100000, 100k, 1M or 12M, not {text!r}") from None
    if n < 1 or n != int(n):
        raise argparse.ArgumentTypeError(f"a whole number of users >= 1, not {text!r}")
    return int(n)


def scaling(results: list[dict]) -> dict | None:
    """From the smallest size to the largest: user, batch time and peak ratios, and per notebook
    the time ratio (linear scaling: time ratio <= user ratio). Only finished notebooks count."""
    done = [r for r in results if r.get("notebooks")]
    if len(done) < 2:
        return None
    lo, hi = min(done, key=lambda r: r["users"]), max(done, key=lambda r: r["users"])
    if lo["users"] == hi["users"]:
        return None
    per = {}
    small = {n["notebook"]: n for n in lo["notebooks"] if n["seconds"]}
    for n in hi["notebooks"]:
        if n["notebook"] in small and n["seconds"]:
            per[n["notebook"]] = n["seconds"] / small[n["notebook"]]["seconds"]
    return {"from": lo["users"], "to": hi["users"], "users_ratio": hi["users"] / lo["users"],
            "batch_time_ratio": hi["batch_seconds"] / lo["batch_seconds"],
            "batch_peak_ratio": hi["batch_peak_gib"] / lo["batch_peak_gib"],
            "complete": lo["exit_code"] == 0 and hi["exit_code"] == 0, "notebooks": per}


def print_scaling(sc: dict) -> None:
    print(f"\nscaling {sc['from']:,} -> {sc['to']:,} users (x{sc['users_ratio']:.1f}; linear: ratios <= that):"
          f" batch time x{sc['batch_time_ratio']:.2f}, batch peak x{sc['batch_peak_ratio']:.2f}"
          + ("" if sc["complete"] else "  (a batch was stopped or failed: partial)"), flush=True)
    for name, ratio in sorted(sc["notebooks"].items(), key=lambda kv: -kv[1]):
        flag = "  worse than linear" if ratio > sc["users_ratio"] else ""
        print(f"  {name:<28} time x{ratio:7.2f}{flag}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=users, nargs="+", default=[100_000],
                    help="sizes (simulated users): 100000, 100k, 1M, 5M, 12M")
    ap.add_argument("--province", default="guangdong")
    ap.add_argument("--month", default="2008-12")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--notebook", action="append", help="run only this notebook (repeatable)")
    ap.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    ap.add_argument("--interval", type=float, default=0.25, help="RSS sampling interval (s)")
    ap.add_argument("--workdir", default=None, help="where the work folders go (default: the temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the simulator cache (reports are always kept)")
    ap.add_argument("--cache", default=None,
                    help="simulator cache root shared across runs (kept; a province-month already simulated "
                         "there with the same simulator is read back, so the simulate step is only a check)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    print(f"dmkit notebooks benchmark: {args.province} {args.month}, sizes {args.users}, --jobs {args.jobs}; "
          f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / GIB:.0f} GiB, "
          f"load {psutil.getloadavg()[0]:.1f}", flush=True)
    signal.signal(signal.SIGTERM, _sigterm)  # stop like Ctrl-C: what finished is still reported
    results: list[dict] = []
    for n in args.users:
        res = one_size(args, n)
        results.append(res)
        if args.json:  # after each size, so a stopped run keeps the sizes it finished
            Path(args.json).write_text(json.dumps({"sizes": results, "scaling": scaling(results)}, indent=1))
        if res["exit_code"] < 0:
            print("stopped: the sizes not started are skipped", flush=True)
            break
    sc = scaling(results)
    if sc:
        print_scaling(sc)
        if args.json:
            Path(args.json).write_text(json.dumps({"sizes": results, "scaling": sc}, indent=1))


if __name__ == "__main__":
    main()
