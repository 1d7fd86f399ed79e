"""Revenue: effective revenue (case G1) and a seasonal forecast with holidays (case G2).

* :func:`effective_revenue` — G1's arithmetic: the promotional-package revenue inside data
  VAS, the part of it that is "effective" (kept after trials: 70 % of the CRBT trial
  package), the discount rate and the effective shares of operating revenue.
* :func:`revenue` — a seasonal forecast of a monthly revenue line on log revenue, the
  model chosen among seasonal naive, ETS, the airline SARIMA and G2's trend + month-of-year
  regression by a rolling-origin backtest on the series' own history (every candidate's
  error reported), with prediction intervals and a plot. Moving-holiday regressors
  (Spring Festival, Lantern, Mid-Autumn) are explicit: used when asked for or when the
  series' calendar is Chinese (the data contract's revenue table; a plain Series only if
  declared). Fixed-date holidays (National Day, Christmas) always fall in the same month,
  so the monthly seasonality already carries them; only moving holidays need regressors.

Example
-------
>>> import dmkit as dm
>>> eff = dm.forecast.effective_revenue(pdata.revenue, year=2008)
>>> eff.shares                                 # discount rate 14.1 %, effective shares
>>> fc = dm.forecast.revenue(pdata.revenue, line="new_business", horizon=12)
>>> fc.model, fc.candidates                    # the choice and every candidate's backtest MAPE
>>> fc.mape, fc.mape_naive                     # the last 12 months
>>> fc.annual()                                # yearly totals, actual and forecast
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._threads import thread_limit
from dmkit._validation import check_choice, check_scalar
from dmkit.errors import ConvergenceError, parameter_error, schema_error

__all__ = [
    "G1_2008",
    "HOLIDAY_DATES",
    "KEEP_RATES",
    "EffectiveRevenueResult",
    "CANDIDATES",
    "DEFAULT_HOLIDAYS",
    "ForecastResult",
    "effective_revenue",
    "holiday_regressors",
    "revenue",
]

# ======================================================================================
# G1: effective revenue
# ======================================================================================

G1_2008: dict[str, float] = {
    "operating": 121.9, "new_business": 39.3, "data_vas": 31.9, "promo": 4.51,
    "promo_crbt_trial": 0.97 / 0.7,
}
"""Guangzhou 2008 inputs of case G1 (100M yuan); the CRBT trial package is the promotional
revenue whose 70 % is effective (0.97 = 0.7 × 1.386)."""

G1_PUBLISHED: dict[str, float] = {"discount_rate": 0.141, "effective_new_business_share": 0.293,
                                  "effective_data_vas_share": 0.225, "new_business_share": 0.331}
"""The shares printed in the G1 deck."""

KEEP_RATES: dict[str, float] = {"promo_crbt_trial": 0.7}
"""Default share of each promotional line's revenue that is effective (kept after the
trial): about 70 % of CRBT trial users stay on. Other promotional revenue counts as 0 kept."""


@dataclass(frozen=True)
class EffectiveRevenueResult(Result):
    """G1 effective revenue (see :func:`effective_revenue`).

    Attributes
    ----------
    amounts : Series
        operating, new_business, data_vas, promo, promo_kept, effective_new_business
        (new business - promo + kept), data_vas_without_promo (data VAS - promo).
    shares : Series
        new_business_share (of operating), discount_rate (promo / data VAS),
        effective_new_business_share, effective_data_vas_share (data VAS without
        promotions / operating).
    keep_rates : dict
    period : str
    """

    amounts: pd.Series
    shares: pd.Series
    keep_rates: dict
    period: str

    def to_frame(self) -> pd.DataFrame:
        """The shares with the deck's published values beside them."""
        out = pd.DataFrame({"share": self.shares})
        out["published_g1_2008"] = pd.Series(G1_PUBLISHED)
        return out

    def summary(self) -> Summary:
        """Amounts and shares."""
        return Summary(
            f"Effective revenue (有效收入), {self.period}",
            (("amounts", self.amounts.to_frame("amount")), ("shares", self.to_frame())),
            ("effective new business = new business - promotional revenue + its kept part "
             f"(keep rates {self.keep_rates}); data VAS without promotions = data VAS - promotional revenue",
             "the deck prints a new-business share of 33.1 % for 39.3 / 121.9 = 32.2 %"),
        )

    def plot(self, ax=None):
        """Reported vs effective shares of operating revenue."""
        ax = get_ax(ax)
        s = self.shares
        labels = ["new business", "data VAS"]
        rep = [s["new_business_share"], self.amounts["data_vas"] / self.amounts["operating"]]
        eff = [s["effective_new_business_share"], s["effective_data_vas_share"]]
        x = np.arange(2)
        ax.bar(x - 0.2, rep, 0.4, label="reported")
        ax.bar(x + 0.2, eff, 0.4, label="effective")
        ax.set_xticks(x, labels)
        ax.set_ylabel("share of operating revenue")
        ax.set_title(f"Effective revenue shares, {self.period} (discount rate {s['discount_rate']:.1%})")
        ax.legend()
        return ax


def effective_revenue(
    revenue: pd.DataFrame | Mapping[str, float] | pd.Series,
    *,
    keep_rates: Mapping[str, float] | None = None,
    year: int | str | None = None,
) -> EffectiveRevenueResult:
    """G1's effective revenue: discount rate and effective shares of operating revenue.

    Parameters
    ----------
    revenue : DataFrame, Series or mapping
        The ``revenue`` table (month, line, amount; summed over ``year``) or annual
        amounts by line. Lines used: ``operating``, ``new_business``, ``data_vas``,
        ``promo`` (all promotional-package revenue inside data VAS) and the promotional
        lines named in ``keep_rates``.
    keep_rates : mapping, optional
        Promotional line -> share kept (effective); default :data:`KEEP_RATES`
        (CRBT trial package 70 %).
    year : int or str, optional
        Year to sum for a revenue table (default: the last complete calendar year).

    Returns
    -------
    EffectiveRevenueResult
        With G1's 2008 inputs (:data:`G1_2008`): discount rate 14.1 %, effective new-business
        share 29.3 %, effective data VAS share 22.5 %.

    Raises
    ------
    SchemaError
        A missing line, or no complete year in the table.
    ParameterError
        A keep rate outside [0, 1].
    """
    keep_rates = dict(KEEP_RATES if keep_rates is None else keep_rates)
    for k, v in keep_rates.items():
        check_scalar(v, f"keep_rates[{k!r}]", low=0, high=1)
    if isinstance(revenue, pd.DataFrame):
        schema.validate(revenue, "revenue")
        months = revenue["month"].astype(str)
        years = months.str[:4]
        if year is None:
            full = [y for y, n in months.groupby(years).nunique().items() if n == 12]
            if not full:
                raise schema_error(table="revenue", column="month", expected="a complete calendar year",
                                   found=f"months {months.min()}..{months.max()}", fix="pass year=")
            year = full[-1]
        year = str(year)
        sel = revenue[years == year]
        if sel.empty:
            raise parameter_error("year", expected=f"a year in the table {sorted(years.unique())}", found=year)
        amounts = sel.groupby(sel["line"].astype(str))["amount"].sum()
        period = year
    elif isinstance(revenue, (Mapping, pd.Series)):
        amounts = pd.Series(dict(revenue), dtype=float)
        period = str(year) if year is not None else "given amounts"
    else:
        raise schema_error(table="revenue", column=None, expected="a revenue table or amounts by line",
                           found=type(revenue).__name__)
    need = ["operating", "new_business", "data_vas", "promo", *keep_rates]
    missing = [c for c in need if c not in amounts.index]
    if missing:
        raise schema_error(table="revenue", column="line", expected=f"lines {need}",
                           found=f"no line(s) {missing}; it has {sorted(amounts.index)}",
                           fix="add the promotional lines or pass keep_rates={}")
    a = amounts
    kept = float(sum(a[k] * r for k, r in keep_rates.items()))
    out = pd.Series({
        "operating": a["operating"], "new_business": a["new_business"], "data_vas": a["data_vas"],
        "promo": a["promo"], "promo_kept": kept,
        "effective_new_business": a["new_business"] - a["promo"] + kept,
        "data_vas_without_promo": a["data_vas"] - a["promo"],
    }, name="amount")
    shares = pd.Series({
        "new_business_share": a["new_business"] / a["operating"],
        "discount_rate": a["promo"] / a["data_vas"],
        "effective_new_business_share": out["effective_new_business"] / a["operating"],
        "effective_data_vas_share": out["data_vas_without_promo"] / a["operating"],
    }, name="share")
    return EffectiveRevenueResult(amounts=out, shares=shares, keep_rates=keep_rates, period=period)


# ======================================================================================
# Holidays
# ======================================================================================

_SPRING = ["2000-02-05", "2001-01-24", "2002-02-12", "2003-02-01", "2004-01-22", "2005-02-09",
           "2006-01-29", "2007-02-18", "2008-02-07", "2009-01-26", "2010-02-14", "2011-02-03",
           "2012-01-23", "2013-02-10", "2014-01-31", "2015-02-19", "2016-02-08", "2017-01-28",
           "2018-02-16", "2019-02-05", "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22",
           "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06", "2028-01-26", "2029-02-13",
           "2030-02-03"]
_MID_AUTUMN = ["2000-09-12", "2001-10-01", "2002-09-21", "2003-09-11", "2004-09-28", "2005-09-18",
               "2006-10-06", "2007-09-25", "2008-09-14", "2009-10-03", "2010-09-22", "2011-09-12",
               "2012-09-30", "2013-09-19", "2014-09-08", "2015-09-27", "2016-09-15", "2017-10-04",
               "2018-09-24", "2019-09-13", "2020-10-01", "2021-09-21", "2022-09-10", "2023-09-29",
               "2024-09-17", "2025-10-06", "2026-09-25", "2027-09-15", "2028-10-03", "2029-09-22",
               "2030-09-12"]
HOLIDAY_DATES: dict[str, tuple[str, ...]] = {
    "spring_festival": tuple(_SPRING),
    "lantern": tuple(str((pd.Timestamp(d) + pd.Timedelta(days=14)).date()) for d in _SPRING),
    "mid_autumn": tuple(_MID_AUTUMN),
    "national_day": tuple(f"{y}-10-01" for y in range(2000, 2031)),
    "christmas": tuple(f"{y}-12-25" for y in range(2000, 2031)),
}
"""Dates of G2's holidays, 2000–2030 (Spring Festival and Mid-Autumn by the lunar calendar;
Lantern = Spring Festival + 14 days)."""
MOVING_HOLIDAYS: tuple[str, ...] = ("spring_festival", "lantern", "mid_autumn")
FIXED_HOLIDAYS: tuple[str, ...] = ("national_day", "christmas")
DEFAULT_HOLIDAYS: tuple[str, ...] = ("spring_festival", "mid_autumn")
"""The holidays :func:`revenue` uses for a series on the Chinese calendar (``holidays="auto"``)."""


def holiday_regressors(months: pd.PeriodIndex | Sequence[str], holidays: Sequence[str]) -> pd.DataFrame:
    """0/1 columns, one per holiday: 1 in the month that holiday falls in.

    Returns
    -------
    DataFrame
        Index = the months (``"YYYY-MM"``), one column per holiday.
    """
    idx = pd.PeriodIndex([pd.Period(str(m), freq="M") for m in months])
    out = {}
    for h in holidays:
        if h not in HOLIDAY_DATES:
            raise parameter_error("holidays", expected=f"names among {list(HOLIDAY_DATES)}", found=h)
        hm = {pd.Period(d, freq="M") for d in HOLIDAY_DATES[h]}
        out[h] = np.array([p in hm for p in idx], dtype=float)
    return pd.DataFrame(out, index=pd.Index(idx.astype(str), name="month"))


# ======================================================================================
# G2: forecast
# ======================================================================================

CANDIDATES: tuple[str, ...] = ("seasonal_naive", "ets", "sarimax", "regression")
"""The models :func:`revenue` chooses among (``model="auto"``), all on log revenue:

* ``seasonal_naive`` — the same month a year earlier;
* ``ets`` — exponential smoothing with an additive damped trend and additive seasonality
  on log revenue (multiplicative seasonality on revenue), statsmodels'
  ``ExponentialSmoothing``;
* ``sarimax`` — the airline model SARIMA (0,1,1)(0,1,1)12 by default (statsmodels
  ``SARIMAX``), with the holiday regressors;
* ``regression`` — G2's log-linear trend + month-of-year (+ holiday) regression (OLS).
"""
HOLIDAY_MODELS: tuple[str, ...] = ("sarimax", "regression")
"""The candidates that take holiday (and other) regressors; the others ignore them."""
CALENDARS: tuple[str, ...] = ("chinese", "none")


@dataclass(frozen=True)
class ForecastResult(Result):
    """A monthly revenue forecast (see :func:`revenue`).

    Attributes
    ----------
    history : Series
        The observed series (index ``month``).
    forecast : DataFrame
        Index ``month``; columns ``forecast`` (median: exp of the log forecast), ``lower``,
        ``upper`` (the ``level`` prediction interval).
    backtest : DataFrame
        Last ``backtest`` months: ``actual``, ``forecast`` (the chosen model fitted on the
        months before), ``naive`` (the same month a year earlier), ``lower``, ``upper``.
    mape, mape_naive : float
        Backtest (out-of-sample) mean absolute percentage errors on those last months: the
        model was fitted on the months before them, never in-sample (NaN without a
        backtest). With ``selection == "backtest"`` (``model="auto"``) these months also
        took part in the choice, so ``mape`` is the winner's error on months that chose it:
        optimistic, not an independent estimate of the error to expect (hold out months
        yourself for that, as ``benchmarks/bench_forecast.py`` does). With a given model
        it is an honest holdout figure. :meth:`summary` says which.
    holiday_effects : Series
        Estimated multiplicative effect of each regressor (0.08 = +8 % that month); empty
        when none was used or the chosen model takes none.
    params : Series
        The chosen model's fitted parameters (log scale): for the regression, const, trend
        (monthly log growth), month_02..month_12 and the holidays.
    line, level : str, float
    model : str
        The model used (one of :data:`CANDIDATES`).
    notes : tuple of str
    candidates : DataFrame
        The rolling-origin backtest: one row per candidate (index ``model``), one column
        per origin (``from_YYYY-MM``: MAPE of the ``backtest`` months from that month, the
        model fitted on the months before), ``mape`` (their mean), ``chosen``. Empty when
        no backtest could be run.
    selection : str
        ``"backtest"`` (chosen by ``candidates``), ``"given"`` (``model=`` named) or
        ``"fallback"`` (too short a history to backtest).
    calendar : str
        ``"chinese"`` or ``"none"``: the calendar the default holidays were taken from.
    holidays : tuple of str
        The regressors given to the models that take them.
    """

    history: pd.Series
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    mape: float
    mape_naive: float
    holiday_effects: pd.Series
    params: pd.Series
    line: str
    level: float
    model: str
    notes: tuple[str, ...] = field(default=())
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame)
    selection: str = "given"
    calendar: str = "none"
    holidays: tuple[str, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """History and forecast in one frame: ``actual``, ``forecast``, ``lower``, ``upper``."""
        h = self.history.rename("actual").to_frame()
        return pd.concat([h, self.forecast], axis=0).rename_axis("month")

    def annual(self) -> pd.DataFrame:
        """Yearly totals: ``actual`` (observed months), ``forecast`` (forecast months),
        ``total`` (their sum) and ``months_observed``."""
        f = self.to_frame()
        year = f.index.str[:4]
        out = pd.DataFrame({
            "actual": f["actual"].groupby(year).sum(min_count=1),
            "forecast": f["forecast"].groupby(year).sum(min_count=1),
            "months_observed": f["actual"].notna().groupby(year).sum(),
        })
        out["total"] = out[["actual", "forecast"]].sum(axis=1, min_count=1)
        out.index.name = "year"
        return out

    def summary(self) -> Summary:
        """The choice and every candidate's backtest error, holiday effects, forecast, yearly totals."""
        label = f"{self.model} + holidays" if self.holidays and self.model in HOLIDAY_MODELS else self.model
        acc = pd.DataFrame({"MAPE": [self.mape, self.mape_naive]}, index=[label, "seasonal naive"])
        notes = [f"{_DESCRIPTION[self.model]} on log {self.line}; {self.level:.0%} prediction intervals"]
        if self.selection == "backtest":
            notes.append(f"chosen by a rolling-origin backtest over {self.candidates.shape[1] - 2} origin(s) "
                         f"(lowest mean MAPE among {list(self.candidates.index)})")
        elif self.selection == "fallback":
            notes.append("too short a history for a backtest: the model was not chosen by one")
        hol = (f"holidays {list(self.holidays)}" if self.holidays else "no holiday regressors")
        notes.append(f"calendar {self.calendar}: {hol}"
                     + ("" if not self.holidays or self.model in HOLIDAY_MODELS
                        else f" (not used by {self.model})"))
        if np.isfinite(self.mape):
            better = "beats" if self.mape < self.mape_naive else "does NOT beat"
            kind = ("backtest MAPE, out of sample, but these months also chose the model: optimistic"
                    if self.selection == "backtest" else "backtest MAPE, out of sample: a holdout figure")
            notes.append(f"on the last {len(self.backtest)} months the model {better} the seasonal naive "
                         f"forecast ({self.mape:.2%} vs {self.mape_naive:.2%}; {kind})")
        notes += list(self.notes)
        tables = [("backtest MAPE, last origin (fitted on the months before)", acc)]
        if len(self.candidates):
            tables.append(("candidates (rolling-origin MAPE)", self.candidates))
        tables += [("holiday effects", self.holiday_effects.to_frame("effect")),
                   ("forecast", self.forecast), ("yearly totals", self.annual())]
        return Summary(f"Revenue forecast (收入预测): {self.line}", tuple(tables), tuple(notes))

    def plot(self, ax=None):
        """History, backtest forecasts, the forecast and its prediction band."""
        ax = get_ax(ax, figsize=(9, 4.5))
        h = self.history
        x_h = pd.PeriodIndex(h.index, freq="M").to_timestamp()
        ax.plot(x_h, h.to_numpy(), color="black", lw=1.2, label="actual")
        if len(self.backtest):
            xb = pd.PeriodIndex(self.backtest.index, freq="M").to_timestamp()
            ax.plot(xb, self.backtest["forecast"], color="tab:orange", ls="--", label=f"backtest (MAPE {self.mape:.1%})")
            ax.plot(xb, self.backtest["naive"], color="grey", ls=":", label=f"seasonal naive ({self.mape_naive:.1%})")
        xf = pd.PeriodIndex(self.forecast.index, freq="M").to_timestamp()
        ax.plot(xf, self.forecast["forecast"], color="tab:blue", label=f"forecast ({self.model})")
        ax.fill_between(xf, self.forecast["lower"], self.forecast["upper"], color="tab:blue", alpha=0.2,
                        label=f"{self.level:.0%} interval")
        ax.set_title(f"{self.line}: monthly revenue and forecast")
        ax.set_ylabel("revenue")
        ax.legend(fontsize=8)
        return ax


_DESCRIPTION = {
    "seasonal_naive": "seasonal naive forecast (the same month a year earlier)",
    "ets": "exponential smoothing (additive damped trend, additive seasonality)",
    "sarimax": "SARIMAX",
    "regression": "log-linear trend + month-of-year regression (OLS)",
}


def _monthly_series(data, line: str | None) -> tuple[pd.Series, str]:
    if isinstance(data, pd.DataFrame):
        schema.validate(data, "revenue")
        lines = sorted(data["line"].astype(str).unique())
        if line is None:
            if "new_business" not in lines:
                raise parameter_error("line", expected=f"one of {lines}", found=None)
            line = "new_business"
        if line not in lines:
            raise parameter_error("line", expected=f"one of {lines}", found=line)
        sel = data[data["line"].astype(str) == line]
        s = sel.groupby(sel["month"].astype(str))["amount"].sum()
    elif isinstance(data, pd.Series):
        s = data
        line = line or (str(data.name) if data.name is not None else "revenue")
        if not pd.api.types.is_numeric_dtype(s):
            raise schema_error(table="series", column=line, expected="numeric amounts", found=f"dtype {s.dtype}")
    else:
        raise schema_error(table="revenue", column=None, expected="a revenue table or a monthly Series",
                           found=type(data).__name__)
    try:
        idx = pd.PeriodIndex([pd.Period(str(m)[:7], freq="M") for m in s.index])
    except (ValueError, TypeError) as err:
        raise schema_error(table="series", column="month", expected="months 'YYYY-MM' as the index",
                           found=f"index values like {list(s.index[:3])}") from err
    s = pd.Series(s.to_numpy(dtype=float), index=idx).sort_index()
    full = pd.period_range(s.index.min(), s.index.max(), freq="M")
    if len(full) != len(s) or s.index.has_duplicates:
        gaps = [str(p) for p in full.difference(s.index)][:5]
        raise schema_error(table="series", column="month", expected="consecutive months without gaps",
                           found=f"missing months {gaps}" if gaps else "duplicate months",
                           fix="fill the gaps (e.g. interpolate) first")
    if not np.isfinite(s.to_numpy()).all() or (s <= 0).any():
        raise schema_error(table="series", column=line, expected="positive, finite amounts",
                           found=f"{int((~np.isfinite(s) | (s <= 0)).sum())} bad value(s)")
    s.index = s.index.astype(str)
    s.index.name = "month"
    return s.rename(line), line


def _design(months: Sequence[str], origin: pd.Period, exog: pd.DataFrame | None) -> pd.DataFrame:
    """Trend (months since ``origin``), 11 month-of-year dummies (January = base) and regressors."""
    per = pd.PeriodIndex([pd.Period(m, freq="M") for m in months])
    moy = np.asarray(per.month)
    cols = {"const": np.ones(len(per)), "trend": np.array([(p - origin).n for p in per], dtype=float),
            **{f"month_{k:02d}": (moy == k).astype(float) for k in range(2, 13)}}
    x = pd.DataFrame(cols, index=list(months))    # built at once, not a column insert per month
    if exog is not None and exog.shape[1]:
        x = pd.concat([x, exog.set_axis(list(months), axis=0)], axis=1)
    return x


def _z(alpha: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2))


def _ets_variance_factors(alpha_: float, beta_star: float, gamma: float, phi: float, steps: int,
                          m: int = 12) -> np.ndarray:
    """Var(h-step error) / sigma² of ETS(A,Ad,A) (Hyndman et al. 2008, class 1, table 6.1).

    statsmodels' ``smoothing_trend`` is the component-form β*; the error-correction form
    has β = α β*, so c_j = α (1 + β* φ_j) + γ [j mod m = 0] with φ_j = φ + ... + φ^j.
    """
    j = np.arange(1, steps)
    phi_j = np.cumsum(phi ** np.arange(1, steps)) if steps > 1 else np.empty(0)
    c = alpha_ * (1 + beta_star * phi_j) + gamma * (j % m == 0)
    return 1 + np.concatenate([[0.0], np.cumsum(c ** 2)])


def _fit_forecast(y: pd.Series, exog: pd.DataFrame | None, future: pd.DataFrame | None, steps: int,
                  model: str, order, seasonal_order, alpha: float):
    """:func:`_fit_one` with native threads capped at one (:func:`dmkit._threads.thread_limit`).

    The state-space and least-squares problems are a few dozen states or columns: BLAS
    threads only contend for the cores (SARIMAX's Kalman initialisation, 60 ms a call on
    two threads of a busy 2-core machine against 1 ms on one; ``revenue`` 48 s -> 10 s).
    """
    with thread_limit(1, None):
        return _fit_one(y, exog, future, steps, model, order, seasonal_order, alpha)


def _fit_one(y: pd.Series, exog: pd.DataFrame | None, future: pd.DataFrame | None, steps: int,
             model: str, order, seasonal_order, alpha: float):
    """Fit ``model`` on log ``y`` and forecast ``steps`` months; returns (params, median, lower, upper).

    The models see log revenue less its mean (``shift``), so a series times a constant gets
    the same fit and a forecast times that constant; the shift is added back (and to the
    regression's ``const``).
    """
    logy = np.log(y.to_numpy())
    shift = float(np.mean(logy))
    endog = logy - shift
    last = pd.Period(y.index[-1], freq="M")
    fut_months = list(pd.period_range(last + 1, periods=steps, freq="M").astype(str))
    z = _z(alpha)
    if model == "seasonal_naive":
        h = np.arange(steps)
        mean = endog[len(endog) - 12 + (h % 12)]
        sigma = float(np.sqrt(np.mean((endog[12:] - endog[:-12]) ** 2)))   # seasonal random walk
        sd = sigma * np.sqrt(h // 12 + 1)
        lo, hi = mean - z * sd, mean + z * sd
        params = pd.Series({"sigma": sigma})
    elif model == "ets":
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        mod = ExponentialSmoothing(endog, trend="add", damped_trend=True, seasonal="add", seasonal_periods=12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' optimiser chatter
            res = mod.fit()
        mean = np.asarray(res.forecast(steps))
        p = res.params
        sigma2 = float(res.sse) / len(endog)
        var = sigma2 * _ets_variance_factors(p["smoothing_level"], p["smoothing_trend"],
                                             p["smoothing_seasonal"], p["damping_trend"], steps)
        lo, hi = mean - z * np.sqrt(var), mean + z * np.sqrt(var)
        params = pd.Series({k: float(p[k]) for k in ("smoothing_level", "smoothing_trend", "smoothing_seasonal",
                                                     "damping_trend", "initial_trend")}
                           | {"initial_level": float(p["initial_level"]) + shift, "sigma": float(np.sqrt(sigma2))})
    elif model == "regression":
        import statsmodels.api as sm

        origin = pd.Period(y.index[0], freq="M")
        x = _design(list(y.index), origin, exog)
        xf = _design(fut_months, origin, future)
        # a regressor that adds nothing to the trend and the months over these months (a
        # holiday in February both years of a two-year window) cannot be estimated: drop it
        base = set(_design(list(y.index)[:1], origin, None).columns)   # once, not once per column
        extra = [c for c in x.columns if c not in base]
        for c in extra:
            rest = x.drop(columns=[c])
            if np.linalg.matrix_rank(x.to_numpy()) <= np.linalg.matrix_rank(rest.to_numpy()):
                x, xf = rest, xf.drop(columns=[c])
        res = sm.OLS(endog, x).fit()
        pred = res.get_prediction(xf).summary_frame(alpha=alpha)
        mean, lo, hi = pred["mean"].to_numpy(), pred["obs_ci_lower"].to_numpy(), pred["obs_ci_upper"].to_numpy()
        params = pd.Series(np.asarray(res.params), index=x.columns)
        params["const"] += shift
    else:
        from statsmodels.tsa.statespace.sarimax import SARIMAX

        ex = None if exog is None or exog.shape[1] == 0 else exog.to_numpy()
        fx = None if ex is None else future.to_numpy()
        mod = SARIMAX(endog, exog=ex, order=order, seasonal_order=seasonal_order)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' start-parameter and convergence chatter
            res = mod.fit(disp=False, maxiter=200)
        fc = res.get_forecast(steps=steps, exog=fx)
        mean = np.asarray(fc.predicted_mean)
        ci = np.asarray(fc.conf_int(alpha=alpha))
        lo, hi = ci[:, 0], ci[:, 1]
        names = list(mod.param_names)
        if exog is not None:
            names = [list(exog.columns)[int(n[1:]) - 1] if n.startswith("x") and n[1:].isdigit() else n
                     for n in names]
        params = pd.Series(np.asarray(res.params), index=names)
    if not (np.isfinite(params).all() and np.isfinite(mean).all()):
        raise ConvergenceError(f"the {model} fit failed on this series; try another model= "
                               f"({', '.join(CANDIDATES)}), fewer regressors, or a longer history")
    return params, np.exp(mean + shift), np.exp(lo + shift), np.exp(hi + shift)


def _drop_flat(ex_tr: pd.DataFrame, ex_te: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Regressors that never vary over the training months cannot be estimated: drop them."""
    flat = [c for c in ex_tr.columns if ex_tr[c].nunique() < 2]
    return ex_tr.drop(columns=flat), ex_te.drop(columns=flat)


def _resolve_calendar(series: object, calendar: str | None) -> str:
    """The series' calendar: ``calendar`` if given, else what ``series.attrs["calendar"]``
    declares, else "chinese" for the data contract's revenue table and "none" for a Series."""
    if calendar is not None:
        check_choice(calendar, "calendar", CALENDARS)
        return calendar
    declared = getattr(series, "attrs", {}).get("calendar")
    if declared is not None:
        check_choice(declared, "calendar (series.attrs['calendar'])", CALENDARS)
        return declared
    return "chinese" if isinstance(series, pd.DataFrame) else "none"


MIN_TRAIN = 24
"""Months a model is fitted on at least (two seasons)."""


def revenue(
    series: pd.Series | pd.DataFrame,
    *,
    horizon: int = 12,
    line: str | None = None,
    model: Literal["auto", "seasonal_naive", "ets", "sarimax", "regression"] = "auto",
    holidays: Sequence[str] | pd.DataFrame | None | Literal["auto"] = "auto",
    calendar: Literal["chinese", "none"] | None = None,
    backtest: int = 12,
    origins: int = 3,
    level: float = 0.95,
    order: tuple[int, int, int] = (0, 1, 1),
    seasonal_order: tuple[int, int, int, int] = (0, 1, 1, 12),
) -> ForecastResult:
    """Seasonal forecast of a monthly revenue line, the model chosen by a backtest (case G2).

    With ``model="auto"`` (default) each of :data:`CANDIDATES` — seasonal naive, ETS
    (damped trend, multiplicative seasonality), the airline SARIMA (0,1,1)(0,1,1)12 and
    G2's trend-and-seasonality regression — is fitted on the months before each of the
    last ``origins`` origins (every ``backtest`` months back from the end) and forecasts
    the ``backtest`` months after it; the model with the lowest mean absolute percentage
    error over the origins is refitted on the whole history and forecasts ``horizon``
    months. The choice and every candidate's errors are in ``.candidates``. All models work
    on log revenue; forecasts are medians (exp of the log forecast) with a ``level``
    prediction interval.

    Holidays are explicit: moving holidays (Spring Festival, Mid-Autumn) enter as 0/1
    regressors of the month they fall in only when asked for (``holidays=[...]``) or when
    the series' calendar is Chinese (``holidays="auto"``, the default, with
    ``calendar="chinese"``). Only ``sarimax`` and ``regression`` take regressors.

    Parameters
    ----------
    series : Series or DataFrame
        A monthly Series (index ``"YYYY-MM"``, consecutive, positive), or the ``revenue``
        table (month, line, amount) with ``line=``.
    horizon : int, default 12
        Months to forecast after the last observed month.
    line : str, optional
        Revenue line of a table (default ``"new_business"``, G2's line).
    model : {"auto", "seasonal_naive", "ets", "sarimax", "regression"}, default "auto"
        ``"auto"`` chooses by the backtest; a name fits that model (the candidates are
        still backtested and reported). With too short a history to backtest, ``"auto"``
        falls back to ``regression`` when regressors are used, else ``ets``.
    holidays : "auto", list of str, DataFrame or None, default "auto"
        ``"auto"``: the moving holidays (spring_festival, mid_autumn) if the calendar is
        Chinese, none otherwise. Or names of :data:`HOLIDAY_DATES` (fixed-date ones,
        national_day and christmas, are dropped with a warning: the seasonality carries
        them); or your own monthly regressors (index months covering history and
        horizon, e.g. a tariff cut); or None.
    calendar : {"chinese", "none"}, optional
        The series' calendar, for ``holidays="auto"``. Default: ``series.attrs["calendar"]``
        if set, else ``"chinese"`` for the data contract's ``revenue`` table (a Chinese
        operator's lines) and ``"none"`` for a plain Series.
    backtest : int, default 12
        Months forecast from each origin (0: no backtest, no choice). An origin needs 24
        months before it; with none, the backtest is skipped with a warning.
    origins : int, default 3
        Number of rolling origins (at ``n - backtest``, ``n - 2·backtest``, ...).
    level : float, default 0.95
    order, seasonal_order : tuple
        SARIMAX orders (default the airline model).

    Returns
    -------
    ForecastResult
        ``.model`` (the choice), ``.candidates`` (every candidate's backtest MAPE by
        origin and mean), ``.forecast`` (forecast, lower, upper), ``.backtest`` (the last
        origin: actual, forecast, naive, lower, upper), ``.mape``, ``.mape_naive``,
        ``.holiday_effects``, ``.annual()``.

    Raises
    ------
    SchemaError
        Fewer than 24 months, gaps, non-positive amounts, unknown line.
    ParameterError
        Bad horizon, level, model, calendar, holiday name, or regressors not covering the
        months.
    ConvergenceError
        The chosen model's fit failed (a candidate that fails in the backtest is only
        reported with an infinite error).
    """
    check_scalar(horizon, "horizon", kind=int, low=1)
    check_scalar(backtest, "backtest", kind=int, low=0)
    check_scalar(origins, "origins", kind=int, low=1)
    check_scalar(level, "level", low=0.5, high=1, high_inclusive=False)
    check_choice(model, "model", ("auto", *CANDIDATES))
    y, line = _monthly_series(series, line)
    cal = _resolve_calendar(series, calendar)
    if len(y) < MIN_TRAIN:
        raise schema_error(table="series", column=line, expected="at least 24 months (two seasons)",
                           found=f"{len(y)} months")
    last = pd.Period(y.index[-1], freq="M")
    future_idx = pd.period_range(last + 1, periods=horizon, freq="M").astype(str)
    notes: list[str] = []
    if isinstance(holidays, str) and holidays == "auto":
        holidays = DEFAULT_HOLIDAYS if cal == "chinese" else None
    if holidays is None:
        exog_all = pd.DataFrame(index=list(y.index) + list(future_idx))
    elif isinstance(holidays, pd.DataFrame):
        exog_all = holidays.copy()
        exog_all.index = [str(pd.Period(str(m)[:7], freq="M")) for m in exog_all.index]
        need = list(y.index) + list(future_idx)
        missing = [m for m in need if m not in exog_all.index]
        if missing:
            raise parameter_error("holidays", expected="regressors for every month of history and horizon",
                                  found=f"missing {missing[:4]}")
        exog_all = exog_all.loc[need].astype(float)
    else:
        names = [holidays] if isinstance(holidays, str) else list(holidays)
        fixed = [h for h in names if h in FIXED_HOLIDAYS]
        if fixed:
            warnings.warn(f"holidays {fixed} always fall in the same month: the monthly seasonality carries "
                          "them, so they are dropped as regressors", UserWarning, stacklevel=2)
            notes.append(f"fixed-date holidays {fixed} are carried by the seasonality")
        names = [h for h in names if h not in FIXED_HOLIDAYS]
        exog_all = holiday_regressors(list(y.index) + list(future_idx), names)
    # a regressor that never varies over the history cannot be estimated
    hist_ex = exog_all.loc[list(y.index)]
    flat = [c for c in exog_all.columns if hist_ex[c].nunique() < 2]
    if flat:
        notes.append(f"regressors without variation in the history dropped: {flat}")
        exog_all = exog_all.drop(columns=flat)
    alpha = 1 - level

    # rolling-origin backtest of every candidate
    n = len(y)
    cuts = [n - k * backtest for k in range(origins, 0, -1) if backtest and n - k * backtest >= MIN_TRAIN]
    errors: dict[str, dict[str, float]] = {c: {} for c in CANDIDATES}
    last_fit: dict[str, tuple] = {}
    for cut in cuts:
        train, test = y.iloc[:cut], y.iloc[cut:cut + backtest]
        ex_tr, ex_te = _drop_flat(exog_all.loc[list(train.index)], exog_all.loc[list(test.index)])
        for cand in CANDIDATES:
            try:
                fit = _fit_forecast(train, ex_tr, ex_te, len(test), cand, order, seasonal_order, alpha)
                err = float(np.mean(np.abs(fit[1] / test.to_numpy() - 1)))
            except (ConvergenceError, np.linalg.LinAlgError, ValueError):
                fit, err = None, float("inf")
            errors[cand][f"from_{test.index[0]}"] = err
            if cut == cuts[-1]:
                last_fit[cand] = fit
    cand_tab = pd.DataFrame(errors).T.rename_axis("model") if cuts else pd.DataFrame()
    if cuts:
        cand_tab["mape"] = cand_tab.mean(axis=1)
    if model != "auto":
        chosen, selection = model, "given"
    elif cuts:
        chosen, selection = str(cand_tab["mape"].idxmin()), "backtest"
    else:
        chosen = "regression" if exog_all.shape[1] else "ets"
        selection = "fallback"
        notes.append(f"no backtest: {chosen} used without a choice")
    if cuts:
        cand_tab["chosen"] = cand_tab.index == chosen
    if backtest and not cuts:
        warnings.warn(f"backtest skipped: {n} months leave fewer than {MIN_TRAIN} before the last {backtest}",
                      UserWarning, stacklevel=2)
        notes.append("backtest skipped (history too short)")

    use_ex = chosen in HOLIDAY_MODELS
    ex_h = exog_all.loc[list(y.index)] if use_ex else None
    ex_f = exog_all.loc[list(future_idx)] if use_ex else None
    params, mean, lo, hi = _fit_forecast(y, ex_h, ex_f, horizon, chosen, order, seasonal_order, alpha)
    params.name = "estimate"
    effects = pd.Series({c: float(np.exp(params[c])) - 1.0 for c in exog_all.columns if c in params.index},
                        dtype=float, name="effect") if use_ex else pd.Series(dtype=float, name="effect")
    forecast = pd.DataFrame({"forecast": mean, "lower": lo, "upper": hi},
                            index=pd.Index(future_idx, name="month"))
    bt = pd.DataFrame(columns=["actual", "forecast", "naive", "lower", "upper"], dtype=float)
    mape = mape_naive = float("nan")
    if cuts:
        cut = cuts[-1]
        test = y.iloc[cut:cut + backtest]
        fit = last_fit.get(chosen)
        if fit is None:
            raise ConvergenceError(f"the {chosen} fit failed on the backtest months; try another model= "
                                   f"({', '.join(CANDIDATES)})")
        _, bmean, blo, bhi = fit
        naive = np.array([y.iloc[cut - 12 + (h % 12)] for h in range(len(test))])
        bt = pd.DataFrame({"actual": test.to_numpy(), "forecast": bmean, "naive": naive,
                           "lower": blo, "upper": bhi}, index=pd.Index(test.index, name="month"))
        mape = float(np.mean(np.abs(bt["forecast"] / bt["actual"] - 1)))
        mape_naive = float(np.mean(np.abs(bt["naive"] / bt["actual"] - 1)))
    return ForecastResult(history=y, forecast=forecast, backtest=bt, mape=mape, mape_naive=mape_naive,
                          holiday_effects=effects, params=params, line=line, level=level, model=chosen,
                          notes=tuple(notes), candidates=cand_tab, selection=selection, calendar=cal,
                          holidays=tuple(exog_all.columns))
