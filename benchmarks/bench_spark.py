"""Association rules on Spark: dmkit (pandas) vs Spark ML FPGrowth vs dmkit's weighted-basket method on Spark.

The same baskets (users × 35 services, skewed penetrations plus five bundles — the
generator of bench_rules.py) are mined three ways in one process:

  dmkit pandas            dm.rules.mine on the in-memory boolean frame
  spark weighted-basket   dm.spark.rules.mine(method="distinct"): baskets packed to bit masks
                          and counted with one GROUP BY in Spark SQL, the small weighted table
                          mined by dmkit on the driver — same RuleSet as pandas
  spark FPGrowth          pyspark.ml.fpm.FPGrowth: freqItemsets and associationRules
                          materialised (what a Spark user would pick instead)

Both Spark runs read the baskets from Parquet (as a cluster job would) on local[2], after
a warm-up job; the session start-up is reported on its own. Memory: peak RSS of this
process plus its children (the Spark JVM), sampled every 50 ms.

    .venv/bin/python benchmarks/bench_spark.py                      # 1,000,000 baskets
    .venv/bin/python benchmarks/bench_spark.py --users 200000 --min-support 0.01

With ``--cluster`` it instead runs every Spark-capable method (rules, segments, the
propensity logit, health KPIs, the campaign funnel, the offers' per-customer step; see
tests/spark_figures.py) on the pandas engine, on Spark local[2], then on a Spark
standalone cluster started on this machine (``dm.spark.cluster.standalone``: a master and
two workers of one core and 1 GiB each, stopped at the end), and prints the figures side
by side with the tolerance each must meet and the seconds of each engine:

    .venv/bin/python benchmarks/bench_spark.py --cluster --cluster-users 20000
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

GIB = 1024 ** 3


class Peak:
    """Peak RSS of this process and its children (the JVM) while a block runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._run = True
        threading.Thread(target=self._loop, daemon=True).start()

    def rss(self) -> int:
        total = self.proc.memory_info().rss
        for c in self.proc.children(recursive=True):
            try:
                total += c.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _loop(self) -> None:
        while self._run:
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)

    @contextmanager
    def measure(self, out: dict):
        self.peak = self.rss()
        t0 = time.perf_counter()
        yield
        out["seconds"] = time.perf_counter() - t0
        out["peak_gib"] = max(self.peak, self.rss()) / GIB

    def stop(self) -> None:
        self._run = False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--min-support", type=float, default=0.01)
    ap.add_argument("--min-confidence", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--cluster", action="store_true",
                    help="the Spark methods on pandas, local[2] and a standalone cluster, side by side")
    ap.add_argument("--cluster-users", type=int, default=20_000,
                    help="simulated users for --cluster (baskets: 5x as many)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--worker-memory", default="1g")
    args = ap.parse_args()
    if args.cluster:
        run_cluster(args)
        return

    from bench_rules import make_baskets

    import dmkit as dm
    from dmkit.spark import get_session
    from dmkit.spark.rules import mine as spark_mine

    work = Path(tempfile.mkdtemp(prefix="dmkit-bench-spark-"))
    meter = Peak()
    rows = {}
    try:
        baskets = make_baskets(args.users, seed=args.seed)
        path = work / "baskets.parquet"
        baskets.to_parquet(path, index=False)
        print(f"{args.users:,} baskets x {baskets.shape[1]} services, min_support {args.min_support}, "
              f"min_confidence {args.min_confidence}", flush=True)

        r = rows["dmkit pandas"] = {}
        with meter.measure(r):
            ref = dm.rules.mine(baskets, min_support=args.min_support, min_confidence=args.min_confidence)
        r["itemsets"], r["rules"] = len(ref.itemsets), len(ref.rules)
        print(f"  dmkit pandas            {r['seconds']:7.1f} s", flush=True)

        start = {}
        with meter.measure(start):
            spark = get_session(args.master, "dmkit-bench")
            spark.range(1000).selectExpr("sum(id)").collect()  # warm-up
        print(f"  (Spark session start-up {start['seconds']:.1f} s)", flush=True)
        sdf = spark.read.parquet(str(path))

        r = rows["spark weighted-basket"] = {}
        with meter.measure(r):
            got = spark_mine(sdf, min_support=args.min_support, min_confidence=args.min_confidence, id_col=None)
        r["itemsets"], r["rules"] = len(got.itemsets), len(got.rules)
        same = got.itemsets.equals(ref.itemsets) and got.rules.equals(ref.rules)
        r["note"] = "identical RuleSet" if same else "DIFFERENT from pandas"
        print(f"  spark weighted-basket   {r['seconds']:7.1f} s  {r['note']}", flush=True)

        from pyspark.ml.fpm import FPGrowth
        from pyspark.sql import functions as F

        r = rows["spark FPGrowth"] = {}
        with meter.measure(r):
            tx = sdf.select(F.array_compact(F.array(*[F.when(F.col(c), F.lit(c)) for c in baskets.columns]))
                            .alias("items"))
            fp = FPGrowth(itemsCol="items", minSupport=args.min_support,
                          minConfidence=args.min_confidence).fit(tx)
            r["itemsets"] = fp.freqItemsets.count()
            r["rules"] = fp.associationRules.count()
        r["note"] = "single-item consequents only"
        print(f"  spark FPGrowth          {r['seconds']:7.1f} s", flush=True)
        spark.stop()
    finally:
        meter.stop()
        shutil.rmtree(work, ignore_errors=True)

    base = rows["dmkit pandas"]
    print(f"\n{args.users:,} baskets, min_support {args.min_support}, min_confidence {args.min_confidence}; "
          f"Spark {args.master}, start-up {start['seconds']:.1f} s not included")
    print(f"{'method':<24}{'seconds':>9}{'peak GiB':>10}{'time / dmkit':>14}{'itemsets':>10}{'rules':>8}  note")
    for name, r in rows.items():
        print(f"{name:<24}{r['seconds']:>9.1f}{r['peak_gib']:>10.2f}{r['seconds'] / base['seconds']:>13.1f}x"
              f"{r['itemsets']:>10,}{r['rules']:>8,}  {r.get('note', '')}")
    fp, wb = rows["spark FPGrowth"], rows["spark weighted-basket"]
    print(f"\nSpark FPGrowth / Spark weighted-basket: {fp['seconds'] / wb['seconds']:.1f}x the time")


def run_cluster(args) -> None:
    """pandas vs Spark local[2] vs a standalone cluster, figure by figure (``--cluster``)."""
    import pandas as pd

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.spark_figures
    from dmkit.spark import cluster as spark_cluster
    from dmkit.spark import get_session
    from tests.spark_figures import compare

    n, nb = args.cluster_users, 5 * args.cluster_users
    meter = Peak()
    runs, info = {}, {}
    try:
        out = {}
        with meter.measure(out):
            spark = get_session("local[2]", "dmkit-bench-local")
            runs["local[2]"] = compare(spark, n_users=n, n_baskets=nb, seed=args.seed)
            spark.stop()
        info["local[2]"] = out
        print(f"local[2] done in {out['seconds']:.0f} s", flush=True)
        out = {}
        with meter.measure(out):
            t0 = time.perf_counter()
            with spark_cluster.standalone(workers=args.workers, cores=1, memory=args.worker_memory) as c:
                out["start_s"] = time.perf_counter() - t0
                spark = c.session("dmkit-bench-cluster")
                runs["cluster"] = compare(spark, n_users=n, n_baskets=nb, seed=args.seed,
                                          run=lambda job: c.run(job, timeout=3600))
                spark.stop()
        info["cluster"] = out
        print(f"cluster done in {out['seconds']:.0f} s (start-up {out['start_s']:.0f} s)", flush=True)
    finally:
        meter.stop()
    local, clus = runs["local[2]"], runs["cluster"]
    table = pd.DataFrame({"method": local["method"], "figure": local["figure"], "pandas": local["pandas"],
                          "local[2]": local["spark"], "cluster": clus["spark"],
                          "tolerance": local["tolerance"], "ok": local["ok"] & clus["ok"],
                          "pandas s": local["pandas_s"], "local s": local["spark_s"],
                          "cluster s": clus["spark_s"]})
    print(f"\n{n:,} simulated Jiangsu users ({nb:,} baskets); cluster: {args.workers} workers x 1 core x "
          f"{args.worker_memory}, start-up {info['cluster']['start_s']:.0f} s not included; "
          f"peak RSS (driver + JVMs + daemons) local {info['local[2]']['peak_gib']:.2f} GiB, "
          f"cluster {info['cluster']['peak_gib']:.2f} GiB")
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 48):
        print(table.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))
    print(f"\nevery figure within its tolerance on both: {bool(table['ok'].all())}")


if __name__ == "__main__":
    main()
