"""Subscribers: demographics and terminal capabilities (the ``users`` table minus channel)."""
from __future__ import annotations

import numpy as np

from dmkit import catalog
from dmkit.synth.profiles import Profile

__all__ = ["draw_users"]

BRAND_MZONE = catalog.BRANDS.index("mzone")
BRAND_GOTONE = catalog.BRANDS.index("gotone")


def draw_users(rng: np.random.Generator, n: int, profile: Profile) -> dict[str, np.ndarray]:
    """Per-user attributes as arrays (codes for categorical columns).

    Returns a dict with prefecture (int16 code), brand (int8 code into catalog.BRANDS),
    age, male, tenure_months, student, term_mms, term_wap, term_java, term_fetion.
    """
    w = profile.prefecture_weights
    prefecture = np.searchsorted(np.cumsum(w), rng.random(n, dtype=np.float32) * np.float32(w.sum()))
    prefecture = np.minimum(prefecture, len(w) - 1).astype(np.int16)
    bm = np.cumsum(profile.brand_mix)
    brand = np.searchsorted(bm, rng.random(n, dtype=np.float32) * np.float32(bm[-1])).astype(np.int8)
    brand = np.minimum(brand, 2).astype(np.int8)

    z = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_gamma(4.0, n, dtype=np.float32)
    age_mz = 14.0 + 2.3 * g
    age_gt = 40.0 + 9.0 * z
    age_eo = 36.0 + 13.0 * z
    age = np.where(brand == BRAND_MZONE, age_mz, np.where(brand == BRAND_GOTONE, age_gt, age_eo))
    age = np.clip(np.rint(age), 12, 85).astype(np.int16)

    u = rng.random((7, n), dtype=np.float32)
    male = u[0] < 0.52
    student = (age >= 16) & (age <= 24) & (u[1] < np.where(brand == BRAND_MZONE, 0.55, 0.2))
    tenure = np.minimum(-np.log1p(-u[2]) * 45.0, 240.0).astype(np.int16)
    cap_mms = np.array([0.85, 0.80, 0.55], dtype=np.float32)[brand]
    cap_wap = np.array([0.75, 0.75, 0.45], dtype=np.float32)[brand]
    term_mms = u[3] < cap_mms
    term_wap = u[4] < cap_wap
    term_java = term_wap & (u[5] < 0.6)
    term_fetion = term_wap & (u[6] < 0.5)
    return {
        "prefecture": prefecture, "brand": brand, "age": age, "male": male,
        "tenure_months": tenure, "student": student, "term_mms": term_mms,
        "term_wap": term_wap, "term_java": term_java, "term_fetion": term_fetion,
    }
