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
    args = ap.parse_args()

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


if __name__ == "__main__":
    main()
