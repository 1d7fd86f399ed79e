"""Monthly revenue lines (cases G1, G2): trend x seasonality x holidays x noise.

amount(line, month) = level x (1 + growth) ** years_from_mid_2008 x seasonal[calendar month]
x prod(1 + holiday effect for the holidays falling in that month) x exp(N(0, noise_sd)); a line
with an event follows another line's noise-free path from the event month on (own noise).
``level`` is calibrated so the noise-free 2008 total of each line equals G1 x the profile's
revenue_scale; the growth rates and the one event are set so that the noise-free 2009 totals
are G2's 2009 forecast (the Guangzhou deck, 2009年新业务收入预测). 100M yuan x revenue_scale:

========================  =========  ===========================================================
line                      2008 (G1)  2009 (G2), and where it comes from
========================  =========  ===========================================================
``operating``             121.9      133.6 (the deck's forecast): growth +9.6 % a year
``new_business``          39.3       43.4 (the deck's forecast): growth +10.4 % a year
``data_vas``              31.9       30.4, "数据增值业务收入(含水份)": growth −4.8 % a year (the
                                     booked line falls as the promotions inside it end)
``promo``                 4.51       0.80 = 30.4 − 29.6 (data VAS with − without promotions,
                                     "除水份" 29.6): the GPRS trial package is not renewed
                                     (2009年不再延续GPRS体验套餐), so from January 2009 the
                                     promotions are the CRBT trial package alone (event
                                     ``"GPRS trial package not renewed"``); before 2009 −35 % a year
``promo_crbt_trial``      1.386      0.80: growth −42.3 % a year; 2008 = 0.97 / 0.7 (G1's
                                     effective 0.97 as 70 % of the CRBT trial package)
========================  =========  ===========================================================

So the planted G1 shares are the deck's (discount rate of data VAS 4.51 / 31.9 = 14.1 %, of new
business 11.5 %; new-business share 32.2 % (printed 33.1 %), 29.3 % effective; effective data VAS
22.5 %), and the planted 2009 data VAS is 30.4 with promotions, 29.6 without, discount rate
0.8 / 30.4 = 2.6 % (before this calibration: 33.8, promotions 2.93, 8.7 %).
``Truth.revenue["lines"][line]["expected_total_2009"]`` gives the noise-free 2009 totals.

The lines are drawn each on its own: only their 2008 and 2009 annual totals are tied to the
deck. In 2008, data VAS − promotions (27.4) equals the parts of :mod:`dmkit.synth.revenue_parts`
(24.06 + 3.23 + 0.1); in 2009 data VAS without promotions (29.6) is 1.67 above the planted
parts (monthly fees 24.4 + GPRS 3.5 + mailbox 0.02 = 27.93): the data VAS outside those three
lines, where the deck's bottom-up build has its KPI services (+1.9), holidays (+0.5; inside each
simulated line) and the year's campaigns (−0.8). The deck's own build sums to 29.42, 0.18 under
its 29.6 (:func:`dmkit.planning.published_build`). Other years follow the growth rates and are
not reconciled across lines: data VAS's growth is constant (a break in it would be a planted
event the trend forecasts of G2 cannot see), so going back it meets new business (+10.4 % a
year) in early 2007, and before about March 2007 the planted data VAS is above new business,
which it is part of.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LINES", "draw_revenue", "holiday_months"]

G1_2008 = {"operating": 121.9e8, "new_business": 39.3e8, "data_vas": 31.9e8, "promo": 4.51e8,
           "promo_crbt_trial": 0.97e8 / 0.7}
LINES = {  # annual growth, seasonal amplitude, holiday effects, optional event; see the module docstring
    "operating": {"growth": 0.096, "amp": 0.02,
                  "holidays": {"spring_festival": 0.02, "mid_autumn": 0.0, "national_day": 0.01, "christmas": 0.0}},
    "new_business": {"growth": 0.104, "amp": 0.04,
                     "holidays": {"spring_festival": 0.08, "mid_autumn": 0.03, "national_day": 0.03, "christmas": 0.015}},
    "data_vas": {"growth": -0.048, "amp": 0.04,
                 "holidays": {"spring_festival": 0.10, "mid_autumn": 0.04, "national_day": 0.03, "christmas": 0.02}},
    "promo": {"growth": -0.35, "amp": 0.05,
              "holidays": {"spring_festival": 0.05, "mid_autumn": 0.0, "national_day": 0.02, "christmas": 0.0},
              # from the event month on, the line follows the CRBT trial package's path (own noise)
              "event": {"name": "GPRS trial package not renewed", "month": "2009-01", "follows": "promo_crbt_trial"}},
    "promo_crbt_trial": {"growth": -0.423, "amp": 0.05,
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
    """Trend x month shape x holidays (no event, no noise)."""
    spec = LINES[line]
    years = (year + (mon - 0.5) / 12.0) - 2008.5
    v = (1 + spec["growth"]) ** years * (1 + spec["amp"] * SHAPE[mon - 1])
    for h in holiday_months(year).get(mon, []):
        v *= 1 + spec["holidays"][h]
    return v


def _year(line: str, year: int) -> float:
    """Noise-free total of ``year`` per unit of level, before any event."""
    return sum(_deterministic(line, year, m) for m in range(1, 13))


def _value(line: str, year: int, mon: int) -> float:
    """Noise-free amount per unit of ``line``'s level, its event included: from the event month
    on the line follows another line's path (promotions: the CRBT trial package alone from 2009)."""
    event = LINES[line].get("event")
    if event is None or f"{year}-{mon:02d}" < event["month"]:
        return _deterministic(line, year, mon)
    other = event["follows"]
    return _deterministic(other, year, mon) * (G1_2008[other] / _year(other, 2008)) / (G1_2008[line] / _year(line, 2008))


def _event_truth(line: str) -> dict | None:
    event = LINES[line].get("event")
    if event is None:
        return None
    return {**event, "rule": f"from {event['month']} the line is {event['follows']!r} (its level, trend, month shape "
                             "and holidays; its own noise)"}


def draw_revenue(rng: np.random.Generator, *, month: str, scale: float,
                 n_months: int = 48) -> tuple[pd.DataFrame, dict]:
    """Revenue table (month, line, amount) for ``n_months`` months ending at ``month``."""
    end = np.datetime64(month, "M")
    months = [end - k for k in range(n_months - 1, -1, -1)]
    rows = []
    levels = {}
    for line in LINES:
        level = G1_2008[line] * scale / _year(line, 2008)
        levels[line] = level
        noise = np.exp(NOISE_SD * rng.standard_normal(n_months))
        for i, m in enumerate(months):
            y, mo = int(str(m)[:4]), int(str(m)[5:7])
            rows.append((str(m), line, float(level * _value(line, y, mo) * noise[i])))
    df = pd.DataFrame(rows, columns=["month", "line", "amount"])
    df["line"] = df["line"].astype("category")
    years = sorted({int(str(m)[:4]) for m in months})
    truth = {
        "formula": ("level * (1+growth)**(years from mid-2008) * (1 + amp*shape[month]) * prod(1+holiday)"
                    " * exp(N(0, noise_sd)); from a line's event month: the followed line's level and shape"),
        "lines": {line: {"total_2008": G1_2008[line] * scale, "level": levels[line],
                         "expected_total_2009": float(levels[line] * sum(_value(line, 2009, k) for k in range(1, 13))),
                         "annual_growth": LINES[line]["growth"], "seasonal_amplitude": LINES[line]["amp"],
                         "holiday_effects": LINES[line]["holidays"],
                         "event": _event_truth(line)}
                  for line in LINES},
        "shape": SHAPE.tolist(),
        "holiday_months": {f"{y}-{mo:02d}": hs for y in years for mo, hs in holiday_months(y).items()},
        "noise_sd": NOISE_SD,
        "revenue_scale": scale,
        "effective_share_crbt_trial": 0.7,
    }
    return df, truth
