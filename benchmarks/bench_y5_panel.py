"""Y5's figures on the full-size panel and on the capped panel published_tables uses (issue 14).

published_tables simulates Y5's seven-month panel apart from the data month, with at most
``y5_users`` users (200,000 by default). This script simulates (or reads from ``--cache``) the
panel at each size, computes :func:`dmkit.published.y5_outcomes` and each figure's standard
error, and checks that the capped panel's figures lie within three combined standard errors of
the full-size panel's (the two panels are different simulated populations of one profile).

    .venv/bin/python benchmarks/bench_y5_panel.py --users 1000000 200000 --cache /tmp/y5cache

2026-12-02 (guangdong, 2008-06 -> 2008-09, seed 7), value (se), 1,000,000 vs 200,000 users:
silent_sms_penetration 0.006438 (0.00042) vs 0.005957 (0.00091): 0.48 combined se;
middle_mou_rise_min -3.288 (0.113) vs -2.677 (0.258): 2.17 combined se (the same spend bin, 150+ yuan,
gives the minimum at every size; 100,000 users: -2.478); high_mou_fetion_rise 0.01995 (0.00024) vs
0.02046 (0.00055): 0.85 combined se. y5_outcomes itself: 4.2 s at 1M, 0.3 s at 200k.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import dmkit as dm


def standard_errors(usage: pd.DataFrame, subs: pd.DataFrame, *, start: str, end: str, low: float = 50,
                    high: float = 200, spend_bins: tuple[float, ...] = (50, 150)) -> dict[str, float]:
    """Sampling standard errors of the three Y5 figures (binomial share; paired mean rise of
    the group that gives the minimum; paired difference of Fetion shares)."""
    m = usage["month"].astype(str)
    sms = usage.assign(month=m).set_index(["user_id", "month"])["sms_p2p"].unstack()
    p0 = pd.Period(start, "M")
    before = [str(p0 - k) for k in (3, 2, 1)]
    silent = (sms.reindex(columns=before).fillna(0) == 0).all(axis=1)
    pen = (sms.loc[silent, end].fillna(0) > 0).mean()
    out = {"silent_sms_penetration": float(np.sqrt(pen * (1 - pen) / silent.sum()))}
    first = usage[m == start].set_index("user_id")
    mid = first[(first["sms_p2p"] >= low) & (first["sms_p2p"] < high)]
    bins = np.digitize(mid["arpu"].to_numpy(), spend_bins)
    rises = []
    for b in range(len(spend_bins) + 1):
        d = (sms.loc[mid.index[bins == b], end] - sms.loc[mid.index[bins == b], start]).dropna()
        rises.append((d.mean(), d.std() / np.sqrt(len(d))))
    out["middle_mou_rise_min"] = float(min(rises)[1])
    heavy = first.index[first["sms_p2p"] >= high]
    fet = subs[subs["service"].astype(str) == "fetion"]

    def holds(month: str) -> np.ndarray:
        t = (pd.Period(month, "M") + 1).to_timestamp()
        on = fet[(fet["start"] < t) & (fet["end"].isna() | (fet["end"] >= t))]
        return np.isin(heavy, on["user_id"].unique()).astype(float)

    diff = holds(end) - holds(start)
    out["high_mou_fetion_rise"] = float(diff.std() / np.sqrt(len(diff)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, nargs="+", default=[1_000_000, 200_000])
    ap.add_argument("--province", default="guangdong")
    ap.add_argument("--start", default="2008-06")
    ap.add_argument("--end", default="2008-09")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cache", default="data/generated")
    a = ap.parse_args()
    res = {}
    for n in a.users:
        t = time.perf_counter()
        panel = dm.io.load_province("synth", province=a.province, month=a.end, n_users=n, seed=a.seed, n_months=7,
                                    cache_dir=a.cache)
        u, s = panel.usage, panel.subscriptions
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        y5 = dm.published.y5_outcomes(u, s, start=a.start, end=a.end)
        t_y5 = time.perf_counter() - t
        se = standard_errors(u, s, start=a.start, end=a.end)
        res[n] = y5[["value", "users"]].assign(se=pd.Series(se))
        print(f"{n:,} users: load/simulate {t_load:.1f} s, y5_outcomes {t_y5:.2f} s", flush=True)
    sizes = list(res)
    table = pd.concat(res, axis=1)
    print(table.to_string())
    ref = res[sizes[0]]
    ok = True
    for n in sizes[1:]:
        r = res[n]
        z = (r["value"] - ref["value"]).abs() / np.sqrt(r["se"] ** 2 + ref["se"] ** 2)
        print(f"{n:,} vs {sizes[0]:,}: |difference| / combined se =", z.round(2).to_dict())
        ok &= bool((z < 3).all())
    print("within 3 combined standard errors:", ok)


if __name__ == "__main__":
    main()
