"""dm.propensity.tree_rules at province scale: the tree fitted on every row vs on a stratified sample.

On a simulated province (``dm.io.load_province("synth", ...)``, cached under ``--cache``),
for each target service and feature set (usage only, as jiangsu_target_models; usage and
users' attributes, as yunnan_newspaper) fits the same depth-3 tree rules twice:

  full    ``tree_rules(X, y, sample_size=None)``: the tree fitted on every row
  sample  ``tree_rules(X, y)``: the tree fitted on a stratified sample of ``--sample-size``
          rows (default 200,000, dmkit's default); the rules counted on every row

and prints both rules tables, the seconds and whether the sample is within the stated tolerances:

  top rule        the same features and operators; each threshold within 0.5 (integer
                  counts) or 2 % (amounts) of the full fit's
  top rule lift   |sample - full| / full <= 2 %; its support within 1 percentage point
  positive rules  as many positive (target-user) rules

    .venv/bin/python benchmarks/bench_tree_rules_scale.py --cache <dir>     # 1,000,000 users
    .venv/bin/python benchmarks/bench_tree_rules_scale.py --users 300000

Exits non-zero when a tolerance is not met.
"""
from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

import dmkit as dm


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= max(0.5, 0.02 * abs(b))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--province", default="guangdong")
    ap.add_argument("--month", default="2008-12")
    ap.add_argument("--services", default="newspaper,mail_notify")
    ap.add_argument("--sample-size", type=int, default=dm.propensity.rules.DEFAULT_RULES_SAMPLE_SIZE)
    ap.add_argument("--max-depth", type=int, default=3)
    ap.add_argument("--cache", default=None)
    args = ap.parse_args()
    p = dm.io.load_province("synth", province=args.province, month=args.month, n_users=args.users, seed=7,
                            cache_dir=args.cache, progress=False)
    ok = True
    for with_users in (False, True):
        X = dm.propensity.build_features(p.usage, p.users if with_users else None, month=args.month)
        for service in args.services.split(","):
            y = dm.propensity.service_target(p.subscriptions, index=X.index, service=service, month=args.month)
            t = time.perf_counter()
            full = dm.propensity.tree_rules(X, y, max_depth=args.max_depth, sample_size=None)
            t_full = time.perf_counter() - t
            t = time.perf_counter()
            samp = dm.propensity.tree_rules(X, y, max_depth=args.max_depth, sample_size=args.sample_size)
            t_samp = time.perf_counter() - t
            a, b = full.rules.iloc[0], samp.rules.iloc[0]
            fa = [(f, op) for f, op, _ in a["conditions"]]
            fb = [(f, op) for f, op, _ in b["conditions"]]
            same = sorted(fa) == sorted(fb) and all(
                _close(tb, ta) for (f, op, ta) in a["conditions"] for (g, op2, tb) in b["conditions"]
                if (f, op) == (g, op2))
            dlift = abs(b["lift"] - a["lift"]) / a["lift"]
            dsup = abs(b["support"] - a["support"])
            npos = (int(full.rules["positive"].sum()), int(samp.rules["positive"].sum()))
            good = same and dlift <= 0.02 and dsup <= 0.01 and npos[0] == npos[1]
            ok &= good
            print(f"\n== {service}, X {'usage + users' if with_users else 'usage'} ({X.shape[1]} features), "
                  f"{len(X):,} rows, base rate {full.base_rate:.4f}")
            with pd.option_context("display.width", 200):
                print("full:\n", full.to_frame().to_string(), sep="")
                print(f"sample of {samp.n_fit:,}:\n", samp.to_frame().to_string(), sep="")
            print(f"seconds full {t_full:.2f} sample {t_samp:.2f} (ratio {t_full / t_samp:.1f}); top rule same "
                  f"{same}; lift {a['lift']:.4f} vs {b['lift']:.4f} (rel diff {dlift:.2%}); support "
                  f"{a['support']:.4f} vs {b['support']:.4f}; positive rules {npos}; "
                  f"{'within' if good else 'OUTSIDE'} tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
