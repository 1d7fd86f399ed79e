"""The closed loop (dm.loop.run) on one simulated province: three policies, then scale.

    .venv/bin/python benchmarks/bench_loop.py                      # 6 months x 100,000 users, 3 policies
    .venv/bin/python benchmarks/bench_loop.py --scale 1000000      # + the model policy at 1,000,000 users

Figures (issue 13), printed with PASS/FAIL:

* over 6 months at 100,000 users, the model policy's cumulative take-up is >= 2x random's
  and >= 85% of the oracle's (the planted optimum);
* the model's AUC, per month, on the exploration slice (a uniform random sample of the
  eligible users, 5% of the offers) with its 95% bootstrap interval, and beside it the
  planted AUC on the whole eligible population (what the slice estimates, without noise)
  and the AUC on all the month's offers (mostly the top of the ranking); the population's own
  difficulty (the planted AUC of the planted probability without the unobservable per-user
  effect — the observable ceiling — and with it — the oracle ceiling), which falls as the
  policy sells to the best prospects. Six checks: the slice's estimates do not fall (the
  issue's wording, strictly), no fall beyond the noise (each month's interval reaches the
  month before's estimate), the planted population AUC does not fall, the revised model
  ranks each month's population at least as well as the never-revised base model (the
  revision helps), and the model's share of the attainable AUC (over the observable
  ceiling) does not fall; and the issue's own check, the AUC on all each month's contacts
  does not fall, beside the ceiling on the same offers (the planted probability's AUC: it
  falls too where the month's offers are harder to rank). The random and oracle policies fit
  no model: beside the model's AUC the ceiling on each policy's own offers is printed;
* 6 months at 1,000,000 users in <= 10 minutes on 2 cores, with the time and the peak
  resident memory of each month (sampled every 0.1 s by a thread; the world's generation
  before the first month is timed apart).

The runs write their state under --out (default a temporary folder, removed at the end)
and the simulator cache under --cache (default inside --out). Exit status 1 if a figure fails.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

import dmkit as dm


class RssSampler:
    """Resident memory (MiB) of this process every ``every`` seconds, with timestamps."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.samples, self._stop = every, [], threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self._rss()))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def peak(self, t0: float, t1: float) -> float:
        vals = [r for t, r in self.samples if t0 <= t <= t1]
        return max(vals) if vals else float("nan")


def policies(users: int, months: int, out: Path, cache: Path, seed: int) -> bool:
    runs = {}
    for p in ("model", "random", "oracle"):
        t = time.perf_counter()
        runs[p] = dm.loop.run(province="guangdong", start="2009-01", months=months, n_users=users, policy=p,
                              seed=seed, out=out / f"{users}-{p}", cache_dir=cache, resume=False)
        print(f"policy {p:6s}: {time.perf_counter() - t:6.1f} s", flush=True)
    side = dm.loop.compare(list(runs.values()))
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        print("\ntake-up by month (subscribed / offers sent):")
        print(side.monthly.pivot(index="month", columns="policy", values="take_up")[list(runs)])
        m = runs["model"].monthly.set_index("month")
        print("\nmodel policy: AUC of the planning model by month (slice = exploration offers delivered):")
        print(pd.DataFrame({"slice_auc": m["model_auc"], "low95": m["model_auc_low"], "high95": m["model_auc_high"],
                            "slice_offers": m["explore_delivered"], "slice_subscribed": m["explore_subscribed"],
                            "population_auc_planted": m["model_auc_planted"],
                            "base_model_population_auc": m["base_auc_planted"],
                            "observable_ceiling": m["observable_auc_planted"],
                            "oracle_ceiling": m["oracle_auc_planted"],
                            "share_of_attainable": m["model_auc_attainable"],
                            "all_offers_auc": m["model_auc_contacts"],
                            "oracle_auc_same_offers": m["oracle_auc"],
                            "gap_all_offers": m["oracle_auc"] - m["model_auc_contacts"],
                            "oracle_auc_slice": m["oracle_auc_slice"],
                            "gap_slice": m["oracle_auc_slice"] - m["model_auc"],
                            "gap_population_observable": m["observable_auc_planted"] - m["model_auc_planted"]}))
        print("\nthe model's AUC on all its delivered offers beside the ceiling on them (the planted probability's AUC"
              " on the same offers and outcomes), and that ceiling on each policy's own offers (the random and"
              " oracle policies fit no model, so they have no model AUC):")
        auc = side.monthly.pivot(index="month", columns="policy", values="oracle_auc")[list(runs)]
        print(pd.concat([m["model_auc_contacts"].rename("model: model AUC"),
                         auc.add_suffix(": ceiling")], axis=1))
        print("\ntotals:")
        print(side.totals)
    t = side.totals
    mm = runs["model"].monthly
    auc, high, planted, base, share = (mm[c].to_numpy() for c in ("model_auc", "model_auc_high", "model_auc_planted",
                                                                    "base_auc_planted", "model_auc_attainable"))
    contacts, ceiling = mm["model_auc_contacts"].to_numpy(), mm["oracle_auc"].to_numpy()
    print("\nthe population's own difficulty (planted): AUC of the planted P(subscribe | delivered) without the "
          "unobservable per-user effect (observable ceiling) and with it (oracle ceiling): "
          + ", ".join(f"{a:.3f}/{b:.3f}" for a, b in zip(mm["observable_auc_planted"], mm["oracle_auc_planted"],
                                                         strict=True)))
    checks = [
        (f"model take-up {t.loc['model', 'cumulative_take_up']:.4f} >= 2 x random's "
         f"{t.loc['random', 'cumulative_take_up']:.4f} (x{t.loc['model', 'vs_random']:.2f})",
         t.loc["model", "vs_random"] >= 2),
        (f"model take-up >= 85% of the oracle's {t.loc['oracle', 'cumulative_take_up']:.4f} "
         f"({t.loc['model', 'vs_oracle']:.1%})", t.loc["model", "vs_oracle"] >= 0.85),
        ("model AUC on each month's contacts (all delivered offers; the issue's wording) does not fall month over "
         "month: " + " -> ".join(f"{a:.3f}" for a in contacts) + " (the ceiling on the same offers: "
         + " -> ".join(f"{a:.3f}" for a in ceiling) + ")", bool((contacts[1:] >= contacts[:-1]).all())),
        ("model AUC on the exploration slice does not fall month over month: "
         + " -> ".join(f"{a:.3f}" for a in auc), bool((auc[1:] >= auc[:-1]).all())),
        ("no fall beyond the noise (each month's 95% interval reaches the month before's estimate): "
         + ", ".join(f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(mm["model_auc_low"], high, strict=True)),
         bool((high[1:] >= auc[:-1]).all())),
        ("planted population AUC does not fall month over month: " + " -> ".join(f"{a:.3f}" for a in planted),
         bool((planted[1:] >= planted[:-1]).all())),
        ("revision helps: the revised model ranks each month's population at least as well as the never-revised "
         "base model (months 2+): " + ", ".join(f"{a - b:+.3f}" for a, b in zip(planted[1:], base[1:], strict=True)),
         bool((planted[1:] >= base[1:]).all())),
        ("share of the attainable AUC (model - 0.5) / (observable ceiling - 0.5) does not fall month over month: "
         + " -> ".join(f"{a:.3f}" for a in share), bool((share[1:] >= share[:-1]).all())),
    ]
    for text, ok in checks:
        print(("PASS " if ok else "FAIL ") + text)
    return all(ok for _, ok in checks)


def scale(users: int, months: int, out: Path, cache: Path, seed: int) -> bool:
    with RssSampler() as rss:
        t0 = time.time()
        run = dm.loop.run(province="guangdong", start="2009-01", months=months, n_users=users, policy="model",
                          seed=seed, out=out / f"{users}-model", cache_dir=cache, resume=False)
        t1 = time.time()
    tm = run.timings
    first = tm["started"].iloc[0]
    print(f"\n{users:,} users, model policy, {months} months")
    print(f"  world (simulate {users:,} users, write and read the cache, baseline health): "
          f"{first - t0:6.1f} s, peak {rss.peak(t0, first):7.0f} MiB")
    for _, r in tm.iterrows():
        print(f"  {r['month']}: {r['seconds']:6.1f} s ({r['cpu_seconds']:6.1f} s CPU), "
              f"peak {rss.peak(r['started'], r['ended']):7.0f} MiB")
    months_s = float(tm["seconds"].sum())
    print(f"  months: {months_s:.1f} s ({float(tm['cpu_seconds'].sum()):.1f} s CPU); total with the world: "
          f"{t1 - t0:.1f} s; peak {rss.peak(t0, t1):.0f} MiB; load average at the end "
          + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"  take-up {run.cumulative_take_up:.4f}; exploration-slice AUC by month "
          + ", ".join(f"{a:.3f}" for a in run.monthly["model_auc"]) + "; planted population AUC "
          + ", ".join(f"{a:.3f}" for a in run.monthly["model_auc_planted"]) + "; observable ceiling "
          + ", ".join(f"{a:.3f}" for a in run.monthly["observable_auc_planted"]))
    ok = t1 - t0 <= 600
    print(("PASS " if ok else "FAIL ") + f"{months} months at {users:,} users in {t1 - t0:.0f} s <= 600 s")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=6)
    ap.add_argument("--scale", type=int, default=0, help="also run the model policy at this many users")
    ap.add_argument("--skip-policies", action="store_true", help="only the --scale run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=None)
    a = ap.parse_args()
    out = a.out or Path(tempfile.mkdtemp(prefix="bench-loop-"))
    cache = a.cache or out / "cache"
    ok = True
    try:
        if not a.skip_policies:
            ok &= policies(a.users, a.months, out, cache, a.seed)
        if a.scale:
            ok &= scale(a.scale, a.months, out, cache, a.seed)
    finally:
        if a.out is None:
            shutil.rmtree(out, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
