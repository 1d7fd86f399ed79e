"""Revenue: effective revenue (case G1) and a seasonal forecast with holidays (case G2).

* :func:`effective_revenue` — G1's arithmetic: the promotional-package revenue inside data
  VAS, the part of it that is "effective" (kept after trials: 70 % of the CRBT trial
  package), the discount rate and the effective shares of operating revenue.
* :func:`revenue` — a seasonal forecast of a monthly revenue line on log revenue: a
  trend + month-of-year regression (statsmodels OLS, the default) or SARIMAX, both with
  moving-holiday regressors (Spring Festival, Lantern, Mid-Autumn), prediction intervals,
  a backtest on the last 12 months against the seasonal naive forecast, and a plot.
  Fixed-date holidays (National Day, Christmas) always fall in the same month, so the
  monthly seasonality already carries them; only moving holidays need regressors.

Example
-------
>>> import dmkit as dm
>>> eff = dm.forecast.effective_revenue(pdata.revenue, year=2008)
>>> eff.shares                                 # discount rate 14.1 %, effective shares
>>> fc = dm.forecast.revenue(pdata.revenue, line="new_business", horizon=12)
>>> fc.mape, fc.mape_naive                     # backtest on the last 12 months
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
from dmkit._validation import check_choice, check_scalar
from dmkit.errors import ConvergenceError, parameter_error, schema_error

__all__ = [
    "G1_2008",
    "HOLIDAY_DATES",
    "KEEP_RATES",
    "EffectiveRevenueResult",
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
        Last ``backtest`` months: ``actual``, ``forecast`` (model fitted on the months
        before), ``naive`` (the same month a year earlier), ``lower``, ``upper``.
    mape, mape_naive : float
        Mean absolute percentage errors of the backtest (NaN without a backtest).
    holiday_effects : Series
        Estimated multiplicative effect of each holiday regressor (0.08 = +8 % that month).
    params : Series
        All fitted parameters (log scale): for the regression, const, trend (monthly
        log growth), month_02..month_12 and the holidays.
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
        """Backtest accuracy, holiday effects, forecast and yearly totals."""
        acc = pd.DataFrame({"MAPE": [self.mape, self.mape_naive]},
                           index=[f"{self.model} + holidays", "seasonal naive"])
        what = ("log-linear trend + month-of-year + holiday regression (OLS)" if self.model == "regression"
                else "SARIMAX with holiday regressors")
        notes = [f"{what} on log {self.line}; {self.level:.0%} prediction intervals"]
        if np.isfinite(self.mape):
            better = "beats" if self.mape < self.mape_naive else "does NOT beat"
            notes.append(f"backtest on the last {len(self.backtest)} months: the model {better} the seasonal naive "
                         f"forecast ({self.mape:.2%} vs {self.mape_naive:.2%})")
        notes += list(self.notes)
        return Summary(f"Revenue forecast (收入预测): {self.line}",
                       (("backtest", acc), ("holiday effects", self.holiday_effects.to_frame("effect")),
                        ("forecast", self.forecast), ("yearly totals", self.annual())), tuple(notes))

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
        ax.plot(xf, self.forecast["forecast"], color="tab:blue", label="forecast")
        ax.fill_between(xf, self.forecast["lower"], self.forecast["upper"], color="tab:blue", alpha=0.2,
                        label=f"{self.level:.0%} interval")
        ax.set_title(f"{self.line}: monthly revenue and forecast")
        ax.set_ylabel("revenue")
        ax.legend(fontsize=8)
        return ax


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
    x = pd.DataFrame({"const": 1.0, "trend": np.array([(p - origin).n for p in per], dtype=float)},
                     index=list(months))
    for k in range(2, 13):
        x[f"month_{k:02d}"] = (per.month == k).astype(float)
    if exog is not None and exog.shape[1]:
        x = pd.concat([x, exog.set_axis(list(months), axis=0)], axis=1)
    return x


def _fit_forecast(y: pd.Series, exog: pd.DataFrame | None, future: pd.DataFrame | None, steps: int,
                  model: str, order, seasonal_order, alpha: float):
    """Fit on ``y`` and forecast ``steps`` months; returns (params, median, lower, upper)."""
    endog = np.log(y.to_numpy())
    last = pd.Period(y.index[-1], freq="M")
    fut_months = list(pd.period_range(last + 1, periods=steps, freq="M").astype(str))
    if model == "regression":
        import statsmodels.api as sm

        origin = pd.Period(y.index[0], freq="M")
        x = _design(list(y.index), origin, exog)
        xf = _design(fut_months, origin, future)
        res = sm.OLS(endog, x).fit()
        pred = res.get_prediction(xf).summary_frame(alpha=alpha)
        mean, lo, hi = pred["mean"].to_numpy(), pred["obs_ci_lower"].to_numpy(), pred["obs_ci_upper"].to_numpy()
        params = pd.Series(np.asarray(res.params), index=x.columns)
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
        raise ConvergenceError(f"the {model} fit failed on this series; try model='regression', fewer "
                               "regressors, or a longer history")
    return params, np.exp(mean), np.exp(lo), np.exp(hi)


def revenue(
    series: pd.Series | pd.DataFrame,
    *,
    horizon: int = 12,
    line: str | None = None,
    holidays: Sequence[str] | pd.DataFrame | None = ("spring_festival", "mid_autumn"),
    backtest: int = 12,
    level: float = 0.95,
    model: Literal["regression", "sarimax"] = "regression",
    order: tuple[int, int, int] = (0, 1, 1),
    seasonal_order: tuple[int, int, int, int] = (0, 1, 1, 12),
) -> ForecastResult:
    """Seasonal forecast of a monthly revenue line with holiday regressors (case G2).

    Models on log revenue, each with one 0/1 regressor per moving holiday for the month it
    falls in:

    * ``"regression"`` (default): G2's trend-and-seasonality method as a statsmodels OLS,
      log y = a + b·t + month-of-year effects + holiday effects (constant growth rate,
      multiplicative seasonality); prediction intervals from the regression.
    * ``"sarimax"``: statsmodels SARIMAX, by default the airline model (0,1,1)×(0,1,1)12,
      which adapts to level shifts; slower and needs longer histories.

    Forecasts are medians (exp of the log forecast) with a ``level`` prediction interval.

    Parameters
    ----------
    series : Series or DataFrame
        A monthly Series (index ``"YYYY-MM"``, consecutive, positive), or the ``revenue``
        table (month, line, amount) with ``line=``.
    horizon : int, default 12
        Months to forecast after the last observed month.
    line : str, optional
        Revenue line of a table (default ``"new_business"``, G2's line).
    holidays : list of str, DataFrame or None, default ("spring_festival", "mid_autumn")
        Holiday names of :data:`HOLIDAY_DATES` (fixed-date ones, national_day and
        christmas, are dropped with a warning: the seasonality carries them), or your
        own monthly regressors (index months covering history and horizon, e.g. a
        tariff cut or a KPI push), or None.
    backtest : int, default 12
        Months held out at the end to compare the model with the seasonal naive forecast
        (0 to skip). Needs 24 months before them; otherwise skipped with a warning.
    level : float, default 0.95
    model : {"regression", "sarimax"}, default "regression"
    order, seasonal_order : tuple
        SARIMAX orders (``model="sarimax"`` only).

    Returns
    -------
    ForecastResult
        ``.forecast`` (forecast, lower, upper), ``.backtest`` (actual, forecast, naive,
        lower, upper), ``.mape``, ``.mape_naive``, ``.holiday_effects``, ``.annual()``.

    Raises
    ------
    SchemaError
        Fewer than 24 months, gaps, non-positive amounts, unknown line.
    ParameterError
        Bad horizon, level, holiday name, or regressors not covering the months.
    ConvergenceError
        The SARIMAX fit failed.
    """
    check_scalar(horizon, "horizon", kind=int, low=1)
    check_scalar(backtest, "backtest", kind=int, low=0)
    check_scalar(level, "level", low=0.5, high=1, high_inclusive=False)
    check_choice(model, "model", ("regression", "sarimax"))
    y, line = _monthly_series(series, line)
    if len(y) < 24:
        raise schema_error(table="series", column=line, expected="at least 24 months (two seasons)",
                           found=f"{len(y)} months")
    last = pd.Period(y.index[-1], freq="M")
    future_idx = pd.period_range(last + 1, periods=horizon, freq="M").astype(str)
    notes: list[str] = []
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
    ex_h = exog_all.loc[list(y.index)]
    ex_f = exog_all.loc[list(future_idx)]
    params, mean, lo, hi = _fit_forecast(y, ex_h, ex_f, horizon, model, order, seasonal_order, alpha)
    params.name = "estimate"
    effects = pd.Series({c: float(np.exp(params[c])) - 1.0 for c in exog_all.columns if c in params.index},
                        dtype=float, name="effect")
    forecast = pd.DataFrame({"forecast": mean, "lower": lo, "upper": hi},
                            index=pd.Index(future_idx, name="month"))
    bt = pd.DataFrame(columns=["actual", "forecast", "naive", "lower", "upper"], dtype=float)
    mape = mape_naive = float("nan")
    if backtest:
        if len(y) - backtest < 24:
            warnings.warn(f"backtest skipped: {len(y)} months leave fewer than 24 before the last {backtest}",
                          UserWarning, stacklevel=2)
            notes.append("backtest skipped (history too short)")
        else:
            train = y.iloc[:-backtest]
            test = y.iloc[-backtest:]
            ex_tr = exog_all.loc[list(train.index)]
            ex_te = exog_all.loc[list(test.index)]
            flat_tr = [c for c in ex_tr.columns if ex_tr[c].nunique() < 2]
            ex_tr, ex_te = ex_tr.drop(columns=flat_tr), ex_te.drop(columns=flat_tr)
            _, bmean, blo, bhi = _fit_forecast(train, ex_tr, ex_te, backtest, model, order, seasonal_order, alpha)
            naive = np.array([y.iloc[len(train) - 12 + (h % 12)] for h in range(backtest)])
            bt = pd.DataFrame({"actual": test.to_numpy(), "forecast": bmean, "naive": naive,
                               "lower": blo, "upper": bhi}, index=pd.Index(test.index, name="month"))
            mape = float(np.mean(np.abs(bt["forecast"] / bt["actual"] - 1)))
            mape_naive = float(np.mean(np.abs(bt["naive"] / bt["actual"] - 1)))
    return ForecastResult(history=y, forecast=forecast, backtest=bt, mape=mape, mape_naive=mape_naive,
                          holiday_effects=effects, params=params, line=line, level=level, model=model,
                          notes=tuple(notes))

