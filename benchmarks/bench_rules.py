"""Association rules at province scale: dmkit.rules.mine vs mlxtend vs pyfim.

Each method runs in its own fresh subprocess on the same baskets (users × 35 services,
skewed penetrations plus five bundles, or the simulator's baskets with ``--synth``):
the time of the call, and its peak memory as the growth of the process's peak RSS
(VmHWM, reset after the baskets are built) over the RSS before the call. The parent
checks that mlxtend and dmkit give identical itemsets and rules (metrics to 1e-12) and
prints one table with the ratios against dmkit.

    .venv/bin/python benchmarks/bench_rules.py                    # 1M and 5M users
    .venv/bin/python benchmarks/bench_rules.py --sizes 200000 --min-support 0.01
    .venv/bin/python benchmarks/bench_rules.py --synth --sizes 200000

pyfim gives single-item consequents only: its rule count is compared with
``mine(..., max_consequent_len=1)`` (the column ``rules (1-item cons.)``); pyfim also
reports rules with an empty body ("{} => item" for items above min_confidence), hence
its few extra rules.

Measured 2026-11-23 with this script (2 cores shared with five other sessions, load
average ~14, so wall times are inflated; cpu_s is the process CPU time), min_support
0.005, min_confidence 0.3; dmkit and mlxtend identical (max relative metric difference 0):

 n_users  baskets    method          time_s  cpu_s  peak_MiB  itemsets  rules  rules(1-item)  cpu/dmkit  mem/dmkit
 1000000  generator  dmkit             2.51   0.73        37      2656   5620           4203        1.0        1.0
 1000000  generator  mlxtend          81.15  23.91       159      2656   5620           4203       32.7        4.3
 1000000  generator  pyfim            16.91   5.21       187      2656      -           4207        7.1        5.0
 1000000  generator  pyfim_weighted    7.82   3.57       291      2656      -           4207        4.9        7.8
 5000000  generator  dmkit             4.56   2.95       113      4454  18395          10069        1.0        1.0
 5000000  generator  mlxtend         257.19 106.74       440      4454  18395          10069       36.1        3.9
 5000000  generator  pyfim            52.99  30.71       904      4454      -          10073       10.4        8.0
 5000000  generator  pyfim_weighted   22.11  11.73       947      4454      -          10073        4.0        8.4
  500000  simulator  dmkit             1.26   0.35        18      1977   4974           3556        1.0        1.0
  500000  simulator  mlxtend          32.44   8.77        53      1977   4974           3556       25.2        3.0
  500000  simulator  pyfim             7.43   2.38        88      1977      -           3561        6.8        5.0
  500000  simulator  pyfim_weighted    3.51   1.24       118      1977      -           3561        3.6        6.7
(distinct baskets: 268,969 of 1M, 785,977 of 5M, 111,110 of 500k simulated)
"""
from __future__ import annotations

import argparse
import gc
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

METHODS = ("dmkit", "mlxtend", "pyfim", "pyfim_weighted")


def make_baskets(n: int, seed: int = 0, synth: bool = False) -> pd.DataFrame:
    """Users × 35 services booleans: skewed penetrations, activity, five bundles."""
    from dmkit import catalog

    if synth:
        import dmkit as dm

        data = dm.synth.generate("guangdong", month="2009-06", n_users=n, seed=seed)
        return dm.rules.baskets_from_subscriptions(data.subscriptions, month="2009-06",
                                                   users=data.users["user_id"]).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    k = len(catalog.SERVICES)
    pen = np.sort(rng.beta(0.6, 4.0, size=k))[::-1] * 0.9
    x = rng.random((n, k)) < pen
    activity = rng.gamma(2.0, 0.5, size=n)
    x |= rng.random((n, k)) < np.clip(pen * (activity[:, None] - 1) * 0.3, 0, 1)
    for _ in range(5):
        items = rng.choice(k, size=rng.integers(2, 5), replace=False)
        take = rng.random(n) < rng.uniform(0.02, 0.08)
        x[np.ix_(take, items)] = True
    return pd.DataFrame(x, columns=list(catalog.SERVICES))


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0  # MiB
    return float("nan")


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def worker(method: str, baskets_path: str, min_support: float, min_confidence: float, out: str) -> None:
    import fim
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    import dmkit.rules as R
    from dmkit.rules import mining

    # the parent built the baskets once and saved them: loading leaves no garbage behind
    # that would hide this process's peak memory
    with np.load(baskets_path) as z:
        df = pd.DataFrame(z["values"], columns=[str(c) for c in z["columns"]])
    names = list(df.columns)
    extra = {}
    gc.collect()
    _reset_peak()
    base = _status("VmRSS")
    t0 = time.perf_counter()
    c0 = time.process_time()
    if method == "dmkit":
        rs = R.mine(df, min_support=min_support, min_confidence=min_confidence)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _status("VmHWM") - base
        single = R.mine(df, min_support=min_support, min_confidence=min_confidence, max_consequent_len=1)
        result = {"itemsets": rs.itemsets, "rules": rs.rules}
        extra = {"itemsets": len(rs.itemsets), "rules": len(rs.rules), "rules1": len(single.rules),
                 "distinct": rs.n_distinct}
    elif method == "mlxtend":
        fp = fpgrowth(df, min_support=min_support, use_colnames=True)
        ar = association_rules(fp, num_itemsets=len(df), metric="confidence", min_threshold=min_confidence)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _status("VmHWM") - base
        result = {"itemsets": fp, "rules": ar}
        extra = {"itemsets": len(fp), "rules": len(ar),
                 "rules1": int((ar["consequents"].map(len) == 1).sum())}
    elif method in ("pyfim", "pyfim_weighted"):
        if method == "pyfim":
            cols = np.asarray(df.columns)
            values = df.to_numpy()
            tracts = [cols[row].tolist() for row in values]
        else:
            masks, counts = mining.distinct_baskets(df)
            bits = mining._unpack(masks, len(names))
            cols = np.asarray(names)
            tracts = {tuple(cols[row]): int(c) for row, c in zip(bits, counts, strict=True)}
        t_conv = time.perf_counter() - t0
        sets = fim.fpgrowth(tracts, target="s", supp=100.0 * min_support, report="a")
        rules = fim.fpgrowth(tracts, target="r", supp=100.0 * min_support, conf=100.0 * min_confidence,
                             report="c", mode="o")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = _status("VmHWM") - base
        result = None
        extra = {"itemsets": len(sets), "rules1": len(rules), "convert_s": round(t_conv, 2)}
    else:
        raise SystemExit(f"unknown method {method}")
    with open(out, "wb") as fh:
        pickle.dump({"time": elapsed, "cpu": cpu, "peak_mib": peak, **extra, "result": result}, fh)


def _run(method, n, baskets_path, args) -> dict | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "res.pkl")
        cmd = [sys.executable, __file__, "--worker", method, "--baskets", baskets_path,
               "--min-support", str(args.min_support), "--min-confidence", str(args.min_confidence),
               "--out", out]
        try:
            proc = subprocess.run(cmd, timeout=args.timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired:
            print(f"  {method} n={n:,}: did not finish in {args.timeout} s", flush=True)
            return None
        if proc.returncode != 0 or not os.path.exists(out):
            print(f"  {method} n={n:,}: failed (exit {proc.returncode}): {proc.stderr[-400:]}", flush=True)
            return None
        with open(out, "rb") as fh:
            return pickle.load(fh)


def _same(dm_res, ml_res) -> str:
    a = dict(zip(dm_res["itemsets"]["itemset"], dm_res["itemsets"]["support"], strict=True))
    b = dict(zip(ml_res["itemsets"]["itemsets"], ml_res["itemsets"]["support"], strict=True))
    if a.keys() != b.keys():
        return f"itemsets differ ({len(set(a) ^ set(b))})"
    d_sup = max((abs(a[k] - b[k]) for k in a), default=0.0)

    def key(r):
        return r.assign(_a=r["antecedents"].map(lambda s: tuple(sorted(s))),
                        _c=r["consequents"].map(lambda s: tuple(sorted(s)))).sort_values(["_a", "_c"])

    x, y = key(dm_res["rules"]), key(ml_res["rules"])
    if len(x) != len(y) or x["_a"].tolist() != y["_a"].tolist() or x["_c"].tolist() != y["_c"].tolist():
        return "rules differ"
    worst = 0.0
    for m in ("antecedent support", "consequent support", "support", "confidence", "lift", "leverage",
              "conviction", "zhangs_metric", "jaccard", "certainty", "kulczynski"):
        u, v = x[m].to_numpy(float), y[m].to_numpy(float)
        fin = np.isfinite(u) & np.isfinite(v)
        if not np.array_equal(np.isfinite(u), np.isfinite(v)):
            return f"{m}: inf pattern differs"
        if fin.any():
            worst = max(worst, float(np.max(np.abs(u[fin] - v[fin]) / np.maximum(np.abs(v[fin]), 1e-300))))
    return f"identical (max rel. diff {worst:.1e}, support diff {d_sup:.1e})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,5000000")
    ap.add_argument("--min-support", type=float, default=0.005)
    ap.add_argument("--min-confidence", type=float, default=0.3)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--synth", action="store_true", help="baskets from dm.synth.generate")
    ap.add_argument("--worker")
    ap.add_argument("--baskets")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.baskets, args.min_support, args.min_confidence, args.out)
        return
    rows = []
    tmpdir = tempfile.TemporaryDirectory()
    for n in [int(s) for s in args.sizes.split(",")]:
        print(f"n = {n:,} users × 35 services ({'simulator' if args.synth else 'generator'} baskets), "
              f"min_support {args.min_support}, min_confidence {args.min_confidence}", flush=True)
        df = make_baskets(n, synth=args.synth)
        baskets_path = os.path.join(tmpdir.name, f"baskets_{n}.npz")
        np.savez(baskets_path, values=df.to_numpy(dtype=bool), columns=np.asarray(df.columns, dtype=str))
        del df
        gc.collect()
        res = {}
        for m in args.methods.split(","):
            r = _run(m, n, baskets_path, args)
            res[m] = r
            if r is not None:
                print(f"  {m}: {r['time']:.2f} s (cpu {r['cpu']:.2f} s), peak +{r['peak_mib']:.0f} MiB", flush=True)
        check = _same(res["dmkit"]["result"], res["mlxtend"]["result"]) \
            if res.get("dmkit") and res.get("mlxtend") else "not compared"
        print(f"  dmkit vs mlxtend: {check}", flush=True)
        if res.get("dmkit"):
            print(f"  distinct baskets: {res['dmkit']['distinct']:,} ({res['dmkit']['distinct'] / n:.1%})",
                  flush=True)
        base = res.get("dmkit")
        for m, r in res.items():
            if r is None:
                rows.append({"n_users": n, "method": m, "time_s": np.nan})
                continue
            rows.append({
                "n_users": n, "method": m, "time_s": round(r["time"], 2), "cpu_s": round(r["cpu"], 2), "peak_MiB": round(r["peak_mib"]),
                "itemsets": r.get("itemsets"), "rules": r.get("rules"),
                "rules (1-item cons.)": r.get("rules1"),
                "time / dmkit": round(r["time"] / base["time"], 1) if base else np.nan,
                "cpu / dmkit": round(r["cpu"] / base["cpu"], 1) if base else np.nan,
                "memory / dmkit": round(r["peak_mib"] / max(base["peak_mib"], 1), 1) if base else np.nan,
            })
    tmpdir.cleanup()
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print()
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
