"""Monthly revenue lines (cases G1, G2): trend x seasonality x holidays x noise.

amount(line, month) = level x (1 + growth) ** years_from_mid_2008 x seasonal[calendar month]
x prod(1 + holiday effect for the holidays falling in that month) x exp(N(0, noise_sd)).
``level`` is calibrated so the noise-free 2008 total of each line equals G1 x the profile's
revenue_scale (G1, 2008, yuan: operating 121.9e8, new business 39.3e8, data VAS 31.9e8,
promotional packages 4.51e8; the CRBT trial package 0.97e8 / 0.7).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LINES", "draw_revenue", "holiday_months"]

G1_2008 = {"operating": 121.9e8, "new_business": 39.3e8, "data_vas": 31.9e8, "promo": 4.51e8,
           "promo_crbt_trial": 0.97e8 / 0.7}
LINES = {  # annual growth, seasonal amplitude, holiday effects
    "operating": {"growth": 0.096, "amp": 0.02,
                  "holidays": {"spring_festival": 0.02, "mid_autumn": 0.0, "national_day": 0.01, "christmas": 0.0}},
    "new_business": {"growth": 0.104, "amp": 0.04,
                     "holidays": {"spring_festival": 0.08, "mid_autumn": 0.03, "national_day": 0.03, "christmas": 0.015}},
    "data_vas": {"growth": 0.06, "amp": 0.04,
                 "holidays": {"spring_festival": 0.10, "mid_autumn": 0.04, "national_day": 0.03, "christmas": 0.02}},
    "promo": {"growth": -0.35, "amp": 0.05,
              "holidays": {"spring_festival": 0.05, "mid_autumn": 0.0, "national_day": 0.02, "christmas": 0.0}},
    "promo_crbt_trial": {"growth": -0.35, "amp": 0.05,
                         "holidays": {"spring_festival": 0.05, "mid_autumn": 0.0, "national_day": 0.0, "christmas": 0.0}},
}
#: the monthly shape, Jan..Dec (mean 1): low Feb (short month), high Dec
SHAPE = np.array([0.4, -1.6, 0.2, -0.3, 0.1, -0.2, 0.3, 0.5, -0.1, 0.2, -0.3, 0.8])
SHAPE = SHAPE - SHAPE.mean()
NOISE_SD = 0.015
_SPRING = {2004: 1, 2005: 2, 2006: 1, 2007: 2, 2008: 2, 2009: 1, 2010: 2, 2011: 2, 2012: 1,
           2013: 2, 2014: 1, 2015: 2, 2016: 2, 2017: 1, 2018: 2, 2019: 2, 2020: 1, 2021: 2,
           2022: 2, 2023: 1, 2024: 2, 2025: 1, 2026: 2, 2027: 2, 2028: 1, 2029: 2, 2030: 2}
_MID_AUTUMN = {2006: 10, 2009: 10, 2017: 10, 2020: 10, 2025: 10, 2028: 10}


def holiday_months(year: int) -> dict[int, list[str]]:
    """Calendar month -> holidays in it, for ``year``."""
    out: dict[int, list[str]] = {}
    out.setdefault(_SPRING.get(year, 2), []).append("spring_festival")
    out.setdefault(_MID_AUTUMN.get(year, 9), []).append("mid_autumn")
    out.setdefault(10, []).append("national_day")
    out.setdefault(12, []).append("christmas")
    return out


def _deterministic(line: str, year: int, mon: int) -> float:
    spec = LINES[line]
    years = (year + (mon - 0.5) / 12.0) - 2008.5
    v = (1 + spec["growth"]) ** years * (1 + spec["amp"] * SHAPE[mon - 1])
    for h in holiday_months(year).get(mon, []):
        v *= 1 + spec["holidays"][h]
    return v


def draw_revenue(rng: np.random.Generator, *, month: str, scale: float,
                 n_months: int = 48) -> tuple[pd.DataFrame, dict]:
    """Revenue table (month, line, amount) for ``n_months`` months ending at ``month``."""
    end = np.datetime64(month, "M")
    months = [end - k for k in range(n_months - 1, -1, -1)]
    rows = []
    levels = {}
    for line in LINES:
        base = sum(_deterministic(line, 2008, m) for m in range(1, 13))
        level = G1_2008[line] * scale / base
        levels[line] = level
        noise = np.exp(NOISE_SD * rng.standard_normal(n_months))
        for i, m in enumerate(months):
            y, mo = int(str(m)[:4]), int(str(m)[5:7])
            rows.append((str(m), line, float(level * _deterministic(line, y, mo) * noise[i])))
    df = pd.DataFrame(rows, columns=["month", "line", "amount"])
    df["line"] = df["line"].astype("category")
    years = sorted({int(str(m)[:4]) for m in months})
    truth = {
        "formula": "level * (1+growth)**(years from mid-2008) * (1 + amp*shape[month]) * prod(1+holiday) * exp(N(0, noise_sd))",
        "lines": {line: {"total_2008": G1_2008[line] * scale, "level": levels[line],
                         "annual_growth": LINES[line]["growth"], "seasonal_amplitude": LINES[line]["amp"],
                         "holiday_effects": LINES[line]["holidays"]}
                  for line in LINES},
        "shape": SHAPE.tolist(),
        "holiday_months": {f"{y}-{mo:02d}": hs for y in years for mo, hs in holiday_months(y).items()},
        "noise_sd": NOISE_SD,
        "revenue_scale": scale,
        "effective_share_crbt_trial": 0.7,
    }
    return df, truth
