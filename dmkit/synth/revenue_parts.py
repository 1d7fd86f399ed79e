"""Parts of data VAS revenue for G2's bottom-up build: monthly-fee services, GPRS usage, the mailbox.

Three service lines beside the G1 lines of :mod:`dmkit.synth.revenue`, same form (trend x
month shape x holidays x noise), calibrated so that their noise-free 2008 totals are the
deck's (G2, 100M yuan x 1e8 x the profile's revenue_scale):

* ``vas_monthly_fee`` — P2P SMS, Monternet and CRBT monthly fees etc.: 24.06 in 2008
  (31.9 data VAS − 4.51 promotions − 3.23 GPRS − 0.1 mailbox), +1.4 % a year (24.4 in 2009);
* ``vas_gprs`` — GPRS traffic outside bundles: 3.23 in 2008 growing 20 % a year, until the
  tariff cut of January 2009 (price −40 %, traffic +80.8 %): 2009 = 2008 x 1.085, the deck's
  "3.5, +8.5 % on 2008";
* ``vas_mailbox`` — the mobile mailbox: 0.1 in 2008; free from January 2009, 20 % of it
  left (the deck's −0.08).

The truth (``Truth.revenue["parts"]``) gives each line's 2008 and expected 2009 totals and
the planted events, so a bottom-up plan made at the end of 2008 can be checked against them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit.synth.revenue import NOISE_SD, SHAPE, holiday_months

__all__ = ["PARTS", "draw_parts"]

PARTS = {  # 2008 total (100M yuan), growth, seasonal amplitude, holiday effects, 2009 event (month, factor)
    "vas_monthly_fee": {"total_2008": 24.06, "growth": 0.014, "amp": 0.04,
                        "holidays": {"spring_festival": 0.08, "mid_autumn": 0.03, "national_day": 0.03,
                                     "christmas": 0.015}, "event": None},
    "vas_gprs": {"total_2008": 3.5 / 1.085, "growth": 0.20, "amp": 0.03,
                 "holidays": {"spring_festival": 0.04, "mid_autumn": 0.0, "national_day": 0.02, "christmas": 0.0},
                 "event": ("tariff cut", "2009-01", "2009 total = 2008 total x 1.085")},
    "vas_mailbox": {"total_2008": 0.10, "growth": 0.05, "amp": 0.02,
                    "holidays": {"spring_festival": 0.0, "mid_autumn": 0.0, "national_day": 0.0, "christmas": 0.0},
                    "event": ("free mailbox", "2009-01", "x 0.2 from the event month")},
}
GPRS_2009_GROWTH = 0.085
MAILBOX_KEPT = 0.2


def _trend(spec: dict, year: int, mon: int) -> float:
    years = (year + (mon - 0.5) / 12.0) - 2008.5
    v = (1 + spec["growth"]) ** years * (1 + spec["amp"] * SHAPE[mon - 1])
    for h in holiday_months(year).get(mon, []):
        v *= 1 + spec["holidays"][h]
    return v


def _event_factor(line: str) -> float:
    """Multiplier applied from January 2009 on."""
    spec = PARTS[line]
    if line == "vas_gprs":
        y8 = sum(_trend(spec, 2008, m) for m in range(1, 13))
        y9 = sum(_trend(spec, 2009, m) for m in range(1, 13))
        return (1 + GPRS_2009_GROWTH) * y8 / y9
    if line == "vas_mailbox":
        return MAILBOX_KEPT
    return 1.0


def _value(line: str, year: int, mon: int) -> float:
    v = _trend(PARTS[line], year, mon)
    return v * _event_factor(line) if year >= 2009 else v


def draw_parts(rng: np.random.Generator, *, month: str, scale: float, n_months: int = 48) -> tuple[pd.DataFrame, dict]:
    """The three lines (month, line, amount) for ``n_months`` months ending at ``month``, and their truth."""
    end = np.datetime64(month, "M")
    months = [str(end - k) for k in range(n_months - 1, -1, -1)]
    rows = []
    truth = {}
    for line, spec in PARTS.items():
        base = sum(_trend(spec, 2008, m) for m in range(1, 13))
        level = spec["total_2008"] * 1e8 * scale / base
        noise = np.exp(NOISE_SD * rng.standard_normal(n_months))
        for i, m in enumerate(months):
            rows.append((m, line, float(level * _value(line, int(m[:4]), int(m[5:7])) * noise[i])))
        truth[line] = {
            "total_2008": spec["total_2008"] * 1e8 * scale,
            "expected_total_2009": level * sum(_value(line, 2009, k) for k in range(1, 13)),
            "annual_growth": spec["growth"], "holiday_effects": spec["holidays"],
            "event": None if spec["event"] is None else {"name": spec["event"][0], "month": spec["event"][1],
                                                         "rule": spec["event"][2],
                                                         "factor": _event_factor(line)},
        }
    df = pd.DataFrame(rows, columns=["month", "line", "amount"])
    return df, truth
