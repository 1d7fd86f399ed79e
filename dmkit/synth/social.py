"""The social-contact graph (交往圈) of the data month.

Circle size = 1 + floor(0.08 * sms_contacts + 1.5 exp(1.1 N(0, 1))) (capped at 400):
lognormal-tailed and rising with the user's distinct SMS recipients. Peers are distinct by
construction: peer = (user + offset) mod n with strictly increasing offsets in [1, n),
one per slot of width (n - 1) // circle size, so no sort or de-duplication is needed.
SMS on an edge ~ sms_p2p / circle size x Exp(1); calls ~ voice_minutes / 3 / circle size x Exp(1).
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
    # the j-th peer of a user sits in slot j of width G = (n - 1) // k:
    # offset = j * G + 1 + floor(u * (G - 1)) is strictly increasing in j and < n,
    # so the peers are distinct and never the user
    starts = (np.cumsum(k, dtype=np.int64) - k).astype(np.int32)
    j = np.arange(total, dtype=np.int32) - np.repeat(starts, k)
    G = np.repeat(np.maximum(1, (n - 1) // k).astype(np.int32), k)
    off = j * G + 1 + (rng.random(total, dtype=np.float32) * (G - 1)).astype(np.int32)
    del j
    del G
    peers = off
    peers += users                 # < 2n: int32 is enough for n < 2**30
    peers[peers >= n] -= n
    del off
    sms_rate = (sms_p2p / k).astype(np.float32)
    call_rate = (voice_minutes / 3.0 / k).astype(np.float32)
    e = rng.standard_exponential(total, dtype=np.float32)
    e *= sms_rate[users]
    sms = np.floor(e).astype(np.int32)
    e = rng.standard_exponential(total, dtype=np.float32)
    e *= call_rate[users]
    calls = np.floor(e).astype(np.int32)
    del e
    df = pd.DataFrame({
        "user_id": users, "peer_id": peers,
        "month": pd.Categorical.from_codes(np.zeros(total, dtype=np.int8), categories=[month]),
        "sms": sms, "calls": calls,
    }, copy=False)
    return df, k
