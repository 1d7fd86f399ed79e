"""Case V's 3x3 SMS x spend matrix and the Y5 P2P SMS segments, planted per user.

Cell naming (sms bin x spend bin; bins sms [0,50) [50,200) [200,inf), spend [0,50)
[50,150) [150,inf) yuan):

==================  ===============================  ===============================  ==============================
sms \\ spend         [0, 50)                          [50, 150)                        [150, inf)
==================  ===============================  ===============================  ==============================
[0, 50)             double-low 12.0%                 light SMS average spender 7.8%   high-end SMS-indifferent 4.0%
[50, 200)           thrifty average SMS user 9.8%    high-growth SMS user 29.0%       average SMS high spender 4.0%
[200, inf)          thrifty heavy SMS user 6.2%      high-value SMS user 16.8%        double-high 10.4%
==================  ===============================  ===============================  ==============================

The six named shares are the deck's; double-low and the two unnamed cells share the
remaining 23.8%. The Y5 segment of a user is the SMS row of the cell: low / normal / high.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SMS_BINS", "SPEND_BINS", "CELL_NAMES", "CELL_SHARES", "SEGMENTS", "assign_cells",
           "draw_in_bins", "matrix_frame"]

SMS_BINS = (0.0, 50.0, 200.0, np.inf)
SPEND_BINS = (0.0, 50.0, 150.0, np.inf)
SEGMENTS = ("low", "normal", "high")
CELL_NAMES = np.array([
    ["double-low", "light SMS average spender", "high-end SMS-indifferent"],
    ["thrifty average SMS user", "high-growth SMS user", "average SMS high spender"],
    ["thrifty heavy SMS user", "high-value SMS user", "double-high"],
])
CELL_SHARES = np.array([
    [0.120, 0.078, 0.040],
    [0.098, 0.290, 0.040],
    [0.062, 0.168, 0.104],
])
assert abs(CELL_SHARES.sum() - 1.0) < 1e-12


def _exact_counts(shares: np.ndarray, n: int) -> np.ndarray:
    """Largest-remainder rounding of ``shares * n`` to integers summing to ``n``."""
    raw = shares.ravel() * n
    cnt = np.floor(raw).astype(np.int64)
    rest = n - cnt.sum()
    if rest:
        cnt[np.argsort(-(raw - cnt), kind="stable")[:rest]] += 1
    return cnt.reshape(shares.shape)


def assign_cells(spend_latent: np.ndarray, sms_latent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact-share cell assignment: rank by spend latent, then by SMS latent within spend bin.

    Returns (sms_bin, spend_bin) int8 arrays.
    """
    n = len(spend_latent)
    counts = _exact_counts(CELL_SHARES, n)
    spend_bin = np.empty(n, dtype=np.int8)
    sms_bin = np.empty(n, dtype=np.int8)
    order = np.argsort(spend_latent, kind="stable")
    edges = np.concatenate([[0], np.cumsum(counts.sum(axis=0))])
    for j in range(3):
        idx = order[edges[j]:edges[j + 1]]
        spend_bin[idx] = j
        sub = idx[np.argsort(sms_latent[idx], kind="stable")]
        e2 = np.concatenate([[0], np.cumsum(counts[:, j])])
        for i in range(3):
            sms_bin[sub[e2[i]:e2[i + 1]]] = i
    return sms_bin, spend_bin


def draw_in_bins(rng: np.random.Generator, sms_bin: np.ndarray, spend_bin: np.ndarray):
    """sms_p2p (int32), sms_contacts (int32) and arpu (float32) inside each user's bins."""
    n = len(sms_bin)
    u = rng.random((5, n), dtype=np.float32)
    # SMS: log-volume modal inside each bin with thin tails at the edges (truncated normal
    # in log space), so the three Y5 segments are separable clusters; 15% of the low bin
    # sent no P2P SMS at all.
    sms = np.empty(n, dtype=np.int32)
    for i, (med, sd, lo, hi) in enumerate(((12.0, 0.7, 1.0, 50.0), (100.0, 0.3, 50.0, 200.0),
                                           (450.0, 0.35, 200.0, 5000.0))):
        m = sms_bin == i
        sms[m] = np.floor(_trunc_lognormal(u[0][m], med, sd, lo, hi))
    sms[(sms_bin == 0) & (u[1] < 0.15)] = 0
    # distinct recipients: low < 5 (Y5), normal and high grow with volume
    c_low = np.minimum(sms, 1 + np.floor(4.0 * u[4]))
    c_mid = 5 + np.floor(sms / 6.0 * (0.7 + 0.6 * u[1]))
    c_high = 12 + np.floor(sms / 8.0 * (0.7 + 0.6 * u[1]))
    contacts = np.select([sms_bin == 0, sms_bin == 1], [c_low, c_mid], c_high)
    contacts = np.clip(np.minimum(contacts, sms), 0, None).astype(np.int32)
    # spend
    a_low = 8.0 + 41.9 * u[2] ** 0.9
    a_mid = 50.0 * 3.0 ** (u[2] * 0.9998)
    a_high = np.minimum(150.5 * (1.0 - u[3]) ** (-1.0 / 3.5), 3000.0)
    arpu = np.select([spend_bin == 0, spend_bin == 1], [a_low, a_mid], a_high).astype(np.float32)
    return sms, contacts, arpu


def _trunc_lognormal(u, median, sd, lo, hi):
    """exp of a normal(log median, sd) truncated to [log lo, log hi), by inverse CDF of ``u``."""
    from scipy.special import ndtr, ndtri

    a, b = ndtr((np.log(lo) - np.log(median)) / sd), ndtr((np.log(hi) - np.log(median)) / sd)
    x = np.exp(np.log(median) + sd * ndtri(a + (b - a) * u.astype(np.float64)))
    return np.clip(x, lo, np.nextafter(hi, lo))


def matrix_frame() -> pd.DataFrame:
    """The planted matrix as truth: sms_bin, spend_bin, name, share."""
    labels = ["[0, 50)", "[50, 200)", "[200, inf)"], ["[0, 50)", "[50, 150)", "[150, inf)"]
    rows = [(labels[0][i], labels[1][j], str(CELL_NAMES[i, j]), float(CELL_SHARES[i, j]))
            for i in range(3) for j in range(3)]
    return pd.DataFrame(rows, columns=["sms_bin", "spend_bin", "name", "share"])
