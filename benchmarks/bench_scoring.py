"""Scoring a full province: dmkit's chunked ScoringModel.score vs plain scikit-learn predict_proba.

The same fitted model (calibrated histogram gradient boosting, trained on 60k rows) scores
N rows (default 5 million, J2's April scoring of ~5M Jiangsu users) of a usage-like feature
frame. Each side runs in its own subprocess; peak memory is the tracemalloc peak (numpy
reports its buffers to it) from the start of scoring, i.e. what scoring adds to the frame.

    .venv/bin/python benchmarks/bench_scoring.py            # 5,000,000 rows
    .venv/bin/python benchmarks/bench_scoring.py --rows 500000 --threads 1

Prints time and peak extra memory of each side and the ratios dmkit / sklearn.

Measured 2026-11-23 on the shared 2-core machine (load average 13-15 from other jobs),
5,000,000 rows, ``--threads 1``, three runs:

    dmkit  31.7 s / sklearn 49.7 s (time ratio 0.64)
    dmkit  74.4 s / sklearn 49.2 s (1.51)
    dmkit  49.9 s / sklearn 89.3 s (0.56);  peak memory 189 MiB vs 878 MiB (0.22) every run

Time is the same work (one model, same rows) and the spread is the machine's load; the
chunked scoring's gain is memory: one 500,000-row float64 block instead of the whole
5M x 15 copy, so a province scores in a fixed ~190 MiB beside its feature frame.
"""
from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

COLS = ["arpu", "voice_minutes", "call_days", "local_incoming_calls", "sms_p2p", "sms_contacts",
        "sms_fee", "monternet_sms", "mms", "gprs_kb", "wap_visits", "recharges", "complaints",
        "crbt_changes", "music_downloads"]


def make_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A usage-like frame with a J2 rule planted in it."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "arpu": rng.gamma(2.0, 40.0, n), "voice_minutes": rng.gamma(2.0, 150.0, n),
        "call_days": rng.integers(0, 32, n).astype(np.int32),
        "local_incoming_calls": rng.poisson(60, n).astype(np.int32),
        "sms_p2p": rng.poisson(80, n).astype(np.int32), "sms_contacts": rng.poisson(8, n).astype(np.int32),
        "sms_fee": rng.gamma(2.0, 5.0, n), "monternet_sms": rng.poisson(2.5, n).astype(np.int32),
        "mms": rng.poisson(2, n).astype(np.int32), "gprs_kb": rng.gamma(1.0, 2000.0, n),
        "wap_visits": rng.poisson(5, n).astype(np.int32), "recharges": rng.poisson(1.5, n).astype(np.int32),
        "complaints": rng.poisson(0.05, n).astype(np.int32), "crbt_changes": rng.poisson(0.5, n).astype(np.int32),
        "music_downloads": rng.poisson(2, n).astype(np.int32),
    }, index=pd.RangeIndex(n, name="user_id"))
    inside = (X["call_days"] > 28.5) & (X["monternet_sms"] > 2.5)
    y = (rng.uniform(size=n) < np.where(inside, 0.35, 0.03)).astype(int)
    return X, y


def child(side: str, rows: int, model_path: str, threads: int | None) -> None:
    from threadpoolctl import threadpool_limits

    X, _ = make_frame(rows, seed=1)
    model = pickle.loads(Path(model_path).read_bytes())
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: the peak is the scoring's
    with threadpool_limits(limits=threads):
        t = time.perf_counter()
        if side == "dmkit":
            p = model.predict_proba(X, chunk_size=500_000, progress=True)[:, 1]
        else:
            p = model.estimator_.predict_proba(X.to_numpy(dtype=np.float64))[:, 1]
        dt = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"side": side, "seconds": dt, "extra_mib": peak / 2**20,
                      "checksum": float(np.sum(p))}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all)")
    ap.add_argument("--child", choices=["dmkit", "sklearn"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.rows, a.model, a.threads)
        return
    from dmkit import propensity

    X, y = make_frame(60_000, seed=0)
    t = time.perf_counter()
    model = propensity.fit(X, y, model="hgb", seed=0, n_threads=a.threads)
    print(f"fit on 60,000 rows: {time.perf_counter() - t:.1f} s; held-out AUC {model.auc:.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.pkl"
        path.write_bytes(pickle.dumps(model))
        res = {}
        for side in ("dmkit", "sklearn"):
            cmd = [sys.executable, __file__, "--child", side, "--rows", str(a.rows), "--model", str(path)]
            if a.threads:
                cmd += ["--threads", str(a.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            res[side] = json.loads(out.strip().splitlines()[-1])
    d, s = res["dmkit"], res["sklearn"]
    assert abs(d["checksum"] - s["checksum"]) < 1e-6 * max(1.0, abs(s["checksum"])), "scores differ"
    print(f"scoring {a.rows:,} rows (threads={a.threads or 'all'})")
    print(f"{'':10s}{'seconds':>10s}{'peak extra MiB':>16s}")
    for k in ("dmkit", "sklearn"):
        print(f"{k:10s}{res[k]['seconds']:10.1f}{res[k]['extra_mib']:16.0f}")
    print(f"ratio dmkit/sklearn: time {d['seconds'] / s['seconds']:.2f}, "
          f"peak memory {d['extra_mib'] / max(s['extra_mib'], 1e-9):.2f}")
    print(f"throughput dmkit: {a.rows / d['seconds'] / 1e6:.2f} M rows/s")


if __name__ == "__main__":
    main()
