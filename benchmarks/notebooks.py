"""Every notebook at province scale: the `dmkit run` batch, per notebook wall seconds and peak RSS.

For each size given, in a fresh work folder (its own simulator cache, params root and reports):

  simulate   dm.io.load_province("synth", ...) in a subprocess: the province-month written to
             the cache once (timed apart, with its peak RSS)
  batch      `dmkit run --province P --month M --users N --jobs J` in a subprocess (every
             notebook; the data is read from that cache)

A sampling thread (every --interval s) walks the batch's process tree with psutil: the sum of
RSS over the whole tree is the batch's peak; each Jupyter kernel (an ``ipykernel_launcher``
process) with its own children (Spark JVM, joblib workers) is one notebook's tree. A kernel is
matched to the executed notebook whose papermill start/end times overlap its lifetime most.
Per notebook: status, papermill wall seconds, peak RSS of its kernel tree and its slowest
cell (``cell.metadata.papermill.duration``).

    .venv/bin/python benchmarks/notebooks.py --users 100000
    .venv/bin/python benchmarks/notebooks.py --users 100000 1000000 --json nb.json
    .venv/bin/python benchmarks/notebooks.py --users 100000 --notebook yunnan_health  # one notebook
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
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
                k = self.kernels.setdefault(p.pid, {"start": p.create_time(), "peak": 0})
            except psutil.Error:
                continue
            k["peak"] = max(k["peak"], tree)
            k["last"] = now

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], *, cwd: Path, interval: float, log: Path) -> tuple[float, TreeMeter, int]:
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        meter = TreeMeter(proc.pid, interval)
        rc = proc.wait()
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
    for k in kernels.values():  # the notebook whose run overlaps this kernel's life most
        best, overlap = None, 0.0
        for r in rows:
            if r["start"] is None or r["end"] is None:
                continue
            o = min(r["end"], k.get("last", k["start"])) - max(r["start"], k["start"])
            if o > overlap:
                best, overlap = r, o
        if best is not None:
            best["peak_gib"] = max(best["peak_gib"] or 0.0, k["peak"] / GIB)
    return rows


def params_root(work: Path, province: str, month: str) -> Path:
    """A params root like params/ with the simulator cache in the work folder."""
    root = work / "params"
    (root / province).mkdir(parents=True)
    defaults = yaml.safe_load((REPO / "params" / "defaults.yaml").read_text())
    defaults["cache_dir"] = str(work / "cache")
    (root / "defaults.yaml").write_text(yaml.safe_dump(defaults))
    own = REPO / "params" / province / f"{month}.yaml"
    shutil.copy(own, root / province / own.name)
    return root


def one_size(args: argparse.Namespace, n_users: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"dmkit-notebooks-{n_users}-", dir=args.workdir))
    root = params_root(work, args.province, args.month)
    py = sys.executable
    sim = [py, "-c", "import dmkit as dm; dm.io.load_province('synth', province=%r, month=%r, "
           "n_users=%d, seed=%d, cache_dir=%r, progress=False)"
           % (args.province, args.month, n_users, args.seed, str(work / "cache"))]
    print(f"\n{n_users:,} users: simulating into {work / 'cache'}", flush=True)
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
          f"exit {rc}; simulation apart {sim_s:.1f} s; {len(rows)} notebooks, "
          f"{sum(r['status'] != 'passed' for r in rows)} failed; log {work / 'batch.log'}", flush=True)
    out = {"users": n_users, "simulate_seconds": sim_s, "simulate_peak_gib": sim_m.peak / GIB,
           "batch_seconds": batch_s, "batch_peak_gib": meter.peak / GIB, "exit_code": rc,
           "notebooks": rows, "work": str(work)}
    if not args.keep:
        shutil.rmtree(work / "cache", ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[100_000], help="sizes (simulated users)")
    ap.add_argument("--province", default="guangdong")
    ap.add_argument("--month", default="2008-12")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--notebook", action="append", help="run only this notebook (repeatable)")
    ap.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    ap.add_argument("--interval", type=float, default=0.25, help="RSS sampling interval (s)")
    ap.add_argument("--workdir", default=None, help="where the work folders go (default: the temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the simulator cache (reports are always kept)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()
    print(f"dmkit notebooks benchmark: {args.province} {args.month}, sizes {args.users}, --jobs {args.jobs}; "
          f"{psutil.cpu_count()} cores, {psutil.virtual_memory().total / GIB:.0f} GiB, "
          f"load {psutil.getloadavg()[0]:.1f}", flush=True)
    results = [one_size(args, n) for n in args.users]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
