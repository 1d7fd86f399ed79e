"""Factor analysis: dmkit.health vs statsmodels Factor vs factor_analyzer, side by side.

On the bfi questionnaire (2,436 × 25, R psych reference loadings in tests/data) and on a
larger planted sample (``--rows`` × 7 KPI-like indicators, three factors): time (best of
``--repeat``), peak traced memory (tracemalloc), ratios, and the largest absolute loading
difference from R psych (bfi) or Tucker congruence with the planted loadings.

    .venv/bin/python benchmarks/bench_health.py --rows 200000
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _measure import measure  # noqa: E402

from dmkit import health  # noqa: E402


def dmkit_fa(x: pd.DataFrame, k: int) -> pd.DataFrame:
    return health.factor_analysis(x, n_factors=k, method="minres", rotation="varimax", n_iter=20).loadings


def statsmodels_fa(x: pd.DataFrame, k: int) -> pd.DataFrame:
    from statsmodels.multivariate.factor import Factor

    res = Factor(x.to_numpy(float), n_factor=k, method="pa").fit(maxiter=500, tol=1e-8)
    res.rotate("varimax")
    return pd.DataFrame(res.loadings, index=x.columns)


def factor_analyzer_fa(x: pd.DataFrame, k: int) -> pd.DataFrame:
    from factor_analyzer import FactorAnalyzer

    fa = FactorAnalyzer(n_factors=k, method="minres", rotation="varimax")
    fa.fit(x)
    return pd.DataFrame(fa.loadings_, index=x.columns)


def aligned_max_diff(est: pd.DataFrame, ref: pd.DataFrame) -> float:
    c = health.congruence(est, ref)
    cols = [est.columns[list(est.columns).index(e)] for e in c["estimated"]]
    a = est[cols].to_numpy() * c["sign"].to_numpy()
    return float(np.abs(a - ref.to_numpy()).max())


def planted(rows: int, seed: int = 0):
    lam = np.array([[0.85, 0.1, 0.05], [0.8, 0.15, 0], [0.75, 0.05, 0.2], [0.1, 0.85, 0.1],
                    [0.15, 0.8, 0.05], [0.05, 0.1, 0.8], [0.15, 0.05, 0.75]])
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((rows, 3))
    x = f @ lam.T + rng.standard_normal((rows, 7)) * np.sqrt(1 - (lam**2).sum(1))
    cols = list(health.DEFAULT_INDICATORS)
    return pd.DataFrame(x, columns=cols), pd.DataFrame(lam, index=cols)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bfi = pd.read_csv(ROOT / "tests" / "data" / "bfi25.csv.gz")
    ref = pd.read_csv(ROOT / "tests" / "data" / "bfi_loadings.csv")
    ref = ref[(ref.fm == "minres") & (ref.rotation == "varimax") & (ref.nfactors == 5)]
    ref = ref.pivot(index="item", columns="factor", values="loading").loc[bfi.columns]
    big, lam = planted(args.rows)
    rows = []
    for data_name, x, k, truth in (("bfi 2436x25, 5 factors", bfi, 5, ref),
                                   (f"planted {args.rows}x7, 3 factors", big, 3, lam)):
        base = None
        for name, fn in (("dmkit.health", dmkit_fa), ("statsmodels Factor(pa)", statsmodels_fa),
                         ("factor_analyzer", factor_analyzer_fa)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t, mem, load = measure(lambda fn=fn, x=x, k=k: fn(x, k), args.repeat)
            except Exception as err:  # noqa: BLE001 - a benchmark reports, it does not stop
                rows.append({"data": data_name, "tool": name, "seconds": np.nan, "peak_MiB": np.nan,
                             "quality": f"fails: {type(err).__name__}: {str(err)[:60]}"})
                continue
            quality = (f"max |loading - R psych| = {aligned_max_diff(load, truth):.2e}" if truth is ref
                       else f"min congruence = {health.congruence(load, truth)['congruence'].min():.4f}")
            if base is None:
                base = (t, mem)
            rows.append({"data": data_name, "tool": name, "seconds": t, "peak_MiB": mem,
                         "time_ratio": t / base[0], "mem_ratio": mem / base[1], "quality": quality})
    with pd.option_context("display.width", 160, "display.max_colwidth", 70):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
