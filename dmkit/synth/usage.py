"""Monthly usage: the data month is drawn first (matrix cell, propensity features), the
earlier months vary around it.

Rows are month-major (all users of the oldest month first); the data month is the last
block and holds the planted values exactly (matrix cells, propensity rule features).
"""
from __future__ import annotations

import numpy as np

from dmkit.synth import matrix
from dmkit.synth.users import BRAND_GOTONE, BRAND_MZONE

__all__ = ["draw_base", "build_panel", "COMPLAINER_RATE"]

COMPLAINER_RATE = 0.06


def draw_base(rng: np.random.Generator, users: dict, sp_victim: np.ndarray,
              victim_month: np.ndarray, n_months: int) -> dict[str, np.ndarray]:
    """Data-month usage per user plus latent levels for the other months."""
    n = len(users["age"])
    brand, age, student = users["brand"], users["age"], users["student"]
    z = rng.standard_normal((10, n), dtype=np.float32)
    u = rng.random((8, n), dtype=np.float32)

    spend_latent = (np.array([1.0, -0.2, -0.3], dtype=np.float32)[brand]
                    + 0.01 * (age - 35).astype(np.float32) * (age < 50) + z[0])
    sms_latent = (0.5 * (brand == BRAND_MZONE) + 0.6 * (age < 25) + 0.3 * student
                  - 0.4 * (age > 45) + z[1]).astype(np.float32)
    sms_bin, spend_bin = matrix.assign_cells(spend_latent, sms_latent)
    sms, contacts, arpu = matrix.draw_in_bins(rng, sms_bin, spend_bin)

    b = {"sms_bin": sms_bin, "spend_bin": spend_bin, "sms_p2p": sms, "sms_contacts": contacts,
         "arpu": arpu}
    larpu = np.log(arpu / 60.0).astype(np.float32)
    b["voice_minutes"] = (arpu * 2.5 * np.exp(0.4 * z[2])).astype(np.float32)
    # call days: 31 - floor(Exp * scale); ~35% above 28.5
    b["call_scale"] = (7.0 * np.exp(-0.3 * larpu + 0.5 * z[3])).astype(np.float32)
    e = rng.standard_exponential(n, dtype=np.float32)
    b["call_days"] = (31 - np.minimum(31, np.floor(e * b["call_scale"]))).astype(np.int8)
    b["local_incoming_calls"] = np.minimum(
        np.floor(55.0 * np.exp(0.8 * z[4] + 0.2 * larpu)), 3000).astype(np.int16)
    mon = np.minimum(np.floor(3.5 * np.exp(0.9 * z[5])), 500) * (u[0] > 0.45)
    b["monternet_sms"] = mon.astype(np.int16)
    b["sms_fee"] = (0.1 * sms * (0.6 + 0.4 * u[1]) + 0.1 * mon).astype(np.float32)
    term_mms, term_wap = users["term_mms"], users["term_wap"]
    mms = np.floor(2.0 * np.exp(1.0 * z[6]) * (1 + sms_bin)) * (u[2] > 0.4) * term_mms
    b["mms"] = np.minimum(mms, 2000).astype(np.int16)
    gprs = 800.0 * np.exp(1.5 * z[7]) * (u[3] > 0.4) * term_wap
    b["gprs_kb"] = gprs.astype(np.float32)
    b["wap_visits"] = np.minimum(np.floor(gprs / 150.0 * np.exp(0.3 * z[8])), 1e6).astype(np.int32)
    prepaid = brand != BRAND_GOTONE
    rech = np.floor(-np.log1p(-u[4]) * 1.8 * np.exp(0.3 * larpu)) * prepaid
    b["recharges"] = rech.astype(np.int16)
    b["complainer"] = u[5] < COMPLAINER_RATE
    b["victim_month"] = np.where(sp_victim >= 0, victim_month, -1).astype(np.int8)
    b["complaints"] = _complaints(u[6], b["complainer"], b["victim_month"] == n_months - 1, u[7])
    return b


def _complaints(u, complainer, victim_now, u2):
    c = np.where(complainer, (u < 0.30).astype(np.int16) + (u < 0.06), (u < 0.004).astype(np.int16))
    c = c + (victim_now & (u2 < 0.6))
    return c.astype(np.int16)


def build_panel(rng: np.random.Generator, base: dict, n_months: int) -> dict[str, np.ndarray]:
    """All usage columns for ``n_months`` months (month-major), the last = ``base`` exactly.

    ``crbt_changes`` and ``music_downloads`` are allocated as zeros; the lifecycle module
    fills them once CRBT holdings are known.
    """
    n = len(base["arpu"])
    N = n * n_months
    cols = {
        "arpu": np.float32, "voice_minutes": np.float32, "call_days": np.int8,
        "local_incoming_calls": np.int16, "sms_p2p": np.int32, "sms_contacts": np.int16,
        "sms_fee": np.float32, "monternet_sms": np.int16, "mms": np.int16,
        "gprs_kb": np.float32, "wap_visits": np.int32, "recharges": np.int16,
        "complaints": np.int16,
    }
    out = {c: np.empty(N, dtype=t) for c, t in cols.items()}
    last = slice((n_months - 1) * n, N)
    for c in cols:
        out[c][last] = base[c]
    f32 = {c: base[c].astype(np.float32) for c in
           ("local_incoming_calls", "sms_p2p", "sms_contacts", "monternet_sms", "mms",
            "wap_visits", "recharges")}
    for k in range(n_months - 1):
        sl = slice(k * n, (k + 1) * n)
        # older months: slightly lower volumes (trend) plus user-month noise
        trend = np.float32(1.0 - 0.01 * (n_months - 1 - k))
        common = np.exp(np.float32(0.15) * rng.standard_normal(n, dtype=np.float32)) * trend
        z = rng.standard_normal((4, n), dtype=np.float32)
        e = np.exp(np.float32(0.15) * z)          # 4 independent multiplicative noises
        out["arpu"][sl] = base["arpu"] * common * e[0]
        out["voice_minutes"][sl] = base["voice_minutes"] * common * e[1]
        x = rng.standard_exponential(n, dtype=np.float32)
        np.floor(x * base["call_scale"], out=x)
        out["call_days"][sl] = 31 - np.minimum(31, x)
        out["local_incoming_calls"][sl] = np.floor(f32["local_incoming_calls"] * common * e[2])
        sms = np.floor(f32["sms_p2p"] * common * e[3])
        out["sms_p2p"][sl] = sms
        out["sms_contacts"][sl] = np.minimum(sms, np.floor(f32["sms_contacts"] * (0.85 + 0.3 * e[1] - 0.3)))
        out["monternet_sms"][sl] = np.floor(f32["monternet_sms"] * e[2] * e[0])
        out["sms_fee"][sl] = base["sms_fee"] * common * e[3]
        out["mms"][sl] = np.floor(f32["mms"] * common * e[1] * e[2])
        out["gprs_kb"][sl] = base["gprs_kb"] * common * e[0] * e[3]
        out["wap_visits"][sl] = np.floor(f32["wap_visits"] * common * e[0])
        u = rng.random((3, n), dtype=np.float32)
        out["recharges"][sl] = np.floor(f32["recharges"] * (0.7 + 0.6 * u[0]) + 0.3)
        out["complaints"][sl] = _complaints(u[1], base["complainer"], base["victim_month"] == k, u[2])
    out["crbt_changes"] = np.zeros(N, dtype=np.int16)
    out["music_downloads"] = np.zeros(N, dtype=np.int16)
    return out
