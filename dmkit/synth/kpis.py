"""KPI panel per region x service x month driven by three latent factors (case Y1).

Factors: ``scale`` (service size: penetration, revenue share, usage per user),
``engagement`` (retention, activity, loyalty) and ``momentum`` (growth; new users lower
the loyalty share). Each factor = service effect + region effect + region-service effect +
lifecycle trend over the months + month noise, then standardised over all rows.
Indicator z = loadings . factors + sqrt(uniqueness) * noise; the column is a linear map
of z into its range (clipped only in the far tails), so the correlations of the columns
are those of the loadings.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit import catalog

__all__ = ["INDICATORS", "FACTORS", "LOADINGS", "draw_kpis"]

INDICATORS = ("penetration", "revenue_share", "usage_per_user", "retention", "activity",
              "growth", "loyalty")
FACTORS = ("scale", "engagement", "momentum")
LOADINGS = np.array([
    [0.85, 0.10, 0.20],   # penetration
    [0.80, 0.15, 0.00],   # revenue_share
    [0.70, 0.35, 0.00],   # usage_per_user
    [0.15, 0.80, 0.00],   # retention
    [0.10, 0.80, 0.30],   # activity
    [0.05, 0.00, 0.90],   # growth
    [0.20, 0.60, -0.35],  # loyalty
])
#: column = centre + spread * z, clipped to [low, high]
_MAP = {
    "penetration": (0.25, 0.07, 0.0, 1.0),
    "revenue_share": (0.05, 0.013, 0.0, 1.0),
    "usage_per_user": (20.0, 5.0, 0.0, None),
    "retention": (0.85, 0.035, 0.0, 1.0),
    "activity": (0.55, 0.10, 0.0, 1.0),
    "growth": (0.02, 0.03, -1.0, None),
    "loyalty": (0.60, 0.08, 0.0, 1.0),
}
_STAGE_TREND = {  # scale trend over the months (t in [0, 1]) and momentum level
    "introduction": (lambda t: 0.6 * t**2, 0.8),
    "growth": (lambda t: 0.8 * t, 1.2),
    "maturity": (lambda t: 0.0 * t, 0.0),
    "decline": (lambda t: -0.6 * t, -1.0),
}


def draw_kpis(rng: np.random.Generator, *, regions: tuple[str, ...], months: list[str],
              penetration: dict, stage: dict) -> tuple[pd.DataFrame, dict]:
    """The kpis table and truth parts (indicators, loadings, factor scores, health)."""
    R, S, M = len(regions), len(catalog.SERVICES), len(months)
    t = np.linspace(0.0, 1.0, M) if M > 1 else np.ones(1)
    lp = np.log(np.array([penetration[s] for s in catalog.SERVICES]))
    svc_scale = (lp - lp.mean()) / lp.std()
    F = np.empty((R, S, M, 3))
    for f in range(3):
        a = rng.standard_normal(S) * 0.8
        b = rng.standard_normal(R) * 0.5
        c = rng.standard_normal((R, S)) * 0.6
        e = rng.standard_normal((R, S, M)) * 0.25
        F[..., f] = a[None, :, None] + b[:, None, None] + c[..., None] + e
    F[..., 0] += 0.8 * svc_scale[None, :, None]
    for j, s in enumerate(catalog.SERVICES):
        trend, mom = _STAGE_TREND[stage[s]]
        F[:, j, :, 0] += trend(t)[None, :]
        F[:, j, :, 2] += mom * 0.6
    F = F.reshape(-1, 3)
    F = (F - F.mean(0)) / F.std(0)
    # whiten: the sample factors are exactly uncorrelated with unit variance
    F = F @ np.linalg.inv(np.linalg.cholesky(np.cov(F, rowvar=False, bias=True))).T
    psi = 1.0 - (LOADINGS**2).sum(1)
    Z = F @ LOADINGS.T + rng.standard_normal((len(F), len(INDICATORS))) * np.sqrt(psi)
    reg = np.repeat(np.arange(R), S * M)
    svc = np.tile(np.repeat(np.arange(S), M), R)
    mon = np.tile(np.arange(M), R * S)
    df = pd.DataFrame({
        "region": pd.Categorical.from_codes(reg, categories=list(regions)),
        "service": pd.Categorical.from_codes(svc, categories=list(catalog.SERVICES)),
        "month": pd.Categorical.from_codes(mon, categories=list(months)),
    })
    for i, col in enumerate(INDICATORS):
        c0, sp, lo, hi = _MAP[col]
        v = c0 + sp * Z[:, i]
        df[col] = np.clip(v, lo, hi if hi is not None else np.inf)
    keys = df[["region", "service", "month"]].copy()
    scores = keys.copy()
    for f, name in enumerate(FACTORS):
        scores[name] = F[:, f]
    ssl = (LOADINGS**2).sum(0)
    weights = ssl / ssl.sum()
    health = keys.copy()
    health["health"] = F @ weights
    truth = {
        "kpi_indicators": INDICATORS,
        "kpi_loadings": pd.DataFrame(LOADINGS, index=list(INDICATORS), columns=list(FACTORS)),
        "kpi_factor_scores": scores,
        "kpi_health": health,
        "kpi_health_weights": dict(zip(FACTORS, weights.tolist(), strict=False)),
    }
    return df, truth
