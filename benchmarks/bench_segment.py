"""Segmentation and fingerprint at province scale, dmkit beside what an analyst would write.

1. ``dm.segment.cluster`` (k given, and k by silhouette) vs a plain scikit-learn pipeline
   (log1p -> StandardScaler -> KMeans, then a pandas profile) on the simulator's SMS usage
   of N customers, with the adjusted Rand index against the planted Y5 groups; the centres
   from a stratified sample of ``--sample`` rows beside every row (ARI between the two and
   the largest difference of a segment's share).
2. ``dm.fingerprint.profile`` vs a straightforward pandas groupby version (idxmax per user)
   on N users.

Time (wall, best of ``--repeat``) and peak traced memory (tracemalloc) per run, and ratios.

    .venv/bin/python benchmarks/bench_segment.py --rows 1000000
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _measure import measure  # noqa: E402

import dmkit as dm  # noqa: E402


def sklearn_pipeline(X: pd.DataFrame, k: int, seed: int):
    from sklearn.cluster import KMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    pipe = make_pipeline(FunctionTransformer(np.log1p), StandardScaler(),
                         KMeans(n_clusters=k, n_init=3, random_state=seed))
    lab = pipe.fit_predict(X)
    prof = X.groupby(lab).agg(["mean", "median"])
    prof["size"] = np.bincount(lab)
    return lab, prof


def pandas_fingerprint(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """What one would write by hand: groupby + idxmax per preference."""
    ev, users = t["events"], t["users"]
    acts = pd.concat([ev[["user_id", "channel"]], t["subscriptions"][["user_id", "channel"]]])
    cnt = acts.groupby(["user_id", "channel"], observed=True).size()
    ch = cnt.groupby(level=0).idxmax().str[1]
    chc = cnt.groupby(level=0).max() / cnt.groupby(level=0).sum()
    gc_ = ev.groupby(["user_id", "genre"], observed=True).size()
    ge = gc_.groupby(level=0).idxmax().str[1]
    circle = t["edges"].groupby("user_id")["peer_id"].nunique()
    months = t["usage"]["month"].astype(str)
    u = t["usage"][(months == months.max()).to_numpy()].set_index("user_id")
    out = users.set_index("user_id")[["brand", "age"]].join(
        pd.DataFrame({"channel": ch, "channel_confidence": chc, "genre": ge, "circle_size": circle}))
    out = out.join(u)
    out["value_tier"] = pd.qcut(out["arpu"], 3, labels=["low", "mid", "high"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows (customers)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample", type=int, default=200_000,
                    help="the stratified fitting sample compared with every row (cluster's minibatch_threshold)")
    a = ap.parse_args()
    import sklearn.cluster  # noqa: F401  imports before timing: both sides use them
    import sklearn.pipeline  # noqa: F401
    import sklearn.tree  # noqa: F401
    from sklearn.metrics import adjusted_rand_score

    t0 = time.perf_counter()
    d = dm.synth.generate("yunnan", month="2009-06", n_users=a.rows, seed=a.seed)
    t_gen = time.perf_counter() - t0
    months = d.usage["month"].astype(str)
    usage = d.usage[(months == "2009-06").to_numpy()].set_index("user_id")
    X = usage[["sms_p2p", "sms_contacts"]]
    g = d.truth.user_truth.set_index("user_id")["sms_segment"].reindex(X.index).astype(str).to_numpy()
    print(f"# segmentation: {a.rows:,} customers of dm.synth.generate('yunnan', n_users={a.rows:,}) "
          f"({t_gen:.1f} s), features sms_p2p, sms_contacts (Y5); ARI vs the planted low/normal/high")
    rows = []
    t_sk, m_sk, (lab_sk, _) = measure(lambda: sklearn_pipeline(X, 3, a.seed), a.repeat)
    rows.append(("sklearn log1p+scaler+KMeans(k=3, n_init=3) + profile", t_sk, m_sk, adjusted_rand_score(g, lab_sk)))
    full = None
    for label, kw in [("dm.segment.cluster(k=3, algorithm='kmeans': every row)", {"k": 3, "algorithm": "kmeans"}),
                      ("dm.segment.cluster(k=3, algorithm='minibatch')", {"k": 3, "algorithm": "minibatch"}),
                      (f"dm.segment.cluster(k=3, stratified sample of {a.sample:,})", {"k": 3, "minibatch_threshold": a.sample}),
                      ("dm.segment.cluster(k=None: silhouette k=2..8 on 2k sample)", {})]:
        t, m, res = measure(lambda kw=kw: dm.segment.cluster(X, seed=a.seed, **kw), a.repeat)
        full = res if full is None else full
        same_k = res.k == full.k
        rows.append((label + f" -> k={res.k}", t, m, adjusted_rand_score(g, res.labels),
                     adjusted_rand_score(full.labels, res.labels) if same_k else np.nan,
                     float(np.abs(res.profile["share"].to_numpy() - full.profile["share"].to_numpy()).max())
                     if same_k else np.nan))
    df = pd.DataFrame(rows, columns=["method", "seconds", "peak_MiB", "ARI", "ARI_vs_every_row", "max_share_diff"])
    df["time_ratio_vs_sklearn"] = df["seconds"] / t_sk
    df["mem_ratio_vs_sklearn"] = df["peak_MiB"] / m_sk
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))

    print(f"\n# fingerprint: {a.rows:,} users")
    tables = {k: getattr(d, k) for k in ("users", "usage", "subscriptions", "events", "edges")}
    src = "the same dm.synth.generate call"
    print(f"tables from {src}: " + ", ".join(f"{k} {len(v):,}" for k, v in tables.items()))
    rows = []
    t_pd, m_pd, _ = measure(lambda: pandas_fingerprint(tables), a.repeat)
    rows.append(("pandas groupby/idxmax (fewer columns, no validation)", t_pd, m_pd))
    t1, m1, _ = measure(lambda: dm.fingerprint.profile(**tables, validate=False), a.repeat)
    rows.append(("dm.fingerprint.profile(validate=False)", t1, m1))
    t2, m2, fp = measure(lambda: dm.fingerprint.profile(**tables), a.repeat)
    rows.append(("dm.fingerprint.profile (validates 5 tables)", t2, m2))
    t3, m3, _ = measure(lambda: dm.fingerprint.preference_rules(fp, target="channel"), a.repeat)
    rows.append(("dm.fingerprint.preference_rules(channel)", t3, m3))
    df = pd.DataFrame(rows, columns=["method", "seconds", "peak_MiB"])
    df["time_ratio_vs_pandas"] = df["seconds"] / t_pd
    with pd.option_context("display.width", 160, "display.float_format", "{:.3f}".format):
        print(df.to_string(index=False))


if __name__ == "__main__":
    main()
