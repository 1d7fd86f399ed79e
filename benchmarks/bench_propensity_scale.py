"""dmkit.propensity at province scale: the figures a report records, full data vs a stratified sample.

On a simulated province (``dm.io.load_province("synth", ...)``, Jiangsu 2009-06, cached
under ``--cache``), times ``build_features`` and ``service_target``, then fits the same
calibrated model twice on the same rows with the same 30 % held-out part:

  full    ``dm.propensity.fit(X, y, sample_size=None)``: learns from every training row
  sample  ``dm.propensity.fit(X, y)``: learns from a stratified sample of
          ``--sample-size`` training rows (default 200,000, dmkit's default)

and prints, side by side, what a report records — held-out AUC, top-decile lift (both on
the same held-out rows, none of them in the sample), the top drivers (permutation
importance on the same 20,000 held-out rows) — with the fit seconds and their ratio,
then whether the sample is within the stated tolerances:

  AUC            |sample - full| <= 0.01
  top-decile lift |sample - full| / full <= 5 %
  top drivers    the drivers that matter (permutation importance >= 0.01 AUC in the full fit)
                 lead the sample's ranking in the same order, and no feature's importance
                 moves by more than 0.01 (below that a driver's rank is noise: the third
                 and later drivers of the planted newspaper rule swap between fits)

    .venv/bin/python benchmarks/bench_propensity_scale.py                  # 1,000,000 users
    .venv/bin/python benchmarks/bench_propensity_scale.py --users 100000   # quick
    .venv/bin/python benchmarks/bench_propensity_scale.py --model logit

    .venv/bin/python benchmarks/bench_propensity_scale.py --features 1000000 3000000 --province guangdong \
        --month 2008-12 --cache /tmp/c1m     # build_features only: the tables read whole vs the province

``--features N ...`` times only the feature build at each size, each way in a fresh process
(peak RSS is per process): ``frame`` = ``build_features(pdata.usage, pdata.users)`` (the
lazy read of every month and column, then the build), ``province`` =
``build_features(pdata, pdata)`` (the month's feature columns and the users' attributes read
only); prints seconds and peak RSS over the load, and checks that both give the same X.

Exits non-zero when a tolerance is not met. Figures measured: benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

import dmkit as dm
import dmkit.propensity  # noqa: F401  (imported before timing: scikit-learn's import is not build_features')

AUC_TOL = 0.01
LIFT_TOL = 0.05
N_DRIVERS = 3
IMP_TOL = 0.01


def timed(label: str, fn):
    load = os.getloadavg()[0]
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"  {label:<34} {dt:8.1f} s  (load average {load:.1f})", flush=True)
    return out, dt


def figures(model) -> dict:
    """What a report records of a fitted model: held-out AUC, top-decile lift, top drivers."""
    imp = model.importance()
    return {"auc": model.auc, "lift": float(model.gains().table["lift"].iloc[0]),
            "drivers": list(imp["feature"].head(5)), "importance": imp.set_index("feature")["importance"],
            "n_train": model.n_train_,
            "n_test": len(model.y_test_)}


def _features_once(a, n: int, way: str) -> None:
    """One feature build in this process: seconds, peak RSS (MiB) over the load, X's checksum."""
    import hashlib
    import resource

    pdata = dm.io.load_province("synth", province=a.province, month=a.month, n_users=n, seed=a.seed,
                                cache_dir=a.cache)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    X = (dm.propensity.build_features(pdata.usage, pdata.users, month=a.month) if way == "frame"
         else dm.propensity.build_features(pdata, pdata, month=a.month))
    dt = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    digest = hashlib.sha1(pd.util.hash_pandas_object(X).to_numpy().tobytes()).hexdigest()[:12]
    print(f"{n} {way} {dt:.3f} {rss - rss0:.0f} {rss:.0f} {digest}", flush=True)


def features(a) -> int:
    """build_features, the tables read whole (frame) vs the province (province), at each size."""
    import subprocess

    ok = True
    for n in a.features:
        got = {}
        for way in ("frame", "province"):
            out = subprocess.run([sys.executable, __file__, "--_once", f"{n}:{way}", "--province", a.province,
                                  "--month", a.month, "--seed", str(a.seed)] + (["--cache", a.cache] if a.cache else []),
                                 check=True, capture_output=True, text=True).stdout.split()[-6:]
            got[way] = (float(out[2]), float(out[3]), float(out[4]), out[5])
            print(f"  {n:>10,} users  {way:<8}  {got[way][0]:6.2f} s  peak +{got[way][1]:5.0f} MiB over the load "
                  f"(process {got[way][2]:5.0f} MiB)", flush=True)
        same = got["frame"][3] == got["province"][3]
        ok &= same
        print(f"  {n:>10,} users  speed-up x{got['frame'][0] / got['province'][0]:.1f}, memory "
              f"{got['province'][1] / max(got['frame'][1], 1):.2f} of before, same X: {same}", flush=True)
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--province", default="jiangsu")
    ap.add_argument("--month", default="2009-06")
    ap.add_argument("--service", default="newspaper")
    ap.add_argument("--model", default="hgb", choices=["hgb", "logit", "tree"])
    ap.add_argument("--sample-size", type=int, default=dm.propensity.scoring.DEFAULT_SAMPLE_SIZE)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", default=None, help="simulator cache folder (default: dmkit's)")
    ap.add_argument("--features", type=int, nargs="+", default=None,
                    help="only time build_features at these sizes, the tables read whole vs the province")
    ap.add_argument("--_once", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a._once:
        n, way = a._once.split(":")
        _features_once(a, int(n), way)
        return 0
    if a.features:
        return features(a)

    print(f"dmkit.propensity at scale: {a.province} {a.month}, {a.users:,} users, model={a.model}, "
          f"target {a.service}", flush=True)
    pdata, t_load = timed("load_province (synth, cached)", lambda: dm.io.load_province(
        "synth", province=a.province, month=a.month, n_users=a.users, seed=a.seed, cache_dir=a.cache))
    usage, users, subs = pdata.usage, pdata.users, pdata.subscriptions
    X, t_feat = timed("build_features(usage, users)",
                      lambda: dm.propensity.build_features(usage, users, month=a.month))
    y, t_target = timed("service_target", lambda: dm.propensity.service_target(
        subs, index=X.index, service=a.service, month=a.month))
    print(f"  X {X.shape[0]:,} x {X.shape[1]} ({X.memory_usage().sum() / 2**20:,.0f} MiB), "
          f"{int(y.sum()):,} holders ({y.mean():.2%})", flush=True)
    full, t_full = timed("fit, full data (sample_size=None)",
                         lambda: dm.propensity.fit(X, y, model=a.model, seed=a.seed, sample_size=None))
    samp, t_samp = timed(f"fit, sample (sample_size={a.sample_size:,})",
                         lambda: dm.propensity.fit(X, y, model=a.model, seed=a.seed, sample_size=a.sample_size))
    assert np.array_equal(full.test_index_, samp.test_index_), "the two fits must share the held-out rows"
    (ff, t_ff), (fs, t_fs) = (timed("report figures, full", lambda: figures(full)),
                              timed("report figures, sample", lambda: figures(samp)))
    _, t_score = timed(f"target_proba on all {len(X):,} users", lambda: samp.target_proba(X))

    auc_d = abs(fs["auc"] - ff["auc"])
    lift_d = abs(fs["lift"] - ff["lift"]) / ff["lift"]
    imp_f, imp_s = ff["importance"], fs["importance"].reindex(ff["importance"].index)
    material = list(imp_f.index[imp_f >= IMP_TOL])
    imp_d = float((imp_s - imp_f).abs().max())
    drivers_ok = list(fs["importance"].index[:len(material)]) == material and imp_d <= IMP_TOL
    table = pd.DataFrame({
        "full": [f"{ff['n_train']:,}", f"{ff['auc']:.4f}", f"{ff['lift']:.3f}", ", ".join(ff["drivers"][:N_DRIVERS]),
                 f"{t_full:.1f}", f"{t_ff:.1f}"],
        "sample": [f"{fs['n_train']:,}", f"{fs['auc']:.4f}", f"{fs['lift']:.3f}", ", ".join(fs["drivers"][:N_DRIVERS]),
                   f"{t_samp:.1f}", f"{t_fs:.1f}"],
        "difference / ratio": [f"{fs['n_train'] / ff['n_train']:.2f}", f"{auc_d:.4f} (tol {AUC_TOL})",
                               f"{lift_d:.1%} (tol {LIFT_TOL:.0%})", f"{'same' if drivers_ok else 'NOT the same'} lead {material}; max importance change {imp_d:.4f} (tol {IMP_TOL})",
                               f"{t_samp / t_full:.2f}", f"{t_fs / t_ff:.2f}"],
    }, index=["rows learnt from", "held-out AUC", "top-decile lift", f"top {N_DRIVERS} drivers", "fit seconds",
              "report figures seconds"])
    print()
    print(f"{a.users:,} users, {a.model}; held-out part: the same {ff['n_test']:,} rows for both, none in the sample")
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(table.to_string())
    print("permutation importance (AUC drop) of the top 5 drivers:")
    print(pd.DataFrame({"full": imp_f, "sample": imp_s}).head(5).round(4).to_string())
    print(f"\nbuild_features {t_feat:.1f} s, service_target {t_target:.1f} s, scoring everyone {t_score:.1f} s "
          f"(load {t_load:.1f} s apart)")
    ok = auc_d <= AUC_TOL and lift_d <= LIFT_TOL and drivers_ok
    print("within tolerance" if ok else "NOT within tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
