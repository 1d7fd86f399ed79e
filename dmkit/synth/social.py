"""The social-contact graph (交往圈) of the data month.

Circle size = 1 + floor(0.08 * sms_contacts + 1.5 exp(1.1 N(0, 1))), heavy-tailed because
sms_contacts is (Pareto tail of the heavy SMS users). Peers are distinct by construction:
peer = (user + cumulative positive gaps) mod n, the gaps summing to less than n, so no
sort or de-duplication is needed. SMS on an edge ~ sms_p2p / circle size x Exp(1).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["draw_edges", "CIRCLE_CAP"]

CIRCLE_CAP = 400


def draw_edges(rng: np.random.Generator, *, month: str, sms_p2p: np.ndarray,
               sms_contacts: np.ndarray, voice_minutes: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Edges frame and the planted circle size per user (int32)."""
    n = len(sms_p2p)
    if n < 2:
        k = np.zeros(n, dtype=np.int32)
        return pd.DataFrame({"user_id": np.array([], np.int32), "peer_id": np.array([], np.int32),
                             "month": pd.Categorical([], categories=[month]),
                             "sms": np.array([], np.int32), "calls": np.array([], np.int32)}), k
    ln = 1.5 * np.exp(1.1 * rng.standard_normal(n, dtype=np.float32))
    k = 1 + np.floor(0.08 * sms_contacts + ln)
    k = np.minimum(k, min(CIRCLE_CAP, n - 1)).astype(np.int32)
    total = int(k.sum())
    users = np.repeat(np.arange(n, dtype=np.int32), k)
    # gaps in [1, G] with G = (n - 1) // k: k gaps sum to <= n - 1 -> distinct peers != user
    G = np.maximum(1, (n - 1) // k)[users]
    gaps = 1 + (rng.random(total, dtype=np.float32) * G).astype(np.int64)
    gaps = np.minimum(gaps, G)
    cs = np.cumsum(gaps)
    starts = np.cumsum(k, dtype=np.int64) - k
    off = cs - np.repeat(cs[starts] - gaps[starts], k)
    peers = ((users.astype(np.int64) + off) % n).astype(np.int32)
    e = rng.standard_exponential(total, dtype=np.float32)
    sms = np.floor(sms_p2p[users] / k[users] * e).astype(np.int32)
    calls = np.floor(voice_minutes[users] / 3.0 / k[users] * rng.standard_exponential(total, dtype=np.float32)).astype(np.int32)
    df = pd.DataFrame({
        "user_id": users, "peer_id": peers,
        "month": pd.Categorical.from_codes(np.zeros(total, dtype=np.int8), categories=[month]),
        "sms": sms, "calls": calls,
    }, copy=False)
    return df, k
