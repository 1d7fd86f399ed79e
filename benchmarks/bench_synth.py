"""Time and peak memory of ``dmkit.synth.generate`` at 100k, 1M and 5M users.

Each size runs in a fresh subprocess (so peak RSS is that run's own, read with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end); the import time of dmkit is
measured separately and not counted. Target (issue 2): 5 million users, default
n_months=6, in about 60 s and 6 GiB on a 2-core machine.

    .venv/bin/python benchmarks/bench_synth.py            # 100k, 1M, 5M
    .venv/bin/python benchmarks/bench_synth.py 100000     # chosen sizes
"""
from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import dmkit.synth as synth
t_import = time.perf_counter() - t0
n = int(sys.argv[1])
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t1, c1 = time.perf_counter(), time.process_time()
d = synth.generate("jiangsu", "2009-06", n, 7)
wall, cpu = time.perf_counter() - t1, time.process_time() - c1
rows = {k: len(v) for k, v in d.tables().items()}
mem = sum(int(v.memory_usage(deep=True).sum()) for v in d.tables().values())
print(json.dumps({"n": n, "wall_s": wall, "cpu_s": cpu, "import_s": t_import,
                  "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "rss_after_import_gib": rss0 / 2**20, "tables_gib": mem / 2**30, "rows": rows}))
"""


def run(n: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"generate failed at n={n}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(sizes: list[int]) -> None:
    try:
        import os

        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"dmkit.synth.generate('jiangsu', '2009-06', n, seed=7), n_months=6; load average {load:.1f}")
    print(f"{'users':>10} {'wall s':>8} {'cpu s':>8} {'peak GiB':>9} {'tables GiB':>10} "
          f"{'usage rows':>11} {'subs rows':>10} {'edges':>10} {'events':>10}")
    for n in sizes:
        r = run(n)
        rows = r["rows"]
        print(f"{n:>10,} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_rss_gib']:>9.2f} "
              f"{r['tables_gib']:>10.2f} {rows['usage']:>11,} {rows['subscriptions']:>10,} "
              f"{rows['edges']:>10,} {rows['events']:>10,}", flush=True)
    print("(peak = max RSS of the child process incl. Python, numpy and pandas, "
          "about 0.25 GiB after import; cpu = process time of generate)")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000, 5_000_000])
