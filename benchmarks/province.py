"""A full province on one machine: every stage of the Jiangsu pipeline, timed, with peak memory.

Runs the real dmkit calls in one process, in the order a monthly batch runs them:

  generate   dm.synth.generate(province, month, n_users, seed, n_months)
  write      dm.io.write_table (users, usage, subscriptions, contacts) to partitioned Parquet
  load       dm.io.read_table of the same tables (the simulator's frames are freed first)
  features   dm.propensity.build_features (data month) + dm.panel.monthly_features
             (3-month mean and trend, DuckDB over the Parquet panel) + service_target
  model fit  dm.propensity.fit(model="hgb") on a stratified sample of --fit-rows users
  scoring    model.score on every user (the J2 step: ~5 million scored in chunks)
  rules      dm.rules.baskets_from_subscriptions + dm.rules.mine(min_support=0.005, min_confidence=0.3)
  clustering dm.segment.cluster(sms_p2p, sms_contacts, arpu; k=3)
  campaign   dm.campaign.funnel(contacts)

For each stage: wall time, the peak resident memory (RSS) of the process during the stage
(sampled every 50 ms) and the RSS at its end. Targets for Jiangsu at 5 million users:
whole pipeline < 10 minutes and < 12 GiB peak.

    .venv/bin/python benchmarks/province.py                 # jiangsu, 5,000,000 users
    .venv/bin/python benchmarks/province.py --users 200000  # a quick run
    .venv/bin/python benchmarks/province.py --json out.json # also write the table as JSON
"""
from __future__ import annotations

import argparse
import gc
import json
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

import dmkit as dm
import dmkit.panel  # noqa: F401  (not yet in dmkit.__all__)

GIB = 1024 ** 3


class Meter:
    """Per-stage wall time and peak RSS (a sampling thread)."""

    def __init__(self, interval: float = 0.05) -> None:
        self.proc = psutil.Process()
        self.interval = interval
        self.rows: list[dict] = []
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self.proc.memory_info().rss)
            time.sleep(self.interval)

    @contextmanager
    def stage(self, name: str, detail: str = ""):
        gc.collect()
        self._peak = self.proc.memory_info().rss
        t0 = time.perf_counter()
        row = {"stage": name, "detail": detail}
        yield row
        row["seconds"] = time.perf_counter() - t0
        end = self.proc.memory_info().rss
        row["peak_gib"] = max(self._peak, end) / GIB
        row["end_gib"] = end / GIB
        self.rows.append(row)
        print(f"  {name:<11} {row['seconds']:8.1f} s  peak {row['peak_gib']:6.2f} GiB  {row['detail']}",
              flush=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def previous_months(month: str, n: int) -> list[str]:
    p = pd.Period(month, "M")
    return [str(p - i) for i in range(n - 1, -1, -1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--province", default="jiangsu")
    ap.add_argument("--month", default="2009-06")
    ap.add_argument("--users", type=int, default=5_000_000)
    ap.add_argument("--months", type=int, default=3, help="months in the usage panel (default 3)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--fit-rows", type=int, default=500_000, help="users in the model's training sample")
    ap.add_argument("--service", default="newspaper", help="target service of the propensity model")
    ap.add_argument("--workdir", default=None, help="where the Parquet tables go (default: a temp folder)")
    ap.add_argument("--json", default=None, help="also write the table to this JSON file")
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="dmkit-province-"))
    root = work / "extract"
    meter = Meter()
    t_all = time.perf_counter()
    print(f"dmkit province benchmark: {args.province} {args.month}, {args.users:,} users, "
          f"{args.months} months; {psutil.cpu_count()} cores, {psutil.virtual_memory().total / GIB:.0f} GiB",
          flush=True)
    try:
        with meter.stage("generate") as row:
            data = dm.synth.generate(args.province, args.month, args.users, args.seed, n_months=args.months)
            row["detail"] = (f"{len(data.users):,} users, {len(data.usage):,} usage rows, "
                             f"{len(data.subscriptions):,} subscriptions")
        with meter.stage("write") as row:
            for t in ("users", "usage", "subscriptions", "contacts"):
                dm.io.write_table(getattr(data, t), t, root, province=args.province, month=args.month)
            size = sum(f.stat().st_size for f in root.rglob("*.parquet"))
            row["detail"] = f"Parquet {size / 1024 ** 2:,.0f} MiB"
        del data
        gc.collect()
        with meter.stage("load") as row:
            users = dm.io.read_table(root, "users", province=args.province)
            usage = dm.io.read_table(root, "usage", province=args.province, month=args.month)
            subs = dm.io.read_table(root, "subscriptions", province=args.province)
            contacts = dm.io.read_table(root, "contacts", province=args.province)
            row["detail"] = f"usage of the data month: {len(usage):,} rows"
        with meter.stage("features") as row:
            X = dm.propensity.build_features(usage, users, month=args.month)
            panel = dm.panel.monthly_features(root, months=previous_months(args.month, args.months),
                                              columns=["arpu", "sms_p2p", "gprs_kb"], aggs=("mean", "trend"),
                                              province=args.province)
            X = X.join(panel, how="left").fillna(0.0)
            y = dm.propensity.service_target(subs, X.index, service=args.service, month=args.month)
            del usage
            row["detail"] = f"X {X.shape[0]:,} x {X.shape[1]}, {int(y.sum()):,} {args.service} holders"
        with meter.stage("model fit") as row:
            rng = np.random.default_rng(args.seed)
            n_fit = min(args.fit_rows, len(X))
            take = np.sort(rng.choice(len(X), size=n_fit, replace=False))
            model = dm.propensity.fit(X.iloc[take], y.iloc[take], model="hgb", seed=args.seed)
            row["detail"] = f"hgb on {n_fit:,} users, held-out AUC {model.auc:.3f}"
        with meter.stage("scoring") as row:
            score = model.target_proba(X)
            row["detail"] = f"{len(score):,} users scored, top-decile mean {score.nlargest(len(score) // 10).mean():.3f}"
        with meter.stage("rules") as row:
            baskets = dm.rules.baskets_from_subscriptions(subs, month=args.month, users=users["user_id"])
            rs = dm.rules.mine(baskets, min_support=0.005, min_confidence=0.3)
            row["detail"] = (f"{len(baskets):,} baskets, {rs.n_distinct:,} distinct, "
                             f"{len(rs.itemsets):,} itemsets, {len(rs.rules):,} rules")
            del baskets
        with meter.stage("clustering") as row:
            seg = dm.segment.cluster(X[["sms_p2p", "sms_contacts", "arpu"]], k=3, seed=args.seed)
            row["detail"] = f"k=3 ({seg.model.algorithm_}), shares {np.round(seg.profile['share'].to_numpy(), 3).tolist()}"
        with meter.stage("campaign") as row:
            fun = dm.campaign.funnel(contacts)
            o = fun.overall.iloc[0]
            row["detail"] = f"{int(o['sent']):,} sent, response {o['response_rate']:.2%}, kept {o['retention']:.1%}"
    finally:
        meter.close()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - t_all
    peak = max(r["peak_gib"] for r in meter.rows)
    table = pd.DataFrame(meter.rows)[["stage", "seconds", "peak_gib", "end_gib", "detail"]]
    print()
    print(f"{args.province} {args.month}, {args.users:,} users, {args.months}-month panel")
    with pd.option_context("display.width", 200, "display.max_colwidth", 90):
        print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"\nwhole pipeline: {total:,.1f} s ({total / 60:.1f} min; target < 10 min), "
          f"peak RSS {peak:.2f} GiB (target < 12 GiB)")
    if args.json:
        Path(args.json).write_text(json.dumps({"users": args.users, "total_seconds": total, "peak_gib": peak,
                                               "stages": meter.rows}, indent=1))


if __name__ == "__main__":
    main()
